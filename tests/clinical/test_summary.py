"""canonical_summary: one deterministic text per findings document."""

from __future__ import annotations

import random

from neuronarrator.clinical.findings import CODES, Finding, Findings
from neuronarrator.clinical.summary import NOUNS, ORDER, canonical_summary


def _doc(*findings: Finding, state: str = "awake") -> Findings:
    return Findings(findings=findings, state=state)


FINDINGS = (
    Finding("pdr", frequency_hz=9.0),
    Finding("focal_slowing", 0.7, side="left", regions=("temporal", "frontal"), frequency_hz=2.0),
    Finding("focal_slowing", 0.95, side="right", regions=("temporal",)),
    Finding("lpd", 0.5, side="left", regions=("temporal",), frequency_hz=1.0),
    Finding("grda", side="generalized", regions=("frontal",)),
    Finding("muscle_artifact"),
)


def test_every_code_has_a_noun_and_a_place_in_the_order() -> None:
    assert set(NOUNS) == set(CODES)
    assert sorted(ORDER) == sorted(CODES) and len(ORDER) == len(set(ORDER))


def test_deterministic_and_independent_of_input_order() -> None:
    text = canonical_summary(_doc(*FINDINGS))
    assert text == canonical_summary(_doc(*FINDINGS))
    rng = random.Random(0)
    for _ in range(10):
        shuffled = list(FINDINGS)
        rng.shuffle(shuffled)
        assert canonical_summary(_doc(*shuffled)) == text
    # Regions in another order are the same finding.
    swapped = FINDINGS[1].with_(regions=("frontal", "temporal"))
    assert canonical_summary(_doc(swapped, *FINDINGS[2:], FINDINGS[0])) == text


def test_text_carries_side_regions_frequency_certainty_state_and_impression() -> None:
    text = canonical_summary(_doc(*FINDINGS, state="n2"))
    assert "Probable left frontal temporal focal slowing at 2 Hz." in text
    assert "Definite right temporal focal slowing." in text
    assert "Possible left temporal lateralized periodic discharges at 1 Hz." in text
    assert "Definite frontal predominant generalized rhythmic delta activity." in text
    assert text.endswith("State: sleep stage N2. Impression: abnormal EEG.")
    # Clinical weight: LPDs before GRDA before focal slowing before the PDR before artifacts.
    order = [
        text.index(s) for s in ("periodic", "rhythmic delta", "focal slowing", "posterior dominant", "muscle")
    ]
    assert order == sorted(order)


def test_different_findings_give_different_text() -> None:
    base = canonical_summary(_doc(*FINDINGS))
    variants = [
        _doc(*FINDINGS[:-1]),
        _doc(FINDINGS[0].with_(frequency_hz=10.0), *FINDINGS[1:]),
        _doc(FINDINGS[0], FINDINGS[1].with_(side="right"), *FINDINGS[2:]),
        _doc(FINDINGS[0], FINDINGS[1].with_(probability=0.5), *FINDINGS[2:]),
        _doc(*FINDINGS, state="drowsy"),
    ]
    texts = [canonical_summary(v) for v in variants]
    assert base not in texts and len(set(texts)) == len(texts)


def test_empty_document() -> None:
    assert canonical_summary(Findings()) == "No findings. State: awake. Impression: normal EEG."

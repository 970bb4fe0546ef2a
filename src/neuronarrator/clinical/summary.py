"""Findings → one canonical summary text: the report side of CLEF's contrastive alignment.

CLEF has an LLM summarise each report to its electrographic content before embedding it (DESIGN.md).
Here the labeler's :class:`~neuronarrator.clinical.findings.Findings` already are that content, so
:func:`canonical_summary` renders them as one fixed, deterministic text: one sentence per finding in a
fixed order (abnormal findings by clinical weight, then normal features, then artifacts), each with its
certainty, side, regions and frequency, then the state and the impression. Two reports with the same
findings (in any order, phrased any way) get the same text, and so embed identically; the text carries
what :func:`~neuronarrator.clinical.findings.finding_key` keeps and nothing else (no evidence spans).
"""

from __future__ import annotations

from neuronarrator.clinical.findings import CODES, GENERALIZED_CODES, REGIONS, Finding, Findings, certainty
from neuronarrator.clinical.render import CLINICAL_WEIGHT

#: Noun phrase per code: short, in the words reports use, so the text encoder sees familiar terms.
NOUNS: dict[str, str] = {
    **CODES,  # the schema's meanings, where they already read as a report's noun phrase
    "pdr": "posterior dominant rhythm",
    "pdr_reactive": "reactive posterior dominant rhythm",
    "generalized_slowing": "generalized slowing",
    "focal_slowing": "focal slowing",
    "asymmetry": "lower amplitude",
    "excess_beta": "excess beta activity",
    "burst_suppression": "burst suppression",
    "generalized_spike_wave": "generalized spike and wave discharges",
    "focal_epileptiform": "focal epileptiform discharges",
    "line_noise": "line noise artifact",
}
#: Every code in summary order: abnormal by clinical weight, then the rest in schema order (normal
#: background and sleep features before artifacts).
ORDER: tuple[str, ...] = CLINICAL_WEIGHT + tuple(c for c in CODES if c not in CLINICAL_WEIGHT)
STATE_WORDS = {"awake": "awake", "drowsy": "drowsy", "n1": "sleep stage N1", "n2": "sleep stage N2",
               "n3": "sleep stage N3", "rem": "REM sleep"}  # fmt: skip


def _frequency_hz(f: Finding) -> float | None:
    # 0.5 Hz, as finding_key keeps the PDR's: finer differences are below what report text states.
    return None if f.frequency_hz is None else round(f.frequency_hz * 2) / 2


def _sort_key(f: Finding) -> tuple:
    frequency = _frequency_hz(f)
    return (
        ORDER.index(f.code),
        f.side or "",
        tuple(sorted(REGIONS.index(r) for r in f.regions)),
        frequency if frequency is not None else -1.0,
        -f.probability,
    )


def finding_phrase(f: Finding) -> str:
    """One finding as a sentence: ``"Probable left temporal focal slowing at 2 Hz."``."""
    words = [certainty(f.probability)]
    # A generalized pattern's side adds nothing that the code does not say (finding_key drops it too).
    if f.side is not None and f.code not in GENERALIZED_CODES:
        words.append(f.side)
    words.extend(sorted(f.regions, key=REGIONS.index))
    if f.regions and f.code in GENERALIZED_CODES:
        words.append("predominant")  # "frontal predominant GRDA": regions of a generalized pattern
    words.append(NOUNS[f.code])
    frequency = _frequency_hz(f)
    if frequency is not None:
        words.append(f"at {frequency:g} Hz")
    text = " ".join(words)
    return text[:1].upper() + text[1:] + "."


def canonical_summary(findings: Findings) -> str:
    """The canonical summary text of a findings document.

    Parameters
    ----------
    findings : Findings

    Returns
    -------
    text : str
        One sentence per distinct finding in :data:`ORDER`, then ``"State: ..."`` and
        ``"Impression: ..."``; ``"No findings."`` stands in for an empty list. Deterministic and
        independent of the order of ``findings.findings``.
    """
    phrases = [finding_phrase(f) for f in sorted(findings.findings, key=_sort_key)]
    sentences = list(dict.fromkeys(phrases)) or ["No findings."]  # same phrase twice says nothing more
    sentences.append(f"State: {STATE_WORDS[findings.state]}.")
    sentences.append(f"Impression: {findings.impression} EEG.")
    return " ".join(sentences)

"""Faithfulness of a narrative to predicted findings: check and section-wise repair."""

from __future__ import annotations

import numpy as np
import pytest

from neuronarrator.clinical.faithfulness import check_narrative, repair_narrative, sides_compatible
from neuronarrator.clinical.findings import Finding, Findings
from neuronarrator.clinical.render import render_report
from neuronarrator.clinical.sampling import random_findings
from neuronarrator.clinical.text import split_sections

F = Findings(
    findings=(
        Finding("pdr", 0.95, frequency_hz=9.5),
        Finding("focal_slowing", 0.9, side="right", regions=("temporal",)),
        Finding("muscle_artifact", 0.92),
    )
)
NORMAL = Findings(findings=(Finding("pdr", 0.97, frequency_hz=10.0), Finding("pdr_reactive", 0.9)))


def _sections(text: str) -> dict[str, str]:
    return {s.kind: text[s.start : s.end].strip() for s in split_sections(text)}


def _without(text: str, sentence: str) -> str:
    assert sentence in text
    return text.replace(sentence + " ", "").replace(sentence, "")


@pytest.mark.parametrize("seed", range(5))
def test_rendered_report_is_faithful_to_its_findings(seed):
    report = check_narrative(render_report(F, rng=seed).text, F)
    assert report.ok and report.issues == ()
    assert report.counts == {"unsupported": 0, "omitted": 0, "contradictions": 0, "n_asserted": 3}
    assert report.unsupported_rate == 0.0


def test_unsupported_sentence_is_one_issue_with_its_span_and_repair_deletes_it():
    narrative = render_report(F, rng=1)
    added = "There are left temporal sharp waves."
    text = narrative.text.replace("\n\nIMPRESSION", " " + added + "\n\nIMPRESSION")
    report = check_narrative(text, F)
    assert len(report.issues) == 1
    issue = report.issues[0]
    assert (issue.kind, issue.code, issue.side) == ("unsupported", "focal_epileptiform", "left")
    assert [text[a:b] for a, b in issue.spans] == [added]
    assert report.counts["unsupported"] == 1 and report.counts["n_asserted"] == 4
    assert report.unsupported_rate == pytest.approx(0.25)

    fixed, before, after = repair_narrative(text, F, rng=0)
    assert before == report and after.ok
    assert added not in fixed
    # Everything else kept verbatim: the description's other sentences and the other sections.
    assert fixed == narrative.text


def test_omitted_confident_finding_is_one_omission_and_repair_restores_it():
    narrative = render_report(F, rng=1)
    sentence = next(s.text for s in narrative.sentences if s.codes == ("muscle_artifact",))
    text = _without(narrative.text, sentence)
    report = check_narrative(text, F)
    assert [(i.kind, i.code, i.spans) for i in report.issues] == [("omitted", "muscle_artifact", ())]
    assert report.counts == {"unsupported": 0, "omitted": 1, "contradictions": 0, "n_asserted": 2}

    fixed, _, after = repair_narrative(text, F, rng=3)
    assert after.ok
    old, new = _sections(text), _sections(fixed)
    assert new["impression"] == old["impression"] and new["correlation"] == old["correlation"]
    assert any(f.code == "muscle_artifact" for f in after.asserted)


def test_low_probability_predictions_left_out_are_not_omissions():
    doubtful = Findings(findings=(*F.findings, Finding("grda", 0.6), Finding("excess_beta", 0.79)))
    assert check_narrative(render_report(F, rng=2).text, doubtful).ok
    # ... but they are omissions under a lower "confident" threshold.
    report = check_narrative(render_report(F, rng=2).text, doubtful, confident=0.55)
    assert sorted(i.code for i in report.of_kind("omitted")) == ["excess_beta", "grda"]


def test_negated_findings_are_not_assertions():
    text = render_report(F, rng=4).text.replace(
        "\n\nIMPRESSION", " No epileptiform discharges were seen. There were no seizures.\n\nIMPRESSION"
    )
    report = check_narrative(text, F)
    assert report.ok and report.counts["n_asserted"] == 3


def test_side_mismatch_is_unsupported_and_repaired():
    left = Findings(findings=(F.findings[0], F.findings[1].with_(side="left"), F.findings[2]))
    text = render_report(left, rng=5).text
    report = check_narrative(text, F)
    unsupported = report.of_kind("unsupported")
    assert [(i.code, i.side) for i in unsupported] == [("focal_slowing", "left")]
    assert all(text[a:b] and "left" in text[a:b].lower() for a, b in unsupported[0].spans)
    assert [(i.code, i.side) for i in report.of_kind("omitted")] == [("focal_slowing", "right")]
    fixed, _, after = repair_narrative(text, F, rng=5)
    assert after.ok and "left" not in _sections(fixed)["description"].lower()


def test_side_rules():
    assert sides_compatible("focal_slowing", "left", "left")
    assert not sides_compatible("focal_slowing", "left", "right")
    assert not sides_compatible("lpd", "bilateral", "left")
    assert sides_compatible("seizure", None, "left") and sides_compatible(
        "seizure", "bilateral", "generalized"
    )
    assert sides_compatible("gpd", "generalized", None)


def test_impression_contradiction_is_found_and_only_the_impression_rewritten():
    narrative = render_report(F, rng=6)
    text = narrative.text.replace(narrative.impression, "Normal EEG.")
    report = check_narrative(text, F)
    assert [(i.kind, i.code, i.text_value, i.predicted_value) for i in report.issues] == [
        ("contradiction", "impression", "normal", "abnormal")
    ]
    assert text[slice(*report.issues[0].span)] == "Normal EEG."
    assert report.counts["contradictions"] == 1
    fixed, _, after = repair_narrative(text, F, rng=6)
    assert after.ok
    old, new = _sections(text), _sections(fixed)
    assert new["description"] == old["description"] and new["correlation"] == old["correlation"]
    assert "abnormal" in new["impression"].lower()


def test_state_contradiction_is_found_and_repaired():
    drowsy = Findings(findings=F.findings, state="drowsy")
    text = render_report(F, rng=7).text
    report = check_narrative(text, drowsy)
    assert [(i.code, i.text_value, i.predicted_value) for i in report.issues] == [
        ("state", "awake", "drowsy")
    ]
    _, _, after = repair_narrative(text, drowsy, rng=7)
    assert after.ok


def test_mixed_sentence_rerenders_the_description():
    text = (
        "DESCRIPTION OF THE RECORD:\nThe patient is awake. A 10 Hz posterior dominant rhythm attenuates with eye "
        "opening. There were muscle artifact and eye blink artifact.\n\nIMPRESSION:\nNormal awake EEG.\n\n"
        "CLINICAL CORRELATION:\nNo correlate.\n"
    )
    predicted = Findings(findings=(*NORMAL.findings, Finding("muscle_artifact", 0.9)))
    report = check_narrative(text, predicted)
    assert [(i.kind, i.code) for i in report.issues] == [("unsupported", "eye_blink_artifact")]
    fixed, _, after = repair_narrative(text, predicted, rng=0)
    assert after.ok and "eye blink" not in fixed.lower()
    assert _sections(fixed)["impression"] == "Normal awake EEG."


def test_unsupported_impression_statement_with_contradiction_is_repaired():
    text = (
        "DESCRIPTION OF THE RECORD:\nThe patient is awake. A 10 Hz posterior dominant rhythm attenuates with eye "
        "opening.\n\nIMPRESSION:\nAbnormal EEG due to left temporal sharp waves.\n"
    )
    report = check_narrative(text, NORMAL)
    assert sorted(i.kind for i in report.issues) == ["contradiction", "unsupported"]
    fixed, _, after = repair_narrative(text, NORMAL, rng=1)
    assert after.ok and "sharp" not in fixed
    assert _sections(fixed)["description"] == _sections(text)["description"]


def test_missing_sections_are_added():
    text = "IMPRESSION:\nAbnormal EEG due to focal slowing over the right temporal region.\n"
    fixed, before, after = repair_narrative(text, F, rng=2)
    assert before.counts["omitted"] == 2 and after.ok
    assert fixed.index("DESCRIPTION OF THE RECORD") < fixed.index("IMPRESSION")


def test_thresholds_are_validated():
    with pytest.raises(ValueError):
        check_narrative("Normal EEG.", NORMAL, confident=0.4, supported=0.5)


def test_repair_of_random_reports_with_a_dropped_finding_sentence():
    """Property: render -> drop one finding sentence -> repair -> no issues; sections outside the repair
    are kept verbatim."""
    for seed in range(50):
        findings = random_findings(seed)
        narrative = render_report(findings, rng=seed)
        rng = np.random.default_rng(seed)
        candidates = [s.text for s in narrative.sentences if s.codes and s.section != "clinical_correlation"]
        if not candidates:  # a record without findings: nothing to drop
            continue
        text = _without(narrative.text, candidates[int(rng.integers(len(candidates)))])
        fixed, before, after = repair_narrative(text, findings, rng=seed)
        assert after.ok, (seed, after.issues, fixed)
        assert _sections(fixed)["correlation"] == narrative.clinical_correlation.strip(), seed
        if before.ok:
            assert fixed == text

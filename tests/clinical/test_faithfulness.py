"""Faithfulness of a narrative to predicted findings: check and section-wise repair."""

from __future__ import annotations

import numpy as np
import pytest

from neuronarrator.clinical.faithfulness import (
    FREQUENCY_TOLERANCE_HZ,
    check_narrative,
    regions_compatible,
    sides_compatible,
)
from neuronarrator.clinical.findings import Finding, Findings
from neuronarrator.clinical.label import analyze_report
from neuronarrator.clinical.lexicon import STATE_CUES
from neuronarrator.clinical.render import render_report
from neuronarrator.clinical.repair import repair_narrative
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
    # Description and impression each state "awake": one issue per section, none for the whole text.
    assert {(i.code, i.text_value, i.predicted_value) for i in report.issues} == {
        ("state", "awake", "drowsy")
    }
    assert all(i.spans for i in report.issues)
    fixed, _, after = repair_narrative(text, drowsy, rng=7)
    assert after.ok
    assert all(_section_reads_as(fixed, kind, "drowsy") for kind in ("description", "impression"))


def _section_reads_as(text: str, kind: str, state: str) -> bool:
    """Whether one section of ``text``, read alone, is in ``state`` or names no state at all."""
    body = _sections(text)[kind]
    if not any(regex.search(body) for _, regex in STATE_CUES):
        return True
    return analyze_report(f"DESCRIPTION:\n{body}\n").findings.state == state


PDR_ONLY = (Finding("pdr", 0.95, frequency_hz=10.0),)
AWAKE_DESCRIPTION = "This is an awake recording. There is a 10 Hz posterior dominant rhythm."
DROWSY_DESCRIPTION = (
    "The recording is obtained mostly in drowsiness. There is a 10 Hz posterior dominant rhythm."
)


@pytest.mark.parametrize(
    ("description", "impression", "state"),
    [
        (AWAKE_DESCRIPTION, "Normal EEG in the sleep state.", "awake"),
        (DROWSY_DESCRIPTION, "This is a normal EEG in wakefulness.", "drowsy"),
    ],
)
def test_impression_stating_another_state_is_a_contradiction_even_when_the_whole_text_agrees(
    description, impression, state
):
    predicted = Findings(findings=PDR_ONLY, state=state)
    text = f"DESCRIPTION OF THE RECORD:\n{description}\n\nIMPRESSION:\n{impression}\n"
    assert analyze_report(text).findings.state == state  # the whole text reads as predicted
    report = check_narrative(text, predicted)
    issues = [i for i in report.issues if i.code == "state"]
    assert len(issues) == 1 and issues[0].kind == "contradiction"
    assert issues[0].predicted_value == state and issues[0].text_value != state
    assert [text[a:b] for a, b in issues[0].spans] == [impression]

    fixed, _, after = repair_narrative(text, predicted, rng=0)
    assert after.ok, (after.issues, fixed)
    assert impression not in fixed
    assert _sections(fixed)["description"] == description  # only the impression was wrong: kept
    assert all(_section_reads_as(fixed, kind, state) for kind in ("description", "impression"))


def test_sections_agreeing_with_the_predicted_state_raise_no_state_issue():
    for description, impression, state in [
        (AWAKE_DESCRIPTION, "Normal EEG in wakefulness.", "awake"),
        (DROWSY_DESCRIPTION, "Normal EEG in drowsiness.", "drowsy"),
        (AWAKE_DESCRIPTION, "Normal EEG.", "awake"),  # an impression that states no state
    ]:
        text = f"DESCRIPTION OF THE RECORD:\n{description}\n\nIMPRESSION:\n{impression}\n"
        report = check_narrative(text, Findings(findings=PDR_ONLY, state=state))
        assert report.ok, (state, report.issues)


def test_sleep_spindles_in_the_impression_state_nothing():
    predicted = Findings(findings=(Finding("sleep_spindles", 0.95),), state="n2")
    text = (
        "DESCRIPTION OF THE RECORD:\nThe patient is in stage 2 sleep throughout. Sleep spindles are seen.\n\n"
        "IMPRESSION:\nNormal EEG with sleep spindles.\n"
    )
    report = check_narrative(text, predicted)
    assert not [i for i in report.issues if i.code == "state"], report.issues


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
    are kept verbatim (the correlation too, unless it has a contradiction of its own)."""
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
        if any(i.code == "clinical_correlation" for i in before.issues):
            # Rewritten only where the rendered correlation discusses a finding below the "supported"
            # threshold (random_findings lists a few; the description's mention is then unsupported too).
            assert not check_narrative(narrative.text, findings).ok, seed
        else:
            assert _sections(fixed)["correlation"] == narrative.clinical_correlation.strip(), seed
        if before.ok:
            assert fixed == text


# --- frequencies ---------------------------------------------------------------------------------------
def _pdr_text(hz: str, correlation: str = "Please correlate clinically.") -> str:
    return (
        "DESCRIPTION OF THE RECORD:\nThe patient is awake. There is a posterior dominant rhythm of "
        f"{hz} Hz which attenuates with eye opening.\n\nIMPRESSION:\nNormal awake EEG.\n\n"
        f"CLINICAL CORRELATION:\n{correlation}\n"
    )


PDR_10 = Findings(findings=(Finding("pdr", 0.97, frequency_hz=10.25), Finding("pdr_reactive", 0.9)))


def test_pdr_frequency_off_by_more_than_the_tolerance_is_a_contradiction_and_repaired():
    text = _pdr_text("8.5")
    report = check_narrative(text, PDR_10)
    assert [(i.kind, i.code, i.attribute, i.text_value, i.predicted_value) for i in report.issues] == [
        ("contradiction", "pdr", "frequency_hz", 8.5, 10.25)
    ]
    assert "8.5 Hz" in text[slice(*report.issues[0].span)]
    assert report.counts == {"unsupported": 0, "omitted": 0, "contradictions": 1, "n_asserted": 2}
    for seed in range(10):
        fixed, _, after = repair_narrative(text, PDR_10, rng=seed)
        assert after.ok, (seed, after.issues, fixed)
        assert "8.5" not in fixed
        pdr = next(f for f in after.asserted if f.code == "pdr")
        assert abs(pdr.frequency_hz - 10.25) <= FREQUENCY_TOLERANCE_HZ
        old, new = _sections(text), _sections(fixed)
        assert new["impression"] == old["impression"] and new["correlation"] == old["correlation"]


@pytest.mark.parametrize("hz", ["9.5", "10", "11"])
def test_frequency_within_the_tolerance_passes(hz):
    assert check_narrative(_pdr_text(hz), PDR_10).ok


def test_wrong_frequency_in_the_impression_is_caught_even_when_the_description_is_right():
    text = _pdr_text("10").replace(
        "Normal awake EEG.", "Normal awake EEG with an 8 Hz posterior dominant rhythm."
    )
    report = check_narrative(text, PDR_10)
    assert [(i.code, i.text_value) for i in report.issues] == [("pdr", 8.0)]
    fixed, _, after = repair_narrative(text, PDR_10, rng=0)
    assert after.ok and "8 Hz" not in fixed
    assert _sections(fixed)["description"] == _sections(text)["description"]


def test_frequency_of_other_codes_is_checked_and_absent_frequencies_are_not():
    gsw = Findings(
        findings=(Finding("generalized_spike_wave", 0.95, frequency_hz=3.0),), impression="abnormal"
    )
    text = (
        "DESCRIPTION OF THE RECORD:\nThe patient is awake. Generalized {hz} Hz spike-and-wave discharges are "
        "seen.\n\nIMPRESSION:\nAbnormal EEG due to generalized spike-and-wave discharges.\n"
    )
    wrong = check_narrative(text.format(hz="5"), gsw)
    assert [(i.code, i.attribute, i.text_value, i.predicted_value) for i in wrong.issues] == [
        ("generalized_spike_wave", "frequency_hz", 5.0, 3.0)
    ]
    fixed, _, after = repair_narrative(text.format(hz="5"), gsw, rng=1)
    assert after.ok and "5 Hz" not in fixed
    assert check_narrative(text.format(hz="3.5"), gsw).ok
    no_hz = Findings(findings=(gsw.findings[0].with_(frequency_hz=None),), impression="abnormal")
    assert check_narrative(text.format(hz="5"), no_hz).ok  # the prediction makes no claim to compare with


# --- clinical correlation -------------------------------------------------------------------------------
def test_correlation_claiming_epilepsy_for_a_normal_prediction_is_replaced():
    text = _pdr_text("10", "This finding suggests a diagnosis of epilepsy. Please correlate clinically.")
    report = check_narrative(text, PDR_10)
    assert [(i.kind, i.code, i.text_value, i.predicted_value) for i in report.issues] == [
        ("contradiction", "clinical_correlation", "epilepsy", "normal")
    ]
    assert text[slice(*report.issues[0].span)] == "This finding suggests a diagnosis of epilepsy."
    fixed, _, after = repair_narrative(text, PDR_10, rng=2)
    assert after.ok
    old, new = _sections(text), _sections(fixed)
    assert new["description"] == old["description"] and new["impression"] == old["impression"]
    expected = render_report(PDR_10, rng=np.random.default_rng(2)).clinical_correlation
    assert new["correlation"] == expected and "suggests a diagnosis of epilepsy" not in fixed


@pytest.mark.parametrize(
    "correlation",
    [
        "A normal EEG does not exclude a diagnosis of epilepsy.",
        "No EEG abnormality was found to support a diagnosis of epilepsy. Clinical correlation is advised.",
        "Please correlate clinically.",
    ],
)
def test_consistent_correlation_is_kept_verbatim(correlation):
    text = _pdr_text("10", correlation)
    assert check_narrative(text, PDR_10).ok
    fixed, _, _ = repair_narrative(text.replace("10 Hz", "7.5 Hz"), PDR_10, rng=0)
    assert _sections(fixed)["correlation"] == correlation


def test_correlation_of_a_deleted_finding_is_replaced_with_the_repair():
    text = render_report(F, rng=1).text.replace(
        "\n\nIMPRESSION", " There are left temporal sharp waves.\n\nIMPRESSION"
    )
    text = text.rstrip("\n") + " The left temporal sharp waves indicate an epileptogenic focus.\n"
    report = check_narrative(text, F)
    corr = report.of_kind("contradiction")
    assert [(i.code, i.text_value) for i in corr] == [
        ("clinical_correlation", "focal_epileptiform, epilepsy")
    ]
    fixed, _, after = repair_narrative(text, F, rng=1)
    assert after.ok and "sharp" not in fixed and "epileptogenic" not in fixed


def test_correlation_that_calls_a_normal_prediction_abnormal_or_an_abnormal_one_normal():
    assert [i.text_value for i in check_narrative(_pdr_text("10", "This abnormal EEG indicates an "
            "encephalopathy."), PDR_10).issues] == ["diffuse dysfunction, abnormal EEG"]  # fmt: skip
    text = render_report(F, rng=3).text
    bad = text.rstrip("\n") + " A normal EEG does not exclude epilepsy.\n"
    assert [i.text_value for i in check_narrative(bad, F).issues] == ["normal EEG"]
    fixed, _, after = repair_narrative(bad, F, rng=3)
    assert after.ok and "normal EEG does not" not in fixed


def test_an_empty_impression_section_is_filled_from_the_findings():
    """A deletion (or the model) can leave "IMPRESSION:" with nothing under it: that is an issue, and the
    repair writes the predicted impression there, keeping the layout."""
    text = ("DESCRIPTION OF THE RECORD:\nThis is an awake recording. Bursts of generalized spike-and-wave "
            "activity are noted.\n\nIMPRESSION:\n\nCLINICAL CORRELATION:\nThis finding is consistent with a "
            "generalized epilepsy in the appropriate clinical context.\n")
    predicted = Findings(findings=(Finding("generalized_spike_wave", 0.95),), state="awake", impression="abnormal")
    report = check_narrative(text, predicted)
    assert [(i.kind, i.code) for i in report.issues] == [("contradiction", "impression")]
    fixed, _, after = repair_narrative(text, predicted, rng=0)
    assert after.ok
    body = fixed.split("IMPRESSION:")[1].split("CLINICAL CORRELATION:")[0]
    assert body.strip() and body.endswith("\n\n")
    assert fixed.startswith(text.split("\n\nIMPRESSION:")[0])  # the description is kept


def test_a_wrong_region_is_not_supported_and_is_repaired():
    """"Right frontal slowing" for a predicted right temporal slowing states another finding: the text's
    finding is unsupported, the predicted one omitted, and the repair re-renders it with its region."""
    assert regions_compatible("focal_slowing", ("frontal", "temporal"), ("temporal",))
    assert not regions_compatible("focal_slowing", ("frontal",), ("temporal",))
    assert regions_compatible("focal_slowing", (), ("temporal",)) and regions_compatible("pdr", ("occipital",), ())
    text = ("DESCRIPTION OF THE RECORD: The posterior dominant rhythm is 9.5 Hz. There is intermittent right "
            "frontal slowing. Muscle artifact is seen.\n\nIMPRESSION: Abnormal EEG due to right frontal slowing.\n\n"
            "CLINICAL CORRELATION: Right frontal slowing suggests focal dysfunction in the right frontal region.")
    report = check_narrative(text, F)
    kinds = {(i.kind, i.code) for i in report.issues}
    assert ("unsupported", "focal_slowing") in kinds and ("omitted", "focal_slowing") in kinds
    fixed, _, after = repair_narrative(text, F, rng=0)
    assert after.ok and "frontal" not in fixed
    slowing = analyze_report(fixed).findings.get("focal_slowing")
    assert slowing.side == "right" and slowing.regions == ("temporal",)

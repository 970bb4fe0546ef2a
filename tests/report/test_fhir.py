"""The FHIR export: a bundle that the FHIR models accept, one coded Observation per finding plus the state,
references that resolve, values preserved, nothing of the recording's path, and the same bytes each time."""

from __future__ import annotations

import base64
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from neuronarrator.io.errors import OutputExistsError
from neuronarrator.report.fhir import ATTRIBUTE_SYSTEM, FINDING_SYSTEM, to_fhir_bundle, write_fhir

FILE = "/data/Doe_John_1970/rec.edf"
ISSUED = "2026-01-02T03:04:05Z"


def _document(findings: list[dict] | None = None, impression: str = "abnormal") -> dict:
    """A report document as ``ReportDocument.to_dict()`` writes it, with a name planted in the file path."""
    if findings is None:
        findings = [
            {"code": "pdr", "probability": 0.91, "frequency_hz": 9.5, "channels": ["O1", "O2"],
             "evidence": [{"start_s": 0.0, "end_s": 10.0, "channels": ["O1", "O2"]}]},
            {"code": "focal_slowing", "probability": 0.934, "side": "left", "regions": ["temporal", "parietal"],
             "channels": ["T7", "P7"],
             "evidence": [{"start_s": 12.0, "end_s": 22.0, "channels": ["T7", "P7"]},
                          {"start_s": 40.0, "end_s": 50.0, "channels": ["T7"]}]},
            {"code": "muscle_artifact", "probability": 0.7,
             "evidence": [{"start_s": 30.5, "end_s": 31.5, "channels": ["T8"]}]},
        ]  # fmt: skip
    impression_text = (
        "Abnormal awake EEG due to left temporal slowing." if impression == "abnormal" else "Normal EEG."
    )
    text = f"DESCRIPTION OF THE RECORD:\nA 9.5 Hz alpha rhythm.\n\nIMPRESSION:\n{impression_text}\n"
    return {
        "recording": {"file": FILE, "duration_s": 60.0, "sfreq_hz": 256.0, "channels_used": ["Fp1"],
                      "channels_missing": []},
        "state": "awake", "state_timeline": [{"start_s": 0.0, "end_s": 30.0, "state": "awake"},
                                             {"start_s": 30.0, "end_s": 60.0, "state": "drowsy"}],
        "impression": impression, "findings": findings, "state_predicted": True,
        "narrative": {"text": text, "description": "A 9.5 Hz alpha rhythm.", "impression": impression_text,
                      "clinical_correlation": ""},
        "sentences": [], "faithfulness": {},
        "quality": {"usable_fraction": 0.97, "bad_channels": [], "warnings": [f"F3 flat in {FILE}"]},
        "model": {"name": "neuronarrator", "narrator_checkpoint": "/home/someone/ckpt/narrator.pt"},
        "provenance": {},
    }  # fmt: skip


def _resources(bundle: dict) -> tuple[dict, list[dict]]:
    resources = [e["resource"] for e in bundle["entry"]]
    reports = [r for r in resources if r["resourceType"] == "DiagnosticReport"]
    assert len(reports) == 1
    return reports[0], [r for r in resources if r["resourceType"] == "Observation"]


def _finding_code(obs: dict) -> str | None:
    return next((c["code"] for c in obs["code"]["coding"] if c["system"] == FINDING_SYSTEM), None)


def _component(obs: dict, code: str) -> list[dict]:
    codings = [(c, c["code"]["coding"][0]) for c in obs.get("component", [])]
    return [c for c, coding in codings if (coding["system"], coding["code"]) == (ATTRIBUTE_SYSTEM, code)]


def test_bundle_validates_with_one_observation_per_finding_and_the_state():
    doc = _document()
    bundle = to_fhir_bundle(doc, patient_reference="Patient/example", issued=ISSUED)
    parsed = Bundle.model_validate(json.loads(json.dumps(bundle)))
    assert parsed.type == "collection"
    report, observations = _resources(bundle)
    assert len(observations) == len(doc["findings"]) + 1
    assert [_finding_code(o) for o in observations[:-1]] == [f["code"] for f in doc["findings"]]
    state = observations[-1]
    assert state["valueCodeableConcept"]["coding"][0]["code"] == "awake"
    assert [c["code"]["coding"][0]["code"] for c in state["component"]] == ["awake", "drowsy"]
    assert all(r["status"] == "preliminary" for r in [report, *observations])
    assert all(r["subject"] == {"reference": "Patient/example"} for r in [report, *observations])
    assert report["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "11523-8",
        "display": "EEG study",
    }
    assert report["conclusion"] == doc["narrative"]["impression"]
    assert report["conclusionCode"][0]["coding"][0]["code"] == "263654008"
    form = report["presentedForm"][0]
    assert form["contentType"].startswith("text/plain")
    assert base64.b64decode(form["data"]).decode("utf-8") == doc["narrative"]["text"]


def test_result_references_resolve_to_entries():
    bundle = to_fhir_bundle(_document())
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)
    report, observations = _resources(bundle)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    targets = [by_url[r["reference"]] for r in report["result"]]
    assert targets == observations


def test_probabilities_frequencies_sites_and_evidence_are_preserved():
    doc = _document()
    _, observations = _resources(to_fhir_bundle(doc))
    for finding, obs in zip(doc["findings"], observations[:-1], strict=True):
        (probability,) = _component(obs, "probability")
        assert probability["valueQuantity"]["value"] == pytest.approx(finding["probability"])
        assert probability["valueQuantity"]["code"] == "1"
        spans = [(c["valueRange"]["low"]["value"], c["valueRange"]["high"]["value"])
                 for c in _component(obs, "evidence-span")]  # fmt: skip
        assert spans == [(e["start_s"], e["end_s"]) for e in finding["evidence"]]
        notes = " ".join(n["text"] for n in obs.get("note", []))
        assert all(ch in notes for e in finding["evidence"] for ch in e["channels"])
    (frequency,) = _component(observations[0], "frequency")
    assert frequency["valueQuantity"] == {"value": 9.5, "unit": "Hz", "system": "http://unitsofmeasure.org",
                                          "code": "Hz"}  # fmt: skip
    assert observations[1]["bodySite"]["text"] == "left temporal, parietal"
    assert observations[1]["interpretation"][0]["coding"][0]["code"] == "A"
    assert observations[0]["interpretation"][0]["coding"][0]["code"] == "N"
    assert "interpretation" not in observations[2] and "bodySite" not in observations[2]


def test_no_path_or_identifier_anywhere():
    bundle = to_fhir_bundle(_document())
    text = json.dumps(bundle)
    for planted in (FILE, "Doe", "John", "1970", "rec.edf", "/home/someone", "narrator.pt"):
        assert planted not in text
    report, observations = _resources(bundle)
    assert all("subject" not in r for r in [report, *observations])


def test_empty_findings_still_give_a_valid_report():
    doc = _document(findings=[], impression="normal")
    bundle = to_fhir_bundle(doc)
    Bundle.model_validate(bundle)
    report, observations = _resources(bundle)
    assert len(observations) == 1 and len(report["result"]) == 1
    assert report["conclusionCode"][0]["coding"][0]["code"] == "17621005"


def test_state_not_predicted_is_data_absent():
    doc = _document() | {"state_predicted": False}
    _, observations = _resources(to_fhir_bundle(doc))
    assert "valueCodeableConcept" not in observations[-1]
    assert observations[-1]["dataAbsentReason"]["coding"][0]["code"] == "not-performed"


def test_output_is_deterministic_and_content_derived():
    a = json.dumps(to_fhir_bundle(_document(), issued=ISSUED))
    assert a == json.dumps(to_fhir_bundle(_document(), issued=ISSUED))
    other = _document()
    other["findings"][0]["probability"] = 0.5
    assert json.loads(a)["entry"][0]["fullUrl"] != to_fhir_bundle(other, issued=ISSUED)["entry"][0]["fullUrl"]


def test_invalid_input_raises_value_error():
    with pytest.raises(ValueError, match="issued"):
        to_fhir_bundle(_document(), issued="yesterday")


def test_write_fhir_is_atomic_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "report.fhir.json"
    assert write_fhir(_document(), out) == out
    assert json.loads(out.read_text(encoding="utf-8")) == to_fhir_bundle(_document())
    with pytest.raises(OutputExistsError):
        write_fhir(_document(), out)
    write_fhir(_document(findings=[], impression="normal"), out, force=True)
    assert len(json.loads(out.read_text(encoding="utf-8"))["entry"]) == 2
    with pytest.raises(ValueError):
        write_fhir(_document(), tmp_path / "bad.json", issued="not-an-instant")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.fhir.json"]

"""A report document (:meth:`ReportDocument.to_dict`) as a FHIR R4 ``Bundle``: one ``DiagnosticReport``
and one coded ``Observation`` per finding, plus one for the dominant state.

Mapping choices:

- Validation uses ``fhir.resources`` 8.x, whose ``fhir.resources.R4B`` models are FHIR 4.3.0 (its
  top-level models are R5). ``Bundle``, ``DiagnosticReport`` and ``Observation`` have the same elements
  in R4B as in R4 (4.0.1); R4B's changes were elsewhere (medication regulation, ``Evidence``,
  subscriptions). The R4-only releases (``fhir.resources`` 6.x) need pydantic 1, which this project's
  pydantic 2 rules out. The models check structure, cardinality, types and primitive formats, not
  terminology bindings (a bad ``status`` code passes), so the fixed codes here are chosen with care.
- Everything is ``preliminary``: the report is a machine draft for review by a clinician.
- ``DiagnosticReport.code`` is LOINC 11523-8 "EEG study" (component "Electroencephalography study",
  scale Doc, class NEURO): the LOINC term for an EEG study report as a document. Its category is HL7 v2
  table 0074 ``EN`` "Electroneuro (EEG, EMG,EP,PSG)" (v2-0074 has no neurology code; ``NRS`` is nursing).
  ``conclusionCode`` is SNOMED CT 17621005 |Normal| or 263654008 |Abnormal| (qualifier values).
- Each finding's code is the project's own vocabulary (:data:`FINDING_SYSTEM`, codes of
  :data:`~neuronarrator.clinical.findings.CODES`). SNOMED CT codings are added only from
  :data:`SNOMED_FINDINGS`, which is empty on purpose: no SNOMED concept id was certain to mean the same
  EEG pattern (e.g. |Seizure| is a clinical finding; an electrographic seizure may be subclinical), and a
  wrong code is worse than none. The interpretation is v3 ``A`` for abnormal codes, ``N`` for normal
  features, and absent for artifacts (neither).
- The probability is a component (UCUM unit ``1``), the frequency a component in ``Hz``, each evidence
  span a component whose ``valueRange`` is its start and end in seconds from the recording's start, with
  its channels in a ``note``. Side and regions go into ``bodySite`` as text on SNOMED 12738006 |Brain
  structure|.
- The dominant state is an Observation whose value is the state (:data:`STATE_SYSTEM`) and whose
  components are the timeline's spans; a state the model did not predict is ``dataAbsentReason``
  ``not-performed``.
- Nothing of the recording (file name, header) and no patient identifier is written: the subject is
  ``patient_reference`` when given, else absent. ``fullUrl`` values are ``urn:uuid:`` names derived with
  uuid5 from the content, so the same document always gives the same bundle.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from neuronarrator.clinical.findings import ABNORMAL_CODES, ARTIFACT_CODES
from neuronarrator.io.atomic import atomic_output
from neuronarrator.report.html import DISCLAIMER, finding_name

__all__ = [
    "ATTRIBUTE_SYSTEM",
    "FINDING_SYSTEM",
    "SNOMED_FINDINGS",
    "STATE_SYSTEM",
    "to_fhir_bundle",
    "write_fhir",
]

FINDING_SYSTEM = "https://neuronarrator.example/fhir/CodeSystem/eeg-finding"
STATE_SYSTEM = "https://neuronarrator.example/fhir/CodeSystem/eeg-state"
#: Components and other codes of this project: probability, frequency, evidence-span, dominant-state.
ATTRIBUTE_SYSTEM = "https://neuronarrator.example/fhir/CodeSystem/eeg-attribute"
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
#: Finding code -> (SNOMED CT concept id, display), only where the concept is certain to be the same.
SNOMED_FINDINGS: dict[str, tuple[str, str]] = {}
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://neuronarrator.example/fhir")
_CATEGORY_EN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "EN",
                            "display": "Electroneuro (EEG, EMG,EP,PSG)"}]}  # fmt: skip
_CATEGORY_PROCEDURE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                   "code": "procedure", "display": "Procedure"}]}  # fmt: skip
_EEG_STUDY = {"coding": [{"system": LOINC, "code": "11523-8", "display": "EEG study"}], "text": "EEG study"}
_CONCLUSION = {"normal": ("17621005", "Normal"), "abnormal": ("263654008", "Abnormal")}
_INTERPRETATION = {"A": "Abnormal", "N": "Normal"}


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _attribute(code: str, display: str) -> dict[str, Any]:
    return {"coding": [_coding(ATTRIBUTE_SYSTEM, code, display)], "text": display}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": float(value), "unit": unit, "system": UCUM, "code": unit}


def _seconds(span: dict[str, Any]) -> dict[str, Any]:
    return {"low": _quantity(span["start_s"], "s"), "high": _quantity(span["end_s"], "s")}


def _common(subject: dict | None, issued: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "preliminary",
        "category": [_CATEGORY_PROCEDURE],
    }
    if subject is not None:
        out["subject"] = subject
    if issued is not None:
        out["issued"] = issued
    return out


def _finding_observation(finding: dict[str, Any], subject: dict | None, issued: str | None) -> dict[str, Any]:
    code = str(finding["code"])
    display = finding_name(code)
    codings = [_coding(FINDING_SYSTEM, code, display)]
    if code in SNOMED_FINDINGS:
        codings.append(_coding(SNOMED, *SNOMED_FINDINGS[code]))
    obs = _common(subject, issued) | {"code": {"coding": codings, "text": display}}
    flag = "A" if code in ABNORMAL_CODES else None if code in ARTIFACT_CODES else "N"
    if flag is not None:
        system = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
        obs["interpretation"] = [{"coding": [_coding(system, flag, _INTERPRETATION[flag])]}]
    site = " ".join(p for p in (finding.get("side"), ", ".join(finding.get("regions") or ())) if p)
    if site:
        obs["bodySite"] = {"coding": [_coding(SNOMED, "12738006", "Brain structure")], "text": site}
    components = [{"code": _attribute("probability", "Probability that the finding is present"),
                   "valueQuantity": _quantity(finding.get("probability", 1.0), "1")}]  # fmt: skip
    if finding.get("frequency_hz") is not None:
        components.append({"code": _attribute("frequency", "Frequency"),
                           "valueQuantity": _quantity(finding["frequency_hz"], "Hz")})  # fmt: skip
    notes = []
    if finding.get("channels"):
        notes.append({"text": f"Channels: {', '.join(finding['channels'])}."})
    for i, span in enumerate(finding.get("evidence") or (), start=1):
        components.append({"code": _attribute("evidence-span", "Evidence span (seconds from recording start)"),
                           "valueRange": _seconds(span)})  # fmt: skip
        channels = ", ".join(span.get("channels") or ()) or "not given"
        notes.append(
            {"text": f"Evidence {i}: {span['start_s']:g}-{span['end_s']:g} s; channels: {channels}."}
        )
    obs["component"] = components
    if notes:
        obs["note"] = notes
    return obs


def _state_observation(document: dict[str, Any], subject: dict | None, issued: str | None) -> dict[str, Any]:
    obs = _common(subject, issued) | {"code": _attribute("dominant-state", "Dominant behavioral state")}
    state = document.get("state")
    if state and document.get("state_predicted", True):
        obs["valueCodeableConcept"] = {
            "coding": [{"system": STATE_SYSTEM, "code": str(state)}],
            "text": str(state),
        }
    else:
        absent = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
        obs["dataAbsentReason"] = {"coding": [_coding(absent, "not-performed", "Not Performed")],
                                   "text": "state not predicted by the model"}  # fmt: skip
    spans = [{"code": {"coding": [{"system": STATE_SYSTEM, "code": str(s["state"])}], "text": str(s["state"])},
              "valueRange": _seconds(s)} for s in document.get("state_timeline") or ()]  # fmt: skip
    if spans:
        obs["component"] = spans
    return obs


def _narrative(document: dict[str, Any]) -> tuple[str, str]:
    """(whole text, impression section) of the document's narrative, in either of its shapes."""
    narrative = document.get("narrative") or {}
    if isinstance(narrative, str):
        return narrative, ""
    text = narrative.get("text") or "\n\n".join(
        f"{title}:\n{narrative[key]}" for key, title in (("description", "DESCRIPTION OF THE RECORD"),
                                                         ("impression", "IMPRESSION"),
                                                         ("clinical_correlation", "CLINICAL CORRELATION"))
        if narrative.get(key))  # fmt: skip
    return text, narrative.get("impression") or ""


def _validate(resource: dict[str, Any]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    name = resource.get("resourceType", "?")
    try:
        get_fhir_model_class(name).model_validate(resource)
    except Exception as exc:  # pydantic.ValidationError, or an unknown resource type
        raise ValueError(f"FHIR R4 validation of {name} failed: {exc}") from exc


def to_fhir_bundle(
    document: dict, *, patient_reference: str | None = None, issued: str | None = None
) -> dict:
    """The report document as a FHIR ``Bundle`` (type ``collection``) JSON dict, validated.

    ``patient_reference``: the subject of every resource (e.g. ``"Patient/123"``); left out when None.
    ``issued``: a FHIR instant (``2026-01-02T03:04:05Z``) for the report and its observations.

    Raises
    ------
    ValueError
        If a resource or the bundle fails validation against the FHIR models (the message says why).
    """
    subject = {"reference": patient_reference} if patient_reference else None
    observations = [_finding_observation(f, subject, issued) for f in document.get("findings") or ()]
    observations.append(_state_observation(document, subject, issued))
    text, impression_text = _narrative(document)
    report: dict[str, Any] = {"resourceType": "DiagnosticReport", "status": "preliminary",
                              "category": [_CATEGORY_EN], "code": _EEG_STUDY}  # fmt: skip
    if subject is not None:
        report["subject"] = subject
    if issued is not None:
        report["issued"] = issued
    if impression_text:
        report["conclusion"] = impression_text
    if document.get("impression") in _CONCLUSION:
        code, display = _CONCLUSION[document["impression"]]
        report["conclusionCode"] = [{"coding": [_coding(SNOMED, code, display)], "text": display}]
    if text:
        data = text.encode("utf-8")
        report["presentedForm"] = [{"contentType": "text/plain; charset=utf-8", "language": "en",
                                    "data": base64.b64encode(data).decode("ascii"),
                                    "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
                                    "title": f"EEG report. {DISCLAIMER}"}]  # fmt: skip
    seed = json.dumps([report, observations], sort_keys=True, ensure_ascii=True)
    urls = [f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{seed}#{i}')}" for i in range(len(observations) + 1)]
    report["result"] = [{"reference": url} for url in urls[1:]]
    bundle = {"resourceType": "Bundle", "identifier": {"system": "urn:ietf:rfc:3986",
                                                      "value": f"urn:uuid:{uuid.uuid5(_NAMESPACE, seed)}"},
              "type": "collection"}  # fmt: skip
    if issued is not None:
        bundle["timestamp"] = issued
    bundle["entry"] = [
        {"fullUrl": url, "resource": r} for url, r in zip(urls, [report, *observations], strict=True)
    ]
    for resource in [report, *observations, bundle]:
        _validate(resource)
    return bundle


def write_fhir(
    document: dict,
    path: str | Path,
    *,
    force: bool = False,
    patient_reference: str | None = None,
    issued: str | None = None,
) -> Path:
    """Write :func:`to_fhir_bundle` as JSON to ``path`` atomically; the path written.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``force`` is false.
    ValueError
        If the bundle fails validation (nothing is written).
    """
    bundle = to_fhir_bundle(document, patient_reference=patient_reference, issued=issued)
    with atomic_output(path, force=force) as tmp:
        tmp.write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)

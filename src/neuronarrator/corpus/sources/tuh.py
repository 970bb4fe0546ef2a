"""The TUH EEG family (TUEG, TUAB, TUEV, TUSZ) in its published layouts; one adapter for all four.

Every ``.edf`` under the root is one session item (a TUH session of several token files
``aaaaaaaa_s001_t000.edf``, ``…_t001.edf`` gives one item per file, all with the session's report); the
labels are whatever lies next to it, found from file names alone when listing:

- TUEG: the session report ``aaaaaaaa_s001.txt`` in the EDF's folder or up to two folders above
  (``…/s001_2015_12_30/aaaaaaaa_s001.txt`` with the EDF in ``…/s001_2015_12_30/01_tcp_ar/``). Findings,
  state and impression are read from it by the project's labeler (:func:`~neuronarrator.clinical.label.
  analyze_report`); the narrative is the report's DESCRIPTION / IMPRESSION / CLINICAL CORRELATION
  sections as written (origin ``"report"``; the CLINICAL HISTORY and MEDICATIONS go to the EHR instead,
  so that the text target holds no EHR): age and sex from the history line, ATC codes from MEDICATIONS,
  ICD-10 codes from the history (:mod:`.ehr`).
- TUAB: a ``normal``/``abnormal`` folder in the path gives the impression; ``train``/``eval`` is kept as
  ``meta["official_split"]``.
- TUEV: ``<base>.rec`` (or ``<base>_chNNN.lab``) events; TUSZ: ``<base>.csv`` (per channel, preferred:
  it places the seizure), ``.csv_bi``, ``.tse`` or ``.tse_bi`` (:mod:`.tuh_labels`). Event findings carry
  evidence; where a report also speaks of the same code, the evidenced findings replace the report's.

A session with a report has complete labels (``labels_complete``); without one, the labels are
incomplete (events, a TUAB folder) and the narrative empty (origin ``"none"``) unless ``render="always"``.
Impression: the TUAB folder, else the report's, else abnormal if an event label is abnormal, else unknown
(``impression_known`` False). Patients: ``tuh:<8-character TUH id>`` from the file name, shared by all
four corpora (they are subsets of TUEG with the same ids), so a patient never straddles a split.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neuronarrator.clinical.findings import ABNORMAL_CODES, Finding, Findings
from neuronarrator.clinical.label import analyze_report
from neuronarrator.clinical.mappings import from_tuab
from neuronarrator.clinical.text import FINDING_SECTIONS, split_sections
from neuronarrator.corpus.sources import ehr as ehr_text
from neuronarrator.corpus.sources import tuh_labels
from neuronarrator.corpus.sources.annotations import Mark, abnormal_set_aside, assemble
from neuronarrator.corpus.sources.base import SessionData, SessionItem
from neuronarrator.corpus.sources.common import (
    ORIGIN_REPORT,
    LabelFileError,
    Labels,
    ehr_dict,
    find_files,
    narrative_for,
    read_and_harmonize,
    relative_key,
    session,
)
from neuronarrator.io.text_input import read_report_text

logger = logging.getLogger(__name__)

name = "tuh"
_EDF = re.compile(r"^(?P<patient>[a-z0-9]{8})_(?:s(?P<session>\d{3})_t\d{3}|\d{8})\.edf$", re.I)
#: Event-label files next to ``<base>.edf``, by kind, in order of preference within a kind.
EVENT_SUFFIXES = {"tuev": (".rec",), "tusz": (".csv", ".csv_bi", ".tse", ".tse_bi")}
PARSERS = {".rec": tuh_labels.parse_rec, ".csv": tuh_labels.parse_csv, ".csv_bi": tuh_labels.parse_csv,
           ".tse": tuh_labels.parse_tse, ".tse_bi": tuh_labels.parse_tse}  # fmt: skip
OFFICIAL_SPLITS = ("train", "dev", "eval")
MEDICATION_HEADINGS = frozenset({"medications", "medication", "meds", "current medications"})
#: How far up from the EDF's folder the session report may lie (TUEG v2: session/montage/file.edf).
REPORT_LEVELS = 3


def _report(root: Path, path: Path, patient: str, session_no: str | None) -> Path | None:
    if session_no is None:
        return None
    folder = path.parent
    for _ in range(REPORT_LEVELS):
        for candidate in (
            folder / f"{patient}_s{session_no}.txt",
            folder / f"{patient.upper()}_s{session_no}.txt",
        ):
            if candidate.is_file():
                return candidate
        if folder == root:
            break
        folder = folder.parent
    return None


def _events(path: Path) -> dict[str, str | list[str]]:
    found: dict[str, str | list[str]] = {}
    for kind, suffixes in EVENT_SUFFIXES.items():
        for suffix in suffixes:
            if path.with_suffix(suffix).is_file():
                found[kind] = path.with_suffix(suffix).name
                break
    if "tuev" not in found:
        labs = sorted(p.name for p in path.parent.glob(f"{path.stem}_ch[0-9][0-9][0-9].lab"))
        if labs:
            found["tuev"] = labs
    return found


def list_items(root: Path | None, *, render: str = "complete", **_ignored: Any) -> Iterator[SessionItem]:
    """Every ``.edf`` under ``root`` (sorted by relative path) with the labels found beside it."""
    if root is None:
        raise ValueError("the tuh source needs a folder")
    root = Path(root)
    for path in find_files(root, (".edf",)):
        match = _EDF.match(path.name)
        parts = [p.lower() for p in path.relative_to(root).parts[:-1]]
        if match:
            patient = match["patient"].lower()
            report = _report(root, path, match["patient"], match["session"])
        else:
            patient, report = (parts[-1] if parts else path.stem).lower(), None
        tuab = next((p for p in parts if p in ("normal", "abnormal")), None)
        yield SessionItem(
            source=name,
            key=relative_key(root, path),
            patient=f"tuh:{patient}",
            options={
                "root": str(root.resolve()), "render": render,
                "report": relative_key(root, report) if report else None,
                "tuab": tuab, "official_split": next((p for p in parts if p in OFFICIAL_SPLITS), None),
                "events": _events(path),
            },
        )  # fmt: skip


def read_report(path: Path) -> tuple[Findings, str, dict[str, Any], bool]:
    """A TUEG report: ``(findings, narrative, ehr, impression_stated)`` (module docstring).

    Raises
    ------
    LabelFileError
        The report has no DESCRIPTION / IMPRESSION text (naming the line of an empty heading).
    """
    text = read_report_text(path)
    sections = split_sections(text)
    finding = [
        s for s in sections if s.kind in FINDING_SECTIONS | {"correlation"} and text[s.start : s.end].strip()
    ]
    if not any(s.kind in FINDING_SECTIONS for s in finding):
        empty = next((s for s in sections if s.kind in FINDING_SECTIONS), None)
        line = text.count("\n", 0, empty.start) + 1 if empty else None
        raise LabelFileError(path, line, "no DESCRIPTION OF THE RECORD or IMPRESSION text to label")
    result = analyze_report(text)
    narrative = "\n\n".join(
        f"{s.heading.upper()}:\n{text[s.start : s.end].strip()}" if s.heading and s.kind != "other"
        else text[s.start : s.end].strip()
        for s in finding
    )  # fmt: skip
    history = " ".join(
        text[s.start : s.end]
        for s in sections
        if s.kind == "history" and (s.heading or "").lower() not in MEDICATION_HEADINGS
    )
    medications = " ".join(
        text[s.start : s.end] for s in sections if (s.heading or "").lower() in MEDICATION_HEADINGS
    )
    age, sex = ehr_text.age_sex(history or text)
    ehr = ehr_dict(age, sex, ehr_text.history_icd10(history), ehr_text.medications_atc(medications.strip()))
    return result.findings, narrative + "\n", ehr, result.stated_impression is not None


def _event_marks(folder: Path, events: dict[str, Any]) -> tuple[list[Mark], list[str]]:
    marks: list[Mark] = []
    for files in events.values():
        if isinstance(files, list):
            marks += tuh_labels.parse_labs([folder / f for f in files])
        else:
            marks += PARSERS[Path(files).suffix.lower()](folder / files)
    return marks, [
        f"{kind}_{'lab' if isinstance(f, list) else Path(f).suffix[1:]}" for kind, f in events.items()
    ]


def _merge(report: tuple[Finding, ...], events: list[Finding]) -> tuple[Finding, ...]:
    evidenced = {f.code for f in events}
    return tuple(f for f in report if f.code not in evidenced) + tuple(events)


def load(item: SessionItem) -> SessionData:
    """Read and harmonize one TUH file and label it from everything beside it (module docstring)."""
    root, opts = Path(item.options["root"]), item.options
    path = root / item.key
    labels = Labels()
    findings, narrative, ehr, stated = Findings(), "", None, False
    if opts.get("report"):
        findings, narrative, ehr, stated = read_report(root / opts["report"])
        labels.origin.append("tueg_report")
        labels.complete = labels.state_known = True
    marks, kinds = _event_marks(path.parent, opts.get("events") or {})
    labels.origin += kinds
    recording, harmonized = read_and_harmonize(path)
    in_record = [m for m in marks if m.start_s < recording.duration_s]
    clipped = [
        Mark(m.code, m.start_s, min(m.end_s, recording.duration_s), m.side, m.regions, m.channels)
        for m in in_record
    ]
    found, set_aside = assemble(clipped)
    all_findings = _merge(findings.findings, found)
    impression, labels.impression_known = findings.impression, bool(opts.get("report"))
    if opts.get("tuab"):
        tuab = from_tuab(opts["tuab"])
        if opts.get("report") and tuab != impression:
            logger.info("%s: report reads %s, TUAB folder says %s; kept TUAB's", item.key, impression, tuab)
        impression, labels.impression_known = tuab, True
        labels.origin.append("tuab_folder")
    elif not labels.impression_known:
        abnormal = any(f.code in ABNORMAL_CODES for f in found) or abnormal_set_aside(set_aside)
        impression, labels.impression_known = ("abnormal", True) if abnormal else ("normal", False)
    if impression == "normal" and any(f.is_abnormal for f in all_findings):
        impression = "abnormal"  # an evidenced abnormal event outweighs a "normal" folder or report
    findings = Findings(
        all_findings, state=findings.state, state_timeline=findings.state_timeline, impression=impression
    )
    labels.counts = {"event_marks": len(marks), "set_aside": dict(set_aside), "impression_stated": stated}
    if opts.get("report"):
        origin = ORIGIN_REPORT
    else:
        narrative, origin = narrative_for(findings, labels, item.key, opts.get("render", "complete"))
    header = recording.header
    if ehr is None:
        ehr = ehr_dict(header.age_years, header.sex)
    elif ehr["age_years"] is None and ehr["sex"] is None:
        ehr = {**ehr, "age_years": header.age_years, "sex": header.sex}
    return session(
        harmonized, findings, narrative=narrative, origin=origin, ehr=ehr, key=item.key, labels=labels,
        official_split=opts.get("official_split"), report_file=opts.get("report"),
    )  # fmt: skip

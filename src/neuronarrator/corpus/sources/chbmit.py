"""CHB-MIT Scalp EEG (PhysioNet chbmit): seizure times from the per-patient summaries -> seizure findings.

Layout: ``chbNN/chbNN_MM.edf`` (also ``chb17a_03.edf``, ``chb02_16+.edf``) with ``chbNN/chbNN-summary.txt``
(a summary anywhere under the root is found too), optional ``chbNN_MM.edf.seizures`` (WFDB annotation
files) and ``SUBJECT-INFO`` (case, gender, age) at the root.

Labels. The summary is authoritative: per ``File Name:`` block, ``Number of Seizures in File: n`` then
``Seizure Start Time: X seconds`` / ``Seizure End Time: Y seconds`` pairs (or the numbered variant
``Seizure 1 Start Time:``), each seizure one ``seizure`` finding whose evidence is its span (no side or
channels: the summaries give none). A file the summary does not list falls back to its ``.seizures``
file; with neither, the seizure content is unknown. A block whose count disagrees with its times, a
start without an end, or an end before its start raises a :class:`.common.LabelFileError` naming the
summary and the line.

Labels are incomplete (``labels_complete`` False: seizure times say nothing about the rest of the
record). Impression: abnormal (known) with a seizure; otherwise unknown (``impression_known`` False): every
CHB-MIT subject has intractable epilepsy, and a seizure-free hour is interictal, not normal. The EHR
therefore carries ICD-10 G40.919 (epilepsy, unspecified, intractable, without status epilepticus) for
every subject, a fact of the dataset (Shoeb 2009), and age and sex from SUBJECT-INFO. Patients are the
cases, except that ``chb21`` is ``chb01`` recorded 1.5 years later (PhysioNet's description): one patient.
Signals are bipolar (``FP1-F7``, … at 256 Hz): the 18-row double banana.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuronarrator.clinical.findings import Findings
from neuronarrator.corpus.sources.annotations import Mark, assemble
from neuronarrator.corpus.sources.base import SessionData, SessionItem
from neuronarrator.corpus.sources.common import (
    LabelFileError,
    Labels,
    ehr_dict,
    find_files,
    narrative_for,
    read_and_harmonize,
    read_lines,
    relative_key,
    session,
)

logger = logging.getLogger(__name__)

name = "chbmit"
#: Cases that are one person (PhysioNet chbmit description: chb21 is chb01 1.5 years later).
SAME_PATIENT = {"chb21": "chb01"}
#: Every subject has intractable epilepsy (Shoeb 2009): ICD-10 G40.919.
DATASET_ICD10 = ("G40.919",)
SEX = {"F": "female", "M": "male"}

_EDF = re.compile(r"^(?P<case>chb\d{2})[a-z]?_\d+\+?\.edf$", re.I)
_FILE = re.compile(r"^\s*File\s+Name\s*:\s*(?P<name>\S+)\s*$", re.I)
_COUNT = re.compile(r"^\s*Number\s+of\s+Seizures\s+in\s+File\s*:\s*(?P<n>\S+)\s*$", re.I)
_SEIZURE = re.compile(
    r"^\s*Seizure\s*(?P<index>\d+)?\s+(?P<which>Start|End)\s+Time\s*:\s*(?P<s>\d+(?:\.\d+)?)\s*(?:seconds?|secs?|s)?\s*$",
    re.I,
)
_SEIZURE_LIKE = re.compile(r"^\s*(Seizure|Number\s+of\s+Seizures)\b", re.I)


@dataclass(frozen=True)
class SummaryEntry:
    """One ``File Name:`` block: the seizures (start_s, end_s) and the block's first line number."""

    line: int
    seizures: tuple[tuple[float, float], ...]


def parse_summary(path: Path) -> dict[str, SummaryEntry]:
    """File name -> its seizures, from a ``chbNN-summary.txt``. Raises :class:`LabelFileError` (file, line)."""
    entries: dict[str, SummaryEntry] = {}
    current: dict[str, Any] | None = None

    def close() -> None:
        if current is None:
            return
        starts, ends = current["starts"], current["ends"]
        if len(starts) != len(ends):
            raise LabelFileError(
                path,
                current["line"],
                f"{current['name']}: {len(starts)} seizure start(s) but {len(ends)} end(s)",
            )
        if current["count"] is not None and current["count"] != len(starts):
            raise LabelFileError(
                path,
                current["count_line"],
                f"{current['name']}: says {current['count']} seizures but gives {len(starts)}",
            )
        for (a, line), (b, _) in zip(starts, ends, strict=True):
            if not b > a:
                raise LabelFileError(
                    path, line, f"{current['name']}: seizure ends at {b} s, not after its start {a} s"
                )
        entries[current["name"]] = SummaryEntry(
            current["line"], tuple((a, b) for (a, _), (b, _) in zip(starts, ends, strict=True))
        )

    for number, line in enumerate(read_lines(path), start=1):
        if match := _FILE.match(line):
            close()
            current = {
                "name": match["name"],
                "line": number,
                "count": None,
                "count_line": number,
                "starts": [],
                "ends": [],
            }
        elif match := _COUNT.match(line):
            if current is None or not match["n"].isdigit():
                raise LabelFileError(
                    path,
                    number,
                    f"unexpected {line.strip()!r}" if current else "seizure count before any 'File Name:'",
                )
            current["count"], current["count_line"] = int(match["n"]), number
        elif match := _SEIZURE.match(line):
            if current is None:
                raise LabelFileError(path, number, "seizure time before any 'File Name:'")
            target = current["starts"] if match["which"].lower() == "start" else current["ends"]
            target.append((float(match["s"]), number))
        elif _SEIZURE_LIKE.match(line):
            raise LabelFileError(
                path, number, f"expected 'Seizure [N] Start|End Time: X seconds', got {line.strip()!r}"
            )
    close()
    return entries


# --- WFDB annotation files (chbNN_MM.edf.seizures) -------------------------------------------------------
# MIT format (WFDB "annot" spec): 16-bit little-endian words, annotation type in the top 6 bits, time
# increment (samples) in the low 10; type 59 (SKIP) is followed by a 32-bit increment stored high word
# first; 60-62 (NUM, SUB, CHN) set fields; 63 (AUX) is followed by I bytes of text (padded to even);
# word 0 ends the file. CHB-MIT marks seizure onset with type 32 and end with type 33.
_SKIP, _AUX, _ONSET, _END = 59, 63, 32, 33


def parse_seizure_file(path: Path, sfreq_hz: float = 256.0) -> list[tuple[float, float]]:
    """Seizure spans (seconds) from a CHB-MIT ``.seizures`` file (256 Hz: CHB-MIT's rate)."""
    data = Path(path).read_bytes()
    t, pos, onset, spans = 0, 0, None, []
    while pos + 2 <= len(data):
        word = int.from_bytes(data[pos : pos + 2], "little")
        pos += 2
        kind, inc = word >> 10, word & 0x3FF
        if word == 0:
            break
        if kind == _SKIP:
            high, low = (int.from_bytes(data[pos + i : pos + i + 2], "little") for i in (0, 2))
            t += int.from_bytes(((high << 16) | low).to_bytes(4, "big"), "big", signed=True)
            pos += 4
        elif kind == _AUX:
            pos += inc + (inc & 1)
        elif kind < 59:
            t += inc
            if kind == _ONSET:
                onset = t
            elif kind == _END and onset is not None:
                spans.append((onset / sfreq_hz, t / sfreq_hz))
                onset = None
    if onset is not None:
        raise LabelFileError(path, None, f"seizure onset at {onset / sfreq_hz:.0f} s without an end")
    return spans


def parse_subject_info(path: Path) -> dict[str, tuple[str | None, float | None]]:
    """Case -> (sex, age in years) from ``SUBJECT-INFO`` (tab-separated: Case, Gender, Age)."""
    out: dict[str, tuple[str | None, float | None]] = {}
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split()
        if not fields or fields[0].lower() == "case":
            continue
        if len(fields) != 3 or fields[1].upper() not in SEX:
            raise LabelFileError(path, number, f"expected 'chbNN<TAB>F|M<TAB>age', got {line.strip()!r}")
        try:
            age = float(fields[2])
        except ValueError:
            raise LabelFileError(path, number, f"age {fields[2]!r} is not a number") from None
        out[fields[0].lower()] = (SEX[fields[1].upper()], age)
    return out


def list_items(root: Path | None, *, render: str = "complete", **_ignored: Any) -> Iterator[SessionItem]:
    """Every ``chbNN_MM.edf`` under ``root`` (sorted), with its summary; patients ``chbmit:chbNN``."""
    if root is None:
        raise ValueError("the chbmit source needs a folder")
    root = Path(root)
    texts = find_files(root, ("-summary.txt", "SUBJECT-INFO"))
    summaries = {
        p.name.lower().removesuffix("-summary.txt"): p
        for p in reversed(texts)
        if p.name.endswith("-summary.txt")
    }
    info = next((p for p in texts if p.name == "SUBJECT-INFO"), None)
    for path in find_files(root, (".edf",)):
        match = _EDF.match(path.name)
        if not match:
            continue
        case = match["case"].lower()
        near = path.parent / f"{case}-summary.txt"
        summary = near if near.is_file() else summaries.get(case)
        seizures = path.with_name(path.name + ".seizures")
        yield SessionItem(
            source=name,
            key=relative_key(root, path),
            patient=f"chbmit:{SAME_PATIENT.get(case, case)}",
            options={
                "root": str(root.resolve()), "case": case, "render": render,
                "summary": relative_key(root, summary) if summary else None,
                "seizures_file": relative_key(root, seizures) if seizures.is_file() else None,
                "subject_info": relative_key(root, info) if info else None,
            },
        )  # fmt: skip


def load(item: SessionItem) -> SessionData:
    """Read and harmonize (bipolar) one file; seizures from the summary (module docstring)."""
    root, opts = Path(item.options["root"]), item.options
    path = root / item.key
    spans: list[tuple[float, float]] | None = None
    origin: list[str] = []
    if opts.get("summary"):
        entry = parse_summary(root / opts["summary"]).get(path.name)
        if entry is not None:
            spans, origin = list(entry.seizures), ["chbmit_summary"]
    if spans is None and opts.get("seizures_file"):
        spans, origin = parse_seizure_file(root / opts["seizures_file"]), ["chbmit_seizures_file"]
    sex = age = None
    if opts.get("subject_info"):
        sex, age = parse_subject_info(root / opts["subject_info"]).get(opts["case"], (None, None))
    recording, harmonized = read_and_harmonize(path)
    duration_s = recording.duration_s
    marks = [
        Mark("seizure", max(0.0, a), min(b, duration_s))
        for a, b in spans or []
        if min(b, duration_s) > max(0.0, a)
    ]
    if spans and len(marks) < len(spans):
        logger.warning(
            "%s: %d seizure(s) beyond the recording's %.0f s", item.key, len(spans) - len(marks), duration_s
        )
    found, _ = assemble(marks)
    findings = Findings(tuple(found), impression="abnormal" if found else "normal")
    labels = Labels(
        origin=origin,
        impression_known=bool(found),
        counts={"seizures": len(found), "seizure_content_known": spans is not None},
    )
    narrative, narrative_origin = narrative_for(findings, labels, item.key, opts.get("render", "complete"))
    return session(
        harmonized, findings, narrative=narrative, origin=narrative_origin,
        ehr=ehr_dict(age, sex, icd10=DATASET_ICD10), key=item.key, labels=labels,
    )  # fmt: skip

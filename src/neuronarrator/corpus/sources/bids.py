"""BIDS EEG datasets (``sub-XX/[ses-YY/]eeg/sub-XX[_ses-YY]_task-ZZ[_run-N]_eeg.<edf|bdf|vhdr|set>``).

File names are parsed with mne-bids (:func:`mne_bids.get_entities_from_fname`); the recording itself is
read with the project's reader (:func:`neuronarrator.io.read.read_recording`: de-identification, channel
names) rather than ``mne_bids.read_raw_bids``, so BIDS files become exactly what the same file would
outside BIDS.

Labels: the recording's ``_events.tsv`` (BIDS: the authoritative events; annotations inside the data file
are not read again), its ``trial_type`` column (``value`` when there is none) read like EDF+ annotation
texts (:func:`.annotations.read_events`): SCORE/ACNS terms with location words, TUEV/TUSZ classes,
"Sleep stage X"; other texts (task conditions) are ignored and counted. Impression, state and narrative
follow the ``edf`` source's rules. EHR: ``age`` and ``sex`` from ``participants.tsv``. Patients:
``bids:<dataset folder>/sub-XX``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neuronarrator.corpus.sources.annotations import labels_from_events
from neuronarrator.corpus.sources.base import SessionData, SessionItem
from neuronarrator.corpus.sources.common import (
    LabelFileError,
    ehr_dict,
    find_files,
    narrative_for,
    read_and_harmonize,
    read_lines,
    relative_key,
    session,
)
from neuronarrator.io.deid import scrub_description
from neuronarrator.io.recording import Event

logger = logging.getLogger(__name__)

name = "bids"
EEG_SUFFIXES = ("_eeg.edf", "_eeg.bdf", "_eeg.vhdr", "_eeg.set")
MISSING = ("n/a", "")
SEX = {"m": "male", "male": "male", "f": "female", "female": "female"}


def read_tsv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a BIDS TSV file as ``(line number, {column: value})``; checks the columns and field counts."""
    lines = read_lines(path)
    header = lines[0].split("\t") if lines else []
    missing = [c for c in required if c not in header]
    if missing:
        raise LabelFileError(path, 1, f"the header lacks the column(s) {missing}; it has {header}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise LabelFileError(
                path, number, f"expected {len(header)} tab-separated fields, got {len(fields)}"
            )
        rows.append((number, dict(zip(header, fields, strict=True))))
    return rows


def read_events_tsv(path: Path) -> list[Event]:
    """Events of a BIDS ``_events.tsv`` (onset and duration in seconds; ``n/a`` duration: a point)."""
    events = []
    for number, row in read_tsv(path, ("onset", "duration")):
        try:
            onset = float(row["onset"])
            duration = 0.0 if row["duration"].strip() in MISSING else float(row["duration"])
        except ValueError:
            raise LabelFileError(
                path, number, f"onset {row['onset']!r} / duration {row['duration']!r} not numbers"
            ) from None
        text = row.get("trial_type", "").strip()
        if text in MISSING:
            text = row.get("value", "").strip()
        if text not in MISSING:
            events.append(Event(onset, max(duration, 0.0), scrub_description(text)))  # free text: may name people
    return events


def read_participants(path: Path) -> dict[str, tuple[float | None, str | None]]:
    """``sub-XX`` -> (age in years, sex) from ``participants.tsv`` (``n/a`` -> None)."""
    out = {}
    for number, row in read_tsv(path, ("participant_id",)):
        age_text = row.get("age", "n/a").strip()
        try:
            age = None if age_text in MISSING else float(age_text)
        except ValueError:
            raise LabelFileError(path, number, f"age {age_text!r} is not a number") from None
        out[row["participant_id"].strip()] = (age, SEX.get(row.get("sex", "").strip().lower()))
    return out


def list_items(root: Path | None, *, render: str = "complete", **_ignored: Any) -> Iterator[SessionItem]:
    """Every EEG recording of the dataset (sorted by relative path) with its events file."""
    from mne_bids import get_entities_from_fname

    if root is None:
        raise ValueError("the bids source needs a dataset folder")
    root = Path(root)
    dataset = root.resolve().name
    for path in find_files(root, EEG_SUFFIXES):
        subject = get_entities_from_fname(path.name, on_error="ignore").get("subject")
        if not subject:
            logger.warning("%s: no sub-<label> in the name; not a BIDS recording", path)
            continue
        events = path.with_name(path.name[: path.name.rindex("_eeg.")] + "_events.tsv")
        participants = root / "participants.tsv"
        yield SessionItem(
            source=name,
            key=relative_key(root, path),
            patient=f"bids:{dataset}/sub-{subject}",
            options={
                "root": str(root.resolve()), "subject": f"sub-{subject}", "render": render,
                "events": relative_key(root, events) if events.is_file() else None,
                "participants": "participants.tsv" if participants.is_file() else None,
            },
        )  # fmt: skip


def load(item: SessionItem) -> SessionData:
    """Read, harmonize and label one BIDS recording (module docstring)."""
    root, opts = Path(item.options["root"]), item.options
    events = read_events_tsv(root / opts["events"]) if opts.get("events") else []
    age = sex = None
    if opts.get("participants"):
        age, sex = read_participants(root / opts["participants"]).get(opts["subject"], (None, None))
    recording, harmonized = read_and_harmonize(root / item.key)
    findings, labels, _ = labels_from_events(events, recording.duration_s, "bids_events")
    narrative, origin = narrative_for(findings, labels, item.key, opts.get("render", "complete"))
    header = recording.header
    return session(
        harmonized, findings, narrative=narrative, origin=origin, key=item.key, labels=labels,
        ehr=ehr_dict(age if age is not None else header.age_years, sex or header.sex),
    )  # fmt: skip

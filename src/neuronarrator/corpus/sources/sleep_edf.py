"""Sleep-EDF (PhysioNet Sleep-EDF Expanded): PSG files paired with their hypnograms -> sleep states.

Layout: ``SC4ssNE0-PSG.edf`` with ``SC4ssNEC-Hypnogram.edf`` (sleep cassette study; ``ss`` the subject,
``N`` the night) and ``ST7ssNJ0-PSG.edf`` with ``ST7ssNJR-Hypnogram.edf`` (sleep telemetry study); a
PSG pairs with the hypnogram whose name shares its first 6 characters (study, subject, night). Excerpts
named ``*-PSG_<anything>.edf`` (``SC4001E0-PSG_first300s.edf``) pair the same way.

Labels: the hypnogram's R&K stages (30-s epochs) -> the per-epoch state timeline via
:func:`~neuronarrator.clinical.mappings.from_sleep_edf` (stages 3 and 4 -> N3; movement time and ``?``
unscored) and the dominant state. Times are aligned by the two files' start times (equal in the
published files; an excerpt that starts later is shifted). No findings: a hypnogram says nothing about
abnormalities, so the labels are incomplete (``labels_complete`` False), the impression is unknown
(``impression_known`` False) and there is no narrative unless ``render="always"``.

Signals: the EEG is two bipolar derivations, ``Fpz-Cz`` and ``Pz-Oz`` (100 Hz), outside the double
banana: the bipolar harmonization masks all 18 rows and the two derivations travel as the session's
``extra_uv`` / ``extra_channels`` (the corpus stores them beside the segments). EHR: age and sex from the
de-identified header ("Female_33yr"); the SC subjects took no sleep medication; ST subjects took
temazepam on one of their two nights, which the file names do not say, so ATC stays empty.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neuronarrator.clinical.findings import Findings
from neuronarrator.corpus.sources.annotations import read_events, state_timeline
from neuronarrator.corpus.sources.base import SessionData, SessionItem
from neuronarrator.corpus.sources.common import (
    Labels,
    ehr_dict,
    find_files,
    narrative_for,
    relative_key,
    session,
)
from neuronarrator.io.edf_header import read_edf_header
from neuronarrator.io.harmonize import harmonize
from neuronarrator.io.read import read_annotations, read_recording
from neuronarrator.io.recording import Event

logger = logging.getLogger(__name__)

name = "sleep-edf"
_PSG = re.compile(r"^(?P<pair>(?P<study>S[CT])\d(?P<subject>\d\d)(?P<night>\d)).*-PSG[^/]*\.edf$", re.I)
_HYPNOGRAM = re.compile(r"^(?P<pair>S[CT]\d{4}).*-Hypnogram\.edf$", re.I)


def list_items(root: Path | None, *, render: str = "complete", **_ignored: Any) -> Iterator[SessionItem]:
    """Every PSG file under ``root`` (sorted), with its hypnogram from the same folder (or anywhere under
    ``root`` when the folder has none). Patients: ``sleep-edf:SC00`` (study and subject number)."""
    if root is None:
        raise ValueError("the sleep-edf source needs a folder")
    root = Path(root)
    files = find_files(root, (".edf",))
    hypnograms: dict[str, list[Path]] = {}
    for path in files:
        match = _HYPNOGRAM.match(path.name)
        if match:
            hypnograms.setdefault(match["pair"].upper(), []).append(path)
    for path in files:
        match = _PSG.match(path.name)
        if not match:
            continue
        candidates = hypnograms.get(match["pair"].upper(), [])
        near = [h for h in candidates if h.parent == path.parent] or candidates
        if len(near) > 1:
            logger.warning("%s: %d hypnograms match; using %s", path, len(near), near[0].name)
        if not near:
            logger.warning("%s: no hypnogram named %s*-Hypnogram.edf: no states", path, match["pair"])
        yield SessionItem(
            source=name,
            key=relative_key(root, path),
            patient=f"sleep-edf:{match['study'].upper()}{match['subject']}",
            options={
                "root": str(root.resolve()),
                "hypnogram": relative_key(root, near[0]) if near else None,
                "night": int(match["night"]),
                "render": render,
            },
        )


def _offset_s(psg: Path, hypnogram: Path) -> float:
    """Seconds to add to hypnogram onsets to put them on the PSG's time axis (0 when either lacks a date)."""
    a, b = read_edf_header(psg).start, read_edf_header(hypnogram).start
    return 0.0 if a is None or b is None else (b - a).total_seconds()


def load(item: SessionItem) -> SessionData:
    """Read and harmonize the PSG (bipolar view), score states from the hypnogram (module docstring)."""
    root = Path(item.options["root"])
    path = root / item.key
    recording = read_recording(path)
    harmonized = harmonize(recording)
    duration_s = recording.duration_s
    events: list[Event] = []
    hypnogram = item.options.get("hypnogram")
    if hypnogram:
        offset = _offset_s(path, root / hypnogram)
        events = [
            Event(e.onset_s + offset, e.duration_s, e.description) for e in read_annotations(root / hypnogram)
        ]
    reading = read_events(events, duration_s)
    timeline, dominant = state_timeline(reading.states, duration_s)
    findings = Findings((), state=dominant or "awake", state_timeline=tuple(timeline))
    labels = Labels(
        origin=["sleep_edf_hypnogram"] if hypnogram else [],
        state_known=dominant is not None,
        counts={**reading.counts(), "night": item.options.get("night")},
    )
    narrative, origin = narrative_for(findings, labels, item.key, item.options.get("render", "complete"))
    header = recording.header
    return session(
        harmonized, findings, narrative=narrative, origin=origin, ehr=ehr_dict(header.age_years, header.sex),
        key=item.key, labels=labels, hypnogram_file=hypnogram,
    )  # fmt: skip

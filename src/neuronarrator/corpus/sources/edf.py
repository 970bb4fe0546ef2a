"""Any folder of EDF/EDF+ (and BDF) files, with findings from their EDF+ annotations where they map.

Findings. Each annotation text is read by :func:`.annotations.read_annotation`: SCORE/ACNS terms, TUEV
and TUSZ class names, with location words ("LPDs right temporal", "spike T3") and "Sleep stage X" (a
state timeline). Texts nobody mapped (task markers such as EEGMMI's ``T0``/``T1``/``T2``, "eyes closed")
are ignored and counted in ``meta["labels"]["unmapped"]``.

What is unknown stays marked unknown. Annotations describe events, not the whole record, so the labels
are never complete (``labels_complete`` False). A file without mapped annotations gets no findings, the
schema's default state (awake) and impression (normal), with ``impression_known`` False (and
``meta["labels"]["state_known"]`` False): an unannotated record is not a normal one. An abnormal
annotation makes the impression abnormal (known). The narrative is empty (origin ``"none"``) unless
``render="always"`` (see :mod:`.common`).

Patients. ``patient="auto"`` (default): the EDF header's de-identified subject hash when the file names
a patient, else the file's folder (relative to the root; files directly in the root share the root's
name) -- so ``eegmmidb/S001R01.edf``, ``S001R02.edf``, ``S001R04.edf`` are one patient with three
sessions. ``"folder"``: always the folder. ``"file"``: every file its own patient (only for data known to
hold one file per person). The subject hash is salted per user (:mod:`neuronarrator.io.deid`): stable
across rebuilds on one machine, not across users.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neuronarrator.corpus.sources.annotations import labels_from_events
from neuronarrator.corpus.sources.base import SessionData, SessionItem
from neuronarrator.corpus.sources.common import (
    EDF_SUFFIXES,
    ehr_dict,
    find_files,
    narrative_for,
    read_and_harmonize,
    relative_key,
    session,
)
from neuronarrator.io.deid import header_from_edf
from neuronarrator.io.edf_header import read_edf_header
from neuronarrator.io.errors import InputError

logger = logging.getLogger(__name__)

name = "edf"
PATIENT_POLICIES = ("auto", "folder", "file")


def _patient(root: Path, path: Path, policy: str) -> str:
    if policy == "file":
        return f"edf:{relative_key(root, path)}"
    if policy == "auto":
        try:  # the header only: 256 bytes per signal, no samples
            header = read_edf_header(path)
            digest = header_from_edf(header.patient, header.recording, header.start).subject_hash
        except InputError as error:  # the item fails again, with this message, when loaded
            logger.warning("%s", error)
            digest = None
        if digest:
            return f"edf:{digest}"
    folder = path.parent.relative_to(root).as_posix()
    return f"edf:{root.resolve().name if folder == '.' else folder}"


def list_items(
    root: Path | None, *, patient: str = "auto", render: str = "complete", **_ignored: Any
) -> Iterator[SessionItem]:
    """Every ``.edf``/``.bdf`` under ``root`` (recursive, sorted by relative path), keyed by that path.

    Parameters
    ----------
    root : Path
    patient : {"auto", "folder", "file"}
        How the patient is found (module docstring).
    render : {"complete", "always", "never"}
        When to render a narrative from the annotations (:func:`.common.narrative_for`).
    """
    if root is None:
        raise ValueError("the edf source needs a folder")
    if patient not in PATIENT_POLICIES:
        raise ValueError(f"patient must be one of {PATIENT_POLICIES}, got {patient!r}")
    root = Path(root)
    for path in find_files(root, EDF_SUFFIXES):
        yield SessionItem(
            source=name,
            key=relative_key(root, path),
            patient=_patient(root, path, patient),
            options={"root": str(root.resolve()), "render": render},
        )


def load(item: SessionItem) -> SessionData:
    """Read, harmonize and label one file (module docstring)."""
    path = Path(item.options["root"]) / item.key
    recording, harmonized = read_and_harmonize(path)
    findings, labels, reading = labels_from_events(recording.events, recording.duration_s, "edf_annotations")
    if reading.unmapped:
        logger.debug(
            "%s: %d annotation texts not mapped: %s",
            item.key,
            len(reading.unmapped),
            sorted(reading.unmapped),
        )
    narrative, origin = narrative_for(findings, labels, item.key, item.options.get("render", "complete"))
    header = recording.header
    return session(
        harmonized, findings, narrative=narrative, origin=origin, ehr=ehr_dict(header.age_years, header.sex),
        key=item.key, labels=labels,
    )  # fmt: skip

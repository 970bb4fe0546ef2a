"""What the file-based adapters share: finding files, label-file errors, harmonizing, assembling a session.

Narratives. A report is rendered (:func:`neuronarrator.clinical.render.render_report`) only from labels
that describe the whole record (the phantom's truth); a dataset whose labels cover one kind of event
(seizure times, TUEV events, sleep stages, an EDF's annotations) says nothing about the rest of the
record, and a rendered "no epileptiform discharges" would be a claim nobody made. Such sessions get an
empty narrative with origin :data:`ORIGIN_NONE` unless the caller asks ``render="always"``. What is
known goes into the contract (:class:`~.base.SessionData`'s ``labels_complete``, ``impression_known`` and
``state_known``, from :class:`Labels`); ``meta["labels"]`` keeps the provenance (origin, ``state_known``,
label counts).

Extra derivations. A bipolar-only file's derivations outside the double banana (``Harmonized.extra_uv``)
travel in ``SessionData.extra_uv`` / ``extra_channels``; one the harmonizer judged bad is left out, as a
bad double-banana row is masked (``meta["extra_channels_dropped"]`` names it).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.clinical.findings import Findings
from neuronarrator.clinical.render import render_report
from neuronarrator.corpus.sources.base import NARRATIVE_ORIGINS, SessionData
from neuronarrator.io.errors import InputError
from neuronarrator.io.harmonize import Harmonized, harmonize
from neuronarrator.io.read import read_recording
from neuronarrator.io.recording import Recording
from neuronarrator.io.text_input import read_report_text

logger = logging.getLogger(__name__)

#: The narrative origins of the contract (:data:`~.base.NARRATIVE_ORIGINS`). ``ORIGIN_NONE``: no
#: narrative, the labels are partial and the caller did not ask for one (see the module docstring).
ORIGIN_REPORT, ORIGIN_RENDERED, ORIGIN_NONE = NARRATIVE_ORIGINS
RENDER_POLICIES = ("complete", "always", "never")

#: EEG file suffixes the folder adapters pick up (the readers of :mod:`neuronarrator.io.read`).
EDF_SUFFIXES = (".edf", ".bdf")


class LabelFileError(InputError):
    """A label file or report that does not parse; ``str()`` gives ``"<file>: line N: <problem>"``."""

    def __init__(self, path: str | Path, line: int | None, problem: str):
        self.line = line
        super().__init__(path, f"line {line}: {problem}" if line else problem)


def find_files(root: Path, suffixes: Iterable[str]) -> list[Path]:
    """Files under ``root`` (recursive) whose name ends in one of ``suffixes`` (any case), sorted by their
    path relative to ``root`` so that the order is the same on every machine; hidden folders skipped."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no such folder" if not root.exists() else "not a folder")
    ends = tuple(s.lower() for s in suffixes)
    found = [
        p for p in root.rglob("*")
        if p.name.lower().endswith(ends) and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]  # fmt: skip
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def relative_key(root: Path, path: Path) -> str:
    """The portable key of a file: its POSIX path relative to the source root."""
    return Path(path).relative_to(root).as_posix()


def read_lines(path: Path) -> list[str]:
    """A label file's lines (UTF-8 or Latin-1), with the file-naming errors of the report reader."""
    return read_report_text(path).splitlines()


def stable_seed(text: str) -> int:
    """A seed fixed by a key (CRC-32): the same session renders the same text on every rebuild."""
    return zlib.crc32(text.encode("utf-8"))


def read_and_harmonize(path: Path) -> tuple[Recording, Harmonized]:
    """Open a file and harmonize all of it (referential: 19 rows; bipolar-only: 18 double-banana rows)."""
    recording = read_recording(path)
    return recording, harmonize(recording)


@dataclass
class Labels:
    """What a session's labels say, beyond the findings themselves.

    ``complete``: the labels describe the whole record (a report, the phantom) -> ``SessionData.
    labels_complete``; ``impression_known``: the impression comes from a label rather than the schema's
    default (implied by ``complete``) -> ``SessionData.impression_known``; ``state_known``: the state comes
    from a label (implied by ``complete``) -> ``SessionData.state_known``. ``meta["labels"]`` (:meth:`to_dict`)
    keeps ``origin``, ``state_known`` and the counts.
    """

    origin: list[str] = field(default_factory=list)  # e.g. ["report"], ["tusz_csv_bi", "tuab_folder"]
    complete: bool = False
    impression_known: bool = False
    state_known: bool = False
    counts: dict[str, Any] = field(default_factory=dict)  # mapped / unmapped label texts and the like

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": list(self.origin), "state_known": self.state_known, **self.counts,
        }  # fmt: skip


def narrative_for(findings: Findings, labels: Labels, key: str, render: str = "complete") -> tuple[str, str]:
    """``(narrative, origin)`` for labels that are not a report: rendered or empty (module docstring)."""
    if render not in RENDER_POLICIES:
        raise ValueError(f"render must be one of {RENDER_POLICIES}, got {render!r}")
    if render == "always" or (render == "complete" and labels.complete):
        return render_report(findings, rng=stable_seed(key)).text, ORIGIN_RENDERED
    return "", ORIGIN_NONE


def ehr_dict(
    age_years: float | None = None, sex: str | None = None, icd10: Iterable[str] = (), atc: Iterable[str] = ()
) -> dict[str, Any]:
    """The EHR of the contract: absent knowledge stays None / empty."""
    return {
        "age_years": None if age_years is None else float(age_years),
        "sex": sex if sex in ("male", "female") else None,
        "icd10": sorted(set(icd10)),
        "atc": sorted(set(atc)),
    }


def session(
    harmonized: Harmonized,
    findings: Findings,
    *,
    narrative: str,
    origin: str,
    ehr: dict[str, Any],
    key: str,
    labels: Labels,
    **meta: Any,
) -> SessionData:
    """Assemble the :class:`SessionData` of one harmonized file: signal, extra derivations (the bad ones
    left out), findings, narrative, and what the labels cover (``labels``, see :class:`Labels`)."""
    bad = set(harmonized.quality.bad_channel_names)
    extra_channels = tuple(harmonized.extra_channels)
    keep = [i for i, name in enumerate(extra_channels) if name not in bad]
    if len(keep) < len(extra_channels):
        meta = {**meta, "extra_channels_dropped": [n for n in extra_channels if n in bad]}
    n_times = harmonized.data_uv.shape[-1]
    if len(keep) == len(extra_channels) and harmonized.extra_uv.shape == (len(keep), n_times):
        extra_uv = harmonized.extra_uv
    else:
        extra_uv = harmonized.extra_uv[keep] if keep else np.zeros((0, n_times), np.float32)
    return SessionData(
        data_uv=harmonized.data_uv.astype(np.float32, copy=False),
        montage=harmonized.montage,
        channel_mask=np.asarray(harmonized.channel_mask, dtype=bool),
        findings=findings,
        narrative=narrative,
        narrative_origin=origin,
        ehr=ehr,
        meta={"source_file": key, "labels": labels.to_dict(), "harmonize": harmonized.to_dict(), **meta},
        extra_uv=extra_uv.astype(np.float32, copy=False),
        extra_channels=tuple(extra_channels[i] for i in keep),
        labels_complete=labels.complete,
        impression_known=labels.complete or labels.impression_known,
        state_known=labels.complete or labels.state_known,
    )

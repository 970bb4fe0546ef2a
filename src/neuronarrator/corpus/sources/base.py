"""The contract between a data source and the corpus builder.

A source adapter turns one dataset layout (the phantom, TUH, CHB-MIT, Sleep-EDF, BIDS, a folder of EDF)
into :class:`SessionItem` s (cheap: listed from file names and label files, no signal read) and, for
each item, a :class:`SessionData` (heavy: read, harmonized, labelled), which the builder runs on its
workers. Items are listed in a deterministic order, so that a rebuild assigns the same sessions to the
same shards (resumability) and adding files to a source only appends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from neuronarrator.clinical.findings import Findings

#: Segment length (DESIGN.md): 10 s = 2,000 samples at 200 Hz.
SEGMENT_S = 10.0
SFREQ_HZ = 200.0
#: The ``extra_channels`` name of a session's ECG lead: an auxiliary channel, not an EEG derivation
#: (stored and quantized like the extras; read as ``SessionSignal.ecg_uv``, never as a spectrogram row).
ECG_LEAD = "ECG"
#: Where a session's narrative comes from (``SessionData.narrative_origin``; the manifest's column).
NARRATIVE_ORIGINS = ("report", "rendered", "none")


@dataclass(frozen=True)
class SessionItem:
    """One session a source can provide, before anything is read.

    ``key`` is unique within the source and stable across rebuilds (a relative path, a seed); the
    builder's shard assignment and resume logic rest on it. ``patient`` is the pseudonymous patient
    identifier used for the split (never a name). ``options`` are whatever the adapter needs to load it.
    """

    source: str
    key: str
    patient: str
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class SessionData:
    """One harmonized session with its labels, as written into the corpus.

    Attributes
    ----------
    data_uv : ndarray, shape (n_chans, n_times), float32
        Harmonized µV at 200 Hz: (19, n) referential, or (18, n) double banana for bipolar-only sources.
    montage : str
        ``"referential"`` or ``"bipolar"``.
    channel_mask : ndarray of bool, shape (n_chans,)
        False rows are masked (no data).
    findings : Findings
        Session-level truth: findings with evidence spans (seconds, channels), state timeline, impression.
    narrative : str
        The report text (DESCRIPTION / IMPRESSION / CLINICAL CORRELATION, or the source's own report);
        ``""`` when there is none.
    narrative_origin : str
        One of :data:`NARRATIVE_ORIGINS`: ``"report"`` (written by a clinician, from the source),
        ``"rendered"`` (by ``clinical.render`` from the findings) or ``"none"`` (no narrative: ``""``).
    ehr : dict
        ``age_years`` (float | None), ``sex`` ("male" | "female" | None), ``icd10`` (list of codes),
        ``atc`` (list of codes); absent knowledge is None / empty, never guessed.
    meta : dict
        JSON-ready provenance (source file, original rate, harmonization report).
    extra_uv : ndarray, shape (n_extra, n_times), float32
        Bipolar-only sources: derivations the file holds outside the double banana (Sleep-EDF's
        ``Fpz-Cz``, ``Pz-Oz``; CHB-MIT's ``T7-FT9``), harmonized like ``data_uv`` (same rate, filters and
        ``n_times``); and an ECG lead, named :data:`ECG_LEAD` (the phantom's ``ecg_lead=1``). Empty
        (``n_extra`` 0) by default.
    extra_channels : tuple of str
        The names of the ``extra_uv`` rows (``len(extra_channels) == extra_uv.shape[0]``).
    labels_complete : bool
        True: ``findings`` (and so its state and impression) are a complete statement of what the record
        shows -- a clinician's report, the phantom's truth -- and a finding absent from them is absent from
        the record. False: only some events are labelled (seizure times, TUEV events, a hypnogram, EDF+
        annotations): the findings listed are there, nothing is known about the rest. The corpus gives
        segments of such sessions no rendered narrative (origin ``"none"``) and training masks them.
    impression_known : bool or None
        Whether ``findings.impression`` is a label even though ``labels_complete`` is False (the TUAB
        folder, an abnormal event); None (default): as ``labels_complete``. An unknown impression is
        stored as null, never as the schema's default ``"normal"``.
    state_known : bool or None
        Whether ``findings.state`` (and its ``state_timeline``) is a label -- a hypnogram, a report, the
        phantom's truth -- rather than the schema's default ``"awake"``; None (default): as
        ``labels_complete``. An unknown state is stored as null with an empty timeline.
    """

    data_uv: np.ndarray
    montage: str
    channel_mask: np.ndarray
    findings: Findings
    narrative: str
    narrative_origin: str
    ehr: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    extra_uv: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    extra_channels: tuple[str, ...] = ()
    labels_complete: bool = True
    impression_known: bool | None = None
    state_known: bool | None = None

    @property
    def knows_impression(self) -> bool:
        """Whether ``findings.impression`` is known (``impression_known``, defaulting to ``labels_complete``)."""
        return self.labels_complete if self.impression_known is None else bool(self.impression_known)

    @property
    def knows_state(self) -> bool:
        """Whether ``findings.state`` is known (``state_known``, defaulting to ``labels_complete``)."""
        return self.labels_complete if self.state_known is None else bool(self.state_known)


class Source(Protocol):
    """What every adapter module exposes (registered by name in ``corpus.sources.SOURCES``)."""

    name: str

    def list_items(self, root: Path | None, **options: Any) -> Iterator[SessionItem]:
        """The sessions under ``root`` (or generated, for the phantom), in a deterministic order."""
        ...

    def load(self, item: SessionItem) -> SessionData:
        """Read, harmonize and label one session. Raises an ``InputError`` naming the file on bad input."""
        ...

"""Whole sessions as arrays: what every embedder of the benchmark (CLEF, band power, short-window peers)
reads, whether the session comes from a corpus or from a file cut into crops.

A :class:`SessionSignal` is one harmonized session: 19 rows at 200 Hz in µV (referential electrodes in
``CANONICAL_19`` order, or for a bipolar-only recording the 18 double-banana derivations and one empty
row), with a mask of the rows that hold data. Loading a whole split holds it in memory: a 60-s session is
0.9 MB, a 20-min one 18 MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from neuronarrator.corpus.sources.base import SFREQ_HZ

#: Manifest columns the benchmark reads per session (labels, EHR, identity).
SESSION_COLUMNS = ("session_id", "patient", "split", "source", "key", "codes", "state", "impression", "narrative",
                   "labels_complete", "age_years", "sex", "icd10", "atc", "findings")  # fmt: skip


@dataclass(frozen=True)
class SessionSignal:
    """One harmonized session.

    Attributes
    ----------
    data_uv : ndarray, shape (19, n_samples), float32
        µV at :data:`SFREQ_HZ` (200 Hz).
    channel_mask : ndarray, shape (19,), bool
        True on rows that hold data.
    montage : str
        ``"referential"`` (rows are CANONICAL_19) or ``"bipolar"`` (rows 0-17 the double banana).
    session_id : str
    ecg_uv : ndarray, shape (n_samples,), float32, or None
        The recording's ECG lead on the same 200-Hz time axis, where the file has one (reports read from a
        file) or the corpus stores one (the phantom's ``ecg_lead=1``): :mod:`neuronarrator.signal.cardiac` reads ECG artifact off it.
    """

    data_uv: np.ndarray
    channel_mask: np.ndarray
    montage: str
    session_id: str
    ecg_uv: np.ndarray | None = None

    @property
    def duration_s(self) -> float:
        return self.data_uv.shape[1] / SFREQ_HZ


def corpus_sessions(corpus_dir: str | Path, split: str | None = None,
                    max_sessions: int | None = None) -> tuple[list[SessionSignal], pa.Table]:  # fmt: skip
    """Every session of one split (None: all) with its manifest row.

    Returns
    -------
    sessions : list of SessionSignal, in manifest order
    table : pyarrow.Table
        The manifest's session rows, :data:`SESSION_COLUMNS`, aligned with ``sessions``.
    """
    from neuronarrator.corpus.datasets import SessionDataset

    dataset = SessionDataset(corpus_dir, split, extras=False)
    n = len(dataset) if max_sessions is None else min(len(dataset), int(max_sessions))
    sessions = [dataset.session_signal(i) for i in range(n)]
    from neuronarrator.corpus.datasets import _manifest

    table = _manifest(Path(corpus_dir), "session", split, list(SESSION_COLUMNS)).slice(0, n)
    return sessions, table

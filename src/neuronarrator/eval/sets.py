"""The evaluation sets of the CLEF benchmark, each as sessions + task labels + patient ids.

* ``phantom_set``: a split (or several) of a built corpus; labels from :func:`clinical_tasks`.
* ``eegmmi_set``: the real EEGMMI eyes-open (S001R01) / eyes-closed (S001R02) pair, harmonized and cut
  into non-overlapping 10-s crops, one task ``eyes_closed``. One subject and two runs: the run *is* the
  label, so a probe cannot tell eyes from any other difference between the runs (electrode drift, say);
  it is a sanity check on real EEG, not a benchmark, and the report says so. Crops get a ``pair`` group
  (crop k of R01 with crop k of R02) for leave-one-pair-out evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuronarrator.eval.signals import SessionSignal, corpus_sessions
from neuronarrator.eval.tasks import clinical_tasks

EEGMMI_RUNS = {"S001R01.edf": 0.0, "S001R02.edf": 1.0}  # file -> eyes_closed label
CROP_S = 10.0


@dataclass
class EvalSet:
    """sessions, labels (task -> (n,) 1/0/NaN), groups (n,) patient ids, and where it comes from."""

    name: str
    sessions: list[SessionSignal]
    labels: dict[str, np.ndarray]
    groups: np.ndarray
    description: str
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sessions)


def phantom_set(
    corpus_dir: str | Path, splits: tuple[str | None, ...], name: str, description: str
) -> EvalSet:
    """Sessions of the given splits (``None``: all) of a corpus, in split order."""
    import pyarrow as pa

    sessions, tables = [], []
    for split in splits:
        s, t = corpus_sessions(corpus_dir, split)
        sessions += s
        tables.append(t)
    table = pa.concat_tables(tables)
    return EvalSet(name, sessions, clinical_tasks(table), np.asarray(table.column("patient").to_pylist()),
                   description)  # fmt: skip


def eegmmi_set(directory: str | Path) -> EvalSet:
    """The EEGMMI eyes-open/closed crops; FileNotFoundError when a run is missing."""
    from neuronarrator.corpus.sources.base import SFREQ_HZ
    from neuronarrator.io.harmonize import harmonize
    from neuronarrator.io.read import read_recording

    directory = Path(directory)
    sessions, labels, pairs = [], [], []
    n_crop = int(CROP_S * SFREQ_HZ)
    for filename, eyes_closed in EEGMMI_RUNS.items():
        path = directory / filename
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the EEGMMI run is missing")
        h = harmonize(read_recording(path))
        data = np.asarray(h.data_uv, dtype=np.float32)
        for k in range(data.shape[1] // n_crop):
            sessions.append(SessionSignal(np.ascontiguousarray(data[:, k * n_crop : (k + 1) * n_crop]),
                                          np.asarray(h.channel_mask, bool), h.montage, f"{filename}#{k}"))  # fmt: skip
            labels.append(eyes_closed)
            pairs.append(f"pair{k}")
    return EvalSet("eegmmi", sessions, {"eyes_closed": np.asarray(labels)}, np.asarray(pairs),
                   f"EEGMMI S001 R01 (eyes open) / R02 (eyes closed), {CROP_S:g}-s crops: one subject",
                   extra={"pairs": np.asarray(pairs)})  # fmt: skip

"""PyTorch datasets over a corpus: segments (NeuroNarrator) and whole sessions (CLEF).

Both read the manifest once (a few hundred bytes per row, kept as Arrow columns) and the signals only when
an item is asked for. Shards are opened lazily in the process that reads, and nothing open is pickled,
so the datasets work with any number of DataLoader workers (fork or spawn). Reading is chunk-wise:
:class:`~neuronarrator.corpus.store.ShardReader` s decode a chunk (8 segments) at a time into one
bounded cache per process; :class:`ShardBlockSampler` orders the rows so that consecutive reads fall in
the same chunks (shards shuffled, then blocks within a shard, then rows within a block). A uniformly
random order works too, at about a third of the speed (every read decodes a chunk for one segment).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import Dataset, Sampler

from neuronarrator.clinical.findings import STATES
from neuronarrator.corpus.labels import finding_targets
from neuronarrator.corpus.manifest import MANIFEST_NAME, read_table
from neuronarrator.corpus.sources.base import ECG_LEAD, SFREQ_HZ
from neuronarrator.corpus.store import (
    N_BANDS,
    SEGMENT_SAMPLES,
    TOPOMAP_GRID,
    ChunkCache,
    ShardReader,
    channel_names,
    segment_topomaps,
    shard_path,
)
from neuronarrator.io.errors import CorpusError

SEGMENT_FIELDS = ("waveform", "topomap", "findings", "narrative", "extra_waveform")
#: The fields a dataset reads by default (``extra_waveform`` only when asked).
DEFAULT_FIELDS = ("waveform", "topomap", "findings", "narrative")


def _manifest(corpus_dir: Path, kind: str, split: str | None, columns: Sequence[str]) -> pa.Table:
    path = corpus_dir / MANIFEST_NAME
    if not path.is_file():
        raise CorpusError(f"{corpus_dir}: no {MANIFEST_NAME}; not a finished corpus (run `corpus build` to finish it)")
    filters = [("kind", "==", kind)] + ([("split", "==", split)] if split is not None else [])
    return read_table(path, columns=columns, filters=filters).combine_chunks()


class _ShardRows(Dataset):
    """Shared machinery: manifest columns, and shard readers opened lazily per process."""

    def __init__(self, corpus_dir: str | Path, kind: str, split: str | None, columns: Sequence[str],
                 cache_chunks: int) -> None:  # fmt: skip
        self.corpus_dir = Path(corpus_dir)
        self.split = split
        self.cache_chunks = cache_chunks
        base = ["shard", "row_start", "row_stop", "montage", "session_id"]
        self.table = _manifest(self.corpus_dir, kind, split, [*base, *columns])
        self.shards = self.table.column("shard").to_numpy().astype(np.int64)
        self.rows = self.table.column("row_start").to_numpy().astype(np.int64)
        self._readers: dict[int, ShardReader] = {}
        self._cache = ChunkCache(cache_chunks)
        self._pid = os.getpid()

    def __len__(self) -> int:
        return self.table.num_rows

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_readers"] = {}  # never ship open arrays or decoded chunks to a worker
        state["_cache"] = ChunkCache(self.cache_chunks)
        return state

    def reader(self, shard: int) -> ShardReader:
        if os.getpid() != self._pid:  # a forked worker: start from nothing rather than the parent's objects
            self._readers, self._cache, self._pid = {}, ChunkCache(self.cache_chunks), os.getpid()
        reader = self._readers.get(shard)
        if reader is None:
            reader = self._readers[shard] = ShardReader(shard_path(self.corpus_dir, shard), cache=self._cache)
        return reader

    def value(self, column: str, index: int) -> Any:
        return self.table.column(column)[index].as_py()


class SegmentDataset(_ShardRows):
    """10-s segments of one split, as a map-style dataset.

    Parameters
    ----------
    corpus_dir : path
    split : ``train``, ``val``, ``test`` or None (all)
    fields : subset of ``("waveform", "topomap", "findings", "narrative", "extra_waveform")``
        What each item carries; fields not asked for are not read. Default: all but ``extra_waveform``.
    cache_chunks : int
        Decoded chunks kept per process, across all shards (a segments chunk is ~600 KB, a topomaps
        chunk ~80 KB: 128 is ~45 MB, and holds every chunk of a 256-row sampler block).

    Items are dicts: ``index`` (int), ``montage`` (str) and, as asked,

    - ``waveform`` : float32 (19, 2000) µV; ``channel_mask`` : bool (19,) (bipolar rows: 18 derivations, row 18 masked)
    - ``topomap`` : float32 (5, 32, 32) log10 band power (zeros for bipolar segments)
    - ``findings`` : float32 (n_codes,) multi-hot over ``CODES``; ``side`` : int64 (n_codes,) index into
      ``SIDES`` or -1; ``regions`` : float32 (n_codes, 5) (see :func:`~.labels.finding_targets`)
    - ``narrative`` : str (rendered from the segment's own findings; ``""`` where the session's labels are
      partial, see :mod:`.shard`)
    - with ``findings`` or ``narrative``: ``labels_complete`` : bool -- False where the session's labels
      cover only some events: absent codes are unknown rather than absent, and there is no narrative;
      mask those targets; ``state_known`` : bool -- False where the labels do not give the state (the
      manifest's ``state`` is null): mask any state target; ``state`` : int, the segment's state as an
      index into ``STATES`` (-1 where not known)
    - ``extra_waveform`` : float32 (n_extra, 2000) µV, the session's derivations outside the double banana
      (Sleep-EDF's ``Fpz-Cz``, ``Pz-Oz``), zero-padded to ``n_extra`` = the most any item of this dataset
      has (so that items batch); ``extra_mask`` : bool (n_extra,) (False: padding); ``extra_channels`` :
      tuple of n_extra names (``""`` for padding). A stored ECG lead is one of them, named
      :data:`~neuronarrator.corpus.sources.base.ECG_LEAD`.
    """

    def __init__(self, corpus_dir: str | Path, split: str | None = "train", *,
                 fields: Sequence[str] = DEFAULT_FIELDS, cache_chunks: int = 128) -> None:  # fmt: skip
        unknown = set(fields) - set(SEGMENT_FIELDS)
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; known: {SEGMENT_FIELDS}")
        self.fields = tuple(fields)
        columns = [f for f in ("findings", "narrative") if f in self.fields]
        if columns:
            columns += ["labels_complete", "state"]
        if "extra_waveform" in self.fields:
            columns.append("extra_channels")
        super().__init__(corpus_dir, "segment", split, columns, cache_chunks)
        self.n_extra = 0
        if "extra_waveform" in self.fields and self.table.num_rows:
            lengths = pc.list_value_length(self.table.column("extra_channels")).fill_null(0)
            self.n_extra = int(pc.max(lengths).as_py())

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        reader = self.reader(int(self.shards[index]))
        row = int(self.rows[index])
        montage = self.value("montage", index)
        item: dict[str, Any] = {"index": index, "montage": montage}
        waveform = None
        if "waveform" in self.fields:
            waveform = reader.segment_uv(row)
            item["waveform"] = torch.from_numpy(waveform)
            item["channel_mask"] = torch.from_numpy(reader.small("channel_mask")[row].copy())
        if "topomap" in self.fields:
            item["topomap"] = torch.from_numpy(self._topomap(reader, row, montage, waveform))
        if "findings" in self.fields:
            present, side, regions = finding_targets(json.loads(self.value("findings", index)))
            item.update(findings=torch.from_numpy(present), side=torch.from_numpy(side), regions=torch.from_numpy(regions))
        if "narrative" in self.fields:
            item["narrative"] = self.value("narrative", index) or ""
        if "labels_complete" in self.table.column_names:
            item["labels_complete"] = bool(self.value("labels_complete", index))
            state = self.value("state", index)
            item["state_known"] = state is not None
            item["state"] = STATES.index(state) if state in STATES else -1
        if "extra_waveform" in self.fields:
            item.update(self._extra(reader, row, index))
        return item

    def _extra(self, reader: ShardReader, row: int, index: int) -> dict[str, Any]:
        names = self.value("extra_channels", index) or []
        uv = np.zeros((self.n_extra, SEGMENT_SAMPLES), np.float32)
        mask = np.zeros(self.n_extra, bool)
        if names:
            stored, stored_mask = reader.extra_uv(row)  # the shard's width; this row's extras come first
            uv[: len(names)], mask[: len(names)] = stored[: len(names)], stored_mask[: len(names)]
        return {"extra_waveform": torch.from_numpy(uv), "extra_mask": torch.from_numpy(mask),
                "extra_channels": tuple(names) + ("",) * (self.n_extra - len(names))}  # fmt: skip

    @staticmethod
    def _topomap(reader: ShardReader, row: int, montage: str, waveform: np.ndarray | None) -> np.ndarray:
        if reader.has_topomaps:
            return reader.row("topomaps", row).astype(np.float32)
        if montage != "referential":
            return np.zeros((N_BANDS, TOPOMAP_GRID, TOPOMAP_GRID), np.float32)
        waveform = reader.segment_uv(row) if waveform is None else waveform
        return segment_topomaps(waveform[None], reader.small("channel_mask")[row])[0]


class SessionDataset(_ShardRows):
    """Whole sessions of one split: CLEF's multitaper spectrogram, the report, the EHR.

    The spectrogram (``neuronarrator.signal.multitaper``, 5 s windows, 1 s hop, 0-32 Hz) is computed
    when the item is read, from the stored whole segments (a trailing part shorter than one segment is
    not in the corpus), over the 19 rows and, with ``extras`` (default), the session's extra derivations
    (not a stored ECG lead) after them (a bipolar-only file's ``Fpz-Cz``, ``Pz-Oz``: for Sleep-EDF the only rows holding data).
    Items are dicts: ``spectrogram`` float32 (n_rows, n_freqs, n_windows) ``log(psd+1)`` with n_rows =
    19 + the session's extras; ``spectrogram_channels`` (tuple of n_rows names: the 19 rows' -- the
    electrodes, or the double banana and ``""`` -- then the extras'), ``spectrogram_mask`` bool (n_rows,)
    (False: no data), ``channel_mask`` bool (19,), ``findings`` float32 (n_codes,) multi-hot,
    ``labels_complete`` (bool: False where only some events are labelled -- mask the finding targets),
    ``state_known`` (bool: False where the state is not labelled, the manifest's ``state`` null),
    ``report`` (str, ``""`` when there is none), ``narrative_origin`` (``"report"``, ``"rendered"`` or
    ``"none"``), ``age_years`` (float, NaN when unknown), ``sex`` (str, "" when unknown), ``icd10`` and
    ``atc`` (lists of str), ``session_id``, ``montage``. Sessions differ in length and in extras: batch
    them with :func:`collate_sessions`.
    """

    def __init__(self, corpus_dir: str | Path, split: str | None = "train", *, device: str | None = None,
                 extras: bool = True) -> None:  # fmt: skip
        columns = ["findings", "labels_complete", "state", "narrative", "narrative_origin", "age_years", "sex",
                   "icd10", "atc", "extra_channels"]  # fmt: skip
        super().__init__(corpus_dir, "session", split, columns, cache_chunks=0)
        self.stops = self.table.column("row_stop").to_numpy().astype(np.int64)
        self.device = device
        self.extras = bool(extras)

    def session_signal(self, index: int):
        """The session's stored waveform as a :class:`~neuronarrator.eval.signals.SessionSignal`:
        (19, n_segments · 2000) µV, its channel mask and montage, and its ECG lead where the corpus stores
        one (no other extras)."""
        from neuronarrator.eval.signals import SessionSignal

        index = int(index)
        reader = self.reader(int(self.shards[index]))
        start, stop = int(self.rows[index]), int(self.stops[index])
        segments = reader.segments_uv(start, stop)  # (n, 19, 2000)
        names = list(self.value("extra_channels", index) or [])
        ecg = None
        if ECG_LEAD in names:
            ecg = np.ascontiguousarray(reader.extras_uv(start, stop)[:, names.index(ECG_LEAD)].reshape(-1))
        return SessionSignal(
            data_uv=np.ascontiguousarray(segments.transpose(1, 0, 2).reshape(segments.shape[1], -1)),
            channel_mask=reader.small("channel_mask")[start].astype(bool),
            montage=self.value("montage", index),
            session_id=self.value("session_id", index),
            ecg_uv=ecg,
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        from neuronarrator.signal.multitaper import multitaper_spectrogram

        index = int(index)
        reader = self.reader(int(self.shards[index]))
        start, stop = int(self.rows[index]), int(self.stops[index])
        montage = self.value("montage", index)
        channel_mask = reader.small("channel_mask")[start].copy()
        segments = reader.segments_uv(start, stop)  # (n, 19, 2000)
        stored = list(self.value("extra_channels", index) or []) if self.extras else []
        # this session's extras are the first len(stored) columns of the shard's; an ECG lead is not EEG
        keep = [i for i, name in enumerate(stored) if name != ECG_LEAD]
        names = [stored[i] for i in keep]
        if names:
            segments = np.concatenate([segments, reader.extras_uv(start, stop)[:, keep]], axis=1)
        data_uv = segments.transpose(1, 0, 2).reshape(segments.shape[1], -1)  # (n_rows, n * 2000)
        spectrogram = multitaper_spectrogram(data_uv, SFREQ_HZ, device=self.device)
        present, _, _ = finding_targets(json.loads(self.value("findings", index)))
        age = self.value("age_years", index)
        return {
            "spectrogram": torch.from_numpy(np.ascontiguousarray(spectrogram.log_psd)),
            "spectrogram_channels": (*channel_names(montage), *names),
            "spectrogram_mask": torch.from_numpy(np.concatenate([channel_mask, np.ones(len(names), bool)])),
            "channel_mask": torch.from_numpy(channel_mask),
            "findings": torch.from_numpy(present),
            "labels_complete": bool(self.value("labels_complete", index)),
            "state_known": self.value("state", index) is not None,
            "report": self.value("narrative", index) or "",
            "narrative_origin": self.value("narrative_origin", index),
            "age_years": math.nan if age is None else float(age),
            "sex": self.value("sex", index) or "",
            "icd10": self.value("icd10", index),
            "atc": self.value("atc", index),
            "session_id": self.value("session_id", index),
            "montage": montage,
        }


def collate_sessions(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch sessions of different lengths and extras: spectrograms zero-padded in time to the longest,
    with ``n_windows`` (int64 (batch,)) saying how much of each is real, and in rows to the most rows
    (sessions with fewer extra derivations), ``spectrogram_mask`` False and ``spectrogram_channels`` ``""``
    on the padding rows; tensors stacked; the rest as lists."""
    n_windows = [item["spectrogram"].shape[-1] for item in items]
    longest = max(n_windows)
    widest = max(item["spectrogram"].shape[0] for item in items)
    pad = torch.nn.functional.pad
    out: dict[str, Any] = {
        "spectrogram": torch.stack([pad(item["spectrogram"], (0, longest - n, 0, 0, 0, widest - item["spectrogram"].shape[0]))
                                    for item, n in zip(items, n_windows, strict=True)]),  # (B, C, F, W)
        "n_windows": torch.tensor(n_windows, dtype=torch.int64),
    }  # fmt: skip
    if "spectrogram_mask" in items[0]:
        out["spectrogram_mask"] = torch.stack([pad(item["spectrogram_mask"], (0, widest - len(item["spectrogram_mask"])))
                                               for item in items])  # fmt: skip
        out["spectrogram_channels"] = [tuple(item["spectrogram_channels"]) + ("",) * (widest - len(item["spectrogram_channels"]))
                                       for item in items]  # fmt: skip
    for key in items[0]:
        if key in out:
            continue
        values = [item[key] for item in items]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    out["age_years"] = torch.tensor(out["age_years"], dtype=torch.float32)
    out["labels_complete"] = torch.tensor(out["labels_complete"], dtype=torch.bool)
    if "state_known" in out:
        out["state_known"] = torch.tensor(out["state_known"], dtype=torch.bool)
    return out


class ShardBlockSampler(Sampler[int]):
    """A shuffled order that keeps reads local: shards in random order, within a shard blocks of
    ``block_rows`` consecutive rows in random order, within a block rows in random order.

    The order is a function of ``(seed, epoch)`` only (call :meth:`set_epoch` each epoch). Batches are
    less mixed than a global shuffle (a block holds a few sessions); shrink ``block_rows`` for more mixing
    at more decoding (each 8-segment chunk is decoded about once per block that touches it).

    Parameters
    ----------
    dataset : SegmentDataset or SessionDataset
        Anything with ``shards`` and ``rows`` arrays (one entry per item).
    seed, epoch : int
    block_rows : int
    """

    def __init__(self, dataset: Any, *, seed: int = 0, epoch: int = 0, block_rows: int = 256) -> None:
        self.seed, self.epoch, self.block_rows = int(seed), int(epoch), int(block_rows)
        shards, rows = np.asarray(dataset.shards), np.asarray(dataset.rows)
        order = np.lexsort((rows, shards))  # items sorted by (shard, row)
        cuts = np.flatnonzero(np.diff(shards[order])) + 1
        self.by_shard = np.split(order, cuts) if len(order) else []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return sum(len(s) for s in self.by_shard)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        for shard in rng.permutation(len(self.by_shard)):
            items = self.by_shard[shard]
            blocks = [items[i : i + self.block_rows] for i in range(0, len(items), self.block_rows)]
            for block in rng.permutation(len(blocks)):
                yield from (int(i) for i in rng.permutation(blocks[block]))

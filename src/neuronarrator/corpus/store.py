"""The on-disk corpus: Zarr shards of int16 segments, each shard complete or absent.

Layout of a corpus directory ``DIR``::

    DIR/build.json                      build parameters, written first (resume checks against it)
    DIR/shards/NNNNN.zarr/              one Zarr v3 group per shard (a fixed number of sessions)
        segments     int16   (n_segments, 19, 2000)   chunks (chunk_segments, 19, 2000), Blosc/zstd
        scale_uv     float32 (n_segments, 19)          µV per int16 step, per segment and channel
        channel_mask bool    (n_segments, 19)          False: no data in that row
        topomaps     float16 (n_segments, 5, 32, 32)   log10 band power maps (if cached)
        extra_segments int16 (n_segments, n_extra, 2000) chunks (chunk_segments, 1, 2000): derivations
                                                      outside the double banana (bipolar-only files)
        extra_scale_uv float32 (n_segments, n_extra)   as scale_uv
        extra_mask   bool    (n_segments, n_extra)     True where the row holds an extra derivation
        rows.parquet                                  the shard's manifest rows
        shard.json                                    items, skipped files, sha256 of every file
    DIR/shards/.NNNNN.zarr.partial-<pid>/   a shard being written (ignored, removed on the next build)
    DIR/manifest.parquet                  every shard's rows, sorted (written after the shards)
    DIR/card.json, DIR/CARD.md            counts, prevalence, parameters, code version (written last)

A shard is written under a partial name and renamed to ``NNNNN.zarr`` in one ``os.rename`` once every
file (``shard.json`` last) is in place: a directory under its final name is complete.

Quantisation. Each segment-channel gets its own scale, ``peak / 32767`` with ``peak`` its largest
absolute sample, so nothing clips and rounding to the nearest step errs by at most half a step:
``|x - q * scale_uv| <= peak / 65534`` plus float32 rounding (< 1e-6 of the peak): 1.5e-5 of the peak,
0.002 µV for a 150-µV segment, far below the ~0.1 µV resolution of clinical EEG files. Bipolar-only
sessions keep their 18 derivations in rows 0-17 and mask row 18, so every shard has one array shape.

Extra derivations (``SessionData.extra_uv``: Sleep-EDF's ``Fpz-Cz``/``Pz-Oz``, CHB-MIT's ``T7-FT9``;
and an ECG lead named ``ECG``, the phantom's ``ecg_lead=1``) are quantized the same way into the ``extra_*`` arrays, row for row with ``segments``: a segment's
extras fill columns ``0..k-1`` in the order of its manifest row's ``extra_channels`` (their names),
``extra_mask`` True there and False in the zero padding up to the shard's widest session, ``n_extra``.
Shards are written with the three arrays always, zero-width (``n_extra`` 0: no chunk files) when no
session has extras; readers (:class:`ShardReader`, ``corpus verify``) also accept shards without them.
The width grows while the shard is written (one chunk per column, so rows written earlier are never
rewritten: their new columns read as the fill value, masked).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr
from zarr.codecs import BloscCodec

from neuronarrator.corpus.manifest import file_digest, write_table, write_text
from neuronarrator.corpus.sources.base import SEGMENT_S, SFREQ_HZ
from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA_NAMES
from neuronarrator.signal.bands import BANDS_HZ, band_powers
from neuronarrator.signal.topomap import topomaps

logger = logging.getLogger(__name__)

#: 2: extra derivations (``extra_*`` arrays, ``extra_channels``), ``labels_complete``, null impressions.
#: 3: null states (and no state timeline) where the labels do not give the state.
FORMAT = "neurocorpus/3"
SEGMENT_SAMPLES = int(round(SEGMENT_S * SFREQ_HZ))  # 2,000
N_CHANS = len(CANONICAL_19)  # 19 rows; bipolar sessions use 18 of them
N_BANDS = len(BANDS_HZ)
TOPOMAP_GRID = 32
INT16_STEPS = 32767  # symmetric range: -32767..32767, so -peak and +peak both fit
#: Segments per chunk: a chunk is the unit of compression and of reading (~600 KB of int16 at 8).
CHUNK_SEGMENTS = 8
# Rows buffered before a write: whole chunks, written in one call (zarr's per-call overhead is ~1 ms).
_FLUSH_CHUNKS = 32
# Noise fills an int16 EEG sample's low bits, so no lossless codec gains much (~2 % measured); zstd
# level 3 with byte shuffle is the cheapest setting within 1 % of the best.
_COMPRESSOR = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
SHARD_JSON = "shard.json"
ROWS_NAME = "rows.parquet"
#: Arrays padded along axis 1 to the shard's widest session (one chunk per column).
EXTRA_ARRAYS = ("extra_segments", "extra_scale_uv", "extra_mask")
ARRAYS = ("segments", "scale_uv", "channel_mask", "topomaps", *EXTRA_ARRAYS)


def shard_name(index: int) -> str:
    return f"{index:05d}.zarr"


def shard_path(corpus_dir: str | Path, index: int) -> Path:
    return Path(corpus_dir) / "shards" / shard_name(index)


def partial_path(corpus_dir: str | Path, index: int) -> Path:
    """Where this process writes shard ``index`` before renaming it (the pid keeps retries apart)."""
    return Path(corpus_dir) / "shards" / f".{shard_name(index)}.partial-{os.getpid()}"


def is_complete(path: str | Path) -> bool:
    """True for a shard directory under its final name (the rename is the commit)."""
    path = Path(path)
    return not path.name.startswith(".") and (path / SHARD_JSON).is_file()


def read_shard_info(path: str | Path) -> dict[str, Any]:
    return json.loads((Path(path) / SHARD_JSON).read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------ array transforms


def quantize(segments_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int16 codes and per-row scales of float µV segments (see the module docstring for the error).

    Parameters
    ----------
    segments_uv : array, shape (..., n_times), float

    Returns
    -------
    codes : array, shape (..., n_times), int16
    scale_uv : array, shape (...), float32
        ``codes * scale_uv[..., None]`` reconstructs the µV; 0 for an all-zero row.
    """
    peak_uv = np.max(np.abs(segments_uv), axis=-1)
    scale_uv = (peak_uv / INT16_STEPS).astype(np.float32)
    divisor = np.where(scale_uv > 0, scale_uv, np.float32(1.0))[..., None]
    # clip: float32 rounding of the scale can put the peak a hair above 32767 steps
    codes = np.clip(np.rint(segments_uv / divisor), -INT16_STEPS, INT16_STEPS).astype(np.int16)
    return codes, scale_uv


def dequantize(codes: np.ndarray, scale_uv: np.ndarray) -> np.ndarray:
    """µV float32 from int16 codes (..., n_times) and scales (...)."""
    return codes.astype(np.float32) * scale_uv[..., None]


def segment_topomaps(segments_uv: np.ndarray, channel_mask: np.ndarray, *,
                     power: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """:func:`~neuronarrator.signal.topomap.band_topomaps` of many referential segments at once.

    Parameters
    ----------
    segments_uv : array, shape (n_segments, 19, n_times)
    channel_mask : array of bool, shape (19,)
        Masked channels are left out of the interpolation.
    power : array, shape (n_segments, 19, n_bands), optional
        ``band_powers(segments_uv, SFREQ_HZ)`` when the caller already has it (then not recomputed).

    Returns
    -------
    maps : array, shape (n_segments, n_bands, 32, 32), float32
        log10 band power (log10 µV²); identical to ``band_topomaps`` per segment.
    """
    if power is None:
        power = band_powers(segments_uv, SFREQ_HZ)  # (n, C, n_bands)
    log_power = np.log10(np.maximum(power, 1e-12)).transpose(0, 2, 1)  # (n, n_bands, C)
    maps = topomaps(log_power.astype(np.float32), CANONICAL_19, TOPOMAP_GRID, channel_mask=channel_mask)
    return maps.astype(np.float32, copy=False)


def channel_names(montage: str) -> tuple[str, ...]:
    """Names of the 19 rows: the 10-20 electrodes, or the double banana and one unused row."""
    return CANONICAL_19 if montage == "referential" else (*DOUBLE_BANANA_NAMES, "")


# ---------------------------------------------------------------------------------------------- writing


class ShardWriter:
    """Writes one shard under its partial name; :meth:`commit` renames it into place.

    Rows are buffered and written in whole chunks, so no chunk is ever read back and rewritten.
    """

    def __init__(self, corpus_dir: str | Path, index: int, *, chunk_segments: int = CHUNK_SEGMENTS,
                 cache_topomaps: bool = True):  # fmt: skip
        self.final = shard_path(corpus_dir, index)
        self.partial = partial_path(corpus_dir, index)
        self.index = index
        self.cache_topomaps = cache_topomaps
        self.chunk_segments = chunk_segments
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        attributes = {"format": FORMAT, "shard": index, "sfreq_hz": SFREQ_HZ, "segment_s": SEGMENT_S,
                      "channels_referential": list(CANONICAL_19), "channels_bipolar": list(DOUBLE_BANANA_NAMES),
                      "bands_hz": {k: list(v) for k, v in BANDS_HZ.items()}, "topomap_grid": TOPOMAP_GRID}  # fmt: skip
        group = zarr.open_group(self.partial, mode="w", attributes=attributes)
        shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {
            "segments": ((N_CHANS, SEGMENT_SAMPLES), (chunk_segments, N_CHANS, SEGMENT_SAMPLES), "int16"),
            # small per-row arrays: big chunks, a reader loads them whole
            "scale_uv": ((N_CHANS,), (4096, N_CHANS), "float32"),
            "channel_mask": ((N_CHANS,), (4096, N_CHANS), "bool"),
            # width 0 until a session with extras comes; then resized along axis 1 (module docstring)
            "extra_segments": ((0, SEGMENT_SAMPLES), (chunk_segments, 1, SEGMENT_SAMPLES), "int16"),
            "extra_scale_uv": ((0,), (4096, 1), "float32"),
            "extra_mask": ((0,), (4096, 1), "bool"),
        }
        if cache_topomaps:
            shapes["topomaps"] = ((N_BANDS, TOPOMAP_GRID, TOPOMAP_GRID),
                                  (chunk_segments, N_BANDS, TOPOMAP_GRID, TOPOMAP_GRID), "float16")  # fmt: skip
        self.arrays = {
            name: group.create_array(name, shape=(0, *row), chunks=chunks, dtype=dtype, fill_value=0,
                                     compressors=_COMPRESSOR)  # fmt: skip
            for name, (row, chunks, dtype) in shapes.items()
        }
        self.pending: dict[str, list[np.ndarray]] = {name: [] for name in self.arrays}
        self.n_pending = 0
        self.n_rows = 0  # rows assigned so far (written + pending)
        self.n_written = 0

    def add_segments(self, segments_uv: np.ndarray, channel_mask: np.ndarray, montage: str,
                     extra_uv: np.ndarray | None = None) -> tuple[int, int]:  # fmt: skip
        """Quantize and queue one session's segments; returns their row range ``(start, stop)``.

        Parameters
        ----------
        segments_uv : array, shape (n_segments, n_chans, 2000), float32
            19 referential channels or 18 bipolar derivations.
        channel_mask : array of bool, shape (n_chans,)
        montage : ``referential`` or ``bipolar``
        extra_uv : array, shape (n_segments, n_extra, 2000), float32, optional
            The session's extra derivations, cut like ``segments_uv`` (none by default).
        """
        n, n_chans, _ = segments_uv.shape
        if extra_uv is None:
            extra_uv = np.zeros((n, 0, SEGMENT_SAMPLES), np.float32)
        extra_codes, extra_scale = quantize(extra_uv)
        self.pending["extra_segments"].append(extra_codes)
        self.pending["extra_scale_uv"].append(extra_scale)
        self.pending["extra_mask"].append(np.ones(extra_scale.shape, bool))
        if n_chans < N_CHANS:  # bipolar: pad to the shard's row count, the padding masked
            segments_uv = np.concatenate([segments_uv, np.zeros((n, N_CHANS - n_chans, SEGMENT_SAMPLES), np.float32)], 1)
            channel_mask = np.concatenate([channel_mask, np.zeros(N_CHANS - n_chans, bool)])
        codes, scale_uv = quantize(segments_uv)
        self.pending["segments"].append(codes)
        self.pending["scale_uv"].append(scale_uv)
        self.pending["channel_mask"].append(np.broadcast_to(channel_mask, (n, N_CHANS)))
        if self.cache_topomaps:
            if montage == "referential":  # maps of what a reader gets back: the dequantized signal
                maps = segment_topomaps(dequantize(codes, scale_uv), channel_mask)
            else:  # derivations have no scalp position: no map (zeros, like the outside of the head)
                maps = np.zeros((n, N_BANDS, TOPOMAP_GRID, TOPOMAP_GRID), np.float32)
            self.pending["topomaps"].append(maps.astype(np.float16))
        start = self.n_rows
        self.n_rows += n
        self.n_pending += n
        if self.n_pending >= _FLUSH_CHUNKS * self.chunk_segments:
            self._flush(final=False)
        return start, self.n_rows

    def _flush(self, *, final: bool) -> None:
        # Write whole chunks only (the remainder waits), except at the end.
        n = self.n_pending if final else self.n_pending - self.n_pending % self.chunk_segments
        if n == 0:
            return
        width = max([self.arrays["extra_segments"].shape[1], *(b.shape[1] for b in self.pending["extra_segments"])])
        for name, array in self.arrays.items():
            blocks = self.pending[name]
            if name in EXTRA_ARRAYS:  # zero padding (masked) up to the widest session so far
                blocks = [np.pad(b, [(0, 0), (0, width - b.shape[1])] + [(0, 0)] * (b.ndim - 2)) for b in blocks]
            block = np.concatenate(blocks)
            array.resize((self.n_written + n, *block.shape[1:]))
            array[self.n_written : self.n_written + n] = block[:n]
            self.pending[name] = [block[n:]] if n < len(block) else []
        self.n_written += n
        self.n_pending -= n

    def commit(self, rows_table: Any, info: dict[str, Any]) -> dict[str, Any]:
        """Flush, write the rows and ``shard.json`` (with every file's sha256), rename into place.

        Returns the shard's info (``shard.json``). If another attempt renamed the same shard into place
        first (a task Dask ran twice), this attempt's files are discarded and that shard's info returned.
        """
        self._flush(final=True)
        write_table(rows_table, self.partial / ROWS_NAME)
        files = sorted(p for p in self.partial.rglob("*") if p.is_file())
        info = {**info, "format": FORMAT, "shard": self.index, "n_rows": self.n_rows,
                "files": {p.relative_to(self.partial).as_posix(): file_digest(p) for p in files}}  # fmt: skip
        write_text(self.partial / SHARD_JSON, json.dumps(info, indent=1, sort_keys=True))
        try:
            os.rename(self.partial, self.final)
        except OSError:
            if not is_complete(self.final):
                raise
            logger.info("shard %d was completed by another attempt; discarding this one", self.index)
            self.abort()
            return read_shard_info(self.final)
        return info

    def abort(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- reading


class ChunkedArray:
    """Read access to one Zarr v3 array of a shard, a chunk at a time.

    For the layout this module writes (regular chunks along rows, and along axis 1 for the ``extra_*``
    arrays; ``bytes`` little-endian then ``blosc``; default ``/`` chunk keys) a chunk is read file by file
    (one file per chunk along axis 1) and decoded by Blosc directly:
    ~0.8 ms for an 8-segment chunk where ``zarr``'s asynchronous machinery takes ~1.6 ms. Any other
    layout goes through ``zarr`` (correct, slower). Chunks never written (all fill value) read as such.
    """

    def __init__(self, path: Path):
        self.path = path
        meta = json.loads((path / "zarr.json").read_text(encoding="utf-8"))
        self.shape = tuple(meta["shape"])
        self.chunk_rows = int(meta["chunk_grid"]["configuration"]["chunk_shape"][0])
        self.chunk_shape = tuple(meta["chunk_grid"]["configuration"]["chunk_shape"])
        self.dtype = np.dtype(meta["data_type"]).newbyteorder("<")
        self.fill_value = meta["fill_value"]
        codecs = [(c["name"], c.get("configuration", {})) for c in meta["codecs"]]
        self.fast = (
            [name for name, _ in codecs] == ["bytes", "blosc"]
            and codecs[0][1].get("endian", "little") == "little"
            and meta["chunk_key_encoding"] == {"name": "default", "configuration": {"separator": "/"}}
            and self.chunk_shape[2:] == self.shape[2:]
        )
        self._zarr: Any = None

    def chunk(self, index: int) -> np.ndarray:
        """Rows of chunk ``index``, every column: ``chunk_shape[0]`` rows (the last chunk may be shorter or
        padded with the fill value)."""
        if not self.fast:
            if self._zarr is None:
                self._zarr = zarr.open_array(self.path, mode="r")
            block = self._zarr[index * self.chunk_rows : (index + 1) * self.chunk_rows]
            return np.asarray(block)
        if len(self.shape) == 1 or self.chunk_shape[1] == self.shape[1]:
            return self._decode(index, 0)
        if self.shape[1] == 0:
            return np.empty((self.chunk_shape[0], 0, *self.chunk_shape[2:]), dtype=self.dtype)
        columns = range(-(-self.shape[1] // self.chunk_shape[1]))  # several chunks along axis 1 (extra_*)
        return np.concatenate([self._decode(index, j) for j in columns], axis=1)[:, : self.shape[1]]

    def _decode(self, index: int, column: int) -> np.ndarray:
        key = "/".join(["c", str(index), *([str(column)] if len(self.shape) > 1 else []), *("0" * (len(self.shape) - 2))])
        try:
            raw = (self.path / key).read_bytes()
        except FileNotFoundError:  # never written: every element is the fill value
            return np.full(self.chunk_shape, self.fill_value, dtype=self.dtype)
        return np.frombuffer(_BLOSC.decode(raw), dtype=self.dtype).reshape(self.chunk_shape)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)``."""
        first, last = start // self.chunk_rows, max(start, stop - 1) // self.chunk_rows
        block = np.concatenate([self.chunk(i) for i in range(first, last + 1)])
        offset = first * self.chunk_rows
        return block[start - offset : stop - offset]


_BLOSC = numcodecs.Blosc()  # decoding reads the codec settings from each chunk's header


class ChunkCache:
    """A least-recently-used store of decoded chunks, bounded in count, shared by the readers of one
    process (a per-shard cache would grow with the number of shards touched: a whole corpus, in time)."""

    def __init__(self, max_chunks: int = 64):
        self.max_chunks = max_chunks
        self._chunks: OrderedDict[tuple[str, str, int], np.ndarray] = OrderedDict()

    def get(self, key: tuple[str, str, int], load: Any) -> np.ndarray:
        """The chunk under ``key``, calling ``load()`` on a miss."""
        if key in self._chunks:
            self._chunks.move_to_end(key)
            return self._chunks[key]
        block = load()
        if self.max_chunks > 0:
            self._chunks[key] = block
            if len(self._chunks) > self.max_chunks:
                self._chunks.popitem(last=False)
        return block

    def __len__(self) -> int:
        return len(self._chunks)


class ShardReader:
    """Reads rows of one shard, decoding each chunk once while it stays in the (shared) chunk cache.

    Opens nothing until first used and holds no file handle between reads, so it can be created in one
    process and used in another; pickling drops the cache.

    Parameters
    ----------
    path : path of the shard directory
    cache : ChunkCache, optional
        Shared with other readers; default: a private one of 64 chunks.
    """

    def __init__(self, path: str | Path, *, cache: ChunkCache | None = None):
        self.path = Path(path)
        self.cache = cache if cache is not None else ChunkCache()
        self._arrays: dict[str, ChunkedArray] | None = None
        self._small: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "max_chunks": self.cache.max_chunks}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], cache=ChunkCache(state["max_chunks"]))

    @property
    def arrays(self) -> dict[str, ChunkedArray]:
        if self._arrays is None:
            self._arrays = {name: ChunkedArray(self.path / name) for name in ARRAYS if (self.path / name).is_dir()}
        return self._arrays

    @property
    def n_rows(self) -> int:
        return int(self.arrays["segments"].shape[0])

    @property
    def has_topomaps(self) -> bool:
        return "topomaps" in self.arrays

    @property
    def n_extra(self) -> int:
        """Columns of the ``extra_*`` arrays (0 when the shard has none or no such arrays)."""
        return int(self.arrays["extra_segments"].shape[1]) if "extra_segments" in self.arrays else 0

    def small(self, name: str) -> np.ndarray:
        """``scale_uv``, ``channel_mask``, ``extra_scale_uv`` or ``extra_mask``, loaded whole (a few tens
        of KB per shard)."""
        if name not in self._small:
            self._small[name] = self.arrays[name].rows(0, self.arrays[name].shape[0])
        return self._small[name]

    def row(self, name: str, row: int) -> np.ndarray:
        """One row of a chunked array (``segments`` or ``topomaps``), through the chunk cache."""
        array = self.arrays[name]
        chunk = row // array.chunk_rows
        block = self.cache.get((str(self.path), name, chunk), lambda: array.chunk(chunk))
        return block[row % array.chunk_rows]

    def segment_uv(self, row: int) -> np.ndarray:
        """Segment ``row`` in µV, shape (19, 2000), float32."""
        return dequantize(self.row("segments", row), self.small("scale_uv")[row])

    def extra_uv(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Segment ``row``'s extra derivations in µV, shape (n_extra, 2000) float32, and their mask
        (n_extra,) bool (False: padding); shape (0, 2000) for a shard without extras."""
        if self.n_extra == 0:
            return np.zeros((0, SEGMENT_SAMPLES), np.float32), np.zeros(0, bool)
        uv = dequantize(self.row("extra_segments", row), self.small("extra_scale_uv")[row])
        return uv, self.small("extra_mask")[row].copy()

    def extras_uv(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` of the extra derivations in µV, shape (stop - start, n_extra, 2000),
        float32 (not cached; padding columns are zeros, see ``extra_mask``)."""
        if self.n_extra == 0:
            return np.zeros((stop - start, 0, SEGMENT_SAMPLES), np.float32)
        codes = self.arrays["extra_segments"].rows(start, stop)
        return dequantize(codes, self.small("extra_scale_uv")[start:stop])

    def segments_uv(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` in µV, shape (stop - start, 19, 2000), float32 (not cached)."""
        codes = self.arrays["segments"].rows(start, stop)
        return dequantize(codes, self.small("scale_uv")[start:stop])

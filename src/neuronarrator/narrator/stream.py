"""A long recording reported in bounded memory: one pass over the file, chunk by chunk, keeping per-segment
summaries and never the samples.

The in-memory path (:func:`~neuronarrator.narrator.pipeline.recording_signal` then
:meth:`~neuronarrator.narrator.pipeline.Narrator.document`) already *harmonizes* in chunks
(:func:`~neuronarrator.session.harmonized_chunks`, ``CHUNK_S`` = 10 min) but concatenates them into one
(19, n) array and keeps it: for 24 hours at 200 Hz that is 1.3 GB in float32, and stage 1's float64 band
powers of every segment, the whole-session spectrogram and the bridge's (T, d_inner, N) scan tensors come
on top. Here the *same* chunks are consumed as they are harmonized:

- **stage 1** (:func:`~neuronarrator.narrator.pipeline.segment_predictions`) runs on whole 10-s segments in
  batches of ``batch_size`` numbered from the session's start, as in one call on the whole session (a
  segment cut by a chunk boundary waits for the next chunk, and so do the segments of a partial batch):
  relevance is computed per batch for the codes that batch makes probable, so the batching must be the
  same for the results to be. Its per-segment outputs (probabilities, relevance, embeddings, band powers:
  a few kB per segment) are kept;
- **the narrator's features** of those segments are standardised and pushed at once through the
  state-space bridge (:class:`~neuronarrator.models.bridge_stream.BridgeStream`), which carries each
  layer's recurrent state from one piece to the next; decoding starts from its prefix at the end;
- **the figures' summaries**: the spectrogram's windows (5 s, 1-s hop) averaged over the rows with data
  (and, past :data:`MAX_SPECTROGRAM_COLUMNS` windows, over runs of consecutive windows),
  and the Welch band powers (2-s windows, 1-s hop) summed per row for the scalp maps, each carrying across
  chunk boundaries the samples its next window still needs, so the windows fall where they fall on the
  whole session;
- **quality and provenance**: as :func:`recording_signal` assembles them from its chunks;
- **the ECG lead**, where the file has one: each chunk's R peaks and R-locked EEG windows summed
  (:class:`~neuronarrator.signal.cardiac.LockedAverage`), so ECG artifact is decided from the lead as in
  memory (beats whose window a chunk boundary cuts are left out, and the R-peak threshold is each chunk's
  own: the verdict can differ from the in-memory one at its margin).

The channel mask must be known before stage 1 sees a segment (the heads read it, and the in-memory path
uses the AND of every chunk's mask for the whole session). It is taken from the first chunk; when a later
chunk has a row masked that the first had (rare: a chunk with fewer than 10 good electrodes), the pass
starts again with the narrower mask, so the result is the in-memory one in every case.

Evidence (the PDR frequency over its evidence segments) and the EEG pages of the report read only the
seconds they need, through :class:`ChunkSource`, which harmonizes again the chunk (or two) that holds them,
exactly as the pass did -- a few chunks per report, each 10 min.

On a recording that fits in memory the document is the in-memory path's, up to float rounding in the
bridge (chunked and whole-sequence scans; ``tests/narrator/test_stream.py`` compares them). :data:`STREAM_ABOVE_S`
is where ``neuronarrator report`` switches to it. Not streamed: the shuffled-EEG control.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.eval.signals import SessionSignal
from neuronarrator.io.errors import RecordingTooShortError
from neuronarrator.narrator.evidence import SEGMENT_S, SegmentPredictions, session_findings, with_ecg_lead
from neuronarrator.narrator.pipeline import (
    N_ROWS,
    SEGMENT_SAMPLES,
    Narrator,
    ReportDocument,
    ecg_label,
    ecg_lead,
    row_electrodes,
    torch_threads,
)
from neuronarrator.session import ChunkWindows

__all__ = ["STREAM_ABOVE_S", "ChunkSource", "StreamedRecording", "stream_document", "stream_recording"]

#: ``neuronarrator report`` streams recordings longer than this (2 h: 63 MB of harmonized float32 below it).
STREAM_ABOVE_S = 2 * 3600.0
#: The harmonized rate (DESIGN.md).
SFREQ_HZ = 200.0
#: The spectrogram figure of a longer recording draws the mean of consecutive 1-s windows, at most this many
#: columns (the figure is 1,000 pixels wide; 24 h of windows, drawn one per column, made Matplotlib hold a
#: 161 × 86,400 RGBA image in float64, 450 MB). Up to 40 min, one column per window, as in memory.
MAX_SPECTROGRAM_COLUMNS = 2400
#: Stage-1 segments per batch (:func:`segment_predictions`' default).
BATCH_SIZE = 32
#: Relevance is computed for codes some segment of the batch gives at least this (``segment_predictions``).
EXPLAIN_MIN_PROB = 0.25


class _MaskNarrowed(Exception):
    """A chunk masks a row the pass assumed present: start again with ``mask``."""

    def __init__(self, mask: np.ndarray) -> None:
        super().__init__("channel mask narrowed")
        self.mask = mask


def _padded(chunk) -> tuple[np.ndarray, np.ndarray]:
    """A harmonized chunk's rows as (19, n) float32 and its (19,) mask (a bipolar chunk's 18 rows + an
    empty one), as :func:`recording_signal` pads them."""
    data = np.asarray(chunk.data_uv, np.float32)
    mask = np.asarray(chunk.channel_mask, bool)
    if data.shape[0] < N_ROWS:
        data = np.concatenate([data, np.zeros((N_ROWS - data.shape[0], data.shape[1]), np.float32)])
        mask = np.concatenate([mask, np.zeros(N_ROWS - len(mask), bool)])
    return data, mask


def _session_rows(chunk, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """A chunk's (19, n) rows as the session holds them under the session ``mask`` (before placing
    approximate derivations): (data, mask after the placements, {row: source})."""
    from neuronarrator.narrator.pipeline import _approximate_rows

    data, _ = _padded(chunk)
    final = mask.copy()
    placed: dict[str, str] = {}
    if chunk.montage == "bipolar" and len(chunk.extra_channels) and chunk.extra_uv.size:
        placed = _approximate_rows(chunk, data, final, np.asarray(chunk.extra_uv, np.float32))
    return data, final, placed


class ChunkSource:
    """The harmonized session (19, n_times) read back a span at a time: the chunks that hold it are
    harmonized again exactly as the streaming pass did (the same spans, the first chunk's mains frequency),
    the last two kept. ``source[:, a:b]`` gives samples ``a:b`` (what the PDR estimate slices)."""

    def __init__(self, recording, spans_s: list[tuple[float, float | None]], bounds: list[int],
                 mask: np.ndarray, line_freq_hz: float | None) -> None:  # fmt: skip
        self.recording, self.spans_s, self.bounds = recording, spans_s, bounds  # bounds: chunk k = [b_k, b_k+1)
        self.mask, self.line_freq_hz = mask, line_freq_hz
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.n_harmonized = 0  # chunks harmonized again (for tests and benchmarks)

    @property
    def shape(self) -> tuple[int, int]:
        return (N_ROWS, self.bounds[-1])

    def _chunk(self, k: int) -> np.ndarray:
        from neuronarrator.io.harmonize import harmonize

        if k not in self._cache:
            start_s, stop_s = self.spans_s[k]
            chunk = harmonize(self.recording, start_s=start_s, stop_s=stop_s,
                              line_freq_hz=None if k == 0 else self.line_freq_hz)  # fmt: skip
            self._cache[k] = _session_rows(chunk, self.mask)[0]
            self.n_harmonized += 1
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
        self._cache.move_to_end(k)
        return self._cache[k]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` (clipped to the session) of every row, (19, n) float32."""
        start, stop = max(0, int(start)), min(int(stop), self.bounds[-1])
        if stop <= start:
            return np.zeros((N_ROWS, 0), np.float32)
        first = int(np.searchsorted(self.bounds, start, side="right")) - 1
        last = int(np.searchsorted(self.bounds, stop, side="left")) - 1
        parts = []
        for k in range(first, last + 1):
            a, b = max(start, self.bounds[k]), min(stop, self.bounds[k + 1])
            parts.append(self._chunk(k)[:, a - self.bounds[k] : b - self.bounds[k]])
        return np.concatenate(parts, axis=1)

    def __getitem__(self, key) -> np.ndarray:
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None) and isinstance(key[1], slice)
                and key[1].step in (None, 1)):  # fmt: skip
            raise TypeError("a ChunkSource is read as source[:, start:stop]")
        return self.read(key[1].start or 0, self.bounds[-1] if key[1].stop is None else key[1].stop)


@dataclass
class StreamedRecording:
    """What one pass over a file leaves: stage 1's per-segment predictions (``data_uv`` a
    :class:`ChunkSource`), the narrator's raw text, ``info`` as :func:`recording_signal` gives it, and the
    figures' summaries."""

    preds: SegmentPredictions
    raw_narrative: str
    info: dict[str, Any]
    source: ChunkSource
    session_id: str
    montage: str
    channel_mask: np.ndarray  # (19,) bool, after approximate placements
    n_times: int  # harmonized samples, the tail shorter than a segment included
    mean_spectrogram: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # (log_psd (F, W), freqs_hz, times_s)
    band_power_uv2: np.ndarray | None  # (19, 4) Welch band powers of TOPOMAP_BANDS over the session
    finite_rows: np.ndarray  # (19,) bool: rows without a non-finite sample
    n_passes: int = 1
    cardiac: Any = None  # the ECG lead's CardiacVerdict (signal.cardiac), where the file has a lead

    @property
    def duration_s(self) -> float:
        return self.n_times / SFREQ_HZ


def _spectrogram_rows(mask: np.ndarray, montage: str) -> np.ndarray:
    """The rows :func:`~neuronarrator.report.figures._mean_spectrogram` averages: those holding data (of a
    bipolar session, the 18 derivations)."""
    from neuronarrator.io.channels import DOUBLE_BANANA

    rows = np.asarray(mask, bool).copy()
    if montage == "bipolar":
        rows &= np.arange(len(rows)) < len(DOUBLE_BANANA)
    return rows


class _Pass:
    """One streaming pass under a fixed session mask (module docstring)."""

    def __init__(self, narrator: Narrator, recording, mask: np.ndarray | None, session_id: str,
                 batch_size: int) -> None:  # fmt: skip
        from neuronarrator.models.bridge_stream import BridgeStream
        from neuronarrator.report.figures import TOPOMAP_BANDS
        from neuronarrator.signal.bands import BANDS_HZ
        from neuronarrator.signal.multitaper import STEP_S, WINDOW_S

        self.narrator, self.recording, self.mask, self.session_id = narrator, recording, mask, session_id
        self.batch_size = batch_size
        self.final_mask: np.ndarray | None = None
        self.montage = ""
        self.placed: dict[str, str] = {}
        self.pending: list[np.ndarray] = []  # (k, 19, 2000) whole segments waiting for a full batch
        self.tail = np.zeros((N_ROWS, 0), np.float32)  # samples of a segment cut by the chunk's end
        self.pieces: list[SegmentPredictions] = []
        self.bridge = BridgeStream(narrator.bundle.model.bridge)
        self.spec = ChunkWindows(round(WINDOW_S * SFREQ_HZ), round(STEP_S * SFREQ_HZ), self._spectrogram)
        self.welch = ChunkWindows(round(2.0 * SFREQ_HZ), round(1.0 * SFREQ_HZ), self._welch)
        self.topomap_bands = {name: BANDS_HZ[name] for name in TOPOMAP_BANDS}
        self.spec_columns: list[np.ndarray] = []  # (W, F) float32 per chunk
        self.freqs_hz: np.ndarray | None = None
        self.psd_sum: np.ndarray | None = None  # (19, F) summed Welch periodograms
        self.welch_freqs_hz: np.ndarray | None = None
        self.finite = np.ones(N_ROWS, bool)
        self.bounds = [0]
        self.chunks_meta: list[dict[str, Any]] = []
        from neuronarrator.signal.cardiac import LockedAverage

        self.ecg_channel = ecg_label(recording)
        self.cardiac = LockedAverage(N_ROWS, SFREQ_HZ) if self.ecg_channel else None

    # --- the figures' summaries ---
    def _spectrogram(self, windows: np.ndarray) -> np.ndarray:
        from neuronarrator.signal.multitaper import BANDWIDTH_HZ, FMAX_HZ, multitaper_psd

        log_psd, self.freqs_hz = multitaper_psd(windows, SFREQ_HZ, fmax_hz=FMAX_HZ, bandwidth_hz=BANDWIDTH_HZ,
                                                log1p=True)  # fmt: skip
        self.spec_columns.append(log_psd.mean(axis=0).astype(np.float32))  # (W, F)

    def _welch(self, windows: np.ndarray) -> None:
        import scipy.signal as sps

        freqs, psd = sps.welch(windows.astype(np.float64), fs=SFREQ_HZ, window="hann", nperseg=windows.shape[-1],
                               noverlap=0, detrend="constant", scaling="density", axis=-1)  # fmt: skip
        self.welch_freqs_hz = freqs
        total = psd.sum(axis=1)  # (19, F): the periodograms of the chunk's windows
        self.psd_sum = total if self.psd_sum is None else self.psd_sum + total

    # --- stage 1 and the bridge ---
    def _stage1(self, segments: np.ndarray) -> None:
        from neuronarrator.narrator.pipeline import segment_predictions
        from neuronarrator.train.narrator_stage import standardise

        narrator = self.narrator
        flat = np.ascontiguousarray(segments.transpose(1, 0, 2)).reshape(N_ROWS, -1)
        signal = SessionSignal(data_uv=flat, channel_mask=self.final_mask, montage=self.montage,
                               session_id=self.session_id)  # fmt: skip
        with torch_threads(narrator.threads):
            preds = segment_predictions(narrator.stage1, narrator.calibration, signal, self.batch_size)
        preds.data_uv = None
        self.pieces.append(preds)
        features = narrator.features(signal, preds)
        bundle = narrator.bundle
        x = standardise(np.asarray(features, np.float32), bundle.mean, bundle.std).to(bundle.device)[None]
        d_seg = bundle.model.bridge.cfg.d_seg
        with torch_threads(1 if bundle.device.type == "cpu" else None):
            self.bridge.push(x[..., :d_seg], x[..., d_seg:] if bundle.model.bridge.cfg.d_spec else None)

    def _flush(self, final: bool) -> None:
        if not self.pending:
            return
        segments = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        n = len(segments) if final else len(segments) // self.batch_size * self.batch_size
        if n:
            self._stage1(segments[:n])
        self.pending = [segments[n:]] if n < len(segments) else []

    def push(self, chunk) -> None:
        _, chunk_mask = _padded(chunk)
        if self.mask is None:
            self.mask = chunk_mask
        if (self.mask & ~chunk_mask).any():
            raise _MaskNarrowed(self.mask & chunk_mask)
        data, final_mask, placed = _session_rows(chunk, self.mask)
        if self.final_mask is None:
            self.final_mask, self.montage, self.placed = final_mask, chunk.montage, placed
        self.chunks_meta.append({"usable_fraction": chunk.quality.usable_fraction,
                                 "bad": chunk.quality.bad_channel_names, "warnings": chunk.quality.warnings,
                                 "interpolated": chunk.channels_interpolated})  # fmt: skip
        if len(self.chunks_meta) == 1:
            self.first = chunk
        self.bounds.append(self.bounds[-1] + data.shape[1])
        if self.cardiac is not None:
            from neuronarrator.signal.cardiac import r_peaks

            lead, _ = ecg_lead(self.recording, data.shape[1], self.bounds[-2] / SFREQ_HZ)
            if lead is not None:
                self.cardiac.add(data, lead, r_peaks(lead, SFREQ_HZ), self.final_mask)
        self.finite &= np.isfinite(data).all(axis=1)
        rows = _spectrogram_rows(self.final_mask, self.montage)
        if rows.any():
            self.spec.push(data[rows])
        self.welch.push(data)
        joined = np.concatenate([self.tail, data], axis=1)
        n_seg = joined.shape[1] // SEGMENT_SAMPLES
        whole = joined[:, : n_seg * SEGMENT_SAMPLES]
        self.tail = joined[:, n_seg * SEGMENT_SAMPLES :]
        if n_seg:
            self.pending.append(whole.reshape(N_ROWS, n_seg, SEGMENT_SAMPLES).transpose(1, 0, 2))
        self._flush(final=False)

    def finish(self, path: Path, recording, spans_s, line_freq_hz) -> StreamedRecording:
        from neuronarrator.corpus.store import channel_names

        self._flush(final=True)
        if not self.pieces:
            raise RecordingTooShortError(self.session_id, f"{self.bounds[-1] / SFREQ_HZ:.1f} s of signal; a "
                                         f"report needs at least one whole {SEGMENT_S:g}-s segment")  # fmt: skip
        cat = lambda name: np.concatenate([getattr(p, name) for p in self.pieces])  # noqa: E731
        presence = cat("presence")
        source = ChunkSource(recording, spans_s, self.bounds, self.mask, line_freq_hz)
        first = self.pieces[0]
        preds = SegmentPredictions(
            presence=presence, side=cat("side"), regions=cat("regions"), relevance=cat("relevance"),
            channels=channel_names(self.montage), channel_mask=self.final_mask,
            starts_s=np.arange(len(presence)) * SEGMENT_S, explained=presence.max(axis=0) >= EXPLAIN_MIN_PROB,
            montage=self.montage, data_uv=source, state=None if first.state is None else cat("state"),
            embedding=None if first.embedding is None else cat("embedding"),
            band_power=None if first.band_power is None else cat("band_power"),
            session_calibration=first.session_calibration,
        )  # fmt: skip
        with torch_threads(1 if self.narrator.bundle.device.type == "cpu" else None):
            prefix = self.bridge.prefix()
            bundle = self.narrator.bundle
            raw = bundle.model.lm.generate(prefix, max_new_tokens=bundle.max_new_tokens)[0]
        return StreamedRecording(preds=preds, raw_narrative=raw, info=self._info(path, recording), source=source,
                                 session_id=self.session_id, montage=self.montage, channel_mask=self.final_mask,
                                 n_times=self.bounds[-1], mean_spectrogram=self._mean_spectrogram(),
                                 band_power_uv2=self._band_power(), finite_rows=self.finite,
                                 cardiac=None if self.cardiac is None else self.cardiac.verdict())  # fmt: skip

    def _mean_spectrogram(self):
        if not self.spec_columns:
            return None
        from neuronarrator.signal.multitaper import STEP_S, WINDOW_S

        log_psd = np.concatenate(self.spec_columns).T  # (F, W)
        times_s = (np.arange(log_psd.shape[1]) * round(STEP_S * SFREQ_HZ) + round(WINDOW_S * SFREQ_HZ) / 2) / SFREQ_HZ
        n_bins = -(-log_psd.shape[1] // MAX_SPECTROGRAM_COLUMNS)  # windows per drawn column
        if n_bins > 1:  # a long recording: mean over runs of n_bins windows (the last run may be shorter)
            starts = np.arange(0, log_psd.shape[1], n_bins)
            counts = np.diff(np.append(starts, log_psd.shape[1]))
            log_psd = (np.add.reduceat(log_psd, starts, axis=1) / counts).astype(np.float32)
            times_s = np.add.reduceat(times_s, starts) / counts
        return log_psd, self.freqs_hz, times_s

    def _band_power(self) -> np.ndarray | None:
        from neuronarrator.signal.bands import integrate_bands

        if self.psd_sum is None:
            return None
        return integrate_bands(self.welch_freqs_hz, self.psd_sum / self.welch.n_windows, self.topomap_bands)

    def _info(self, path: Path, recording) -> dict[str, Any]:
        first, meta = self.first, self.chunks_meta
        return {
            "recording": {"file": str(path), "duration_s": round(recording.duration_s, 3),
                          "sfreq_hz": float(first.source_sfreq_hz), "montage": first.montage,
                          "channels_used": [c for c, m in zip(first.channels, self.final_mask, strict=False) if m],
                          "channels_missing": list(first.channels_missing),
                          "channels_interpolated": sorted({n for m in meta for n in m["interpolated"]}),
                          "channels_approximated": self.placed, "ecg_channel": self.ecg_channel},
            "quality": {"usable_fraction": round(float(np.mean([m["usable_fraction"] for m in meta])), 4),
                        "bad_channels": sorted({n for m in meta for n in m["bad"]}),
                        "warnings": [w for m in meta for w in m["warnings"]]},
            "harmonization": {"sfreq_hz": first.sfreq_hz, "band_hz": list(first.band_hz),
                              "line_freq_hz": first.line_freq_hz, "n_chunks": len(meta)},
        }  # fmt: skip


def stream_recording(path: str | Path, narrator: Narrator, *, chunk_s: float | None = None,
                     batch_size: int = BATCH_SIZE) -> StreamedRecording:  # fmt: skip
    """One pass over ``path`` in chunks of ``chunk_s`` (default :data:`neuronarrator.session.CHUNK_S`):
    stage 1, the narrator's features through the bridge, and the figures' summaries (module docstring);
    again with a narrower mask when a later chunk masks a row.

    Raises what :func:`~neuronarrator.narrator.pipeline.recording_signal` raises (reading, harmonizing,
    :class:`RecordingTooShortError`)."""
    from neuronarrator.io.read import read_recording
    from neuronarrator.session import CHUNK_S, chunk_spans_s, harmonized_chunks

    path = Path(path)
    chunk_s = CHUNK_S if chunk_s is None else chunk_s
    recording = read_recording(path)
    spans_s = chunk_spans_s(recording.duration_s, chunk_s)
    mask, n_passes = None, 0
    while True:
        n_passes += 1
        run = _Pass(narrator, recording, mask, str(path), batch_size)
        try:
            for chunk in harmonized_chunks(recording, chunk_s):
                run.push(chunk)
        except _MaskNarrowed as narrowed:
            mask = narrowed.mask
            continue
        streamed = run.finish(path, recording, spans_s, run.first.line_freq_hz)
        streamed.info["harmonization"]["streamed"] = {"chunk_s": chunk_s, "passes": n_passes}
        streamed.n_passes = n_passes
        return streamed


def stream_document(narrator: Narrator, streamed: StreamedRecording, *,
                    model_name: str = "neuronarrator") -> ReportDocument:  # fmt: skip
    """The report document of a streamed recording: the findings from its segment predictions (the PDR's
    evidence seconds read back through its :class:`ChunkSource`), its narrative repaired against them."""
    with torch_threads(narrator.threads):
        predicted = session_findings(streamed.preds, threshold=narrator.threshold)
    if streamed.cardiac is not None:
        predicted = with_ecg_lead(predicted, streamed.cardiac, row_electrodes(streamed.montage), streamed.duration_s)
    raw = streamed.raw_narrative
    narrated = (raw, *narrator.repair(raw, predicted))
    return narrator.assemble(streamed.preds, predicted, narrated, streamed.info, session_id=streamed.session_id,
                             model_name=model_name)  # fmt: skip


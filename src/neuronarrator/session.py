"""A whole session, end to end: read → harmonize (in chunks) → multitaper spectrogram.

Long recordings are harmonized in chunks of ``CHUNK_S`` seconds, so memory stays bounded by the chunk,
not the recording: each chunk's windows are transformed as soon as it is harmonized, and the tail that
the next window still needs (window − step seconds) is carried over, so the windows fall on the same
1-s grid as for an uninterrupted recording. The mains frequency found in the first chunk is imposed on
the rest, so every chunk is notched alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuronarrator.io.atomic import atomic_output
from neuronarrator.io.harmonize import MIN_DURATION_S, TARGET_SFREQ_HZ, Harmonized, harmonize
from neuronarrator.io.read import read_recording
from neuronarrator.io.recording import Recording
from neuronarrator.signal.multitaper import (
    BANDWIDTH_HZ,
    FMAX_HZ,
    STEP_S,
    WINDOW_S,
    Spectrogram,
    multitaper_psd,
)

logger = logging.getLogger(__name__)

#: Harmonize at most this much at once: 10 min × 19 ch at 200 Hz float32 is 9 MB out, ~90 MB in flight.
CHUNK_S = 600.0


def chunk_spans_s(duration_s: float, chunk_s: float = CHUNK_S) -> list[tuple[float, float | None]]:
    """(start_s, stop_s) spans of at most ``chunk_s`` on a whole-second grid; a short remainder
    (under a minute) joins the chunk before it, so no chunk is too short to harmonize."""
    bounds = list(np.arange(0.0, duration_s, chunk_s))
    if len(bounds) > 1 and duration_s - bounds[-1] < max(60.0, MIN_DURATION_S):
        bounds.pop()
    spans: list[tuple[float, float | None]] = [(float(a), float(b)) for a, b in zip(bounds, bounds[1:], strict=False)]
    spans.append((float(bounds[-1]), None))
    return spans


def harmonized_chunks(recording: Recording, chunk_s: float = CHUNK_S) -> Iterator[Harmonized]:
    """Harmonize a recording chunk by chunk (one chunk when it is shorter than ``chunk_s``)."""
    line_freq_hz = None
    for index, (start_s, stop_s) in enumerate(chunk_spans_s(recording.duration_s, chunk_s)):
        chunk = harmonize(recording, start_s=start_s, stop_s=stop_s, line_freq_hz=line_freq_hz)
        if index == 0:
            line_freq_hz = chunk.line_freq_hz
        yield chunk


def _rows(chunk: Harmonized) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """All rows a spectrogram covers: the montage's channels plus any extra derivations."""
    if chunk.extra_uv.shape[0]:
        data = np.concatenate([chunk.data_uv, chunk.extra_uv])
        mask = np.concatenate([chunk.channel_mask, np.ones(len(chunk.extra_channels), dtype=bool)])
        return data, chunk.channels + chunk.extra_channels, mask
    return chunk.data_uv, chunk.channels, chunk.channel_mask


@dataclass
class SessionSpectrogram:
    """A session's spectrogram with what harmonization did to get there."""

    spectrogram: Spectrogram
    channel_mask: np.ndarray  # (n_chans,) bool: False rows were masked (zeros), never data
    montage: str
    harmonization: dict[str, Any]  # the first chunk's Harmonized.to_dict(), plus the chunk count


class ChunkWindows:
    """Sliding windows (``window`` samples, ``step`` hop) over a signal that arrives in chunks: each chunk
    is joined to the samples the next window still needs, and ``reduce(windows (C, W, window))`` is called
    on the windows it completes (its result returned; None while no window is complete)."""

    def __init__(self, window: int, step: int, reduce: Callable[[np.ndarray], Any]) -> None:
        self.window, self.step, self.reduce = window, step, reduce
        self.carry: np.ndarray | None = None
        self.n_windows = 0

    def push(self, data: np.ndarray) -> Any:
        data = data if self.carry is None else np.concatenate([self.carry, data], axis=1)
        if data.shape[1] < self.window:
            self.carry = data
            return None
        windows = np.lib.stride_tricks.sliding_window_view(data, self.window, axis=-1)[..., :: self.step, :]
        self.carry = data[:, windows.shape[1] * self.step :]
        self.n_windows += windows.shape[1]
        return self.reduce(windows)


def session_spectrogram(path_or_recording: str | Path | Recording, *, device: str | None = None,
                        chunk_s: float = CHUNK_S) -> SessionSpectrogram:  # fmt: skip
    """CLEF's whole-session spectrogram of a file, computed chunk by chunk in bounded memory."""
    recording = (
        path_or_recording if isinstance(path_or_recording, Recording) else read_recording(path_or_recording)
    )
    pieces: list[np.ndarray] = []
    freqs: list[np.ndarray] = []

    def spectrum(windows: np.ndarray) -> None:  # (C, W, n_win)
        psd, freqs_hz = multitaper_psd(windows, TARGET_SFREQ_HZ, fmax_hz=FMAX_HZ, bandwidth_hz=BANDWIDTH_HZ,
                                       device=device)  # fmt: skip
        pieces.append(np.log1p(psd))  # (C, W, F)
        freqs[:] = [freqs_hz]

    windows = ChunkWindows(round(WINDOW_S * TARGET_SFREQ_HZ), round(STEP_S * TARGET_SFREQ_HZ), spectrum)
    first_meta: dict[str, Any] | None = None
    mask = None
    channels: tuple[str, ...] = ()
    n_chunks = 0
    for chunk in harmonized_chunks(recording, chunk_s):
        n_chunks += 1
        data, channels, chunk_mask = _rows(chunk)
        mask = chunk_mask if mask is None else mask & chunk_mask
        if first_meta is None:
            first_meta = chunk.to_dict()
        windows.push(data)
    if not pieces:
        raise ValueError(f"{recording.path}: shorter than one {WINDOW_S:g} s window")
    log_psd = np.concatenate(pieces, axis=1).transpose(0, 2, 1)  # (C, W, F) -> (C, F, W)
    times_s = np.arange(log_psd.shape[-1]) * STEP_S + WINDOW_S / 2
    spectrogram = Spectrogram(np.ascontiguousarray(log_psd, dtype=np.float32), freqs[0], times_s, channels)
    assert first_meta is not None and mask is not None
    return SessionSpectrogram(spectrogram, mask, first_meta["montage"], {**first_meta, "n_chunks": n_chunks})


def write_session_spectrogram(path: str | Path, out: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Compute a file's session spectrogram and write it atomically as ``.npz``; returns a summary."""
    result = session_spectrogram(path)
    spec = result.spectrogram
    meta = {"window_s": spec.window_s, "step_s": spec.step_s, "bandwidth_hz": spec.bandwidth_hz,
            "units": "log(psd + 1), psd in uV^2/Hz", "harmonization": result.harmonization}  # fmt: skip
    with atomic_output(out, force=force) as tmp:
        np.savez_compressed(
            tmp, log_psd=spec.log_psd, freqs_hz=spec.freqs_hz, times_s=spec.times_s,
            channels=np.array(spec.channels), channel_mask=result.channel_mask, meta=np.array(json.dumps(meta)),
        )  # fmt: skip
    n_chans, n_freqs, n_windows = spec.log_psd.shape
    return {"n_chans": n_chans, "n_freqs": n_freqs, "n_windows": n_windows, "montage": result.montage}

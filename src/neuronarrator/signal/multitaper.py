"""Whole-session multitaper spectrograms with CLEF's defaults, fast.

CLEF represents a session as a 3-D spectrogram (channels × frequencies × time): 5 s windows, 1 s hop,
0–32 Hz, 2 Hz full bandwidth (half-bandwidth ``NW = 5`` for 1,000-sample windows at 200 Hz, 9 DPSS
tapers after MNE's low-bias selection), ``log(psd + 1)`` with the PSD in µV²/Hz.

The estimate is exactly MNE's ``psd_array_multitaper(..., adaptive=False, normalization="full")`` on
the same windows (same tapers from :func:`mne.time_frequency.dpss_windows`, per-window mean removal,
eigenvalue-weighted average, one-sided DC/Nyquist handling). MNE computes it in float64, one signal
at a time, keeping every frequency bin and looping in Python; a session has ~23,000 windows. Here all
windows of a chunk are tapered and transformed in one batched float32 FFT (``torch.fft.rfft``, which
runs multi-threaded and on a GPU when given one), and only the bins up to ``fmax_hz`` are squared and
combined. The FFT itself is the floor: see ``bench/bench_multitaper.py`` for how close we are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

logger = logging.getLogger(__name__)

#: CLEF's spectrogram parameters (DESIGN.md).
WINDOW_S = 5.0
STEP_S = 1.0
FMAX_HZ = 32.0
BANDWIDTH_HZ = 2.0

# Rows (channel-windows) per batched FFT: 64 windows × 9 tapers × 1,000 samples × 4 bytes ≈ 2.3 MB,
# large enough to amortise the call, small enough to stay near the cache.
_ROWS_PER_CHUNK = 64


@dataclass(frozen=True)
class Spectrogram:
    """A multichannel spectrogram.

    Attributes
    ----------
    log_psd : array, shape (n_chans, n_freqs, n_windows), float32
        ``log(psd + 1)`` with the PSD in µV²/Hz.
    freqs_hz : array, shape (n_freqs,)
    times_s : array, shape (n_windows,)
        Centre of each window, seconds from the start of the data.
    channels : tuple of str
    window_s, step_s, bandwidth_hz : float
    """

    log_psd: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray
    channels: tuple[str, ...]
    window_s: float = WINDOW_S
    step_s: float = STEP_S
    bandwidth_hz: float = BANDWIDTH_HZ


@lru_cache(maxsize=8)
def dpss_tapers(n_times: int, sfreq_hz: float, bandwidth_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """DPSS tapers and eigenvalues exactly as MNE's ``psd_array_multitaper`` chooses them.

    Returns
    -------
    tapers : array, shape (n_tapers, n_times), float64, unit energy
    eigvals : array, shape (n_tapers,)
    """
    from mne.time_frequency import dpss_windows

    half_nbw = bandwidth_hz * n_times / (2.0 * sfreq_hz)
    if half_nbw < 0.5:
        raise ValueError(
            f"bandwidth {bandwidth_hz} Hz is too narrow for {n_times / sfreq_hz:g} s windows; "
            f"use at least {sfreq_hz / n_times:g} Hz"
        )
    tapers, eigvals = dpss_windows(n_times, half_nbw, int(2 * half_nbw), sym=False, low_bias=True)
    tapers.setflags(write=False)
    eigvals.setflags(write=False)
    return tapers, eigvals


def n_windows(n_times: int, sfreq_hz: float, window_s: float = WINDOW_S, step_s: float = STEP_S) -> int:
    """Number of whole windows a recording of ``n_times`` samples gives."""
    n_win, n_step = _window_samples(sfreq_hz, window_s, step_s)
    return 0 if n_times < n_win else 1 + (n_times - n_win) // n_step


def _window_samples(sfreq_hz: float, window_s: float, step_s: float) -> tuple[int, int]:
    n_win, n_step = round(window_s * sfreq_hz), round(step_s * sfreq_hz)
    if n_win < 2 or n_step < 1:
        raise ValueError(f"window {window_s} s / step {step_s} s too short at {sfreq_hz} Hz")
    return n_win, n_step


def multitaper_psd(
    windows_uv: np.ndarray,
    sfreq_hz: float,
    *,
    fmax_hz: float = FMAX_HZ,
    bandwidth_hz: float = BANDWIDTH_HZ,
    device: str | None = None,
    log1p: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Multitaper PSD of many equal-length windows, in µV²/Hz (or ``log(psd + 1)`` of it).

    Equals ``mne.time_frequency.psd_array_multitaper(windows_uv, sfreq_hz, fmin=0, fmax=fmax_hz,
    bandwidth=bandwidth_hz, adaptive=False, normalization="full")`` to float32 precision.

    Parameters
    ----------
    windows_uv : array, shape (..., n_times)
        Any leading dimensions (e.g. channels × windows); read as float32.
    sfreq_hz : float
    fmax_hz : float
        Highest frequency kept (inclusive).
    bandwidth_hz : float
        Full bandwidth of the DPSS tapers (MNE's ``bandwidth``).
    device : str | None
        Torch device for the FFTs (``"cuda"``); default CPU.
    log1p : bool
        Return ``log(psd + 1)`` (CLEF's scaling), computed chunk by chunk while the data is in cache.

    Returns
    -------
    psd_uv2_per_hz : array, shape (..., n_freqs), float32
    freqs_hz : array, shape (n_freqs,)
    """
    import torch

    windows_uv = np.asarray(windows_uv)
    lead_shape, n_times = windows_uv.shape[:-1], windows_uv.shape[-1]
    rows = windows_uv.reshape(-1, n_times)
    freqs_hz = np.fft.rfftfreq(n_times, 1.0 / sfreq_hz)
    n_freqs = int(np.searchsorted(freqs_hz, fmax_hz, side="right"))
    freqs_hz = freqs_hz[:n_freqs]
    tapers, eigvals = dpss_tapers(n_times, float(sfreq_hz), float(bandwidth_hz))

    dev = torch.device(device or "cpu")
    # MNE's combination: psd = 2 * sum_k λ_k |X_k|² / sum_k λ_k, then / sfreq ("full" normalization).
    # The weights are folded into the tapers as sqrt(w_k), so that the sum over tapers of |FFT|² is
    # already the weighted estimate (one fewer pass over the spectra).
    weights = eigvals / eigvals.sum() * 2.0 / sfreq_hz
    tapers_t = torch.tensor(tapers * np.sqrt(weights)[:, None], dtype=torch.float32, device=dev)  # (K, n_times)
    # MNE divides the DC (and an even length's Nyquist) bins by √2 before squaring: their power halves.
    halved_bins = [0] + ([n_freqs - 1] if n_times % 2 == 0 and n_freqs == n_times // 2 + 1 else [])

    out = torch.empty((rows.shape[0], n_freqs), dtype=torch.float32)
    with torch.inference_mode():
        for start in range(0, rows.shape[0], _ROWS_PER_CHUNK):
            block = rows[start : start + _ROWS_PER_CHUNK]
            # MNE's remove_dc, per window, done before the float32 cast so that a large offset does
            # not eat the float32 mantissa (do not subtract in place: ``rows`` may be the caller's).
            block = (block - block.mean(axis=-1, keepdims=True)).astype(np.float32, copy=False)
            chunk = torch.from_numpy(block).to(dev)  # (R, n_times)
            spectra = torch.fft.rfft(chunk[:, None, :] * tapers_t, dim=-1)[..., :n_freqs]  # (R, K, F)
            psd = (spectra.real.square() + spectra.imag.square()).sum(dim=1)  # (R, F)
            psd[:, halved_bins] *= 0.5
            if log1p:
                psd.log1p_()
            out[start : start + chunk.shape[0]] = psd.cpu()
    out = out.numpy()
    return out.reshape(*lead_shape, n_freqs), freqs_hz


def sliding_windows(data: np.ndarray, sfreq_hz: float, window_s: float, step_s: float) -> np.ndarray:
    """Strided view of ``data`` (..., n_times) as (..., n_windows, n_window_samples); no copy."""
    n_win, n_step = _window_samples(sfreq_hz, window_s, step_s)
    if data.shape[-1] < n_win:
        raise ValueError(f"{data.shape[-1] / sfreq_hz:g} s of data is shorter than one {window_s} s window")
    return np.lib.stride_tricks.sliding_window_view(data, n_win, axis=-1)[..., ::n_step, :]


def multitaper_spectrogram(
    data_uv: np.ndarray,
    sfreq_hz: float,
    channels: tuple[str, ...] | list[str] | None = None,
    *,
    window_s: float = WINDOW_S,
    step_s: float = STEP_S,
    fmax_hz: float = FMAX_HZ,
    bandwidth_hz: float = BANDWIDTH_HZ,
    device: str | None = None,
) -> Spectrogram:
    """CLEF's whole-session spectrogram: ``log(psd + 1)`` of sliding multitaper windows.

    Parameters
    ----------
    data_uv : array, shape (n_chans, n_times)
        Harmonized signal in µV (200 Hz in the contract; any rate works).
    sfreq_hz : float
    channels : sequence of str | None
        Channel names carried into the result (default ``ch0, ch1, …``).
    window_s, step_s, fmax_hz, bandwidth_hz : float
        CLEF defaults: 5 s, 1 s, 32 Hz, 2 Hz.
    device : str | None
        Torch device for the FFTs.

    Returns
    -------
    Spectrogram
        ``log_psd`` has shape (n_chans, n_freqs, n_windows).
    """
    data_uv = np.asarray(data_uv)
    if data_uv.ndim != 2:
        raise ValueError(f"data_uv must be (n_chans, n_times), got shape {data_uv.shape}")
    if not np.isfinite(data_uv).all():
        raise ValueError("data_uv holds NaN or infinite samples; harmonize the recording first")
    windows = sliding_windows(data_uv, sfreq_hz, window_s, step_s)  # (C, W, n_win)
    log_psd, freqs_hz = multitaper_psd(
        windows, sfreq_hz, fmax_hz=fmax_hz, bandwidth_hz=bandwidth_hz, device=device, log1p=True
    )  # (C, W, F)
    log_psd = log_psd.transpose(0, 2, 1)  # (C, F, W): a strided view, no copy
    n_step = round(step_s * sfreq_hz)
    times_s = (np.arange(windows.shape[1]) * n_step + windows.shape[-1] / 2) / sfreq_hz
    names = tuple(channels) if channels is not None else tuple(f"ch{i}" for i in range(data_uv.shape[0]))
    if len(names) != data_uv.shape[0]:
        raise ValueError(f"{len(names)} channel names for {data_uv.shape[0]} channels")
    return Spectrogram(
        log_psd=log_psd,
        freqs_hz=freqs_hz,
        times_s=times_s,
        channels=names,
        window_s=window_s,
        step_s=step_s,
        bandwidth_hz=bandwidth_hz,
    )

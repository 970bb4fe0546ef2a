"""Mains (line) noise: which of 50 / 60 Hz a recording carries, and how much of each channel it takes.

Mains pick-up is a narrow spectral line (the grid's frequency is held within ±0.2 Hz) over a smooth
EEG spectrum, so it is found by comparing a narrow band with its neighbourhood in a Welch spectrum.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: Line noise: mains band half width and the EEG band the line power is compared with (below 50 Hz).
LINE_HALF_WIDTH_HZ = 1.0
EEG_BAND_HZ = (1.0, 40.0)
#: ``line_noise``: excess power in the mains band at least this fraction of the channel's EEG-band power
#: ("dominating": mains amplitude comparable to the EEG), and this multiple of the median channel's
#: ratio (one electrode with poor contact, not mains pick-up shared by the whole montage, which the
#: notch handles). Both conditions, as in PREP's high-frequency-noise criterion (a channel against the
#: montage).
LINE_NOISE_RATIO = 0.5
LINE_RELATIVE_FACTOR = 5.0
#: Line-frequency detection: the mean spectrum at 50 or 60 Hz (0.25 Hz resolution) over the median of
#: its 2-6 Hz neighbourhood. Mains pick-up is a narrow peak 10-30 dB high in clinical EEG; estimation
#: noise of a smooth spectrum stays below ~2 even for 10 s of data. 3 (~5 dB) catches the faint 60 Hz
#: of the shielded EEGMMI lab (ratio ~5) without calling noise a line.
LINE_PEAK_MIN_RATIO = 3.0
LINE_CANDIDATES_HZ = (50.0, 60.0)
LINE_RESOLUTION_HZ = 0.25
LINE_NEIGHBOURHOOD_HZ = (2.0, 6.0)


#: Channels per block: every segment's spectrum is held at once (~2x the block's data), so a block of
#: channels at a time keeps a long recording's spectra to a fraction of one copy.
_BLOCK_CHANNELS = 2


def welch_uv2_per_hz(data_uv: np.ndarray, sfreq_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD at :data:`LINE_RESOLUTION_HZ` (Hann, half overlap; coarser for data shorter than 4 s).

    Parameters
    ----------
    data_uv : ndarray, shape (n_chans, n_times)
        Finite signals in µV.
    sfreq_hz : float

    Returns
    -------
    freqs_hz : ndarray, shape (n_freqs,)
    psd : ndarray, shape (n_chans, n_freqs)
        µV²/Hz.
    """
    nperseg = int(min(data_uv.shape[-1], round(sfreq_hz / LINE_RESOLUTION_HZ)))
    step = max(1, nperseg // 2)
    # periodic Hann, as scipy.signal.get_window("hann", n); written out because importing scipy.signal
    # costs ~0.5 s, more than `inspect` spends on a whole 20-minute file
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nperseg) / nperseg)
    scale = 1.0 / (sfreq_hz * (window**2).sum())  # density scaling, as scipy.signal.welch
    freqs_hz = np.fft.rfftfreq(nperseg, 1.0 / sfreq_hz)
    psd = np.empty((data_uv.shape[0], freqs_hz.size))
    for first in range(0, data_uv.shape[0], _BLOCK_CHANNELS):
        block = slice(first, first + _BLOCK_CHANNELS)
        segments = np.lib.stride_tricks.sliding_window_view(data_uv[block], nperseg, axis=-1)[:, ::step]
        segments = (segments - segments.mean(axis=-1, keepdims=True)) * window
        power = np.abs(np.fft.rfft(segments, axis=-1)) ** 2
        psd[block] = power.mean(axis=1) * scale
    psd[:, 1 : (nperseg + 1) // 2] *= 2  # one-sided: every bin but DC (and Nyquist for even nperseg)
    return freqs_hz, psd


def _line_peak_ratios(freqs_hz: np.ndarray, psd: np.ndarray, line_freq_hz: float) -> np.ndarray:
    """Peak PSD within ±0.5 Hz of the line over the median of its neighbourhood, per row of ``psd``."""
    offset = np.abs(freqs_hz - line_freq_hz)
    peak = offset <= 0.5
    low, high = LINE_NEIGHBOURHOOD_HZ
    neighbourhood = (offset >= low) & (offset <= high) & (freqs_hz > EEG_BAND_HZ[0])
    if not peak.any() or neighbourhood.sum() < 3:
        return np.zeros(psd.shape[:-1])
    baseline = np.median(psd[..., neighbourhood], axis=-1)
    return psd[..., peak].max(axis=-1) / np.maximum(baseline, np.finfo(float).tiny)


def line_freq_from_psd(freqs_hz: np.ndarray, psd: np.ndarray, sfreq_hz: float) -> float | None:
    mean_psd = psd.mean(axis=0)  # the mean, not the median: one channel full of mains must count
    ratios = {
        f0: float(_line_peak_ratios(freqs_hz, mean_psd, f0))
        for f0 in LINE_CANDIDATES_HZ
        if f0 + LINE_NEIGHBOURHOOD_HZ[0] < sfreq_hz / 2  # the peak and one side of it must be visible
    }
    logger.debug("line peak ratios %s", ratios)
    best = max(ratios, key=ratios.get, default=None)
    return best if best is not None and ratios[best] >= LINE_PEAK_MIN_RATIO else None


def detect_line_freq_hz(data_uv: np.ndarray, sfreq_hz: float) -> float | None:
    """The mains frequency (50.0 or 60.0 Hz) seen in the data, or None.

    Parameters
    ----------
    data_uv : ndarray, shape (n_chans, n_times)
        Finite signals in µV (bridge gaps first with :func:`neuronarrator.signal.quality.bridge_nonfinite`).
    sfreq_hz : float
        Sampling rate.

    Returns
    -------
    float or None
        The candidate whose narrow peak in the channel-mean spectrum stands highest over its 2-6 Hz
        neighbourhood, if at least :data:`LINE_PEAK_MIN_RATIO`; None when neither stands out or the rate
        cannot show the peak (e.g. 50 Hz at 100 Hz sampling, where it lies at Nyquist).
    """
    data_uv = np.atleast_2d(np.asarray(data_uv, dtype=np.float64))
    if sfreq_hz / 2 <= min(LINE_CANDIDATES_HZ) + LINE_NEIGHBOURHOOD_HZ[0]:
        return None
    freqs_hz, psd = welch_uv2_per_hz(data_uv, sfreq_hz)
    return line_freq_from_psd(freqs_hz, psd, sfreq_hz)


def line_noise_ratio(freqs_hz: np.ndarray, psd: np.ndarray, line_freq_hz: float) -> np.ndarray:
    """Excess mains power over EEG-band power (1-40 Hz), per channel.

    Parameters
    ----------
    freqs_hz : ndarray, shape (n_freqs,)
    psd : ndarray, shape (n_chans, n_freqs)
        Power spectral density in µV²/Hz.
    line_freq_hz : float

    Returns
    -------
    ndarray, shape (n_chans,)
        Power within ±1 Hz of the line above the neighbourhood's level, divided by the power in
        1-40 Hz; 0 where the line is not visible.
    """
    df = freqs_hz[1] - freqs_hz[0]
    band = np.abs(freqs_hz - line_freq_hz) <= LINE_HALF_WIDTH_HZ
    offset = np.abs(freqs_hz - line_freq_hz)
    neighbourhood = (offset >= LINE_NEIGHBOURHOOD_HZ[0]) & (offset <= LINE_NEIGHBOURHOOD_HZ[1])
    eeg = (freqs_hz >= EEG_BAND_HZ[0]) & (freqs_hz <= EEG_BAND_HZ[1])
    if not band.any() or not neighbourhood.any():
        return np.zeros(psd.shape[0])
    baseline = np.median(psd[:, neighbourhood], axis=-1, keepdims=True)
    excess = np.clip(psd[:, band] - baseline, 0.0, None).sum(axis=-1) * df
    eeg_power = psd[:, eeg].sum(axis=-1) * df
    return excess / np.maximum(eeg_power, np.finfo(float).tiny)

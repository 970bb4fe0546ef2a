"""Temporal preprocessing on arrays: mains notch, band-pass, rational resampling.

Filters are MNE's zero-phase FIR designs (``firwin``, Hamming window, the transition bands MNE chooses
automatically; Widmann, Schröger & Maess 2015 describe why these defaults suit EEG): linear phase, so
waveforms keep their shape and timing, and FFT overlap-add keeps them fast on long recordings.
Resampling is SciPy's polyphase ``resample_poly`` (an exact rational factor with a Kaiser-windowed
anti-aliasing FIR applied in one pass): unlike FFT resampling it does not treat the recording as
periodic, so a 20-minute file gains no wrap-around at its ends and costs O(n).
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np
from scipy import signal as sp_signal

logger = logging.getLogger(__name__)

#: A notch must sit this far below Nyquist (half its 1 Hz transition band plus its own width): MNE
#: refuses stop bands that touch Nyquist.
NOTCH_NYQUIST_MARGIN_HZ = 1.5
#: The largest denominator accepted when approximating a non-integer rate ratio (e.g. 173.61 Hz):
#: the anti-aliasing filter grows with it; 1000 keeps the rate error below 1e-3 relative.
MAX_RESAMPLE_DENOMINATOR = 1000


def notch_frequencies_hz(line_freq_hz: float, sfreq_hz: float) -> tuple[float, ...]:
    """The mains frequency and its harmonics that lie below Nyquist (with a margin)."""
    nyquist = sfreq_hz / 2
    count = int((nyquist - NOTCH_NYQUIST_MARGIN_HZ) // line_freq_hz)
    return tuple(line_freq_hz * k for k in range(1, count + 1))


def notch_uv(data_uv: np.ndarray, sfreq_hz: float, line_freq_hz: float) -> np.ndarray:
    """Remove the mains frequency and its harmonics below Nyquist, in place.

    Parameters
    ----------
    data_uv : ndarray, shape (n_chans, n_times), float64
        Finite signals in µV; overwritten.
    sfreq_hz : float
    line_freq_hz : float
        Mains frequency (50 or 60 Hz).

    Returns
    -------
    ndarray, shape (n_chans, n_times)
        ``data_uv`` itself, filtered (unchanged when no harmonic is below Nyquist).
    """
    import mne

    freqs = notch_frequencies_hz(line_freq_hz, sfreq_hz)
    if not freqs or data_uv.size == 0:
        return data_uv
    logger.debug("notch at %s Hz (rate %g Hz)", freqs, sfreq_hz)
    return mne.filter.notch_filter(
        data_uv, sfreq_hz, np.array(freqs), method="fir", phase="zero", copy=False, verbose="error"
    )


def bandpass_uv(
    data_uv: np.ndarray, sfreq_hz: float, l_freq_hz: float | None, h_freq_hz: float | None
) -> np.ndarray:
    """Zero-phase FIR band-pass (or high-/low-pass when one edge is None), in place.

    Parameters
    ----------
    data_uv : ndarray, shape (n_chans, n_times), float64
        Finite signals in µV; overwritten.
    sfreq_hz : float
    l_freq_hz, h_freq_hz : float or None
        Pass-band edges (MNE's convention: the -6 dB points lie half a transition band outside).

    Returns
    -------
    ndarray, shape (n_chans, n_times)
        ``data_uv`` itself, filtered.
    """
    import mne

    if (l_freq_hz is None and h_freq_hz is None) or data_uv.size == 0:
        return data_uv
    return mne.filter.filter_data(
        data_uv, sfreq_hz, l_freq_hz, h_freq_hz, method="fir", phase="zero", copy=False, verbose="error"
    )


def resample_factors(from_hz: float, to_hz: float) -> tuple[int, int]:
    """``(up, down)`` with ``from_hz * up / down == to_hz`` (exact for rational rates: 256 → 200 is 25/32)."""
    ratio = Fraction(to_hz).limit_denominator(10**6) / Fraction(from_hz).limit_denominator(10**6)
    approx = ratio.limit_denominator(MAX_RESAMPLE_DENOMINATOR)
    if approx != ratio:
        logger.debug("rate ratio %s approximated by %s", ratio, approx)
    return approx.numerator, approx.denominator


def resample_uv(data_uv: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Polyphase resampling along the last axis.

    Parameters
    ----------
    data_uv : ndarray, shape (n_chans, n_times)
        Finite signals in µV (zero-mean, ideally: the ends are padded by a straight-line fit).
    from_hz, to_hz : float
        Input and output rates.

    Returns
    -------
    ndarray, shape (n_chans, ceil(n_times * up / down)), float64
        A new array (the input itself when the rates are equal).
    """
    up, down = resample_factors(from_hz, to_hz)
    if up == down:
        return data_uv
    return sp_signal.resample_poly(data_uv, up, down, axis=-1, padtype="line")

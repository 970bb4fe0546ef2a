"""Waveform primitives: coloured noise shaped in the frequency domain, transient templates, gates.

Everything is vectorised: noise is one ``irfft`` of shaped complex Gaussian coefficients (circular, so
a segment's end joins its start smoothly), transients are an impulse train convolved with a template,
and state or eyes-open windows are smoothed indicator arrays. Templates are given in units of their
peak (a spike template has its negative peak at -1), with surface-negative potentials negative:
the display convention "negative up" is the plotting code's business, not the generator's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def spectral_noise(
    rng: np.random.Generator,
    n_sources: int,
    n_times: int,
    sfreq_hz: float,
    amplitude_of_freq: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Gaussian noise with a given spectral shape and unit expected variance.

    Parameters
    ----------
    rng : Generator
    n_sources, n_times : int
    sfreq_hz : float
    amplitude_of_freq : callable
        ``f (n_freqs,) -> |A(f)| (n_freqs,)``: the amplitude spectrum (square root of the PSD shape).

    Returns
    -------
    noise : array, shape (n_sources, n_times)
        Expected variance 1 per row (the realised variance fluctuates like real data would).
    """
    freqs = np.fft.rfftfreq(n_times, d=1.0 / sfreq_hz)
    amp = np.asarray(amplitude_of_freq(freqs), dtype=np.float64)
    amp[0] = 0.0  # no DC: every generator is zero-mean
    if n_times % 2 == 0:
        amp[-1] = 0.0  # the Nyquist bin of a real signal has no phase; leaving it out keeps the maths simple
    power = 2.0 * np.sum(amp**2)
    if power <= 0:
        return np.zeros((n_sources, n_times))
    coeffs = rng.standard_normal((n_sources, freqs.size, 2)).view(np.complex128)[..., 0] / np.sqrt(2.0)
    return np.fft.irfft(coeffs * amp, n=n_times, axis=-1) * (n_times / np.sqrt(power))


def gaussian_band(centre_hz: float, sigma_hz: float) -> Callable[[np.ndarray], np.ndarray]:
    """Amplitude spectrum of a Gaussian spectral peak (a rhythm with waxing and waning envelope)."""
    return lambda f: np.exp(-((f - centre_hz) ** 2) / (4.0 * sigma_hz**2))  # PSD has sigma_hz


def flat_band(low_hz: float, high_hz: float, edge_hz: float = 0.5) -> Callable[[np.ndarray], np.ndarray]:
    """Amplitude spectrum flat in ``[low_hz, high_hz]`` with raised-cosine edges ``edge_hz`` wide."""

    def amp(f: np.ndarray) -> np.ndarray:
        rise = np.clip((f - (low_hz - edge_hz)) / edge_hz, 0.0, 1.0)
        fall = np.clip(((high_hz + edge_hz) - f) / edge_hz, 0.0, 1.0)
        return np.sin(0.5 * np.pi * rise) * np.sin(0.5 * np.pi * fall)

    return amp


def power_law(exponent: float, knee_hz: float) -> Callable[[np.ndarray], np.ndarray]:
    """Amplitude spectrum of ``PSD = 1 / (knee^β + f^β)``: 1/f^β above the knee, flat below it."""
    return lambda f: 1.0 / np.sqrt(knee_hz**exponent + f**exponent)


def place(
    n_times: int,
    sfreq_hz: float,
    times_s: np.ndarray,
    amplitudes: np.ndarray | float,
    template: np.ndarray,
    anchor: int,
) -> np.ndarray:
    """Sum of copies of ``template`` with its sample ``anchor`` at each of ``times_s``, scaled.

    Parameters
    ----------
    n_times : int
    sfreq_hz : float
    times_s : array, shape (n_events,)
        Times of the anchors (the peak of a spike, the R wave of a QRS), in seconds.
    amplitudes : float or array, shape (n_events,)
    template : array, shape (n_template,)
    anchor : int
        Index of the template sample placed at each time.

    Returns
    -------
    wave : array, shape (n_times,)
    """
    times_s = np.atleast_1d(np.asarray(times_s, dtype=np.float64))
    impulses = np.zeros(n_times + template.size)
    if times_s.size:
        index = np.clip(np.round(times_s * sfreq_hz).astype(np.int64), 0, n_times - 1)
        np.add.at(impulses, index, np.broadcast_to(amplitudes, times_s.shape))
    full = np.convolve(impulses[:n_times], template)
    return full[anchor : anchor + n_times]


def half_gaussians(
    sfreq_hz: float, rise_s: float, fall_s: float, reach: float = 4.0
) -> tuple[np.ndarray, int]:
    """An asymmetric bump (peak 1): Gaussian flanks with standard deviations ``rise_s`` and ``fall_s``."""
    t = (
        np.arange(-int(np.ceil(reach * rise_s * sfreq_hz)), int(np.ceil(reach * fall_s * sfreq_hz)) + 1)
        / sfreq_hz
    )
    shape = np.where(t < 0, np.exp(-0.5 * (t / rise_s) ** 2), np.exp(-0.5 * (t / fall_s) ** 2))
    return shape, int(np.flatnonzero(t == 0)[0])


def bump(t_s: np.ndarray, centre_s: float, width_s: float) -> np.ndarray:
    """Gaussian bump of the time axis ``t_s`` (any shape); ``width_s`` is the standard deviation."""
    return np.exp(-0.5 * ((t_s - centre_s) / width_s) ** 2)


def spans_mask(n_times: int, sfreq_hz: float, spans_s: Sequence[tuple[float, float]]) -> np.ndarray:
    """Boolean (n_times,): True inside any of the ``(start_s, end_s)`` spans."""
    mask = np.zeros(n_times + 1, dtype=np.int64)
    for start, end in spans_s:
        a, b = (int(np.clip(round(x * sfreq_hz), 0, n_times)) for x in (start, end))
        mask[a] += 1
        mask[b] -= 1
    return np.cumsum(mask[:-1]) > 0


def smooth_gate(mask: np.ndarray, sfreq_hz: float, ramp_s: float) -> np.ndarray:
    """A 0/1 mask smoothed by a Hann window ``ramp_s`` long: gates that switch on and off gradually."""
    width = max(1, int(round(ramp_s * sfreq_hz)))
    if width < 3:
        return mask.astype(np.float64)
    window = np.hanning(width)
    window /= window.sum()
    padded = np.pad(mask.astype(np.float64), width, mode="edge")  # a gate on at the start stays on there
    return np.convolve(padded, window, mode="same")[width:-width]


def event_times(
    rng: np.random.Generator,
    duration_s: float,
    mean_interval_s: float,
    min_interval_s: float,
    *,
    margin_s: float = 0.5,
) -> np.ndarray:
    """Random event times: intervals ``min_interval_s`` + exponential, so events never crowd.

    Returns
    -------
    times_s : array, shape (n_events,)
        Increasing, within ``[margin_s, duration_s - margin_s]``.
    """
    mean_extra = max(mean_interval_s - min_interval_s, 1e-3)
    n_max = int(np.ceil(duration_s / max(min_interval_s, 1e-3))) + 2
    intervals = min_interval_s + rng.exponential(mean_extra, size=n_max)
    start = rng.uniform(0.0, mean_interval_s)
    times = margin_s + start + np.concatenate([[0.0], np.cumsum(intervals[:-1])])
    return times[times < duration_s - margin_s]


def chirp_phase(freq_hz: np.ndarray, sfreq_hz: float, phase0: float = 0.0) -> np.ndarray:
    """Phase (n,) of an oscillation with instantaneous frequency ``freq_hz`` (n,): 2π ∫ f dt."""
    return phase0 + 2.0 * np.pi * np.cumsum(freq_hz) / sfreq_hz


def sharpened(phase: np.ndarray, sharpness: float) -> np.ndarray:
    """A periodic wave of ``phase`` that is sinusoidal at 0 and increasingly sharp-peaked (negative
    peaks narrow, positive troughs broad) as ``sharpness`` (scalar or per sample) goes to 1.

    Built as ``cos(φ) + s·cos(2φ)/2`` normalised: the second harmonic in phase with the fundamental
    narrows the peaks, which is how rhythmic delta acquires its "sharply contoured" look.
    """
    s = np.clip(sharpness, 0.0, 1.0)
    wave = np.cos(phase) + 0.5 * s * np.cos(2 * phase)
    return -wave / (1.0 + 0.5 * s)


def at_least_one(
    times: np.ndarray, rng: np.random.Generator, duration_s: float, margin_s: float = 1.0
) -> np.ndarray:
    """A requested transient must occur: if the random draw gave none, place one."""
    if times.size:
        return times
    return np.array(
        [rng.uniform(min(margin_s, duration_s / 3), max(duration_s - margin_s, 2 * duration_s / 3))]
    )

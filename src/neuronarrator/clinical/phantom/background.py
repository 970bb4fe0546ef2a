"""The spatially correlated 1/f background: the ongoing activity every EEG has under its rhythms.

Independent sources with a ``1 / (knee^β + f^β)`` spectrum (flat below the knee, power law above it;
Miller et al. 2009 PLoS Comput Biol 5:e1000609; Donoghue et al. 2020) are drawn per site and mixed
by the Cholesky factor of an exponential spatial covariance ``C_ij = exp(-d_ij / λ)``: neighbouring
electrodes share much of their signal through volume conduction, distant ones little. Correlation
lengths fall with frequency (slow activity is more widespread; Nunez & Srinivasan 2006, ch. 8): the
mixing is done per frequency band in the Fourier domain, where it costs one small matrix product per
band. The ears sit below the cortex and see less of it (gain 0.6).

Sleep changes the background: it is larger and its spectrum steeper (Lendner et al. 2020 eLife
9:e55092). Each state present gets its own spectral shaping of the *same* Fourier coefficients, and
the states are cross-faded, so a transition from wake to N2 has no seam.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from neuronarrator.clinical.phantom.canvas import Canvas
from neuronarrator.clinical.phantom.head import EARS, SITES, distances_m

#: Correlation length per frequency band, as a multiple of the subject's ``spatial_length_m``.
BAND_LENGTH_FACTOR: tuple[tuple[float, float, float], ...] = (
    (0.0, 4.0, 1.4),  # delta: widest fields
    (4.0, 13.0, 1.0),
    (13.0, np.inf, 0.75),  # beta and above: most local
)

#: Per state: RMS relative to wake, and the share of the subject's sleep steepening of the 1/f exponent.
STATE_BACKGROUND: dict[str, tuple[float, float]] = {
    "awake": (1.0, 0.0),
    "drowsy": (1.0, 0.2),
    "n1": (1.1, 0.5),
    "n2": (1.3, 1.0),
    "n3": (1.5, 1.0),
    "rem": (0.9, 1.0),
}

#: How much of the cortical background the ear sites see.
EAR_GAIN = 0.6

#: Instrument noise (amplifier and electrode), µV RMS per recorded channel: modern EEG amplifiers are
#: specified at < 1 µV RMS input noise over 0.5-70 Hz (IFCN 2017 recording standards).
INSTRUMENT_NOISE_RMS_UV = 0.5


@lru_cache(maxsize=64)
def _mixing(length_m: float) -> np.ndarray:
    """Cholesky factor (21, 21) of ``exp(-d / length_m)`` (positive definite for any length)."""
    cov = np.exp(-distances_m() / length_m)
    return np.linalg.cholesky(cov + 1e-9 * np.eye(len(SITES)))


def add_background(canvas: Canvas) -> None:
    """Paint the subject's 1/f background for every state present, cross-faded between states."""
    subject = canvas.subject
    rng = canvas.stream("background")
    n, sfreq = canvas.n_times, canvas.sfreq_hz
    freqs = np.fft.rfftfreq(n, d=1.0 / sfreq)
    coeffs = rng.standard_normal((len(SITES), freqs.size, 2)).view(np.complex128)[..., 0] / np.sqrt(2.0)
    coeffs[:, 0] = 0.0
    if n % 2 == 0:
        coeffs[:, -1] = 0.0
    mixed = np.empty_like(coeffs)
    for low, high, factor in BAND_LENGTH_FACTOR:
        band = (freqs >= low) & (freqs < high)
        mixed[:, band] = _mixing(round(subject.spatial_length_m * factor, 4)) @ coeffs[:, band]
    gain = np.ones(len(SITES))
    gain[list(EARS)] = EAR_GAIN

    present = [s for s in STATE_BACKGROUND if s in canvas.epoch_states]
    for state in present:
        rms_factor, steepening = STATE_BACKGROUND[state]
        exponent = subject.aperiodic_exponent + steepening * subject.sleep_exponent_increase
        amp = 1.0 / np.sqrt(subject.knee_hz**exponent + np.maximum(freqs, 1e-6) ** exponent)
        amp[0] = 0.0
        power = 2.0 * np.sum(amp**2)
        scale = subject.background_rms_uv * rms_factor * n / np.sqrt(power)
        wave = np.fft.irfft(mixed * (amp * scale), n=n, axis=-1) * gain[:, None]
        if len(present) == 1:
            canvas.cortical += wave
        else:  # amplitude cross-fade: sqrt keeps the power constant through a transition
            canvas.cortical += wave * np.sqrt(np.clip(canvas.state_gate(state, ramp_s=6.0), 0.0, 1.0))


def instrument_noise(rng: np.random.Generator, n_chans: int, n_times: int) -> np.ndarray:
    """White instrument noise (n_chans, n_times) in µV, :data:`INSTRUMENT_NOISE_RMS_UV` RMS."""
    return INSTRUMENT_NOISE_RMS_UV * rng.standard_normal((n_chans, n_times))

"""The spatially correlated 1/f background: the ongoing activity every EEG has under its rhythms.

Independent sources with a ``1 / (knee^β + f^β)`` spectrum (flat below the knee, power law above it;
Miller et al. 2009 PLoS Comput Biol 5:e1000609; Donoghue et al. 2020) are drawn per site and mixed
by the Cholesky factor of a spatial covariance ``C = (1 - ν) exp(-(d / L)²) + ν I``: a smooth field
that neighbouring electrodes share through volume conduction, plus a local part (ν, the "nugget":
small generators, electrode-skin differences) no other electrode sees. Scalp signals are strongly
correlated over several centimetres (Nunez & Srinivasan 2006, ch. 8); on the real record EEGMMI
S001R01 (eyes open, its own reference) the correlation of 1-13 Hz activity is 0.85 between electrodes
5-9 cm apart, 0.65 at 12-15 cm and 0.45 at 15-20 cm, falling to 0.75 / 0.6 at 6 cm for beta / 30-45
Hz: the kernel length shrinks and the nugget grows with frequency. The mixing is done per frequency
band in the Fourier domain (one small matrix product per band). The ears sit below the cortex and see
less of it (gain 0.6).

Sleep changes the background: its spectrum is steeper (Lendner et al. 2020 eLife 9:e55092), so slow
activity grows while fast activity falls. Each state present gets its own spectral shaping of the
*same* Fourier coefficients, and the states are cross-faded, so a transition from wake to N2 has no
seam.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from neuronarrator.clinical.phantom.canvas import Canvas
from neuronarrator.clinical.phantom.head import EARS, SITES, distances_m

#: Per frequency band (low, high Hz): kernel length as a multiple of the subject's ``spatial_length_m``
#: and the nugget ν (fraction of each site's variance that is local).
BAND_SPATIAL: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 4.0, 1.1, 0.1),  # delta: widest fields
    (4.0, 13.0, 1.0, 0.12),
    (13.0, 30.0, 0.8, 0.2),
    (30.0, np.inf, 0.65, 0.35),  # gamma: most local (and partly muscle in real data)
)

#: Per state: broadband gain relative to wake, and the share of the subject's sleep steepening of the
#: 1/f exponent. The steepening rotates the spectrum about :data:`PIVOT_HZ` (Lendner et al. 2020):
#: slow activity grows in sleep and beta falls.
STATE_BACKGROUND: dict[str, tuple[float, float]] = {
    "awake": (1.0, 0.0),
    "drowsy": (1.0, 0.2),
    "n1": (1.0, 0.5),
    "n2": (1.0, 1.0),
    "n3": (1.0, 1.3),
    "rem": (0.8, 0.6),
}
PIVOT_HZ = 10.0

#: Above this frequency the cortical spectrum falls by a further 1/f²: what scalp EEG shows above
#: ~30 Hz is mostly muscle (Whitham et al. 2007 Clin Neurophysiol 118:1877: under neuromuscular
#: paralysis scalp power above 20-30 Hz drops by an order of magnitude); muscle is an artifact here.
HIGH_BEND_HZ = 30.0

#: How much of the cortical background the ear sites see.
EAR_GAIN = 0.6

#: Instrument noise (amplifier and electrode), µV RMS per recorded channel: modern EEG amplifiers are
#: specified at < 1 µV RMS input noise over 0.5-70 Hz (IFCN 2017 recording standards).
INSTRUMENT_NOISE_RMS_UV = 0.5


@lru_cache(maxsize=64)
def spatial_mixing(length_m: float, nugget: float = 0.1) -> np.ndarray:
    """Cholesky factor (21, 21) of ``(1 - nugget) exp(-(d / length_m)²) + nugget I`` (unit variances)."""
    cov = (1.0 - nugget) * np.exp(-((distances_m() / length_m) ** 2)) + nugget * np.eye(len(SITES))
    return np.linalg.cholesky(cov)


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
    for low, high, factor, nugget in BAND_SPATIAL:
        band = (freqs >= low) & (freqs < high)
        mixed[:, band] = spatial_mixing(round(subject.spatial_length_m * factor, 4), nugget) @ coeffs[:, band]
    ear_gain = np.ones(len(SITES))
    ear_gain[list(EARS)] = EAR_GAIN

    exponent = subject.aperiodic_exponent
    base = 1.0 / np.sqrt(subject.knee_hz**exponent + np.maximum(freqs, 1e-6) ** exponent)
    base /= np.sqrt(1.0 + (freqs / HIGH_BEND_HZ) ** 2)  # cortical gamma barely reaches the scalp
    base[0] = 0.0
    base *= subject.background_rms_uv * n / np.sqrt(2.0 * np.sum(base**2))  # the awake spectrum, scaled
    present = [s for s in STATE_BACKGROUND if s in canvas.epoch_states]
    for state in present:
        gain, steepening = STATE_BACKGROUND[state]
        rotation = (np.maximum(freqs, subject.knee_hz) / PIVOT_HZ) ** (
            -0.5 * steepening * subject.sleep_exponent_increase
        )
        wave = np.fft.irfft(mixed * (base * gain * rotation), n=n, axis=-1) * ear_gain[:, None]
        if len(present) == 1:
            canvas.cortical += wave
        else:  # amplitude cross-fade: sqrt keeps the power constant through a transition
            canvas.cortical += wave * np.sqrt(np.clip(canvas.state_gate(state, ramp_s=6.0), 0.0, 1.0))


def instrument_noise(rng: np.random.Generator, n_chans: int, n_times: int) -> np.ndarray:
    """White instrument noise (n_chans, n_times) in µV, :data:`INSTRUMENT_NOISE_RMS_UV` RMS."""
    return INSTRUMENT_NOISE_RMS_UV * rng.standard_normal((n_chans, n_times))

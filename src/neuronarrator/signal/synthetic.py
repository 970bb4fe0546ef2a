"""Reference synthetic signals: Gaussian 1/f ("pink") noise, the simplest stand-in for an EEG background.

Used by the tests and benchmarks as a known input (its spectrum is known exactly), and as the
reference the phantom's speed is compared with. The phantom (``clinical/phantom``) builds a realistic
background on top of this idea (spatial correlation, knee, state-dependent slope).
"""

from __future__ import annotations

import numpy as np


def pink_noise_uv(
    rng: np.random.Generator | int,
    n_chans: int,
    n_times: int,
    sfreq_hz: float,
    *,
    exponent: float = 1.0,
    rms_uv: float = 20.0,
) -> np.ndarray:
    """Independent Gaussian noise per channel with a ``1/f**exponent`` power spectral density.

    White noise shaped by one FFT filter (amplitude ``f**(-exponent/2)``, DC removed), then scaled.

    Parameters
    ----------
    rng : numpy Generator or int seed
    n_chans, n_times : int
    sfreq_hz : float
    exponent : float
        The 1/f exponent of the PSD (1 for pink noise; scalp EEG is typically 1-2).
    rms_uv : float
        Root mean square of each channel, µV.

    Returns
    -------
    ndarray, shape (n_chans, n_times), float64
    """
    rng = np.random.default_rng(rng)
    spectrum = np.fft.rfft(rng.standard_normal((n_chans, n_times)), axis=-1)
    freqs_hz = np.fft.rfftfreq(n_times, 1.0 / sfreq_hz)
    spectrum[:, 1:] /= freqs_hz[1:] ** (exponent / 2)
    spectrum[:, 0] = 0.0
    pink = np.fft.irfft(spectrum, n=n_times, axis=-1)
    return pink * (rms_uv / pink.std(axis=-1, keepdims=True))

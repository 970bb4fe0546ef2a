"""The band-power baseline of the probe benchmark: a fixed, hand-made embedding of a whole session.

Per row of a :class:`~neuronarrator.eval.signals.SessionSignal`, the Welch density over the whole session
(:func:`neuronarrator.signal.bands.welch_psd`, 4-s Hann segments, 0.25 Hz bins) is integrated over the
delta (1-4 Hz), theta (4-8 Hz), alpha (8-13 Hz) and beta (13-30 Hz) bands of
:data:`neuronarrator.signal.bands.BANDS_HZ` (:func:`~neuronarrator.signal.bands.integrate_bands`); the
features are ``log10`` of each absolute power (µV²) and each power relative to the sum of the four
(1-30 Hz), then one summary: the posterior peak frequency.

Rows without data (``channel_mask`` False), with non-finite samples or with no power at all take the mean
of the features of the valid rows, so that every session gives a vector of the same length and a probe's
standardisation sees no NaN; a session without any valid row is an error.

The baseline is referential-first: row ``k`` is electrode ``CANONICAL_19[k]`` and
:data:`BANDPOWER_FEATURE_NAMES` name the electrodes. A bipolar-only session (montage ``"bipolar"``) is
featurised the same way over its 18 double-banana derivations (row ``k`` is ``DOUBLE_BANANA_NAMES[k]``,
row 18, masked, takes the mean): the vector has the same length but a column means something else, so a
probe trained on referential sessions reads bipolar ones only approximately.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuronarrator.corpus.sources.base import SFREQ_HZ
from neuronarrator.eval.signals import SessionSignal
from neuronarrator.io.channels import CANONICAL_19, DOUBLE_BANANA_NAMES
from neuronarrator.signal.bands import BANDS_HZ, integrate_bands, welch_psd

#: Bands of the baseline (Hz), a subset of :data:`neuronarrator.signal.bands.BANDS_HZ`.
BASELINE_BANDS: tuple[str, ...] = ("delta", "theta", "alpha", "beta")
BASELINE_BANDS_HZ: dict[str, tuple[float, float]] = {name: BANDS_HZ[name] for name in BASELINE_BANDS}
#: Welch segment length, s (0.25 Hz resolution).
WELCH_WINDOW_S = 4.0
#: Floor of an absolute band power before the logarithm, µV² (a flat but valid row gives -6, not -inf).
LOG_FLOOR_UV2 = 1e-6
#: Range searched for the posterior peak, Hz (slowed to fast posterior rhythms).
PEAK_SEARCH_HZ = (4.0, 14.0)
#: Rows whose mean density gives the posterior peak: occipital/parietal electrodes, or the derivations that
#: end at O1/O2 in a bipolar session.
POSTERIOR_ROWS = {
    "referential": tuple(CANONICAL_19.index(ch) for ch in ("O1", "O2", "P3", "P4")),
    "bipolar": tuple(DOUBLE_BANANA_NAMES.index(ch) for ch in ("P7-O1", "P3-O1", "P4-O2", "P8-O2")),
}

N_ROWS = len(CANONICAL_19)
#: Feature names: ``log10_<band>_uv2@<electrode>`` (19 x 4), ``rel_<band>@<electrode>`` (19 x 4),
#: ``posterior_peak_hz``; 153 in all.
BANDPOWER_FEATURE_NAMES: tuple[str, ...] = (
    *(f"log10_{band}_uv2@{ch}" for ch in CANONICAL_19 for band in BASELINE_BANDS),
    *(f"rel_{band}@{ch}" for ch in CANONICAL_19 for band in BASELINE_BANDS),
    "posterior_peak_hz",
)


def bandpower_features(session: SessionSignal) -> np.ndarray:
    """Band-power features of one session (see the module docstring).

    Parameters
    ----------
    session : SessionSignal
        ``data_uv`` (19, n_samples) in µV at 200 Hz, ``channel_mask`` (19,), ``montage``.

    Returns
    -------
    features : ndarray, shape (153,), float64
        In :data:`BANDPOWER_FEATURE_NAMES` order: log10 absolute band powers (log10 µV²), relative band
        powers (fractions of the 1-30 Hz power, summing to 1 per row), posterior peak frequency (Hz: the
        largest mean density of the valid posterior rows in 4-14 Hz, or of all valid rows when no posterior
        row is valid; 4 Hz or thereabouts when there is no posterior rhythm, the density then falling).
    """
    data = np.asarray(session.data_uv)
    if data.ndim != 2 or data.shape[0] != N_ROWS:
        raise ValueError(
            f"session {session.session_id}: data_uv must be ({N_ROWS}, n_samples), got {data.shape}"
        )
    freqs, psd = welch_psd(data, SFREQ_HZ, window_s=WELCH_WINDOW_S)  # (19, n_freqs) µV²/Hz
    power = integrate_bands(freqs, psd, BASELINE_BANDS_HZ)  # (19, 4) µV²
    total = power.sum(axis=1)
    valid = np.asarray(session.channel_mask, bool) & np.all(np.isfinite(psd), axis=1) & (total > 0)
    if not valid.any():
        raise ValueError(f"session {session.session_id}: no row holds data (mask, non-finite or flat rows)")

    log_power = np.log10(np.maximum(power, LOG_FLOOR_UV2))
    relative = power / np.where(valid, total, 1.0)[:, None]
    log_power[~valid] = log_power[valid].mean(axis=0)  # missing rows: mean of the valid rows
    relative[~valid] = relative[valid].mean(axis=0)

    posterior = [i for i in POSTERIOR_ROWS.get(session.montage, POSTERIOR_ROWS["referential"]) if valid[i]]
    rows = posterior or list(np.flatnonzero(valid))
    search = (freqs >= PEAK_SEARCH_HZ[0]) & (freqs <= PEAK_SEARCH_HZ[1])
    peak_hz = float(freqs[search][np.argmax(psd[rows][:, search].mean(axis=0))])
    return np.concatenate([log_power.ravel(), relative.ravel(), [peak_hz]])


def bandpower_matrix(sessions: Sequence[SessionSignal]) -> np.ndarray:
    """:func:`bandpower_features` of every session: shape (n_sessions, 153), float64."""
    if not sessions:
        return np.zeros((0, len(BANDPOWER_FEATURE_NAMES)))
    return np.stack([bandpower_features(s) for s in sessions])

"""Band-power baseline features of a session."""

import numpy as np
import pytest

from neuronarrator.corpus.sources.base import SFREQ_HZ
from neuronarrator.eval.bandpower import BANDPOWER_FEATURE_NAMES, bandpower_features, bandpower_matrix
from neuronarrator.eval.signals import SessionSignal
from neuronarrator.io.channels import CANONICAL_19

DURATION_S = 30.0


def _session(alpha_amp_uv: np.ndarray, mask=None, montage="referential", seed=0) -> SessionSignal:
    rng = np.random.default_rng(seed)
    t = np.arange(int(DURATION_S * SFREQ_HZ)) / SFREQ_HZ
    data = 5.0 * rng.normal(size=(19, t.size)) + alpha_amp_uv[:, None] * np.sin(2 * np.pi * 10.0 * t)
    mask = np.ones(19, bool) if mask is None else mask
    data[~mask] = 0.0
    return SessionSignal(data.astype(np.float32), mask, montage, "test:session")


def _posterior_alpha():
    amp = np.zeros(19)
    amp[[CANONICAL_19.index("O1"), CANONICAL_19.index("O2")]] = 40.0
    return amp


def _feature(features, name):
    return features[BANDPOWER_FEATURE_NAMES.index(name)]


def test_posterior_alpha_is_larger_at_occipital_electrodes():
    features = bandpower_features(_session(_posterior_alpha()))
    assert features.shape == (len(BANDPOWER_FEATURE_NAMES),) == (153,)
    for occipital in ("O1", "O2"):
        assert (
            _feature(features, f"log10_alpha_uv2@{occipital}") > _feature(features, "log10_alpha_uv2@Fp1") + 1
        )
        assert _feature(features, f"rel_alpha@{occipital}") > 0.8 > _feature(features, "rel_alpha@Fp1")
    assert _feature(features, "posterior_peak_hz") == pytest.approx(10.0, abs=0.25)
    relative = features[19 * 4 : 19 * 8].reshape(19, 4)
    np.testing.assert_allclose(relative.sum(axis=1), 1.0)


def test_absolute_alpha_power_is_in_uv2():
    # a 40 µV sine contributes 40**2 / 2 = 800 µV² to its band; 5 µV white noise adds 25 * 5 / 100
    features = bandpower_features(_session(_posterior_alpha()))
    assert 10 ** _feature(features, "log10_alpha_uv2@O1") == pytest.approx(800 + 25 * 5 / 100, rel=0.05)


def test_masked_rows_take_the_mean_of_valid_rows():
    mask = np.ones(19, bool)
    mask[[CANONICAL_19.index("Fp1"), CANONICAL_19.index("O2")]] = False
    features = bandpower_features(_session(_posterior_alpha(), mask))
    log_power = features[: 19 * 4].reshape(19, 4)
    valid = log_power[mask]
    np.testing.assert_allclose(log_power[CANONICAL_19.index("O2")], valid.mean(axis=0))
    np.testing.assert_allclose(log_power[CANONICAL_19.index("Fp1")], valid.mean(axis=0))
    assert np.all(np.isfinite(features))
    # with O2 gone the posterior peak still comes from O1
    assert _feature(features, "posterior_peak_hz") == pytest.approx(10.0, abs=0.25)


def test_bipolar_session_has_the_same_length_and_no_rows_means_error():
    mask = np.ones(19, bool)
    mask[18] = False  # the double banana fills rows 0-17
    amp = np.zeros(19)
    amp[[3, 7, 11, 15]] = 30.0  # the derivations ending at O1/O2
    features = bandpower_features(_session(amp, mask, montage="bipolar"))
    assert features.shape == (153,) and np.all(np.isfinite(features))
    assert _feature(features, "posterior_peak_hz") == pytest.approx(10.0, abs=0.25)
    with pytest.raises(ValueError, match="no row holds data"):
        bandpower_features(_session(amp, np.zeros(19, bool)))


def test_matrix_stacks_sessions():
    sessions = [_session(_posterior_alpha(), seed=s) for s in range(3)]
    matrix = bandpower_matrix(sessions)
    assert matrix.shape == (3, 153)
    np.testing.assert_array_equal(matrix[1], bandpower_features(sessions[1]))
    assert bandpower_matrix([]).shape == (0, 153)

"""Per-code calibration of finding presence probabilities: temperature scaling, isotonic, masks, ECE."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronarrator.models.calibration import (
    T_MAX,
    T_MIN,
    Calibration,
    label_mask,
    reliability,
    session_scores,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _synthetic(n: int = 4000, k: int = 3, scale: float = 3.0, seed: int = 0):
    """Labels drawn from sigmoid(true logit); the model reports ``scale`` × the true logit."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0.0, 2.0, size=(n, k)) + np.array([-1.0, 0.0, 1.0])[:k]
    labels = (rng.random((n, k)) < 1.0 / (1.0 + np.exp(-true))).astype(np.float32)
    return true * scale, labels


def test_temperature_recovers_known_scale_and_lowers_ece():
    logits, labels = _synthetic(scale=3.0)
    cal = Calibration.fit(logits, labels)
    assert cal.method == "temperature" and all(cal.fitted)
    assert np.allclose(cal.temperature, 3.0, rtol=0.12), cal.temperature
    before = reliability(1 / (1 + np.exp(-logits)), labels)
    after = reliability(cal.apply(logits), labels)
    assert after["ece"] < before["ece"] / 2 and after["ece"] < 0.03
    assert sum(b[2] for b in after["bins"]) == logits.size == after["n"]
    # under-confident logits give T < 1; a Tensor is accepted as well
    cal2 = Calibration.fit(torch.from_numpy(logits / 6.0), torch.from_numpy(labels))
    assert np.allclose(cal2.temperature, 0.5, rtol=0.12)


def test_unfittable_codes_keep_identity_and_clamp():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(200, 3))
    labels = np.zeros((200, 3))
    labels[:, 1] = 1.0  # no negatives
    labels[:, 2] = logits[:, 2] > 0  # separable: the NLL wants T -> 0
    cal = Calibration.fit(logits, labels)
    assert cal.fitted == [False, False, True]
    assert cal.temperature[:2] == [1.0, 1.0] and cal.n_pos[0] == 0 and cal.n_neg[1] == 0
    assert T_MIN <= cal.temperature[2] <= T_MAX and cal.temperature[2] == pytest.approx(T_MIN)
    probs = cal.apply(logits)
    assert np.allclose(probs[:, :2], 1 / (1 + np.exp(-logits[:, :2])))


def test_masked_labels_are_excluded():
    logits, labels = _synthetic(n=3000, k=1, scale=3.0, seed=2)
    # partial rows: the absent codes there are unknown -- corrupt their logits to be confidently positive
    complete = np.ones(len(labels), bool)
    complete[:1000] = False
    corrupted = logits.copy()
    unknown = (~complete[:, None]) & (labels == 0)
    corrupted[unknown] = 30.0
    mask = label_mask(labels, complete)
    assert mask.shape == labels.shape and not mask[unknown].any() and mask[labels > 0].all()
    masked = Calibration.fit(corrupted, labels, mask)
    unmasked = Calibration.fit(corrupted, labels)
    reference = Calibration.fit(logits[mask[:, 0]], labels[mask[:, 0]])
    assert masked.temperature[0] == pytest.approx(reference.temperature[0], rel=1e-3)
    assert abs(unmasked.temperature[0] - masked.temperature[0]) > 1.0
    # ECE ignores the masked pairs too
    probs = masked.apply(corrupted)
    assert reliability(probs, labels, mask=mask)["n"] == int(mask.sum())
    assert reliability(probs, labels, mask=mask)["ece"] < reliability(probs, labels)["ece"]


def test_isotonic_option():
    logits, labels = _synthetic(scale=3.0, seed=3)
    cal = Calibration.fit(logits, labels, method="isotonic")
    assert cal.method == "isotonic" and all(p is not None for p in cal.isotonic)
    probs = cal.apply(logits)
    assert probs.shape == logits.shape and probs.min() >= 0 and probs.max() <= 1
    before = reliability(1 / (1 + np.exp(-logits)), labels)["ece"]
    assert reliability(probs, labels)["ece"] < before / 2
    # monotone in the logit, and clipped outside the fitted range
    grid = np.linspace(-50, 50, 101)[:, None].repeat(3, 1)
    out = cal.apply(grid)
    assert (np.diff(out, axis=0) >= -1e-12).all()
    with pytest.raises(ValueError, match="unknown"):
        Calibration.fit(logits, labels, method="histogram")


@pytest.mark.parametrize("method", ["temperature", "isotonic", "platt"])
def test_dict_round_trip(method):
    logits, labels = _synthetic(n=500, seed=4)
    labels[:, 0] = 0.0  # one unfitted code
    cal = Calibration.fit(logits, labels, method=method, codes=["a", "b", "c"])
    data = cal.to_dict()
    # plain containers only: what a weights_only checkpoint manifest can hold
    torch.save({"c": data}, buffer := __import__("io").BytesIO())
    buffer.seek(0)
    again = Calibration.from_dict(torch.load(buffer, weights_only=True)["c"])
    assert again == cal and again.codes == ["a", "b", "c"] and again.fitted[0] is False
    assert np.array_equal(again.apply(logits), cal.apply(logits))
    identity = Calibration.identity(3)
    assert np.allclose(identity.apply(logits), 1 / (1 + np.exp(-logits)))
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        cal.apply(logits[:, :2])


def test_reliability_bins():
    probs = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    labels = np.array([0, 1, 1, 1, 0])
    r = reliability(probs, labels, n_bins=10)
    assert len(r["bins"]) == 10 and r["bins"][0] == (0.05, 0.5, 2) and r["bins"][9] == (0.95, 1.0, 2)
    assert r["bins"][5] == (0.55, 0.0, 1) and r["bins"][3] == (None, None, 0)
    assert r["ece"] == pytest.approx((2 * 0.45 + 2 * 0.05 + 0.55) / 5)
    assert r["mce"] == pytest.approx(0.55)
    assert reliability(probs, labels, mask=np.zeros(5, bool))["ece"] is None


def test_platt_moves_the_threshold_that_temperature_cannot():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 1)) * 2.0
    y = (rng.random((2000, 1)) < 1.0 / (1.0 + np.exp(-(x / 2.0 - 1.5)))).astype(float)  # T = 2, b = -1.5
    platt = Calibration.fit(x, y, method="platt")
    from sklearn.linear_model import LogisticRegression

    ref = LogisticRegression(C=1e6).fit(x, y[:, 0])  # the unregularised maximum-likelihood fit
    assert platt.temperature[0] == pytest.approx(1 / ref.coef_[0, 0], rel=0.02)
    assert platt.bias[0] == pytest.approx(ref.intercept_[0], abs=0.02)
    temp = Calibration.fit(x, y, method="temperature")
    assert temp.bias == [0.0]
    at_zero = np.zeros((1, 1))
    assert temp.apply(at_zero)[0, 0] == pytest.approx(0.5)  # temperature keeps p(0) = 0.5
    assert platt.apply(at_zero)[0, 0] < 0.3  # Platt moves it where the data say (≈ sigmoid(-1.5) = 0.18)
    nll = lambda p: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))  # noqa: E731
    assert nll(platt.apply(x)) < nll(temp.apply(x))


def test_platt_ridge_keeps_a_two_positive_code_moderate():
    x = np.linspace(-3, 3, 40)[:, None]
    y = np.zeros((40, 1))
    y[[-1, -3]] = 1.0
    cal = Calibration.fit(x, y, method="platt")
    assert abs(cal.bias[0]) < 10 and T_MIN <= cal.temperature[0] <= T_MAX
    assert cal.apply(np.array([[3.0]]))[0, 0] > cal.apply(np.array([[-3.0]]))[0, 0]


def test_session_scores_take_the_max_and_a_session_calibration_round_trips():
    probs = np.array([[0.1, 0.9], [0.7, 0.2], [0.3, 0.4], [0.2, 0.1]])
    labels = np.array([[0, 1], [1, 0], [0, 0], [0, 1]])
    mask = np.array([[True, True], [True, True], [True, True], [False, True]])
    scores, y, m, ids = session_scores(probs, labels, mask, ["b", "b", "a", "a"])
    assert ids == ["b", "a"]
    np.testing.assert_allclose(scores, [[0.7, 0.9], [0.3, 0.4]])
    np.testing.assert_array_equal(y, [[1, 1], [0, 1]])
    np.testing.assert_array_equal(m, [[True, True], [True, True]])

    seg = Calibration.identity(2, ("x", "y"))
    seg.session = Calibration("platt", [2.0, 1.0], [True, True], [None, None], ["x", "y"], [1, 1], [1, 1], [-1.0, 0.5])
    back = Calibration.from_dict(seg.to_dict())
    assert back.session is not None and back.session.bias == [-1.0, 0.5]
    p = np.array([[0.5, 0.5]])
    np.testing.assert_allclose(back.session.apply_probabilities(p), [[1 / (1 + np.e), 1 / (1 + np.exp(-0.5))]])
    assert Calibration.from_dict(Calibration.identity(2).to_dict()).session is None

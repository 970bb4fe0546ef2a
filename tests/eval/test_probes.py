"""Linear probes: recover a linear signal, stay at chance on noise, handle unknowns and bad features."""

import numpy as np
import pytest
from scipy.special import expit

from neuronarrator.eval.metrics import paired_mean_difference
from neuronarrator.eval.probes import C_GRID, FALLBACK_C, evaluate_probes, fit_probe

D = 16


def _split(n, seed, weights):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D))
    y = (x @ weights > 0).astype(float)
    return x, y, np.arange(n) // 2  # two sessions per patient


@pytest.fixture(scope="module")
def data():
    weights = np.random.default_rng(0).normal(size=D)
    return _split(200, 1, weights), _split(150, 2, weights)


def test_probe_recovers_separable_signal_and_is_chance_on_noise(data):
    (x_tr, y_tr, g_tr), (x_ev, y_ev, g_ev) = data
    rng = np.random.default_rng(3)
    labels_tr = {"signal": y_tr, "noise": rng.integers(0, 2, y_tr.size).astype(float)}
    labels_ev = {"signal": y_ev, "noise": rng.integers(0, 2, y_ev.size).astype(float)}
    rows, scores = evaluate_probes(x_tr, labels_tr, g_tr, x_ev, labels_ev, g_ev, n_boot=200, seed=0)
    by_task = {r["task"]: r for r in rows}
    signal, noise = by_task["signal"], by_task["noise"]
    assert signal["auroc"] > 0.95 and signal["balanced_accuracy"] > 0.85
    assert signal["auroc_lo"] < signal["auroc"] < signal["auroc_hi"]
    assert signal["c_selection"] == "cv" and signal["C"] in C_GRID and signal["cv_auroc"] > 0.9
    assert 0.38 < noise["auroc"] < 0.62 and noise["auroc_lo"] < 0.5 < noise["auroc_hi"]
    assert signal["skipped"] is None and (signal["n_train"], signal["n_eval"]) == (200, 150)
    assert set(scores) == {"signal", "noise"} and scores["signal"].shape == (150,)
    # the scores feed the paired comparison: the signal probe beats a random scorer
    random_scores = {k: rng.normal(size=150) for k in scores}
    out = paired_mean_difference({"signal": y_ev}, scores, random_scores, g_ev, n_boot=100)
    assert out["ci"][0] > 0.3


def test_unknown_labels_are_left_out_and_unevaluable_tasks_reported(data):
    (x_tr, y_tr, g_tr), (x_ev, y_ev, g_ev) = data
    y_tr_partial, y_ev_partial = y_tr.copy(), y_ev.copy()
    y_tr_partial[::3] = np.nan
    y_ev_partial[1::4] = np.nan
    rare = np.zeros_like(y_tr)
    rare[:2] = 1
    rows, scores = evaluate_probes(
        x_tr, {"partial": y_tr_partial, "rare": rare}, g_tr,
        x_ev, {"partial": y_ev_partial, "rare": y_ev}, g_ev, n_boot=50,
    )  # fmt: skip
    partial, rare_row = rows
    assert partial["n_train"] == int(np.isfinite(y_tr_partial).sum())
    assert partial["n_eval"] == int(np.isfinite(y_ev_partial).sum())
    assert partial["auroc"] > 0.9
    assert np.array_equal(np.isnan(scores["partial"]), np.isnan(y_ev_partial))
    assert rare_row["skipped"].startswith("train: 2 positive") and np.isnan(rare_row["auroc"])
    assert "rare" not in scores


def test_constant_features_are_harmless_and_nan_features_are_named(data):
    (x_tr, y_tr, g_tr), (x_ev, _, _) = data
    x = np.c_[x_tr, np.ones(len(x_tr)), np.zeros(len(x_tr))]
    probe = fit_probe(x, y_tr, g_tr)
    assert np.all(np.isfinite(probe.decision(np.c_[x_ev, np.ones(len(x_ev)), np.zeros(len(x_ev))])))
    bad = x_tr.copy()
    bad[3, 1] = bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="2 non-finite"):
        fit_probe(bad, y_tr, g_tr)
    with pytest.raises(ValueError, match="x_eval has 2 non-finite"):
        evaluate_probes(x_tr, {"t": y_tr}, g_tr, bad[:150], {"t": y_tr[:150]}, g_tr[:150], n_boot=10)


def test_too_few_patients_falls_back_to_default_c():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, D))
    y = np.zeros(40)
    y[:6] = 1
    groups = np.r_[np.zeros(6), np.arange(1, 35)]  # all positives belong to one patient
    x[:6] += 2.0
    probe = fit_probe(x, y, groups)
    assert probe.c == FALLBACK_C and probe.c_selection.startswith("fallback") and np.isnan(probe.cv_auroc)
    assert probe.decision(x[:6]).mean() > probe.decision(x[6:]).mean()


def test_decision_is_log_odds(data):
    (x_tr, y_tr, g_tr), _ = data
    probe = fit_probe(x_tr, y_tr, g_tr)
    proba = probe.model.predict_proba(probe.scaler.transform(x_tr))[:, 1]
    np.testing.assert_allclose(expit(probe.decision(x_tr)), proba, rtol=1e-9, atol=1e-12)

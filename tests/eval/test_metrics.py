"""Binary metrics against scikit-learn, and the patient-clustered (paired) bootstrap."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score

from neuronarrator.eval.metrics import binary_metrics, bootstrap_ci, paired_mean_difference


@pytest.mark.parametrize("seed", range(20))
def test_metrics_match_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    score = rng.normal(size=n) + y * rng.uniform(0, 2)
    if seed % 2:
        score = np.round(score, 1)  # many ties
    threshold = float(rng.normal(scale=0.5))
    m = binary_metrics(y, score, threshold)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert m["aupr"] == pytest.approx(average_precision_score(y, score), abs=1e-12)
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, score > threshold), abs=1e-12)
    assert (m["n"], m["n_pos"]) == (n, int(y.sum()))


def test_all_tied_scores_and_single_class():
    y = np.array([0, 1, 0, 1, 1])
    m = binary_metrics(y, np.zeros(5))
    assert m["auroc"] == 0.5
    assert m["aupr"] == pytest.approx(average_precision_score(y, np.zeros(5)))
    single = binary_metrics(np.ones(4), np.arange(4.0))
    assert np.isnan(single["auroc"]) and np.isnan(single["aupr"]) and np.isnan(single["balanced_accuracy"])


def test_unknown_labels_are_refused():
    with pytest.raises(ValueError, match="0 and 1"):
        binary_metrics(np.array([0, 1, np.nan]), np.zeros(3))


def _data(n, seed, separation=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, rng.normal(size=n) + separation * y


def test_ci_contains_point_and_narrows_with_more_data():
    widths = []
    for n in (100, 1600):
        y, score = _data(n, seed=n)
        point = binary_metrics(y, score)
        ci = bootstrap_ci(y, score, np.arange(n) // 2, n_boot=500, seed=1)
        for metric in ("auroc", "aupr", "balanced_accuracy"):
            lo, hi = ci[metric]
            assert lo < point[metric] < hi
        assert ci["n_boot"] == 500 and ci["n_skipped"] == 0
        widths.append(ci["auroc"][1] - ci["auroc"][0])
    assert widths[1] < 0.5 * widths[0]  # 16x the data: about a quarter of the width


def test_bootstrap_is_deterministic_per_seed():
    y, score = _data(80, seed=3)
    groups = np.arange(80) // 4
    assert bootstrap_ci(y, score, groups, n_boot=200, seed=7) == bootstrap_ci(
        y, score, groups, n_boot=200, seed=7
    )
    assert bootstrap_ci(y, score, groups, n_boot=200, seed=7) != bootstrap_ci(
        y, score, groups, n_boot=200, seed=8
    )


def test_clustered_is_wider_when_patients_repeat_sessions():
    y, score = _data(60, seed=5)
    y, score = np.repeat(y, 5), np.repeat(score, 5)  # each patient: 5 identical sessions
    patients = np.repeat(np.arange(60), 5)
    clustered = bootstrap_ci(y, score, patients, n_boot=1000, seed=0)["auroc"]
    naive = bootstrap_ci(y, score, np.arange(y.size), n_boot=1000, seed=0)["auroc"]
    assert clustered[1] - clustered[0] > 1.7 * (naive[1] - naive[0])  # ~sqrt(5) = 2.2 expected


def test_single_class_resamples_are_skipped_and_counted():
    y = np.array([1, 0, 0, 0, 0, 0])
    score = np.array([2.0, 0.1, 0.3, -1.0, 0.0, 0.5])
    ci = bootstrap_ci(y, score, np.arange(6), n_boot=400, seed=0)
    # P(no positive drawn) = (5/6)^6 = 0.33
    assert 80 < ci["n_skipped"] < 190
    assert ci["auroc"] == (1.0, 1.0)


def test_paired_difference_excludes_zero_when_a_is_better():
    rng = np.random.default_rng(0)
    n, patients = 300, np.repeat(np.arange(100), 3)
    tasks, a, b = {}, {}, {}
    for k in range(6):
        y = rng.integers(0, 2, n).astype(float)
        y[rng.random(n) < 0.1] = np.nan  # unknown labels are left out
        tasks[f"t{k}"] = y
        noise = rng.normal(size=n)
        a[f"t{k}"] = 1.5 * np.nan_to_num(y) + noise
        b[f"t{k}"] = 0.5 * np.nan_to_num(y) + noise + rng.normal(size=n)
    out = paired_mean_difference(tasks, a, b, patients, n_boot=300, seed=0)
    assert out["n_tasks"] == 6 and out["wins_a"] == 6
    assert out["diff"] == pytest.approx(out["mean_a"] - out["mean_b"])
    lo, hi = out["ci"]
    assert 0 < lo < out["diff"] < hi
    swapped = paired_mean_difference(tasks, b, a, patients, n_boot=300, seed=0)
    assert swapped["ci"][1] < 0 and swapped["wins_a"] == 0


def test_paired_difference_of_identical_methods_is_zero_and_ties():
    y, score = _data(100, seed=2)
    tasks = {"x": y.astype(float), "y": 1.0 - y}
    scores = {"x": score, "y": -score}
    out = paired_mean_difference(
        tasks, scores, scores, {"x": np.arange(100), "y": np.arange(100)}, n_boot=100
    )
    assert out["diff"] == 0 and out["ci"] == (0.0, 0.0)
    assert out["ties"] == 2 and out["wins_a"] == 0


def test_paired_difference_of_equal_methods_covers_zero():
    rng = np.random.default_rng(4)
    n = 200
    tasks = {f"t{k}": rng.integers(0, 2, n).astype(float) for k in range(5)}
    a = {k: v + rng.normal(size=n) for k, v in tasks.items()}
    b = {k: v + rng.normal(size=n) for k, v in tasks.items()}
    lo, hi = paired_mean_difference(tasks, a, b, np.arange(n) // 2, n_boot=400, seed=1)["ci"]
    assert lo < 0 < hi

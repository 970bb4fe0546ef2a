"""Binary metrics of the probe benchmark and their patient-clustered bootstrap.

Every metric is computed for *weighted* sessions, a weight being how many times the session occurs in
the sample: the point estimate uses weight 1 everywhere, and a bootstrap resample of patients gives each
session the number of times its patient was drawn. A weighted metric equals the metric of the resampled
data set with the sessions repeated, so all resamples of a batch are computed at once as matrix
operations over ``(n_resamples, n_sessions)`` weights, after sorting the scores once.

- AUROC: the Mann-Whitney statistic, a tied positive-negative pair counting 1/2 (the value of
  ``sklearn.metrics.roc_auc_score``).
- AUPR: average precision, ``sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds, tied scores
  entering together (``sklearn.metrics.average_precision_score``).
- Balanced accuracy: mean of sensitivity and specificity of the decision ``score > threshold``.

A metric is NaN when the sample holds a single class. The bootstrap is a percentile bootstrap that
resamples patients (clusters) with replacement and keeps all their sessions, since sessions of one
patient are not independent; resamples with a single class are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Metrics reported by :func:`binary_metrics` and bootstrapped by :func:`bootstrap_ci`.
METRICS = ("auroc", "aupr", "balanced_accuracy")
#: Default number of bootstrap resamples.
N_BOOT = 1000
#: Default two-sided level: a (1 - alpha) percentile interval.
ALPHA = 0.05
#: Most float64 values of one ``(resamples, sessions)`` weight block: bounds memory (32 MiB) for large sets.
MAX_BLOCK_VALUES = 1 << 22


def _check(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != score.shape:
        raise ValueError(f"y has {y.size} values but score has {score.size}")
    if not np.all(np.isfinite(y)) or not np.all(np.isin(y, (0.0, 1.0))):
        raise ValueError("y must hold only 0 and 1 (drop unknown labels first)")
    if not np.all(np.isfinite(score)):
        raise ValueError(f"score has {int(np.sum(~np.isfinite(score)))} non-finite values")
    return y, score


def _level_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of ``values`` (..., n) over runs of tied scores beginning at ``starts``: (..., n_levels)."""
    if starts.size == values.shape[-1]:  # no ties: every session is its own level
        return values
    return np.add.reduceat(values, starts, axis=-1)


def _weighted_metrics(
    y: np.ndarray, score: np.ndarray, weights: np.ndarray, threshold: float, auroc_only: bool = False
) -> dict[str, np.ndarray]:
    """AUROC, AUPR and balanced accuracy for every row of ``weights``.

    Parameters
    ----------
    y : ndarray, shape (n,)
        0 / 1.
    score : ndarray, shape (n,)
    weights : ndarray, shape (n_rows, n)
        Non-negative multiplicities of the sessions.
    threshold : float
    auroc_only : bool
        Compute the AUROC alone (the paired bootstrap needs nothing else).

    Returns
    -------
    dict of str -> ndarray, shape (n_rows,)
        NaN in rows whose weighted sample has no positive or no negative.
    """
    order = np.argsort(-score, kind="stable")  # descending: thresholds from the highest score down
    s, yy, w = score[order], y[order], weights[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos = _level_sums(w * yy, starts)  # (n_rows, n_levels), levels in descending score
    neg = _level_sums(w * (1.0 - yy), starts)
    w_pos, w_neg = pos.sum(axis=1), neg.sum(axis=1)
    defined = (w_pos > 0) & (w_neg > 0)
    safe_pos = np.where(defined, w_pos, 1.0)
    safe_neg = np.where(defined, w_neg, 1.0)

    # AUROC: each positive beats the negatives below its level and ties half of those at it.
    neg_below = w_neg[:, None] - np.cumsum(neg, axis=1)
    auroc = np.sum(pos * (neg_below + 0.5 * neg), axis=1) / (safe_pos * safe_neg)
    if auroc_only:
        return {"auroc": np.where(defined, auroc, np.nan)}

    # AUPR: recall steps (pos / P) times the precision at each threshold.
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    called = tp + fp
    precision = np.divide(tp, called, out=np.zeros_like(tp), where=called > 0)
    aupr = np.sum(pos * precision, axis=1) / safe_pos

    above = s > threshold
    sensitivity = (w * (yy * above)).sum(axis=1) / safe_pos
    specificity = (w * ((1.0 - yy) * ~above)).sum(axis=1) / safe_neg
    balanced = 0.5 * (sensitivity + specificity)
    return {
        name: np.where(defined, v, np.nan) for name, v in zip(METRICS, (auroc, aupr, balanced), strict=True)
    }


def binary_metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.0) -> dict[str, float]:
    """AUROC, AUPR and balanced accuracy of one set of scores (see the module docstring).

    Parameters
    ----------
    y : array, shape (n,)
        Labels, 0 or 1 (no unknowns).
    score : array, shape (n,)
        Higher means more likely positive (e.g. a probe's log-odds).
    threshold : float
        Balanced accuracy is that of ``score > threshold`` (0: log-odds of a balanced probe).

    Returns
    -------
    dict
        ``auroc``, ``aupr``, ``balanced_accuracy`` (float, NaN with a single class), ``n`` and ``n_pos`` (int).
    """
    y, score = _check(y, score)
    values = (
        _weighted_metrics(y, score, np.ones((1, y.size)), threshold)
        if y.size
        else {m: [np.nan] for m in METRICS}
    )
    out: dict[str, float] = {name: float(values[name][0]) for name in METRICS}
    out["n"] = int(y.size)
    out["n_pos"] = int(y.sum())
    return out


def _group_codes(groups: np.ndarray | Sequence, n: int) -> tuple[np.ndarray, int]:
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must have one entry per session ({n}), got shape {groups.shape}")
    _, codes = np.unique(groups, return_inverse=True)
    return codes.ravel(), int(codes.max()) + 1 if n else 0


def _patient_counts(rng: np.random.Generator, n_boot: int, n_groups: int) -> np.ndarray:
    """How often each of ``n_groups`` patients is drawn in each of ``n_boot`` resamples: (n_boot, n_groups)."""
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
    flat = draws + n_groups * np.arange(n_boot)[:, None]
    return np.bincount(flat.ravel(), minlength=n_boot * n_groups).reshape(n_boot, n_groups).astype(np.float64)


def _percentile(values: np.ndarray, alpha: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (np.nan, np.nan)
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def bootstrap_ci(
    y: np.ndarray,
    score: np.ndarray,
    groups: np.ndarray | Sequence,
    n_boot: int = N_BOOT,
    seed: int = 0,
    alpha: float = ALPHA,
    threshold: float = 0.0,
) -> dict[str, Any]:
    """Patient-clustered percentile bootstrap intervals of :func:`binary_metrics`.

    Each resample draws as many patients as there are, with replacement, and takes all the sessions of
    every drawn patient (as often as it was drawn).

    Parameters
    ----------
    y : array, shape (n,)
        0 / 1 labels.
    score : array, shape (n,)
    groups : array, shape (n,)
        Patient of each session (any hashable values); pass ``np.arange(n)`` for an unclustered bootstrap.
    n_boot : int
        Number of resamples.
    seed : int
    alpha : float
        The interval is the ``alpha / 2`` and ``1 - alpha / 2`` quantiles of the resampled metric.
    threshold : float
        Of the balanced accuracy.

    Returns
    -------
    dict
        ``auroc``, ``aupr``, ``balanced_accuracy`` -> ``(lo, hi)`` (NaN when no resample had both classes);
        ``n_boot`` (int): resamples drawn; ``n_skipped`` (int): those with a single class, left out.
    """
    y, score = _check(y, score)
    codes, n_groups = _group_codes(groups, y.size)
    rng = np.random.default_rng(seed)
    values = {m: np.full(n_boot, np.nan) for m in METRICS}
    if y.size:
        block = max(1, MAX_BLOCK_VALUES // max(y.size, n_groups))
        for start in range(0, n_boot, block):
            stop = min(n_boot, start + block)
            weights = _patient_counts(rng, stop - start, n_groups)[:, codes]
            for name, v in _weighted_metrics(y, score, weights, threshold).items():
                values[name][start:stop] = v
    out: dict[str, Any] = {name: _percentile(values[name], alpha) for name in METRICS}
    out["n_boot"] = int(n_boot)
    out["n_skipped"] = int(np.sum(~np.isfinite(values["auroc"])))
    return out


def paired_mean_difference(
    tasks_y: Mapping[str, np.ndarray],
    scores_a: Mapping[str, np.ndarray],
    scores_b: Mapping[str, np.ndarray],
    groups: Mapping[str, np.ndarray] | np.ndarray | Sequence,
    n_boot: int = N_BOOT,
    seed: int = 0,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Mean AUROC over tasks of two methods and a paired, patient-clustered bootstrap of the difference.

    All tasks and both methods share each resample: patients are drawn once per resample (from the union
    of the patients of all tasks), and every task weights its sessions by their patient's count, so the
    interval accounts for the correlation between tasks and between methods on the same patients. A task
    left with a single class in a resample drops out of that resample's mean for *both* methods (whether
    it does depends on the labels only); ``n_incomplete`` counts such resamples.

    Parameters
    ----------
    tasks_y : mapping str -> array, shape (n_task,)
        Labels per task, 1 / 0 / NaN (unknown: left out, with the scores at those positions).
    scores_a, scores_b : mapping str -> array, shape (n_task,)
        Scores of method a and of method b for the same sessions (keys: at least those of ``tasks_y``).
    groups : mapping str -> array (n_task,), or one array (n,)
        Patient of each session, per task or shared by all tasks (then every task has the same sessions).
    n_boot, seed, alpha
        As in :func:`bootstrap_ci`.

    Returns
    -------
    dict
        ``mean_a``, ``mean_b``, ``diff`` (``mean_a - mean_b``) over the tasks with both classes;
        ``ci`` = (lo, hi) of the difference; ``wins_a``, ``ties``: tasks where a's AUROC is higher / equal;
        ``n_tasks``; ``n_boot``; ``n_incomplete`` (resamples where some task had a single class);
        ``n_skipped`` (resamples where every task did, left out).
    """
    prepared = []
    for name, labels in tasks_y.items():
        task_groups = groups[name] if isinstance(groups, Mapping) else groups
        y = np.asarray(labels, dtype=np.float64)
        known = np.isfinite(y)
        arrays = [np.asarray(x) for x in (scores_a[name], scores_b[name], task_groups)]
        if any(a.shape != y.shape for a in arrays):
            raise ValueError(f"task {name!r}: labels, scores and groups differ in length")
        yk, a = _check(y[known], arrays[0][known])
        _, b = _check(yk, arrays[1][known])
        if 0 < yk.sum() < yk.size:
            prepared.append((name, yk, a, b, arrays[2][known]))
    if not prepared:
        raise ValueError("no task has both classes among its known labels")

    patients, inverse = np.unique(np.concatenate([p[4] for p in prepared]), return_inverse=True)
    bounds = np.cumsum([0] + [p[1].size for p in prepared])
    codes = [inverse.ravel()[bounds[i] : bounds[i + 1]] for i in range(len(prepared))]

    ones = {name: np.ones((1, yk.size)) for name, yk, *_ in prepared}
    auc_a = np.array([_weighted_metrics(yk, a, ones[n], 0.0)["auroc"][0] for n, yk, a, _, _ in prepared])
    auc_b = np.array([_weighted_metrics(yk, b, ones[n], 0.0)["auroc"][0] for n, yk, _, b, _ in prepared])

    rng = np.random.default_rng(seed)
    diffs = np.full(n_boot, np.nan)
    n_incomplete = 0
    block = max(1, MAX_BLOCK_VALUES // max(int(bounds[-1]), patients.size))
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        counts = _patient_counts(rng, stop - start, patients.size)
        boot_a = np.empty((stop - start, len(prepared)))
        boot_b = np.empty_like(boot_a)
        for j, (_, yk, a, b, _) in enumerate(prepared):
            weights = counts[:, codes[j]]
            boot_a[:, j] = _weighted_metrics(yk, a, weights, 0.0, auroc_only=True)["auroc"]
            boot_b[:, j] = _weighted_metrics(yk, b, weights, 0.0, auroc_only=True)["auroc"]
        valid = np.isfinite(boot_a)  # same pattern for b: it depends on labels and weights only
        n_incomplete += int(np.sum(~valid.all(axis=1)))
        n_valid = valid.sum(axis=1)
        with np.errstate(invalid="ignore"):
            diffs[start:stop] = np.where(valid, boot_a - boot_b, 0.0).sum(axis=1) / np.where(
                n_valid, n_valid, np.nan
            )

    mean_a, mean_b = float(auc_a.mean()), float(auc_b.mean())
    return {
        "mean_a": mean_a,
        "mean_b": mean_b,
        "diff": mean_a - mean_b,
        "ci": _percentile(diffs, alpha),
        "wins_a": int(np.sum(auc_a > auc_b)),
        "ties": int(np.sum(auc_a == auc_b)),
        "n_tasks": len(prepared),
        "n_boot": int(n_boot),
        "n_incomplete": n_incomplete,
        "n_skipped": int(np.sum(~np.isfinite(diffs))),
    }

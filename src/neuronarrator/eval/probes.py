"""Linear probes on frozen session embeddings: CLEF's clinical benchmark protocol.

A probe is a standardisation (fitted on the training sessions) followed by an L2-regularised logistic
regression with balanced class weights, so that rare findings are not ignored and a decision of 0
(log-odds) separates the classes as if they were equally frequent. Its inverse regularisation strength
``C`` is chosen from :data:`C_GRID` by patient-grouped cross-validation on the training sessions alone
(AUROC, folds that never split a patient); when the training set has too few patients of either class for
:data:`MIN_FOLDS` folds, ``C`` falls back to :data:`FALLBACK_C`, and the probe records why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits  # a scikit-learn dependency

from neuronarrator.eval.metrics import METRICS, N_BOOT, binary_metrics, bootstrap_ci
from neuronarrator.eval.tasks import MIN_PER_CLASS, usable_tasks

#: Inverse L2 strengths tried by cross-validation (log grid, 1e-4 to 1e2).
C_GRID: tuple[float, ...] = tuple(10.0**k for k in range(-4, 3))
#: C used when cross-validation is not possible.
FALLBACK_C = 1.0
#: Most folds of the cross-validation; fewer when fewer patients carry a class.
MAX_FOLDS = 5
#: Fewest folds for which ``C`` is cross-validated rather than fixed.
MIN_FOLDS = 2
#: Iteration cap of the L-BFGS solver (standardised features converge in far fewer).
MAX_ITER = 2000
#: BLAS threads while fitting: probe problems are small (hundreds of sessions), and thread start-up
#: dominated them (a 7-C grid on 240 x 64 features took 0.7 s with the default threads on 2 cores,
#: 0.03 s with one).
BLAS_THREADS = 1


def _check_features(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{what} must be (n_sessions, n_features), got shape {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        rows = int(bad.any(axis=1).sum())
        raise ValueError(f"{what} has {int(bad.sum())} non-finite (NaN/inf) values in {rows} sessions")
    return x


def _classifier(c: float, seed: int, warm_start: bool = False) -> LogisticRegression:
    # L2 is LogisticRegression's default penalty (l1_ratio=0); ``penalty`` is deprecated in sklearn 1.8+.
    return LogisticRegression(
        C=c, class_weight="balanced", max_iter=MAX_ITER, random_state=seed, warm_start=warm_start
    )


@dataclass(frozen=True)
class Probe:
    """A fitted linear probe.

    Attributes
    ----------
    scaler : StandardScaler
        Fitted on the training features (zero-variance features are left centred, scale 1).
    model : LogisticRegression
    c : float
        The inverse L2 strength used.
    c_selection : str
        ``"cv"`` (chosen by grouped cross-validation) or ``"fallback: <why>"``.
    cv_auroc : float
        Mean validation AUROC of the chosen C (NaN with the fallback).
    n_train, n_pos_train : int
    """

    scaler: StandardScaler
    model: LogisticRegression
    c: float
    c_selection: str
    cv_auroc: float
    n_train: int
    n_pos_train: int

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Log-odds of the positive class, shape (n,), for features ``x`` of shape (n, d)."""
        x = _check_features(x, "x")
        return self.model.decision_function(self.scaler.transform(x))


def _cv_folds(
    y: np.ndarray, groups: np.ndarray, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Patient-grouped stratified folds whose training and validation parts hold both classes."""
    n_folds = min(MAX_FOLDS, np.unique(groups[y == 1]).size, np.unique(groups[y == 0]).size)
    if n_folds < MIN_FOLDS:
        return [], f"fallback: {n_folds} patients in the smaller class (< {MIN_FOLDS} folds)"
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = [
        (train, val)
        for train, val in splitter.split(np.zeros(y.size), y, groups)
        if 0 < y[train].sum() < train.size and 0 < y[val].sum() < val.size
    ]
    if not folds:
        return [], "fallback: no fold had both classes on both sides"
    return folds, "cv"


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, groups_train: np.ndarray, seed: int = 0) -> Probe:
    """Fit a probe, choosing C by patient-grouped cross-validation (see the module docstring).

    Parameters
    ----------
    x_train : array, shape (n, d)
        Frozen embeddings / features; must be finite.
    y_train : array, shape (n,)
        0 / 1 labels, both classes present.
    groups_train : array, shape (n,)
        Patient of each session (folds never split a patient).
    seed : int
        Fold shuffling and solver seed.

    Returns
    -------
    Probe
    """
    x = _check_features(x_train, "x_train")
    y = np.asarray(y_train, dtype=np.float64)
    groups = np.asarray(groups_train)
    if y.shape != (x.shape[0],) or groups.shape != y.shape:
        raise ValueError(f"x_train has {x.shape[0]} rows, y_train {y.shape}, groups_train {groups.shape}")
    if not np.all(np.isin(y, (0.0, 1.0))) or y.min() == y.max():
        raise ValueError("y_train must hold 0 and 1 only, both present (drop unknown labels first)")

    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        return _fit(x, y.astype(int), groups, seed)


def _fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> Probe:
    folds, selection = _cv_folds(y, groups, seed)
    best_c, best_auroc = FALLBACK_C, np.nan
    if folds:
        scores = np.zeros((len(folds), len(C_GRID)))
        for i, (train, val) in enumerate(folds):
            scaler = StandardScaler().fit(x[train])
            x_fit, x_val = scaler.transform(x[train]), scaler.transform(x[val])
            model = _classifier(
                C_GRID[0], seed, warm_start=True
            )  # ascending C: each fit starts from the last
            for j, c in enumerate(C_GRID):
                model.set_params(C=c).fit(x_fit, y[train])
                scores[i, j] = binary_metrics(y[val], model.decision_function(x_val))["auroc"]
        mean = scores.mean(axis=0)
        j = int(np.argmax(mean))  # first maximum: the strongest regularisation among equals
        best_c, best_auroc = C_GRID[j], float(mean[j])

    scaler = StandardScaler().fit(x)
    model = _classifier(best_c, seed).fit(scaler.transform(x), y)
    return Probe(scaler, model, float(best_c), selection, best_auroc, int(y.size), int(y.sum()))


def evaluate_probes(
    x_train: np.ndarray,
    labels_train: Mapping[str, np.ndarray],
    groups_train: np.ndarray,
    x_eval: np.ndarray,
    labels_eval: Mapping[str, np.ndarray],
    groups_eval: np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
    min_per_class: int = MIN_PER_CLASS,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Fit one probe per task on the training sessions and score it on the evaluation sessions.

    Each side uses only its sessions whose label of the task is known (not NaN). Tasks without
    ``min_per_class`` positives and negatives on both sides (:func:`~neuronarrator.eval.tasks.usable_tasks`)
    get a row with ``skipped`` set and no metrics.

    Parameters
    ----------
    x_train : array, shape (n_train, d)
    labels_train : mapping str -> array, shape (n_train,)
        Task labels, 1 / 0 / NaN.
    groups_train : array, shape (n_train,)
        Patients of the training sessions.
    x_eval : array, shape (n_eval, d)
    labels_eval : mapping str -> array, shape (n_eval,)
    groups_eval : array, shape (n_eval,)
        Patients of the evaluation sessions (the bootstrap resamples them).
    n_boot, seed
        Bootstrap resamples and seed (:func:`~neuronarrator.eval.metrics.bootstrap_ci`); the seed also seeds
        the folds.
    min_per_class : int

    Returns
    -------
    rows : list of dict
        One per task (training-label order, then tasks only in ``labels_eval``): ``task``, ``n_train``,
        ``n_pos_train``, ``n_eval``, ``n_pos_eval``, ``auroc``, ``aupr``, ``balanced_accuracy`` and
        ``<metric>_lo`` / ``<metric>_hi`` (percentile CI), ``n_boot_skipped``, ``C``, ``c_selection``,
        ``cv_auroc``, ``skipped`` (None, or why the task was not evaluated; the metrics are then NaN).
    scores : dict of str -> ndarray, shape (n_eval,)
        Per evaluated task, the probe's log-odds on every evaluation session whose label is known, NaN
        elsewhere (aligned with ``x_eval``; pair them with ``labels_eval`` for
        :func:`~neuronarrator.eval.metrics.paired_mean_difference`).
    """
    x_tr = _check_features(x_train, "x_train")
    x_ev = _check_features(x_eval, "x_eval")
    if x_tr.shape[1] != x_ev.shape[1]:
        raise ValueError(f"x_train has {x_tr.shape[1]} features but x_eval has {x_ev.shape[1]}")
    g_tr, g_ev = np.asarray(groups_train), np.asarray(groups_eval)
    for what, labels, n in (
        ("labels_train", labels_train, x_tr.shape[0]),
        ("labels_eval", labels_eval, x_ev.shape[0]),
    ):
        for name, y in labels.items():
            if np.shape(y) != (n,):
                raise ValueError(f"{what}[{name!r}] has shape {np.shape(y)}, expected ({n},)")
    if g_tr.shape != (x_tr.shape[0],) or g_ev.shape != (x_ev.shape[0],):
        raise ValueError("groups_train / groups_eval need one patient per session")

    kept, skipped = usable_tasks(labels_train, labels_eval, min_per_class)
    rows: list[dict[str, Any]] = []
    scores: dict[str, np.ndarray] = {}
    for name in [*labels_train, *(k for k in labels_eval if k not in labels_train)]:
        y_tr = np.asarray(labels_train.get(name, np.full(x_tr.shape[0], np.nan)), dtype=np.float64)
        y_ev = np.asarray(labels_eval.get(name, np.full(x_ev.shape[0], np.nan)), dtype=np.float64)
        known_tr, known_ev = np.isfinite(y_tr), np.isfinite(y_ev)
        row: dict[str, Any] = {
            "task": name,
            "n_train": int(known_tr.sum()),
            "n_pos_train": int(np.sum(y_tr[known_tr] == 1)),
            "n_eval": int(known_ev.sum()),
            "n_pos_eval": int(np.sum(y_ev[known_ev] == 1)),
        }
        for metric in METRICS:
            row.update({metric: np.nan, f"{metric}_lo": np.nan, f"{metric}_hi": np.nan})
        row.update({"n_boot_skipped": 0, "C": np.nan, "c_selection": None, "cv_auroc": np.nan})
        row["skipped"] = skipped.get(name)
        if name in kept:
            probe = fit_probe(x_tr[known_tr], y_tr[known_tr], g_tr[known_tr], seed=seed)
            decision = probe.decision(x_ev[known_ev])
            point = binary_metrics(y_ev[known_ev], decision)
            ci = bootstrap_ci(y_ev[known_ev], decision, g_ev[known_ev], n_boot=n_boot, seed=seed)
            for metric in METRICS:
                row[metric] = point[metric]
                row[f"{metric}_lo"], row[f"{metric}_hi"] = ci[metric]
            row.update(
                {"n_boot_skipped": ci["n_skipped"], "C": probe.c, "c_selection": probe.c_selection,
                 "cv_auroc": probe.cv_auroc}
            )  # fmt: skip
            full = np.full(x_ev.shape[0], np.nan)
            full[known_ev] = decision
            scores[name] = full
        rows.append(row)
    return rows, scores

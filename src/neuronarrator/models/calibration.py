"""Calibration of per-code finding presence probabilities (NeuroNarrator stage 1, issue 6).

The finding heads' presence logits are fitted to be discriminative, not calibrated: a tiny model trained
for a few hundred steps is typically over- or under-confident. :class:`Calibration` maps val logits to
probabilities one finding code at a time:

- ``temperature`` (default): ``p = sigmoid(logit / T_k)``, one ``T_k`` per code, fitted by minimising the
  binary NLL on the val logits with LBFGS (over ``log T``), then clamped to ``[0.05, 20]``. Temperature
  scaling keeps the order of the logits (AUROC unchanged) and moves only the threshold 0.5.
- ``platt``: ``p = sigmoid(logit / T_k + b_k)``, a temperature and a bias per code (Platt scaling on the
  logit), fitted the same way with a weak pull of ``(log T, b)`` towards ``(0, 0)`` (ridge of weight
  ``1 / n`` each) so that a code with two positives does not get an extreme bias. Unlike temperature
  scaling it moves the 0.5 threshold: what the session-level calibration needs, where the score is a
  maximum over segments and sits above the segment scale.
- ``isotonic``: a monotone step map ``sigmoid(logit) -> p`` per code (scikit-learn's
  :class:`~sklearn.isotonic.IsotonicRegression`, clipped outside the fitted range), stored as its
  breakpoints and applied by linear interpolation. More flexible, needs more val positives; it can
  give ties (AUROC may drop slightly).

A code whose counted val labels have no positive or no negative cannot be fitted: it keeps ``T = 1``
(identity) and ``fitted[k]`` is False.

Masks: where a session's labels are partial (``labels_complete`` False), an absent code is unknown, not
absent (:class:`~neuronarrator.corpus.datasets.SegmentDataset`); :func:`label_mask` gives the counted
(row, code) pairs -- every pair of a complete row, the positives of a partial one -- and both fitting and
:func:`reliability` take it as ``mask``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["METHODS", "T_MAX", "T_MIN", "Calibration", "label_mask", "logit", "reliability", "session_scores"]

T_MIN, T_MAX = 0.05, 20.0
METHODS = ("temperature", "isotonic", "platt")


def _np(x: Any, dtype=np.float64) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def label_mask(findings: Any, labels_complete: Any | None = None) -> np.ndarray:
    """(n, K) bool: the (row, code) labels that count -- all of a complete row, the positives of a
    partial one (``labels_complete`` (n,) bool, default all True)."""
    present = _np(findings) > 0
    if labels_complete is None:
        return np.ones_like(present)
    complete = _np(labels_complete, bool).reshape(-1, 1)
    return complete | present


def logit(probs: Any) -> np.ndarray:
    """``log(p / (1 - p))`` with p clipped to [1e-7, 1 - 1e-7]: what a probability (a session's maximum
    over segments) is as a logit, for :meth:`Calibration.fit` and :meth:`Calibration.apply`."""
    p = np.clip(_np(probs), 1e-7, 1.0 - 1e-7)
    return np.log(p) - np.log1p(-p)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def _fit_temperatures(
    logits: np.ndarray, labels: np.ndarray, weight: np.ndarray, max_iter: int, *, bias: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """One temperature (and with ``bias`` one bias) per column minimising the weighted mean BCE of
    ``logits / T + b`` (columns are independent; the summed per-column means are minimised jointly, which
    is the same optimum). With ``bias``, a ridge of weight ``1 / n_col`` on ``(log T, b)``."""
    x, y, w = (torch.as_tensor(a, dtype=torch.float64) for a in (logits, labels, weight))
    per_col = w.sum(0).clamp_min(1.0)
    log_t = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=bias)
    params = [log_t, b] if bias else [log_t]
    optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        nll = torch.nn.functional.binary_cross_entropy_with_logits(x / log_t.exp() + b, y, reduction="none")
        loss = ((nll * w).sum(0) / per_col).sum()
        if bias:
            loss = loss + ((log_t**2 + b**2) / per_col).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    t = log_t.detach().exp().numpy()
    t[~np.isfinite(t)] = 1.0
    offset = b.detach().numpy().copy()
    offset[~np.isfinite(offset)] = 0.0
    return np.clip(t, T_MIN, T_MAX), offset


@dataclass
class Calibration:
    """Per-code calibration of presence logits (see the module docstring).

    Attributes
    ----------
    method : ``"temperature"``, ``"platt"`` or ``"isotonic"``
    temperature : list of K floats (1.0 where not fitted, and for ``isotonic``)
    bias : list of K floats added after the temperature (``platt``; 0.0 otherwise)
    session : the calibration of *session* scores (the maximum over a session's segments of this
        calibration's probabilities), fitted on val sessions (:func:`session_scores`), or None
    fitted : list of K bools -- False where the val labels lacked a positive or a negative
    isotonic : list of K ``(x, y)`` breakpoint lists, or None (not fitted / temperature method)
    codes : the finding codes, in column order (informative)
    n_pos, n_neg : counted val labels per code at fitting time
    """

    method: str = "temperature"
    temperature: list[float] = field(default_factory=list)
    fitted: list[bool] = field(default_factory=list)
    isotonic: list[tuple[list[float], list[float]] | None] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    n_pos: list[int] = field(default_factory=list)
    n_neg: list[int] = field(default_factory=list)
    bias: list[float] = field(default_factory=list)
    session: Calibration | None = None

    def __post_init__(self) -> None:
        if not self.bias:
            self.bias = [0.0] * len(self.temperature)
        if self.method not in METHODS:
            raise ValueError(f"calibration method {self.method!r} is unknown; known: {', '.join(METHODS)}")

    @property
    def n_codes(self) -> int:
        return len(self.temperature)

    @classmethod
    def identity(cls, n_codes: int, codes: Sequence[str] = ()) -> Calibration:
        """No calibration: ``apply`` is the plain sigmoid."""
        return cls("temperature", [1.0] * n_codes, [False] * n_codes, [None] * n_codes, list(codes),
                   [0] * n_codes, [0] * n_codes)  # fmt: skip

    @classmethod
    def fit(cls, logits: Any, labels: Any, mask: Any | None = None, *, method: str = "temperature",
            codes: Sequence[str] = (), max_iter: int = 100) -> Calibration:  # fmt: skip
        """Fit on val presence ``logits`` (n, K) and 0/1 ``labels`` (n, K); ``mask`` (n, K) bool says
        which labels count (default all; see :func:`label_mask`)."""
        if method not in METHODS:
            raise ValueError(f"calibration method {method!r} is unknown; known: {', '.join(METHODS)}")
        x, y = _np(logits), (_np(labels) > 0).astype(np.float64)
        if x.ndim != 2 or x.shape != y.shape:
            raise ValueError(f"logits {x.shape} and labels {y.shape} must both be (n, K)")
        m = np.ones_like(y, bool) if mask is None else _np(mask, bool)
        n_pos = ((y > 0) & m).sum(0).astype(int)
        n_neg = ((y == 0) & m).sum(0).astype(int)
        fitted = (n_pos > 0) & (n_neg > 0)
        k = x.shape[1]
        temperature, bias = np.ones(k), np.zeros(k)
        isotonic: list[tuple[list[float], list[float]] | None] = [None] * k
        if fitted.any() and method in ("temperature", "platt"):
            cols = np.flatnonzero(fitted)
            temperature[cols], bias[cols] = _fit_temperatures(
                x[:, cols], y[:, cols], m[:, cols].astype(np.float64), max_iter, bias=method == "platt"
            )
        elif fitted.any():
            from sklearn.isotonic import IsotonicRegression

            for j in np.flatnonzero(fitted):
                rows = m[:, j]
                iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
                iso.fit(_sigmoid(x[rows, j]), y[rows, j])
                isotonic[j] = ([float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_])
        return cls(method, [float(t) for t in temperature], [bool(f) for f in fitted], isotonic, list(codes),
                   [int(v) for v in n_pos], [int(v) for v in n_neg], [float(v) for v in bias])  # fmt: skip

    def apply_probabilities(self, probs: Any) -> np.ndarray:
        """The calibration applied to probabilities (n, K) (their logits, clipped away from 0 and 1):
        the session-level calibration of max-over-segments probabilities."""
        return self.apply(logit(probs))

    def apply(self, logits: Any) -> np.ndarray:
        """Calibrated presence probabilities (n, K) float64 of logits (n, K) (array or Tensor)."""
        x = _np(logits)
        if x.ndim != 2 or x.shape[1] != self.n_codes:
            raise ValueError(f"logits must be (n, {self.n_codes}), got {x.shape}")
        probs = _sigmoid(x / np.asarray(self.temperature)[None, :] + np.asarray(self.bias)[None, :])
        if self.method == "isotonic":
            for j, points in enumerate(self.isotonic):
                if points is not None:
                    xs, ys = points
                    probs[:, j] = np.interp(_sigmoid(x[:, j]), xs, ys)  # clipped at both ends, as sklearn's
        return probs

    def to_dict(self) -> dict[str, Any]:
        """Plain containers only (a checkpoint manifest loads with ``weights_only=True``)."""
        return {
            "method": self.method,
            "temperature": list(self.temperature),
            "fitted": list(self.fitted),
            "isotonic": [None if p is None else [list(p[0]), list(p[1])] for p in self.isotonic],
            "codes": list(self.codes),
            "n_pos": list(self.n_pos),
            "n_neg": list(self.n_neg),
            "bias": list(self.bias),
            "session": None if self.session is None else self.session.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        k = len(data["temperature"])
        isotonic = [None if p is None else ([float(v) for v in p[0]], [float(v) for v in p[1]])
                    for p in data.get("isotonic") or [None] * k]  # fmt: skip
        session = data.get("session")
        return cls(str(data["method"]), [float(t) for t in data["temperature"]], [bool(f) for f in data["fitted"]],
                   isotonic, list(data.get("codes") or []), [int(v) for v in data.get("n_pos") or [0] * k],
                   [int(v) for v in data.get("n_neg") or [0] * k],
                   [float(v) for v in data.get("bias") or [0.0] * k],
                   None if session is None else cls.from_dict(session))  # fmt: skip


def session_scores(probs: Any, labels: Any, mask: Any, session_ids: Sequence[Any]) -> tuple[np.ndarray, ...]:
    """Segment rows → session rows: ``(scores, labels, mask, ids)`` with, per session (first-seen order),
    the maximum of its segments' probabilities, the maximum of their labels (a code shown by one segment is
    a finding of the session), and its mask (a label counts where any of its segments' counts: a partial
    session's positives)."""
    p, y, m = _np(probs), _np(labels) > 0, _np(mask, bool)
    ids = list(dict.fromkeys(session_ids))
    index = {s: i for i, s in enumerate(ids)}
    rows = np.fromiter((index[s] for s in session_ids), int, count=len(session_ids))
    scores = np.zeros((len(ids), p.shape[1]))
    out_y = np.zeros((len(ids), p.shape[1]), bool)
    out_m = np.zeros((len(ids), p.shape[1]), bool)
    np.maximum.at(scores, rows, p)
    np.logical_or.at(out_y, rows, y & m)
    np.logical_or.at(out_m, rows, m)
    return scores, out_y.astype(np.float64), out_m, ids


def reliability(probs: Any, labels: Any, n_bins: int = 10, mask: Any | None = None) -> dict[str, Any]:
    """Reliability of presence probabilities over every counted (row, code) pair.

    Pairs are binned by predicted probability into ``n_bins`` equal-width bins of [0, 1]; in each bin
    ``mean_conf`` is the mean predicted probability and ``accuracy`` the observed frequency of presence
    (the binary reliability diagram). ``ece`` = Σ count/N · |accuracy − mean_conf|, ``mce`` the largest
    gap over non-empty bins; ``bins`` lists ``(mean_conf, accuracy, count)`` per bin (None, None, 0 when
    empty). ``mask`` (same shape, bool) excludes unknown labels. With no counted pair: ece/mce None.
    """
    p, y = _np(probs).ravel(), (_np(labels) > 0).ravel()
    if p.shape != y.shape:
        raise ValueError(f"probs {np.shape(probs)} and labels {np.shape(labels)} differ in shape")
    if mask is not None:
        keep = _np(mask, bool).ravel()
        p, y = p[keep], y[keep]
    n = len(p)
    index = np.minimum((p * n_bins).astype(int), n_bins - 1)
    bins: list[tuple[float | None, float | None, int]] = []
    ece, mce = 0.0, 0.0
    for b in range(n_bins):
        sel = index == b
        count = int(sel.sum())
        if not count:
            bins.append((None, None, 0))
            continue
        conf, acc = float(p[sel].mean()), float(y[sel].mean())
        bins.append((conf, acc, count))
        gap = abs(acc - conf)
        ece += count / n * gap
        mce = max(mce, gap)
    return {"ece": float(ece) if n else None, "mce": float(mce) if n else None, "n": n, "bins": bins}

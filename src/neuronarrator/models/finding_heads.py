"""Per-segment finding heads of NeuroNarrator's stage 1: which codes are present, on which side, where.

From a segment embedding (the waveform encoder's, optionally concatenated with the topomap encoder's),
one shared MLP trunk feeds three linear heads:

- presence : (B, n_codes) logits, multi-label over :data:`~neuronarrator.clinical.findings.CODES`;
- side : (B, n_codes, n_sides) logits over :data:`~neuronarrator.clinical.findings.SIDES`, per code;
- regions : (B, n_codes, n_regions) logits, multi-label over
  :data:`~neuronarrator.clinical.findings.REGIONS`, per code;
- state : (B, n_states) logits over :data:`~neuronarrator.clinical.findings.STATES` (the segment's
  vigilance state: the report's "mainly awake / N2 sleep" comes from it).

:func:`finding_loss` masks the targets as the corpus requires (:class:`~neuronarrator.corpus.datasets.
SegmentDataset`): where ``labels_complete`` is False an absent code is unknown, so only positives count;
side is learnt only where the code is present and has a side (``side >= 0``); regions only where the code
is present (a present code with no region is learnt as "no region": generalized and artifact codes);
state only where the labels give it (``state >= 0``).

Class imbalance: most codes are rare (a seizure in 1 % of segments), so an unweighted BCE learns "never".
``pos_weight`` (per code, ``n_negative / n_positive`` of the train split, clipped; :func:`positive_weights`)
weights the positives. A weighted BCE's optimum is the logit ``log(w · p / (1 − p))``, so the heads
output ``linear − log w`` (an estimate of the unweighted logit, what calibration and inference read) and
:func:`finding_loss` adds ``log w`` back before the weighted BCE: the standard prior shift, kept inside
the model so no caller has to know the weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuronarrator.clinical.findings import CODES, REGIONS, SIDES, STATES
from neuronarrator.distributed import global_count

__all__ = ["FindingHeads", "finding_loss", "positive_weights"]

MAX_POS_WEIGHT = 30.0  # a code seen in 1 segment of 1,000 is not weighted 1,000×: its few positives would dominate


class FindingHeads(nn.Module):
    """Presence, side and region logits per code from a (B, d_in) embedding.

    Parameters
    ----------
    d_in : int
        Width of the input embedding.
    hidden : int, optional
        Width of the shared trunk (default ``d_in``).
    dropout : float
        On the trunk's output (training only).
    n_codes, n_sides, n_regions, n_states : int
        Default: the vocabularies of :mod:`neuronarrator.clinical.findings`.

    The buffer ``pos_weight`` (n_codes,) holds the presence loss's positive weights (1 until
    :meth:`set_pos_weight`); it is saved with the model so inference can undo the prior shift.
    """

    def __init__(self, d_in: int, hidden: int | None = None, dropout: float = 0.0, *, n_codes: int = len(CODES),
                 n_sides: int = len(SIDES), n_regions: int = len(REGIONS), n_states: int = len(STATES)) -> None:  # fmt: skip
        super().__init__()
        hidden = hidden or d_in
        self.n_codes, self.n_sides, self.n_regions, self.n_states = n_codes, n_sides, n_regions, n_states
        self.trunk = nn.Sequential(
            nn.LayerNorm(d_in), nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout)
        )
        self.presence = nn.Linear(hidden, n_codes)
        self.side = nn.Linear(hidden, n_codes * n_sides)
        self.regions = nn.Linear(hidden, n_codes * n_regions)
        self.state = nn.Linear(hidden, n_states)
        self.register_buffer("pos_weight", torch.ones(n_codes))

    def set_pos_weight(self, weights) -> None:
        self.pos_weight.copy_(torch.as_tensor(weights, dtype=self.pos_weight.dtype))

    def forward(self, embedding: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, d_in) → ``{"presence": (B, n_codes), "side": (B, n_codes, n_sides), "regions": (B, n_codes,
        n_regions), "state": (B, n_states)}`` logits (presence with the prior shift removed: see the module
        docstring)."""
        h = self.trunk(embedding)  # (B, hidden)
        b = h.shape[0]
        return {
            "presence": self.presence(h) - torch.log(self.pos_weight).to(h.dtype),
            "side": self.side(h).view(b, self.n_codes, self.n_sides),
            "regions": self.regions(h).view(b, self.n_codes, self.n_regions),
            "state": self.state(h),
        }


def _masked_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over ``weight`` (same shape, 0/1); 0 (still on the graph) where nothing counts.
    Data-parallel, the count is the whole global batch's (:func:`neuronarrator.distributed.global_count`)."""
    return (values * weight).sum() / global_count(weight.sum())


def positive_weights(labels: np.ndarray, counted: np.ndarray | None = None,
                     max_weight: float = MAX_POS_WEIGHT) -> np.ndarray:  # fmt: skip
    """(n_codes,) ``n_negative / n_positive`` per code over the counted (row, code) pairs, clipped to
    [1, ``max_weight``]; a code with no positive gets ``max_weight``."""
    labels = np.asarray(labels) > 0
    counted = np.ones_like(labels) if counted is None else np.asarray(counted, bool)
    pos = (labels & counted).sum(0).astype(np.float64)
    neg = (~labels & counted).sum(0).astype(np.float64)
    ratio = np.where(pos > 0, neg / np.maximum(pos, 1.0), max_weight)
    return np.clip(ratio, 1.0, max_weight)


def finding_loss(
    out: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor], pos_weight: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Masked finding losses of one batch.

    Parameters
    ----------
    out : dict
        :meth:`FindingHeads.forward`'s logits.
    targets : dict
        ``findings`` (B, n_codes) multi-hot, ``side`` (B, n_codes) long index into SIDES or -1,
        ``regions`` (B, n_codes, n_regions) multi-hot, and optionally ``labels_complete`` (B,) bool
        (default all True) -- a SegmentDataset batch holds all four -- and optionally ``state`` (B,) long
        index into STATES or -1 (unknown).
    pos_weight : (n_codes,) Tensor, optional
        Weights of the positive presence targets (:func:`positive_weights`; the heads' ``pos_weight``
        buffer): ``log pos_weight`` is added back to the prior-corrected presence logits, then the BCE
        weights the positives by it.

    Returns
    -------
    terms : dict of scalar Tensors
        ``presence`` (BCE, mean over the counted (row, code) pairs: every pair of a complete row, the
        positives of a partial one), ``side`` (CE, mean over present codes with a side), ``regions``
        (BCE, mean over (row, present code, region)), ``state`` (CE over rows with a known state; 0 without
        ``state`` targets or logits), and ``total`` (their sum). A term with nothing to
        count is 0 and still on the graph, so ``total.backward()`` always works.
    """
    presence = out["presence"].float()
    present = targets["findings"].to(presence.device, presence.dtype)  # (B, K)
    complete = targets.get("labels_complete")
    if complete is None:
        complete = torch.ones(present.shape[0], dtype=torch.bool, device=presence.device)
    complete = torch.as_tensor(complete, dtype=torch.bool, device=presence.device)
    counted = (complete[:, None] | (present > 0)).to(presence.dtype)  # (B, K): partial rows: positives only
    weight = None
    if pos_weight is not None:
        weight = pos_weight.to(presence.device, presence.dtype)
        presence = presence + torch.log(weight)
    bce = F.binary_cross_entropy_with_logits(presence, present, reduction="none", pos_weight=weight)
    terms = {"presence": _masked_mean(bce, counted)}

    side_logits = out["side"].float()  # (B, K, S)
    side = targets["side"].to(side_logits.device).long()  # (B, K)
    has_side = (side >= 0) & (present > 0)
    ce = F.cross_entropy(side_logits.flatten(0, 1), side.clamp_min(0).flatten(), reduction="none")  # (B·K,)
    terms["side"] = _masked_mean(ce, has_side.flatten().to(ce.dtype))

    region_logits = out["regions"].float()  # (B, K, R)
    regions = targets["regions"].to(region_logits.device, region_logits.dtype)
    bce_r = F.binary_cross_entropy_with_logits(region_logits, regions, reduction="none")
    terms["regions"] = _masked_mean(bce_r, (present > 0)[..., None].expand_as(bce_r).to(bce_r.dtype))
    if "state" in out and "state" in targets:
        state_logits = out["state"].float()
        state = targets["state"].to(state_logits.device).long()
        ce_s = F.cross_entropy(state_logits, state.clamp_min(0), reduction="none")
        terms["state"] = _masked_mean(ce_s, (state >= 0).to(ce_s.dtype))
    else:
        terms["state"] = out["presence"].sum() * 0.0
    terms["total"] = terms["presence"] + terms["side"] + terms["regions"] + terms["state"]
    return terms

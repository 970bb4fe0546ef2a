"""Per-segment finding heads of NeuroNarrator's stage 1: which codes are present, on which side, where.

From a segment embedding (the waveform encoder's, optionally concatenated with the topomap encoder's),
one shared MLP trunk feeds three linear heads:

- presence : (B, n_codes) logits, multi-label over :data:`~neuronarrator.clinical.findings.CODES`;
- side : (B, n_codes, n_sides) logits over :data:`~neuronarrator.clinical.findings.SIDES`, per code;
- regions : (B, n_codes, n_regions) logits, multi-label over
  :data:`~neuronarrator.clinical.findings.REGIONS`, per code.

:func:`finding_loss` masks the targets as the corpus requires (:class:`~neuronarrator.corpus.datasets.
SegmentDataset`): where ``labels_complete`` is False an absent code is unknown, so only positives count;
side is learnt only where the code is present and has a side (``side >= 0``); regions only where the code
is present (a present code with no region is learnt as "no region": generalized and artifact codes).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from neuronarrator.clinical.findings import CODES, REGIONS, SIDES

__all__ = ["FindingHeads", "finding_loss"]


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
    n_codes, n_sides, n_regions : int
        Default: the vocabularies of :mod:`neuronarrator.clinical.findings`.
    """

    def __init__(self, d_in: int, hidden: int | None = None, dropout: float = 0.0, *, n_codes: int = len(CODES),
                 n_sides: int = len(SIDES), n_regions: int = len(REGIONS)) -> None:  # fmt: skip
        super().__init__()
        hidden = hidden or d_in
        self.n_codes, self.n_sides, self.n_regions = n_codes, n_sides, n_regions
        self.trunk = nn.Sequential(
            nn.LayerNorm(d_in), nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout)
        )
        self.presence = nn.Linear(hidden, n_codes)
        self.side = nn.Linear(hidden, n_codes * n_sides)
        self.regions = nn.Linear(hidden, n_codes * n_regions)

    def forward(self, embedding: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, d_in) → ``{"presence": (B, n_codes), "side": (B, n_codes, n_sides), "regions": (B, n_codes,
        n_regions)}`` logits."""
        h = self.trunk(embedding)  # (B, hidden)
        b = h.shape[0]
        return {
            "presence": self.presence(h),
            "side": self.side(h).view(b, self.n_codes, self.n_sides),
            "regions": self.regions(h).view(b, self.n_codes, self.n_regions),
        }


def _masked_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over ``weight`` (same shape, 0/1); 0 (still on the graph) where nothing counts."""
    return (values * weight).sum() / weight.sum().clamp_min(1.0)


def finding_loss(
    out: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Masked finding losses of one batch.

    Parameters
    ----------
    out : dict
        :meth:`FindingHeads.forward`'s logits.
    targets : dict
        ``findings`` (B, n_codes) multi-hot, ``side`` (B, n_codes) long index into SIDES or -1,
        ``regions`` (B, n_codes, n_regions) multi-hot, and optionally ``labels_complete`` (B,) bool
        (default all True) -- a SegmentDataset batch holds all four.

    Returns
    -------
    terms : dict of scalar Tensors
        ``presence`` (BCE, mean over the counted (row, code) pairs: every pair of a complete row, the
        positives of a partial one), ``side`` (CE, mean over present codes with a side), ``regions``
        (BCE, mean over (row, present code, region)), and ``total`` (their sum). A term with nothing to
        count is 0 and still on the graph, so ``total.backward()`` always works.
    """
    presence = out["presence"].float()
    present = targets["findings"].to(presence.device, presence.dtype)  # (B, K)
    complete = targets.get("labels_complete")
    if complete is None:
        complete = torch.ones(present.shape[0], dtype=torch.bool, device=presence.device)
    complete = torch.as_tensor(complete, dtype=torch.bool, device=presence.device)
    counted = (complete[:, None] | (present > 0)).to(presence.dtype)  # (B, K): partial rows: positives only
    bce = F.binary_cross_entropy_with_logits(presence, present, reduction="none")
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
    terms["total"] = terms["presence"] + terms["side"] + terms["regions"]
    return terms

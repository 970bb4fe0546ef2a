"""The contrastive loss of CLEF's alignment stage: symmetric InfoNCE (CLIP / open_clip) with a learnable
temperature (DESIGN.md: τ = 0.07 at the start)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: CLIP's initial temperature.
INITIAL_TEMPERATURE = 0.07
#: CLIP clamps the logit scale 1/τ at 100 so that training cannot sharpen the softmax without bound.
MAX_LOGIT_SCALE = 100.0


def symmetric_info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    temperature: float | torch.Tensor = INITIAL_TEMPERATURE,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE between two batches of paired embeddings (open_clip's ``ClipLoss``).

    Row i of ``a`` and row i of ``b`` are a positive pair; every other row of the batch is a negative.

    Parameters
    ----------
    a, b : Tensor, shape (n, d)
        Embeddings of the two sides (EEG session and text, say); L2-normalised here, so any scale is fine.
    temperature : float or scalar Tensor
        τ: logits are cosine similarities divided by τ (a Tensor keeps its gradient, for a learnt τ).
    groups : Tensor, shape (n,), optional
        Ids of identical pairs: rows with equal ids (two sessions with the same report summary, say) are
        all positives of each other, with the target spread evenly over them, instead of being pushed
        apart as negatives. Default: every row its own group (plain InfoNCE).

    Returns
    -------
    loss : scalar Tensor
        ``(CE(logits, arange(n)) + CE(logits.T, arange(n))) / 2`` with ``logits = a @ b.T / τ``.
    """
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"a and b must both be (n, d) with the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    logits_ab = a @ b.T / temperature  # (n, n): row i scores a_i against every b
    if groups is None:
        labels = torch.arange(a.shape[0], device=a.device)
        return (F.cross_entropy(logits_ab, labels) + F.cross_entropy(logits_ab.T, labels)) / 2
    same = (groups[:, None] == groups[None, :]).to(logits_ab.dtype)  # (n, n), symmetric
    targets = same / same.sum(1, keepdim=True)
    return (F.cross_entropy(logits_ab, targets) + F.cross_entropy(logits_ab.T, targets)) / 2


class LearnableTemperature(nn.Module):
    """τ learnt through its log logit scale, as in CLIP: ``τ = 1 / exp(log_scale)``, with the scale
    clamped at :data:`MAX_LOGIT_SCALE` (τ ≥ 0.01).

    Parameters
    ----------
    initial : float
        Starting τ.
    """

    def __init__(self, initial: float = INITIAL_TEMPERATURE) -> None:
        super().__init__()
        if not 1.0 / MAX_LOGIT_SCALE <= initial:
            raise ValueError(f"initial temperature must be at least {1.0 / MAX_LOGIT_SCALE}, got {initial}")
        # Log-parametrised so the optimiser steps are multiplicative and τ stays positive.
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / initial)))

    def forward(self) -> torch.Tensor:
        """τ as a scalar Tensor (differentiable unless the clamp is active)."""
        return 1.0 / self.log_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()

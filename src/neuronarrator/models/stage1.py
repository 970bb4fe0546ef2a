"""NeuroNarrator stage 1: waveform and topomap encoders aligned by symmetric InfoNCE, trained together
with per-segment finding heads (DESIGN.md, issue 6).

``loss = InfoNCE(waveform, topomap) + λ · (presence + side + regions)``

- InfoNCE (open_clip's, :func:`~neuronarrator.models.losses.symmetric_info_nce`, learnt τ) pairs the two
  views of the same segment; only rows that have a scalp map take part (bipolar segments have none).
  With one such row the term is 0 (a 1 × 1 softmax), with none it is a 0 that still holds the graph.
- The finding heads read the waveform embedding, concatenated with the topomap embedding
  (``heads_use_topomap``; bipolar rows then see the topomap encoder's "no map" vector) and with the
  per-channel spectral and transient summaries (``channel_features``,
  :mod:`~neuronarrator.models.channel_features`).

:meth:`Stage1Model.losses` takes a batch straight from a DataLoader over
:class:`~neuronarrator.corpus.datasets.SegmentDataset` (default collate: ``montage`` is a list of str).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from neuronarrator.distributed import gather_rows
from neuronarrator.models.channel_features import ChannelFeatureEncoder
from neuronarrator.models.encoders import (
    N_ROWS,
    TopomapConfig,
    TopomapEncoder,
    WaveformConfig,
    WaveformEncoder,
    bipolar_flags,
    has_topomap_flags,
)
from neuronarrator.models.finding_heads import FindingHeads, finding_loss
from neuronarrator.models.losses import LearnableTemperature, symmetric_info_nce
from neuronarrator.models.session import autocast_context

__all__ = ["Stage1Config", "Stage1Model"]


@dataclass
class Stage1Config:
    waveform: WaveformConfig = field(default_factory=WaveformConfig)
    topomap: TopomapConfig = field(default_factory=TopomapConfig)
    d_align: int = 128  # shared width of the two projections compared by InfoNCE
    finding_weight: float = 1.0  # λ: weight of the finding loss against InfoNCE
    heads_use_topomap: bool = True  # finding heads read [waveform ; topomap] embeddings, else waveform only
    head_hidden: int = 256  # width of the finding heads' shared trunk
    head_dropout: float = 0.1
    channel_features: bool = True  # heads also read per-channel band powers / transients (channel_features.py)
    feature_hidden: int = 16  # per-channel embedding width of those summaries
    d_features: int = 64  # their pooled width, as the heads read it
    sharp_features: bool = False  # summaries also hold the sharpness below 30 Hz (channel_features.py)

    @classmethod
    def tiny(cls) -> Stage1Config:
        return cls(WaveformConfig.tiny(), TopomapConfig.tiny(), d_align=16, head_hidden=32, head_dropout=0.0)

    @classmethod
    def default(cls) -> Stage1Config:
        return cls()


class Stage1Model(nn.Module):
    def __init__(self, config: Stage1Config | None = None) -> None:
        super().__init__()
        self.config = c = config or Stage1Config()
        self.waveform_encoder = WaveformEncoder(c.waveform)
        self.topomap_encoder = TopomapEncoder(c.topomap)
        # Linear projections into the shared space, as open_clip's (no bias: InfoNCE normalises anyway).
        self.waveform_proj = nn.Linear(c.waveform.d_model, c.d_align, bias=False)
        self.topomap_proj = nn.Linear(c.topomap.d_model, c.d_align, bias=False)
        self.temperature = LearnableTemperature()
        d_heads = c.waveform.d_model + (c.topomap.d_model if c.heads_use_topomap else 0)
        self.channel_encoder = None
        if c.channel_features:
            self.channel_encoder = ChannelFeatureEncoder(N_ROWS, c.feature_hidden, c.d_features,
                                                         sharp_15ms=c.sharp_features)
            d_heads += c.d_features
        self.heads = FindingHeads(d_heads, c.head_hidden, c.head_dropout)

    def head_input(self, embedding: torch.Tensor, topomap: torch.Tensor, channel_embedding: torch.Tensor | None,
                   common: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
        """The heads' (B, d_heads) input: [waveform embedding ; topomap embedding ; pooled channel
        summaries], as configured (the pipeline calls this with leaves to attribute relevance)."""
        parts = [embedding]
        if self.config.heads_use_topomap:
            parts.append(topomap)
        if self.channel_encoder is not None:
            parts.append(self.channel_encoder.pool(channel_embedding, common))
        return torch.cat([p.to(embedding.dtype) for p in parts], dim=1)

    @property
    def device(self) -> torch.device:
        return self.temperature.log_scale.device

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Embeddings and finding logits of a SegmentDataset batch.

        Returns ``waveform`` (B, d_w) and ``topomap`` (B, d_t) embeddings, their projections
        ``waveform_aligned`` / ``topomap_aligned`` (B, d_align), ``has_topomap`` (B,) bool, ``tokens``
        (B, 19, n_patches, d_w) per-token features, and the heads' ``presence``, ``side``, ``regions``,
        ``state``.
        """
        device = self.device
        waveform = batch["waveform"].to(device)
        bipolar = bipolar_flags(batch["montage"], device)
        topomap = batch["topomap"].to(device)
        has_topomap = has_topomap_flags(topomap, bipolar)
        with autocast_context(device):
            wave = self.waveform_encoder(waveform, batch["channel_mask"].to(device), bipolar)
            topo = self.topomap_encoder(topomap, has_topomap)
            channel_embedding = common = None
            if self.channel_encoder is not None:
                channel_embedding, common = self.channel_encoder.embed_channels(waveform, batch["channel_mask"], bipolar)
            out = self.heads(self.head_input(wave.embedding, topo, channel_embedding, common))
            out.update(
                waveform_aligned=self.waveform_proj(wave.embedding), topomap_aligned=self.topomap_proj(topo)
            )
        out.update(waveform=wave.embedding, topomap=topo, tokens=wave.tokens, has_topomap=has_topomap,
                   channel_embedding=channel_embedding, common=common)  # fmt: skip
        return out

    def losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """``info_nce``, ``presence``, ``side``, ``regions``, ``state``, ``finding`` (their sum) and ``total`` =
        info_nce + λ · finding, scalar Tensors; ``temperature`` (detached τ) for logging."""
        out = self(batch)
        rows = out["has_topomap"]
        a, b = out["waveform_aligned"][rows].float(), out["topomap_aligned"][rows].float()
        a, b = gather_rows(a), gather_rows(b)  # data-parallel: the negatives of every rank's rows
        tau = self.temperature()
        if a.shape[0] > 0:
            info_nce = symmetric_info_nce(a, b, tau)
        else:  # no pair at all: a zero that keeps every parameter on the graph
            info_nce = (out["waveform_aligned"].sum() + out["topomap_aligned"].sum() + tau) * 0.0
        targets = {k: batch[k] for k in ("findings", "side", "regions", "labels_complete", "state") if k in batch}
        terms = finding_loss(out, targets, pos_weight=self.heads.pos_weight)
        finding = terms.pop("total")
        return {"info_nce": info_nce, **terms, "finding": finding,
                "total": info_nce + self.config.finding_weight * finding,
                "temperature": tau.detach()}  # fmt: skip

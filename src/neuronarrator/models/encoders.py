"""NeuroNarrator's stage-1 encoders: a waveform encoder over 10-s segments and a topomap encoder over
band-power scalp maps (DESIGN.md, issue 6).

:class:`WaveformEncoder` is a channel-aware patch Transformer of the LaBraM / CBraMod family:

- input: a harmonized segment ``waveform_uv`` (B, 19, 2000) µV at 200 Hz, ``channel_mask`` (B, 19) bool
  and ``bipolar`` (B,) bool (rows are the 19 referential electrodes of ``CANONICAL_19``, or the 18
  double-banana derivations plus one empty row);
- scaling: µV / :data:`INPUT_SCALE_UV` (50 µV → 1.0), done here, once; masked rows are zeroed first (so
  NaN or garbage in a masked row never reaches the network);
- tokens: each channel is cut into 1-s patches (200 samples); a temporal convolution (LaBraM's
  TemporalConv: a strided wide kernel then two narrow ones, each GELU + GroupNorm) embeds each patch on
  its own; to each token are added a learned *channel* embedding (one table of 2 × 19 rows: electrodes
  first, derivations at offset 19 -- ``Fp1`` and ``Fp1-F7`` are different things) and a learned *time*
  embedding (patch index);
- a montage-specific CLS token is prepended (so the montage is known to every token through attention,
  and a segment whose channels are all masked still has one key to attend to);
- pre-LN Transformer blocks on ``F.scaled_dot_product_attention`` with a key-padding mask: tokens of
  masked channels are never attended to, so a masked channel's samples cannot change any output;
- outputs (:class:`WaveformOutput`): the segment embedding (B, d) -- mean over valid tokens
  (``pool="mean"``) or the CLS output (``pool="cls"``) -- and the per-token features
  (B, 19, n_patches, d), zero on masked channels: what a later evidence stage reads to say which channels
  and which seconds drive a finding.

:class:`TopomapEncoder` is a small CNN over the (5, 32, 32) log10 band-power maps (log10 µV², zeros
outside the head disk). Bipolar segments have no map (all zeros): for rows with ``has_topomap`` False the
embedding is a learned "no map" vector, the same for every such row -- it says "no scalp map", nothing
about the segment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

__all__ = ["INPUT_SCALE_UV", "TopomapConfig", "TopomapEncoder", "WaveformConfig", "WaveformEncoder",
           "WaveformOutput", "bipolar_flags", "count_parameters", "has_topomap_flags"]  # fmt: skip

#: Waveforms are divided by this (µV) before the patch embedding: clinical EEG is tens of µV, so typical
#: inputs are O(1) and a 500 µV artifact is 10, not 500.
INPUT_SCALE_UV = 50.0
N_ROWS = 19  # rows of a harmonized segment: CANONICAL_19, or the 18 double-banana derivations + one empty


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def bipolar_flags(
    montage: Sequence[str] | torch.Tensor, device: torch.device | str | None = None
) -> torch.Tensor:
    """(B,) bool, True for bipolar rows, from a DataLoader's ``montage`` list (``"referential"`` /
    ``"bipolar"``) or a bool tensor already."""
    if isinstance(montage, torch.Tensor):
        return montage.to(device=device, dtype=torch.bool)
    known = {"referential": False, "bipolar": True}
    unknown = set(montage) - set(known)
    if unknown:
        raise ValueError(f"unknown montage {sorted(unknown)}; expected 'referential' or 'bipolar'")
    return torch.tensor([known[m] for m in montage], dtype=torch.bool, device=device)


def has_topomap_flags(topomap: torch.Tensor, bipolar: torch.Tensor) -> torch.Tensor:
    """(B,) bool: referential rows whose map holds anything (bipolar maps are all zeros)."""
    return ~bipolar.to(topomap.device) & (topomap.flatten(1).abs().amax(dim=1) > 0)


# --- Transformer blocks (nanoGPT-style pre-LN, attention by SDPA with a key-padding mask) --------------


class _Block(nn.Module):
    """Pre-LN encoder block. No dropout on the attention weights: it forces SDPA's slow path on CPU."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.ln_1, self.ln_2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(), nn.Linear(mlp_ratio * d_model, d_model)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """x (B, T, C); keep (B, T) bool, True on keys that may be attended to."""
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln_1(x)).view(b, t, 3, self.n_heads, c // self.n_heads).permute(2, 0, 3, 1, 4)
        # q, k, v: (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])  # (B, nh, T, hs)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))
        return x + self.drop(self.mlp(self.ln_2(x)))


# --- waveform encoder -----------------------------------------------------------------------------------


@dataclass
class WaveformConfig:
    n_rows: int = N_ROWS  # rows per segment (19: electrodes, or 18 derivations + one empty row)
    n_times: int = 2000  # samples per segment (10 s at 200 Hz)
    patch_samples: int = 200  # samples per patch (1 s at 200 Hz): one token per (row, second)
    conv_channels: int = 16  # width of the temporal convolutions of the patch embedding
    d_model: int = 256  # width of the residual stream, and of the outputs
    n_layers: int = 6  # Transformer blocks
    n_heads: int = 8  # attention heads; d_model must divide by it
    mlp_ratio: int = 4  # MLP hidden width = mlp_ratio · d_model
    dropout: float = 0.1  # on embeddings and residual branches (training only)
    pool: str = "mean"  # segment embedding: "mean" over valid tokens, or "cls"

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if self.n_times % self.patch_samples:
            raise ValueError(
                f"n_times ({self.n_times}) must be a multiple of patch_samples ({self.patch_samples})"
            )
        if self.pool not in ("mean", "cls"):
            raise ValueError(f"pool must be 'mean' or 'cls', got {self.pool!r}")
        if self.conv_channels % 4:
            raise ValueError(
                f"conv_channels ({self.conv_channels}) must be a multiple of 4 (GroupNorm groups)"
            )

    @property
    def n_patches(self) -> int:
        return self.n_times // self.patch_samples

    @classmethod
    def tiny(cls) -> WaveformConfig:
        """For tests: trains on one CPU thread in seconds."""
        return cls(conv_channels=8, d_model=32, n_layers=2, n_heads=4, mlp_ratio=2, dropout=0.0)

    @classmethod
    def default(cls) -> WaveformConfig:
        """LaBraM-base-like depth at a quarter of its width per head count (~5M parameters)."""
        return cls()


class WaveformOutput(NamedTuple):
    embedding: torch.Tensor  # (B, d) segment embedding
    # (B, n_rows, n_patches, d) per-token features after the final LayerNorm; 0 on masked channels
    tokens: torch.Tensor
    token_mask: torch.Tensor  # (B, n_rows, n_patches) bool, True on tokens of channels that hold data


class WaveformEncoder(nn.Module):
    """Channel-aware patch Transformer over 10-s segments; see the module docstring."""

    def __init__(self, config: WaveformConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or WaveformConfig()
        k = c.conv_channels
        # LaBraM's TemporalConv: wide strided kernel (15 samples = 75 ms, stride 8), then two narrow ones.
        self.patch_conv = nn.Sequential(
            nn.Conv1d(1, k, kernel_size=15, stride=8, padding=7), nn.GELU(), nn.GroupNorm(4, k),
            nn.Conv1d(k, k, kernel_size=3, padding=1), nn.GELU(), nn.GroupNorm(4, k),
            nn.Conv1d(k, k, kernel_size=3, padding=1), nn.GELU(), nn.GroupNorm(4, k),
        )  # fmt: skip
        conv_len = (c.patch_samples + 2 * 7 - 15) // 8 + 1
        self.patch_proj = nn.Linear(k * conv_len, c.d_model)
        # Rows 0..n_rows-1: referential electrodes; n_rows..2·n_rows-1: bipolar derivations (offset).
        self.channel_emb = nn.Embedding(2 * c.n_rows, c.d_model)
        self.time_emb = nn.Embedding(c.n_patches, c.d_model)
        self.cls_emb = nn.Embedding(2, c.d_model)  # 0 referential, 1 bipolar
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            _Block(c.d_model, c.n_heads, c.mlp_ratio, c.dropout) for _ in range(c.n_layers)
        )
        self.ln_f = nn.LayerNorm(c.d_model)
        self.apply(_init_weights)
        log.debug("waveform encoder: %.2fM parameters", count_parameters(self) / 1e6)

    def forward(
        self, waveform_uv: torch.Tensor, channel_mask: torch.Tensor, bipolar: torch.Tensor | None = None
    ) -> WaveformOutput:
        """waveform_uv (B, n_rows, n_times) µV, channel_mask (B, n_rows) bool, bipolar (B,) bool (default
        all referential) → :class:`WaveformOutput`."""
        c = self.config
        b, n_rows, n_times = waveform_uv.shape
        if (n_rows, n_times) != (c.n_rows, c.n_times):
            raise ValueError(
                f"expected segments of shape (B, {c.n_rows}, {c.n_times}), got {tuple(waveform_uv.shape)}"
            )
        valid = channel_mask.to(device=waveform_uv.device, dtype=torch.bool)  # (B, R)
        if bipolar is None:
            bipolar = torch.zeros(b, dtype=torch.bool, device=waveform_uv.device)
        bipolar = bipolar.to(device=waveform_uv.device, dtype=torch.bool)
        # where, not multiply: a NaN in a masked row must not survive as NaN·0.
        x = torch.where(valid[:, :, None], waveform_uv, 0.0) / INPUT_SCALE_UV  # (B, R, N)
        p = c.n_patches
        patches = x.reshape(b * n_rows * p, 1, c.patch_samples)  # (B·R·P, 1, S)
        tokens = self.patch_proj(self.patch_conv(patches).flatten(1)).view(b, n_rows, p, -1)  # (B, R, P, d)
        rows = torch.arange(n_rows, device=x.device)[None, :] + bipolar.long()[:, None] * n_rows  # (B, R)
        tokens = tokens + self.channel_emb(rows)[:, :, None, :] + self.time_emb.weight[None, None, :, :]
        cls = self.cls_emb(bipolar.long())[:, None, :]  # (B, 1, d)
        h = self.drop(torch.cat([cls, tokens.reshape(b, n_rows * p, -1)], dim=1))  # (B, 1+R·P, d)
        token_mask = valid[:, :, None].expand(b, n_rows, p)  # (B, R, P)
        keep = torch.cat([valid.new_ones(b, 1), token_mask.reshape(b, n_rows * p)], dim=1)  # (B, 1+R·P)
        for block in self.blocks:
            h = block(h, keep)
        h = self.ln_f(h)
        features = h[:, 1:].masked_fill(~keep[:, 1:, None], 0.0)  # (B, R·P, d)
        if c.pool == "cls":
            embedding = h[:, 0]
        else:
            embedding = features.sum(1) / keep[:, 1:].sum(1, keepdim=True).clamp_min(1).to(h.dtype)
        return WaveformOutput(embedding, features.view(b, n_rows, p, -1), token_mask)


# --- topomap encoder ------------------------------------------------------------------------------------


@dataclass
class TopomapConfig:
    n_bands: int = 5  # band-power maps per segment (corpus.store.N_BANDS)
    grid: int = 32  # map side in pixels (corpus.store.TOPOMAP_GRID); must divide by 8
    channels: int = 64  # width of the first convolution; doubled at each of the three stride-2 stages
    d_model: int = 256  # output width
    dropout: float = 0.1  # before the output projection

    def __post_init__(self) -> None:
        if self.grid % 8:
            raise ValueError(f"grid ({self.grid}) must be a multiple of 8 (three stride-2 stages)")
        if self.channels % 8:
            raise ValueError(f"channels ({self.channels}) must be a multiple of 8 (GroupNorm groups)")

    @classmethod
    def tiny(cls) -> TopomapConfig:
        return cls(channels=8, d_model=32, dropout=0.0)

    @classmethod
    def default(cls) -> TopomapConfig:
        return cls()


def _conv_stage(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1), nn.GroupNorm(8, c_out), nn.GELU()
    )


class TopomapEncoder(nn.Module):
    """Small CNN over band-power scalp maps: (B, n_bands, grid, grid) log10 µV² → (B, d).

    An extra input plane marks the head disk (pixels where any band is non-zero), so that the zeros
    outside the head are not read as log10 power 0 (1 µV²). Rows with ``has_topomap`` False (bipolar
    segments) get a learned "no map" embedding: one vector, the same for every such row.
    """

    def __init__(self, config: TopomapConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or TopomapConfig()
        w = c.channels
        self.net = nn.Sequential(
            _conv_stage(c.n_bands + 1, w, 1),  # (w, G, G)
            _conv_stage(w, 2 * w, 2),  # (2w, G/2, G/2)
            _conv_stage(2 * w, 4 * w, 2),  # (4w, G/4, G/4)
            _conv_stage(4 * w, 4 * w, 2),  # (4w, G/8, G/8)
        )
        self.drop = nn.Dropout(c.dropout)
        self.proj = nn.Linear(4 * w, c.d_model)
        self.ln_f = nn.LayerNorm(c.d_model)
        self.no_map = nn.Parameter(torch.zeros(c.d_model))
        nn.init.normal_(self.no_map, std=0.02)

    def forward(self, topomap: torch.Tensor, has_topomap: torch.Tensor | None = None) -> torch.Tensor:
        """topomap (B, n_bands, grid, grid), has_topomap (B,) bool (default: maps that are not all
        zero) → (B, d)."""
        c = self.config
        if topomap.shape[1:] != (c.n_bands, c.grid, c.grid):
            raise ValueError(
                f"expected maps of shape (B, {c.n_bands}, {c.grid}, {c.grid}), got {tuple(topomap.shape)}"
            )
        if has_topomap is None:
            has_topomap = topomap.flatten(1).abs().amax(dim=1) > 0
        head = (topomap != 0).any(dim=1, keepdim=True).to(topomap.dtype)  # (B, 1, G, G)
        h = self.net(torch.cat([topomap, head], dim=1)).mean(dim=(2, 3))  # (B, 4w)
        embedding = self.ln_f(self.proj(self.drop(h)))  # (B, d)
        return torch.where(
            has_topomap.to(embedding.device)[:, None], embedding, self.no_map.to(embedding.dtype)
        )


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)

"""Two small short-window EEG encoders of our own, after BIOT and LaBraM, trained from scratch.

They exist because braindecode (which holds the real BIOT, LaBraM and CBraMod, see :mod:`.peers`)
imports torchaudio at import time, and torchaudio has no CPU build on PyPI: on a CPU-only machine
``import braindecode.models`` fails, and the benchmark would have no short-window peer to run. These
two are written by hand, follow the published ideas, and are named for what they are -- ``biot_style``
and ``labram_style`` are *not* the original models, nor their pretrained weights:

- :class:`BiotStyle` (after BIOT, Yang et al. 2023): each channel's window -> STFT of 1-s frames
  (``n_fft`` = 200 samples at 200 Hz, hop 100, Hann window) -> log power ``log1p(|X|^2)`` of the 101 bins
  -> one linear token per (channel, frame); plus a learned channel embedding and a sinusoidal time
  position; a small Transformer encoder; mean over the tokens of the channels that hold data.
- :class:`LabramStyle` (after LaBraM, Jiang et al. 2024): each channel's window cut into 1-s patches
  (200 samples) -> a temporal convolution patch encoder (LaBraM's three conv/GELU/GroupNorm layers, small)
  -> one token per (channel, patch); plus learned spatial (channel) and temporal (patch) embeddings; a small
  Transformer encoder; mean over the tokens of the channels that hold data.

Both take ``x`` (batch, 19, n_times) already scaled (see :data:`.peers.INPUT_SCALE_UV`) with masked rows
zeroed, ``channel_mask`` (batch, 19) bool, and ``bipolar`` (batch,) bool: rows mean referential
electrodes (``CANONICAL_19``) or double-banana derivations, so a learned montage embedding is added to
every token. Masked channels' tokens are excluded from attention (key padding) and from the pooling.
:meth:`features` gives the pooled embedding (batch, d_model), the input of the final linear layer
``head`` that :meth:`forward` applies.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

N_CHANNELS = 19


def sinusoidal_positions(n: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """(n, dim) sine/cosine positions of Vaswani et al. (dim even)."""
    position = torch.arange(n, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    out = torch.zeros(n, dim, device=device)
    out[:, 0::2] = torch.sin(position * freq)
    out[:, 1::2] = torch.cos(position * freq)
    return out


class _Block(nn.Module):
    """Pre-norm Transformer block on scaled_dot_product_attention, dropout on the residual branches only
    (dropout on the attention weights forces SDPA's slow path on CPU)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.n_heads = n_heads
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(batch, length, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(
            q, k, v, attn_mask=keep[:, None, None, :]
        )  # no attention dropout
        x = x + self.drop(self.proj(attn.transpose(1, 2).reshape(batch, length, dim)))
        return x + self.drop(self.mlp(self.norm2(x)))


class _TokenEncoder(nn.Module):
    """What both models share: montage embedding, Transformer over (channel, time) tokens, masked mean pool,
    linear head."""

    def __init__(self, n_outputs: int, d_model: int, n_layers: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.d_model = d_model
        self.montage_embedding = nn.Embedding(2, d_model)  # 0 referential, 1 bipolar
        self.blocks = nn.ModuleList(_Block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_outputs)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, n_times) -> (batch, channels, steps, d_model), positions included."""
        raise NotImplementedError

    def features(
        self, x: torch.Tensor, channel_mask: torch.Tensor, bipolar: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Pooled embedding (batch, d_model): mean of the encoded tokens of the channels that hold data."""
        tokens = self.tokens(x)  # (B, C, S, D)
        batch, n_chans, steps, _ = tokens.shape
        if bipolar is None:
            bipolar = torch.zeros(batch, dtype=torch.bool, device=x.device)
        tokens = tokens + self.montage_embedding(bipolar.long())[:, None, None, :]
        valid = channel_mask.bool()
        valid = valid | ~valid.any(dim=1, keepdim=True)  # a window with no channel: attend to (zero) all
        keep = valid[:, :, None].expand(batch, n_chans, steps).reshape(batch, n_chans * steps)
        encoded = tokens.reshape(batch, n_chans * steps, -1)
        for block in self.blocks:
            encoded = block(encoded, keep)
        encoded = self.norm(encoded).masked_fill(~keep[:, :, None], 0.0)
        return encoded.sum(dim=1) / keep.sum(dim=1, keepdim=True).to(encoded.dtype)

    def forward(
        self, x: torch.Tensor, channel_mask: torch.Tensor, bipolar: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (batch, n_outputs)."""
        return self.head(self.features(x, channel_mask, bipolar))


class BiotStyle(_TokenEncoder):
    """After BIOT: STFT log-power tokens per (channel, 1-s frame). See the module docstring.

    Parameters
    ----------
    n_outputs : int
        Width of the linear head (the finding codes when trained by :func:`.peers.train_peer`).
    n_chans : int
    d_model, n_layers, n_heads, dropout : Transformer size
    n_fft, hop : STFT frame and hop in samples (200, 100: 1-s frames every 0.5 s at 200 Hz)
    """

    def __init__(self, n_outputs: int, *, n_chans: int = N_CHANNELS, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 4, dropout: float = 0.1, n_fft: int = 200, hop: int = 100) -> None:  # fmt: skip
        super().__init__(n_outputs, d_model, n_layers, n_heads, dropout)
        self.n_fft, self.hop = int(n_fft), int(hop)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.channel_embedding = nn.Embedding(n_chans, d_model)
        self.token = nn.Linear(self.n_fft // 2 + 1, d_model)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        batch, n_chans, n_times = x.shape
        spec = torch.stft(x.reshape(batch * n_chans, n_times).float(), n_fft=self.n_fft, hop_length=self.hop,
                          window=self.window, center=False, onesided=True, return_complex=True)  # fmt: skip
        power = torch.log1p(spec.real.square() + spec.imag.square())  # (B*C, n_freq, frames)
        tokens = self.token(power.transpose(1, 2)).reshape(batch, n_chans, power.shape[-1], -1)
        channel = self.channel_embedding.weight[:n_chans][None, :, None, :]
        time = sinusoidal_positions(power.shape[-1], self.d_model, x.device)[None, None]
        return tokens + channel + time.to(tokens.dtype)


class LabramStyle(_TokenEncoder):
    """After LaBraM: temporal-conv tokens per (channel, 1-s patch). See the module docstring.

    Parameters
    ----------
    n_outputs : int
    n_chans : int
    d_model, n_layers, n_heads, dropout : Transformer size
    patch : int
        Patch length in samples (200: 1 s at 200 Hz); ``n_times`` must be a multiple of it.
    max_patches : int
        Size of the learned temporal embedding (patches per window at most).
    conv_channels : int
        Width of the temporal convolutions.
    """

    def __init__(self, n_outputs: int, *, n_chans: int = N_CHANNELS, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 4, dropout: float = 0.1, patch: int = 200, max_patches: int = 16,
                 conv_channels: int = 8) -> None:  # fmt: skip
        super().__init__(n_outputs, d_model, n_layers, n_heads, dropout)
        self.patch = int(patch)
        c = int(conv_channels)
        groups = 4 if c % 4 == 0 else 1
        # LaBraM's TemporalConv: a strided wide kernel, then two narrow ones, each GELU + GroupNorm.
        self.conv = nn.Sequential(
            nn.Conv1d(1, c, kernel_size=15, stride=8, padding=7), nn.GELU(), nn.GroupNorm(groups, c),
            nn.Conv1d(c, c, kernel_size=3, padding=1), nn.GELU(), nn.GroupNorm(groups, c),
            nn.Conv1d(c, c, kernel_size=3, padding=1), nn.GELU(), nn.GroupNorm(groups, c),
        )  # fmt: skip
        conv_len = (self.patch + 2 * 7 - 15) // 8 + 1
        self.token = nn.Linear(c * conv_len, d_model)
        self.spatial_embedding = nn.Embedding(n_chans, d_model)
        self.temporal_embedding = nn.Embedding(max_patches, d_model)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        batch, n_chans, n_times = x.shape
        if n_times % self.patch:
            raise ValueError(f"n_times ({n_times}) is not a multiple of the patch length ({self.patch})")
        n_patches = n_times // self.patch
        if n_patches > self.temporal_embedding.num_embeddings:
            raise ValueError(
                f"{n_patches} patches per window; at most {self.temporal_embedding.num_embeddings}"
            )
        patches = x.reshape(batch * n_chans * n_patches, 1, self.patch)
        tokens = self.token(self.conv(patches).flatten(1)).reshape(batch, n_chans, n_patches, -1)
        spatial = self.spatial_embedding.weight[:n_chans][None, :, None, :]
        temporal = self.temporal_embedding.weight[:n_patches][None, None, :, :]
        return tokens + spatial + temporal

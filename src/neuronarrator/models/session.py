"""The session Transformer: CLEF's encoder over the token sequence of a whole session (DESIGN.md).

A session is tokenized tile by tile (:mod:`~neuronarrator.models.tiles`,
:mod:`~neuronarrator.models.tokenizer`); this model reads all of its codes at once. Token order, which
:func:`positions_for` assumes:

* tiles in the order :func:`~neuronarrator.models.tiles.session_tiles` gives them (time-major: the 16
  derivations of time tile 0, then of time tile 1, …);
* within a tile, the tokenizer's ``encode`` order: row-major over the codes_freq × codes_time grid
  (all time columns of frequency row 0, then of row 1, …).

Each token's input is the sum of learned embeddings of its code, its derivation, its frequency row in
the tile and its absolute time position (``time_tile · codes_time + column``), so order in the sequence
carries no meaning and sessions of any length up to ``max_time_tiles`` share one model. A CLS token is
prepended; its output is the session embedding. Blocks are pre-LN encoder blocks (nanoGPT's, without the
causal mask) whose attention is ``scaled_dot_product_attention`` with a key-padding mask.

Pretraining is masked-token prediction: a fraction of the valid tokens are replaced by MASK (all of them;
no BERT 80/10/10, since the encoder is never fine-tuned on inputs without MASK tokens in a way that the
10/10 would help) and predicted through a head tied to the code embedding.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuronarrator.models.tokenizer import pick_device

log = logging.getLogger(__name__)

__all__ = ["SessionConfig", "SessionTransformer", "autocast_context", "mask_tokens", "masked_token_loss",
           "mean_pool", "pick_device", "positions_for", "session_batch"]  # fmt: skip


def autocast_context(device: torch.device | str):
    """bf16 autocast on CUDA; nothing on CPU."""
    if torch.device(device).type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


@dataclass
class SessionConfig:
    vocab_size: int = 8192  # codes of the tokenizer's codebook; MASK, PAD and CLS take the next three ids
    d_model: int = 512  # width of the residual stream
    n_layers: int = 8  # Transformer blocks (CLEF: 8–12)
    n_heads: int = 8  # attention heads; d_model must divide by it
    mlp_ratio: int = 4  # MLP hidden width = mlp_ratio · d_model
    dropout: float = 0.1  # on embeddings, attention weights and residual branches (training only)
    max_time_tiles: int = 12  # longest session in time tiles (12 × 20 min = 4 h); longer → error
    n_derivations: int = 16  # derivations per time tile (the 16 lateral double-banana ones)
    codes_freq: int = 8  # code-grid height of a tile (TokenizerConfig.codes_freq)
    codes_time: int = 16  # code-grid width of a tile (TokenizerConfig.codes_time)

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")

    @property
    def mask_id(self) -> int:
        return self.vocab_size

    @property
    def pad_id(self) -> int:
        return self.vocab_size + 1

    @property
    def cls_id(self) -> int:
        return self.vocab_size + 2

    @property
    def n_embeddings(self) -> int:
        """Rows of the token embedding: codes plus MASK, PAD, CLS."""
        return self.vocab_size + 3

    @property
    def max_time_pos(self) -> int:
        return self.max_time_tiles * self.codes_time

    @classmethod
    def tiny(cls) -> SessionConfig:
        """Matches TokenizerConfig.tiny() (64 codes, 4 × 8 per tile); trains on CPU in seconds."""
        return cls(vocab_size=64, d_model=32, n_layers=2, n_heads=4, mlp_ratio=2, dropout=0.0,
                   max_time_tiles=4, codes_freq=4, codes_time=8)  # fmt: skip

    @classmethod
    def paper(cls) -> SessionConfig:
        """CLEF: 8192 codes, 16 derivations × 8 × 16 codes = 2,048 tokens per 20 minutes, d_model 512."""
        return cls()


def positions_for(tile_index: torch.Tensor, config: SessionConfig) -> tuple[torch.Tensor, ...]:
    """Per-token position ids of a session's tiles, in the token order of the module docstring.

    Parameters
    ----------
    tile_index : Tensor, shape (n_tiles, 2), long
        (derivation, time tile) of each tile, as ``session_tiles`` returns it.

    Returns
    -------
    derivation, freq_row, time_pos : Tensors, shape (n_tiles · codes_freq · codes_time,), long
    """
    h, w = config.codes_freq, config.codes_time
    n_tiles = tile_index.shape[0]
    rows = torch.arange(h, device=tile_index.device).repeat_interleave(w)  # (h·w,) row-major
    cols = torch.arange(w, device=tile_index.device).repeat(h)  # (h·w,)
    derivation = tile_index[:, 0:1].expand(n_tiles, h * w)  # (n_tiles, h·w)
    time_pos = tile_index[:, 1:2] * w + cols[None, :]  # (n_tiles, h·w)
    freq_row = rows[None, :].expand(n_tiles, h * w)  # (n_tiles, h·w)
    return derivation.reshape(-1), freq_row.reshape(-1), time_pos.reshape(-1)


class SelfAttention(nn.Module):
    def __init__(self, config: SessionConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, C), attn_mask (B, 1, 1, T) bool, True on keys that may be attended to."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)  # 3 × (B, T, C)
        q, k, v = (z.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2) for z in (q, k, v))
        # q, k, v: (B, nh, T, hs)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(b, t, c)  # (B, T, C)
        return self.resid_dropout(self.proj(y))


class MLP(nn.Module):
    def __init__(self, config: SessionConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.d_model, config.mlp_ratio * config.d_model)
        self.proj = nn.Linear(config.mlp_ratio * config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LN encoder block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: SessionConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), attn_mask)
        return x + self.mlp(self.ln_2(x))


def mean_pool(hidden: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
    """Mean of hidden (B, N, d) over the tokens where pad_mask (B, N) is False → (B, d)."""
    weight = (~pad_mask).to(hidden.dtype)[..., None]  # (B, N, 1)
    return (hidden * weight).sum(1) / weight.sum(1).clamp_min(1.0)


class SessionTransformer(nn.Module):
    def __init__(self, config: SessionConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.n_embeddings, config.d_model)
        self.deriv_emb = nn.Embedding(config.n_derivations, config.d_model)
        self.freq_emb = nn.Embedding(config.codes_freq, config.d_model)
        self.time_emb = nn.Embedding(config.max_time_pos, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        # Tied to the code embedding (nanoGPT / BERT): at 8192 × 512 an untied head would add 4M parameters.
        self.head = nn.Linear(config.d_model, config.n_embeddings, bias=False)
        self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        log.info("session transformer: %.2fM parameters", sum(p.numel() for p in self.parameters()) / 1e6)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_positions(self, derivation, freq_row, time_pos, pad_mask) -> None:
        c = self.config
        for name, ids, limit, fix in (
            ("derivation", derivation, c.n_derivations, "n_derivations"),
            ("freq_row", freq_row, c.codes_freq, "codes_freq"),
            ("time_pos", time_pos, c.max_time_pos, "max_time_tiles"),
        ):
            valid = ids[~pad_mask]
            if valid.numel() and (valid.min() < 0 or valid.max() >= limit):
                raise ValueError(
                    f"{name} ids must lie in [0, {limit}), got {int(valid.min())}..{int(valid.max())}: "
                    f"crop the session or build the model with a larger {fix}"
                )

    def forward(
        self,
        codes: torch.Tensor,
        derivation: torch.Tensor,
        freq_row: torch.Tensor,
        time_pos: torch.Tensor,
        pad_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """codes, derivation, freq_row, time_pos (B, N) long and pad_mask (B, N) bool (True on padding) →
        (hidden (B, N, d) after the final LayerNorm, session embedding (B, d): the CLS output).

        Positions of padded tokens are ignored (they may hold anything)."""
        self._check_positions(derivation, freq_row, time_pos, pad_mask)
        b, n = codes.shape
        # Padded tokens still pass through the blocks; zeroed ids keep their lookups in range.
        derivation, freq_row, time_pos = (
            ids.masked_fill(pad_mask, 0) for ids in (derivation, freq_row, time_pos)
        )
        codes = codes.masked_fill(pad_mask, self.config.pad_id)
        x = (
            self.tok_emb(codes)
            + self.deriv_emb(derivation)
            + self.freq_emb(freq_row)
            + self.time_emb(time_pos)
        )
        cls = self.tok_emb.weight[self.config.cls_id].expand(b, 1, -1)  # (B, 1, d)
        x = self.drop(torch.cat([cls, x], dim=1))  # (B, 1+N, d)
        keep = torch.cat([pad_mask.new_zeros(b, 1), pad_mask], dim=1)  # (B, 1+N): CLS is never padding
        attn_mask = ~keep[:, None, None, :]  # (B, 1, 1, 1+N): every query sees every valid key
        for block in self.blocks:
            x = block(x, attn_mask)
        x = self.ln_f(x)  # (B, 1+N, d)
        return x[:, 1:], x[:, 0]

    def session_embedding(self, batch: dict[str, torch.Tensor], pool: str = "cls") -> torch.Tensor:
        """(B, d) embedding of a batch (keys as :meth:`forward`'s arguments) for the alignment stage:
        ``pool="cls"`` the CLS output, ``pool="mean"`` the mean over valid tokens."""
        hidden, cls = self(**batch)
        pools = {"cls": lambda: cls, "mean": lambda: mean_pool(hidden, batch["pad_mask"])}
        if pool not in pools:
            raise ValueError(f"pool must be one of {sorted(pools)}, got {pool!r}")
        return pools[pool]()


def mask_tokens(
    codes: torch.Tensor,
    mask_ratio: float,
    generator: torch.Generator | None,
    mask_id: int,
    pad_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace round(mask_ratio · n_valid) (at least one) random valid tokens of each row by ``mask_id``.

    Every chosen token becomes MASK (no BERT 80/10/10). Returns (masked codes (B, N), target (B, N) bool:
    True where a token was masked and must be predicted). Padded tokens are never chosen.
    """
    if not 0.0 < mask_ratio <= 1.0:
        raise ValueError(f"mask_ratio must be in (0, 1], got {mask_ratio}")
    if pad_mask is None:
        pad_mask = torch.zeros_like(codes, dtype=torch.bool)
    scores = torch.rand(codes.shape, generator=generator, device="cpu").to(codes.device)  # (B, N)
    scores = scores.masked_fill(pad_mask, 2.0)  # padding sorts after every valid token
    rank = scores.argsort(dim=1).argsort(dim=1)  # (B, N): rank of each token's score in its row
    n_valid = (~pad_mask).sum(1)  # (B,)
    n_mask = (n_valid.float() * mask_ratio).round().long().clamp(min=1).minimum(n_valid)  # (B,)
    target = rank < n_mask[:, None]  # (B, N)
    return codes.masked_fill(target, mask_id), target


def masked_token_loss(
    model: SessionTransformer,
    batch: dict[str, torch.Tensor],
    mask_ratio: float = 0.15,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cross-entropy of the original codes at masked positions only (mean over masked tokens).

    ``batch`` holds :meth:`SessionTransformer.forward`'s arguments; logits cover the codes only, never
    the special ids."""
    c = model.config
    masked, target = mask_tokens(batch["codes"], mask_ratio, generator, c.mask_id, batch["pad_mask"])
    with autocast_context(batch["codes"].device):
        hidden, _ = model(**{**batch, "codes": masked})
        logits = model.head(hidden[target])[:, : c.vocab_size]  # (n_masked, vocab_size)
    return F.cross_entropy(logits.float(), batch["codes"][target])


def session_batch(
    codes: list[torch.Tensor],
    tile_index: list[torch.Tensor],
    config: SessionConfig,
    token_valid: list[torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Pad sessions of different lengths into a batch for :meth:`SessionTransformer.forward`.

    ``codes[i]`` is (n_tiles_i, codes_freq · codes_time) long (one tokenizer ``encode`` row per tile),
    ``tile_index[i]`` (n_tiles_i, 2) from ``session_tiles`` and, optionally, ``token_valid[i]`` (n_tiles_i,
    codes_freq · codes_time) bool: tokens that hold no data (a missing derivation, the padded end of a
    session) become padding too."""
    rows = [(c.reshape(-1), *positions_for(t, config)) for c, t in zip(codes, tile_index, strict=True)]
    n = max(r[0].numel() for r in rows)
    out = {
        k: torch.zeros(len(rows), n, dtype=torch.long)
        for k in ("codes", "derivation", "freq_row", "time_pos")
    }
    out["pad_mask"] = torch.ones(len(rows), n, dtype=torch.bool)
    for i, row in enumerate(rows):
        for key, ids in zip(("codes", "derivation", "freq_row", "time_pos"), row, strict=True):
            out[key][i, : ids.numel()] = ids
        out["pad_mask"][i, : row[0].numel()] = False if token_valid is None else ~token_valid[i].reshape(-1)
    return out

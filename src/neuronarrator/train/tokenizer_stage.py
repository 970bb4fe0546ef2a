"""CLEF stage 1: train the spectrogram tokenizer (VQ-GAN) on a corpus's train split.

Tiles come from :func:`~neuronarrator.models.session_tokens.signal_tiles` (the double banana's 16 lateral
derivations, taken from the stored waveform); tiles of a derivation touching a missing electrode are
dropped. All tiles are held in memory: fine for tests and small corpora, not for a full corpus.

Config keys (``configs/tiny.yaml``): ``corpus`` (dir), ``tokenizer`` (preset ``tiny``/``paper``),
``tokenizer_overrides`` (TokenizerConfig fields), ``steps``, ``batch_size``, ``lr``, ``checkpoint``,
``seed``, optional ``log_every``, ``checkpoint_every``, ``grad_clip``, ``max_sessions``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from neuronarrator.train.batches import epoch_batches
from neuronarrator.train.config import check_config
from neuronarrator.train.loop import TrainConfigError, finish_stage, stage_checkpoint, train_loop

log = logging.getLogger(__name__)

REQUIRED = ("corpus", "tokenizer", "steps", "batch_size", "lr", "checkpoint", "seed")


def tokenizer_config(config: Mapping[str, Any]):
    from neuronarrator.models.tokenizer import TokenizerConfig

    presets = {"tiny": TokenizerConfig.tiny, "paper": TokenizerConfig.paper}
    if config["tokenizer"] not in presets:
        raise TrainConfigError(
            f"tokenizer preset {config['tokenizer']!r} is unknown; known: {', '.join(presets)}"
        )
    overrides = dict(config.get("tokenizer_overrides") or {})
    fields = {f.name for f in dataclasses.fields(TokenizerConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TrainConfigError(f"tokenizer_overrides has unknown fields {unknown}")
    try:
        return dataclasses.replace(presets[config["tokenizer"]](), **overrides)
    except ValueError as error:
        raise TrainConfigError(f"tokenizer_overrides: {error}") from None


def split_tiles(corpus_dir: str | Path, split: str, tok_config, max_sessions: int | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """All tiles of one split whose derivation has both electrodes: (tiles (N, 1, F, T), mask (N, T))."""
    from neuronarrator.eval.signals import corpus_sessions
    from neuronarrator.models.session_tokens import signal_tiles

    sessions, _ = corpus_sessions(corpus_dir, split, max_sessions)
    tiles, masks = [], []
    for signal in sessions:
        t = signal_tiles(signal, tok_config)
        tiles.append(t.tiles[t.tile_ok])
        masks.append(t.column_mask[t.tile_ok])
    if not tiles:
        return torch.zeros(0, 1, tok_config.tile_freqs, tok_config.tile_times), torch.zeros(
            0, tok_config.tile_times, dtype=torch.bool
        )
    return torch.cat(tiles), torch.cat(masks)


@torch.no_grad()
def evaluate_tokenizer(
    model, tiles: torch.Tensor, masks: torch.Tensor, batch_size: int = 64
) -> dict[str, Any]:
    """Masked L1 / L2 reconstruction error, codebook usage and perplexity over the given tiles."""
    if len(tiles) == 0:
        return {"n_tiles": 0, "l1": None, "l2": None, "codebook_usage": None, "perplexity": None}
    model.eval()
    device = next(model.parameters()).device
    l1 = l2 = n = 0.0
    codes = []
    for b in range(0, len(tiles), batch_size):
        x, m = tiles[b : b + batch_size].to(device), masks[b : b + batch_size].to(device)
        recon = model.decode(model.encode(x))  # (B, 1, F, T)
        w = m[:, None, None, :].to(x.dtype).expand_as(x)
        l1 += float(((recon - x).abs() * w).sum())
        l2 += float(((recon - x).pow(2) * w).sum())
        n += float(w.sum())
        codes.append(model.encode(x).cpu())
    all_codes = torch.cat(codes)
    return {"n_tiles": len(tiles), "l1": l1 / max(n, 1.0), "l2": l2 / max(n, 1.0),
            "codebook_usage": model.codebook_usage(all_codes), "perplexity": model.perplexity(all_codes)}  # fmt: skip


def train_tokenizer(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    """Train the spectrogram tokenizer on the corpus's train split; evaluate on its val split.

    Returns ``{"checkpoint", "step", "history", "val"}``; ``val`` is also stored in the checkpoint's
    manifest. An empty val split gives ``None`` metrics (logged), not an error.
    """
    from neuronarrator.io.errors import CorpusError
    from neuronarrator.models.tokenizer import SpectrogramTokenizer

    check_config(config, REQUIRED, "tokenizer")
    tok_config = tokenizer_config(config)
    max_sessions = config.get("max_sessions")
    tiles, masks = split_tiles(config["corpus"], "train", tok_config, max_sessions)
    if len(tiles) == 0:
        raise CorpusError(f"{config['corpus']}: the train split has no sessions to tile")
    batch_size = int(config["batch_size"])
    log.info("tokenizer: %d train tiles, batches of %d", len(tiles), batch_size)
    seed = int(config["seed"])
    torch.manual_seed(seed)  # the model's initial weights
    model = SpectrogramTokenizer(tok_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(config["lr"]))

    def loss_fn(model, batch):
        return model(batch["tiles"], batch["mask"])[2]["total"]

    history = train_loop(
        model, epoch_batches(len(tiles), batch_size, seed, lambda pick: {"tiles": tiles[pick], "mask": masks[pick]}),
        optimizer, loss_fn=loss_fn,
        steps=int(config["steps"]), checkpoint_path=config["checkpoint"], config_dict=dict(config),
        log_every=int(config.get("log_every", 10)), checkpoint_every=config.get("checkpoint_every"),
        resume=resume, seed=seed, grad_clip=config.get("grad_clip", 1.0),
    )  # fmt: skip
    val_tiles, val_masks = split_tiles(config["corpus"], "val", tok_config, max_sessions)
    val = evaluate_tokenizer(model, val_tiles, val_masks)
    if not val["n_tiles"]:
        log.warning("%s: the val split is empty; no validation metrics", config["corpus"])
    return finish_stage(config, "tokenizer", history, val, train_tiles=len(tiles))


def load_tokenizer(path: str | Path, device: torch.device | str = "cpu"):
    """The trained tokenizer of a tokenizer-stage checkpoint, in eval mode."""
    from neuronarrator.models.tokenizer import SpectrogramTokenizer

    ckpt = stage_checkpoint(path, "tokenizer", device)
    model = SpectrogramTokenizer(tokenizer_config(ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()

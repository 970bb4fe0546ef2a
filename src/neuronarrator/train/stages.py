"""Training stages: a config dict in, a trained checkpoint and a metrics dict out (``STAGES``).

Tokenizer tiles: the corpus stores 19 rows per session (referential electrodes, or for bipolar-only
recordings the 18 double-banana derivations and one empty row) and :class:`SessionDataset` computes its
spectrogram on those rows. Bipolar power cannot be derived from referential power, so this stage reads the
session's waveform instead, takes the double banana linearly (``bipolar_matrix @ referential``; bipolar
sessions already are), computes the multitaper spectrogram on the 18 derivations and tiles the 16 lateral
ones with :func:`session_tiles`. Tiles of a derivation touching a missing electrode (``channel_mask``) are
dropped. All tiles are held in memory: fine for tests and small corpora, not for a full corpus.

Config keys (``configs/tiny.yaml``): ``corpus`` (dir), ``tokenizer`` (preset ``tiny``/``paper``),
``tokenizer_overrides`` (TokenizerConfig fields), ``steps``, ``batch_size``, ``lr``, ``checkpoint``,
``seed``, optional ``log_every``, ``checkpoint_every``, ``grad_clip``, ``max_sessions``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuronarrator.train.loop import TrainConfigError, load_checkpoint, save_checkpoint, train_loop

log = logging.getLogger(__name__)

REQUIRED = ("corpus", "tokenizer", "steps", "batch_size", "lr", "checkpoint", "seed")


def _check_config(config: Mapping[str, Any]) -> None:
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise TrainConfigError(f"the training config lacks {', '.join(missing)}")


def tokenizer_config(config: Mapping[str, Any]):
    from neuronarrator.models.tokenizer import TokenizerConfig

    presets = {"tiny": TokenizerConfig.tiny, "paper": TokenizerConfig.paper}
    if config["tokenizer"] not in presets:
        raise TrainConfigError(f"tokenizer preset {config['tokenizer']!r} is unknown; known: {', '.join(presets)}")
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
    """All tiles of one split: (tiles (N, 1, F, T), mask (N, T)); see the module docstring."""
    from neuronarrator.corpus.datasets import SessionDataset
    from neuronarrator.corpus.sources.base import SFREQ_HZ
    from neuronarrator.io.channels import DOUBLE_BANANA_NAMES, bipolar_matrix
    from neuronarrator.models.tiles import LATERAL_16, session_tiles
    from neuronarrator.signal.multitaper import multitaper_spectrogram

    dataset = SessionDataset(corpus_dir, split, extras=False)
    matrix = bipolar_matrix()  # (18, 19)
    tiles, masks = [], []
    for index in range(len(dataset) if max_sessions is None else min(len(dataset), max_sessions)):
        reader = dataset.reader(int(dataset.shards[index]))
        start, stop = int(dataset.rows[index]), int(dataset.stops[index])
        segments = reader.segments_uv(start, stop)  # (n, 19, 2000)
        data_uv = segments.transpose(1, 0, 2).reshape(segments.shape[1], -1)  # (19, n * 2000)
        channel_mask = reader.small("channel_mask")[start].astype(bool)  # (19,)
        if dataset.value("montage", index) == "referential":
            data_uv = matrix @ data_uv  # (18, samples)
            deriv_ok = (np.abs(matrix) @ ~channel_mask) == 0  # (18,) both electrodes present
        else:
            data_uv, deriv_ok = data_uv[:18], channel_mask[:18]
        spec = multitaper_spectrogram(data_uv, SFREQ_HZ, fmax_hz=tok_config.fmax_hz)
        t, _, m = session_tiles(spec.log_psd, spec.freqs_hz, spec.times_s, tok_config, derivations=DOUBLE_BANANA_NAMES)
        lateral_ok = torch.as_tensor([deriv_ok[DOUBLE_BANANA_NAMES.index(n)] for n in LATERAL_16])
        keep = lateral_ok.repeat(t.shape[0] // len(LATERAL_16))  # tiles are time-major
        tiles.append(t[keep])
        masks.append(m[keep])
    if not tiles:
        return torch.zeros(0, 1, tok_config.tile_freqs, tok_config.tile_times), torch.zeros(0, tok_config.tile_times, dtype=torch.bool)
    return torch.cat(tiles), torch.cat(masks)


def _tile_batches(tiles: torch.Tensor, masks: torch.Tensor, batch_size: int, seed: int
                  ) -> Callable[[int], Iterator[dict[str, torch.Tensor]]]:  # fmt: skip
    """Endless shuffled batches; epoch e's order depends on (seed, e) only, so a resumed run continues it."""
    per_epoch = max(1, len(tiles) // batch_size)

    def batches(start_step: int) -> Iterator[dict[str, torch.Tensor]]:
        epoch, offset = divmod(start_step, per_epoch)
        while True:
            order = torch.randperm(len(tiles), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
            for b in range(offset, per_epoch):
                pick = order[b * batch_size : (b + 1) * batch_size]
                yield {"tiles": tiles[pick], "mask": masks[pick]}
            epoch, offset = epoch + 1, 0

    return batches


@torch.no_grad()
def evaluate_tokenizer(model, tiles: torch.Tensor, masks: torch.Tensor, batch_size: int = 64) -> dict[str, Any]:
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

    _check_config(config)
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
        model, _tile_batches(tiles, masks, batch_size, seed), optimizer, loss_fn=loss_fn,
        steps=int(config["steps"]), checkpoint_path=config["checkpoint"], config_dict=dict(config),
        log_every=int(config.get("log_every", 10)), checkpoint_every=config.get("checkpoint_every"),
        resume=resume, seed=seed, grad_clip=config.get("grad_clip", 1.0),
    )  # fmt: skip
    val_tiles, val_masks = split_tiles(config["corpus"], "val", tok_config, max_sessions)
    val = evaluate_tokenizer(model, val_tiles, val_masks)
    if not val["n_tiles"]:
        log.warning("%s: the val split is empty; no validation metrics", config["corpus"])
    ckpt = load_checkpoint(config["checkpoint"])
    ckpt["manifest"] = {**ckpt["manifest"], "stage": "tokenizer", "val": val, "train_tiles": len(tiles)}
    save_checkpoint(config["checkpoint"], ckpt)
    return {"checkpoint": str(config["checkpoint"]), "step": int(ckpt["step"]), "history": history, "val": val}


#: Stage name -> function ``(config, *, resume) -> metrics dict``.
STAGES: dict[str, Callable[..., dict[str, Any]]] = {"tokenizer": train_tokenizer}

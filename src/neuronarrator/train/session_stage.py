"""CLEF stage 2a: pretrain the session Transformer by masked-token prediction on the tokenizer's codes.

Every session of the train split is tokenized once with the trained tokenizer
(:func:`~neuronarrator.models.session_tokens.tokenize_session`; codes are held in memory, 2,048 longs per
20 minutes), then batches of whole sessions are padded together (:func:`session_batch`) and a fraction
``mask_ratio`` of each session's valid tokens is replaced by MASK and predicted. The mask is drawn from the
global torch RNG, whose state the checkpoint keeps, so a resumed run draws the masks an uninterrupted one
would have.

Config keys: ``corpus``, ``tokenizer_checkpoint``, ``session`` (preset ``tiny``/``paper``),
``session_overrides`` (:class:`SessionConfig` fields; the vocabulary and code grid always come from the
tokenizer), ``steps``, ``batch_size``, ``lr``, ``checkpoint``, ``seed``; optional ``mask_ratio`` (0.15),
``weight_decay`` (0.01), ``max_sessions``, ``log_every``, ``checkpoint_every``, ``grad_clip``.
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

REQUIRED = ("corpus", "tokenizer_checkpoint", "session", "steps", "batch_size", "lr", "checkpoint", "seed")
DEFAULT_MASK_RATIO = 0.15


def session_config(config: Mapping[str, Any], tok_config):
    """The :class:`SessionConfig` of a stage config, with the tokenizer's vocabulary and code grid."""
    from neuronarrator.models.session import SessionConfig

    presets = {"tiny": SessionConfig.tiny, "paper": SessionConfig.paper}
    if config["session"] not in presets:
        raise TrainConfigError(
            f"session preset {config['session']!r} is unknown; known: {', '.join(presets)}"
        )
    overrides = dict(config.get("session_overrides") or {})
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(SessionConfig)})
    if unknown:
        raise TrainConfigError(f"session_overrides has unknown fields {unknown}")
    tied = {"vocab_size": tok_config.codebook_size, "codes_freq": tok_config.codes_freq,
            "codes_time": tok_config.codes_time}  # fmt: skip
    try:
        return dataclasses.replace(presets[config["session"]](), **{**overrides, **tied})
    except ValueError as error:
        raise TrainConfigError(f"session_overrides: {error}") from None


def split_tokens(corpus_dir: str | Path, split: str, tokenizer, max_time_tiles: int,
                 max_sessions: int | None = None) -> list:  # fmt: skip
    """Tokens of every session of a split that has at least one valid token (others are logged and
    skipped). A session longer than ``max_time_tiles`` time tiles raises :class:`TrainConfigError`."""
    from neuronarrator.eval.signals import corpus_sessions
    from neuronarrator.models.session_tokens import tokenize_session

    sessions, _ = corpus_sessions(corpus_dir, split, max_sessions)
    out = []
    for signal in sessions:
        tokens = tokenize_session(tokenizer, signal)
        n_time_tiles = int(tokens.tile_index[:, 1].max()) + 1
        if n_time_tiles > max_time_tiles:
            raise TrainConfigError(
                f"{signal.session_id}: {signal.duration_s:.0f} s needs {n_time_tiles} time tiles but the session "
                f"model holds {max_time_tiles}; raise session_overrides.max_time_tiles"
            )
        if tokens.n_valid == 0:
            log.warning(
                "%s: no valid tokens (every derivation misses an electrode); skipped", signal.session_id
            )
            continue
        out.append(tokens)
    return out


def tokens_batch(tokens: list, config) -> dict[str, torch.Tensor]:
    from neuronarrator.models.session import session_batch

    return session_batch([t.codes for t in tokens], [t.tile_index for t in tokens], config,
                         [t.token_valid for t in tokens])  # fmt: skip


@torch.no_grad()
def evaluate_session(
    model, tokens: list, mask_ratio: float, seed: int = 0, batch_size: int = 16
) -> dict[str, Any]:
    """Masked-token loss and accuracy on held-out sessions with a fixed mask, and the accuracy of always
    predicting the most frequent code (what the model must beat to have learnt anything)."""
    from neuronarrator.models.session import autocast_context, mask_tokens

    if not tokens:
        return {"n_sessions": 0, "loss": None, "accuracy": None, "unigram_accuracy": None}
    model.eval()
    c = model.config
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    loss_sum = correct = n = 0.0
    targets_all = []
    for b in range(0, len(tokens), batch_size):
        batch = {k: v.to(device) for k, v in tokens_batch(tokens[b : b + batch_size], c).items()}
        masked, target = mask_tokens(batch["codes"], mask_ratio, generator, c.mask_id, batch["pad_mask"])
        with autocast_context(device):
            hidden, _ = model(**{**batch, "codes": masked})
            logits = model.head(hidden[target])[:, : c.vocab_size].float()  # (n_masked, vocab)
        truth = batch["codes"][target]
        loss_sum += float(torch.nn.functional.cross_entropy(logits, truth, reduction="sum"))
        correct += float((logits.argmax(-1) == truth).sum())
        n += truth.numel()
        targets_all.append(truth.cpu())
    truth = torch.cat(targets_all)
    unigram = float(torch.bincount(truth).max()) / max(truth.numel(), 1)
    return {"n_sessions": len(tokens), "loss": loss_sum / max(n, 1.0), "accuracy": correct / max(n, 1.0),
            "unigram_accuracy": unigram}  # fmt: skip


def train_session(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    """Masked-token pretraining on the train split; masked-token metrics on the val split.

    Returns ``{"checkpoint", "step", "history", "val"}``; ``val`` is also stored in the checkpoint's
    manifest, with ``session_config``."""
    from neuronarrator.io.errors import CorpusError
    from neuronarrator.models.session import SessionTransformer, masked_token_loss
    from neuronarrator.train.tokenizer_stage import load_tokenizer

    check_config(config, REQUIRED, "session")
    tokenizer = load_tokenizer(config["tokenizer_checkpoint"])
    model_config = session_config(config, tokenizer.config)
    mask_ratio = float(config.get("mask_ratio", DEFAULT_MASK_RATIO))
    max_sessions = config.get("max_sessions")
    tokens = split_tokens(config["corpus"], "train", tokenizer, model_config.max_time_tiles, max_sessions)
    if not tokens:
        raise CorpusError(f"{config['corpus']}: the train split has no sessions to tokenize")
    seed = int(config["seed"])
    torch.manual_seed(seed)
    model = SessionTransformer(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(config["lr"]),
                                  weight_decay=float(config.get("weight_decay", 0.01)))  # fmt: skip
    batch_size = int(config["batch_size"])
    log.info("session: %d train sessions, batches of %d, mask ratio %g", len(tokens), batch_size, mask_ratio)

    history = train_loop(
        model, epoch_batches(len(tokens), batch_size, seed, lambda pick: tokens_batch([tokens[i] for i in pick], model_config)),
        optimizer, loss_fn=lambda m, batch: masked_token_loss(m, batch, mask_ratio),
        steps=int(config["steps"]), checkpoint_path=config["checkpoint"], config_dict=dict(config),
        log_every=int(config.get("log_every", 10)), checkpoint_every=config.get("checkpoint_every"),
        resume=resume, seed=seed, grad_clip=config.get("grad_clip", 1.0),
    )  # fmt: skip
    val_tokens = split_tokens(config["corpus"], "val", tokenizer, model_config.max_time_tiles, max_sessions)
    val = evaluate_session(model, val_tokens, mask_ratio, seed)
    if not val["n_sessions"]:
        log.warning("%s: the val split is empty; no validation metrics", config["corpus"])
    return finish_stage(config, "session", history, val, train_sessions=len(tokens),
                        session_config=dataclasses.asdict(model_config))  # fmt: skip


def load_session_model(path: str | Path, device: torch.device | str = "cpu"):
    """The session Transformer of a session-stage checkpoint (eval mode) and its tokenizer."""
    from neuronarrator.models.session import SessionTransformer
    from neuronarrator.train.tokenizer_stage import load_tokenizer

    ckpt = stage_checkpoint(path, "session", device)
    tokenizer = load_tokenizer(ckpt["config"]["tokenizer_checkpoint"], device)
    model = SessionTransformer(session_config(ckpt["config"], tokenizer.config))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), tokenizer

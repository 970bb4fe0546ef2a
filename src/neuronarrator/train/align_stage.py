"""CLEF stage 2b: align the pretrained session Transformer with report summaries and EHR (InfoNCE).

Per session of the train split: its tokens (:mod:`~neuronarrator.models.session_tokens`), its report
summarised to electrographic content (:func:`report_summary`: the labeler's findings of the report
text rendered by :func:`~neuronarrator.clinical.summary.canonical_summary`; CLEF used an LLM summary)
embedded once by the frozen MiniLM, and its EHR. The model is :class:`~neuronarrator.models.clef.ClefAligner`
initialised from the session stage's checkpoint; everything but the text encoder trains.

Config keys: ``corpus``, ``session_checkpoint``, ``steps``, ``batch_size``, ``lr``, ``checkpoint``,
``seed``; optional ``align`` (:class:`AlignConfig` fields: ``d_align``, ``temperature``,
``learn_temperature``, ``text_weight``, ``ehr_weight``, ``pool``, ``ehr_hidden``), ``text_model`` (a local
sentence-transformers folder; default the packaged MiniLM), ``ehr_min_count`` (1), ``weight_decay``
(0.01), ``max_sessions``, ``log_every``, ``checkpoint_every``, ``grad_clip``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuronarrator.models.losses import symmetric_info_nce
from neuronarrator.train.batches import epoch_batches
from neuronarrator.train.config import check_config
from neuronarrator.train.loop import TrainConfigError, finish_stage, stage_checkpoint, train_loop

log = logging.getLogger(__name__)

REQUIRED = ("corpus", "session_checkpoint", "steps", "batch_size", "lr", "checkpoint", "seed")


def report_summary(report: str | None) -> str | None:
    """A report's electrographic content as the canonical summary of its labeled findings (None for an
    empty report: that session has no text pair)."""
    from neuronarrator.clinical.label import label_report
    from neuronarrator.clinical.summary import canonical_summary

    if not report or not report.strip():
        return None
    return canonical_summary(label_report(report))


def ehr_of(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The EHR dict of a manifest row, or None when it has no EHR field at all."""
    ehr = {"age_years": row.get("age_years"), "sex": row.get("sex") or None,
           "icd10": list(row.get("icd10") or []), "atc": list(row.get("atc") or [])}  # fmt: skip
    known = ehr["age_years"] is not None or ehr["sex"] is not None or ehr["icd10"] or ehr["atc"]
    return ehr if known else None


def _group_ids(keys: Sequence[Any]) -> torch.Tensor:
    index: dict[Any, int] = {}
    return torch.tensor([index.setdefault(k, len(index)) for k in keys], dtype=torch.long)


def _ehr_key(ehr: dict[str, Any] | None) -> Any:
    if ehr is None:
        return None
    age = None if ehr["age_years"] is None else round(float(ehr["age_years"]))
    return (age, ehr["sex"], tuple(sorted(ehr["icd10"])), tuple(sorted(ehr["atc"])))


@dataclasses.dataclass
class AlignData:
    """What the alignment stage reads of a split, aligned by session."""

    tokens: list
    summaries: list[str | None]
    text: torch.Tensor  # (n, d_text) float32, zeros where there is no summary
    has_text: torch.Tensor  # (n,) bool
    text_group: torch.Tensor  # (n,) long
    ehr: list[dict[str, Any]]
    has_ehr: torch.Tensor  # (n,) bool
    ehr_group: torch.Tensor  # (n,) long

    def batch(self, pick: Sequence[int], session_config) -> dict[str, Any]:
        from neuronarrator.train.session_stage import tokens_batch

        pick = [int(i) for i in pick]
        return {**tokens_batch([self.tokens[i] for i in pick], session_config),
                "text": self.text[pick], "has_text": self.has_text[pick], "text_group": self.text_group[pick],
                "ehr": [self.ehr[i] for i in pick], "has_ehr": self.has_ehr[pick], "ehr_group": self.ehr_group[pick]}  # fmt: skip


def align_data(corpus_dir, split: str, tokenizer, text_encoder, max_time_tiles: int,
               max_sessions: int | None = None) -> AlignData:  # fmt: skip
    from neuronarrator.eval.signals import corpus_sessions
    from neuronarrator.models.session_tokens import tokenize_session

    sessions, table = corpus_sessions(corpus_dir, split, max_sessions)
    rows = table.to_pylist()
    tokens, summaries, ehrs = [], [], []
    for signal, row in zip(sessions, rows, strict=True):
        t = tokenize_session(tokenizer, signal)
        if int(t.tile_index[:, 1].max()) + 1 > max_time_tiles:
            raise TrainConfigError(
                f"{signal.session_id}: longer than the session model's {max_time_tiles} time tiles"
            )
        if t.n_valid == 0:
            log.warning("%s: no valid tokens; skipped", signal.session_id)
            continue
        tokens.append(t)
        summaries.append(report_summary(row.get("narrative")))
        ehrs.append(ehr_of(row))
    unique = sorted({s for s in summaries if s is not None})
    vectors = text_encoder.encode(unique) if unique else np.zeros((0, text_encoder.dim), np.float32)
    by_text = dict(zip(unique, vectors, strict=True))
    text = torch.zeros(len(tokens), text_encoder.dim)
    for i, s in enumerate(summaries):
        if s is not None:
            text[i] = torch.from_numpy(by_text[s])
    return AlignData(
        tokens=tokens, summaries=summaries, text=text,
        has_text=torch.tensor([s is not None for s in summaries], dtype=torch.bool), text_group=_group_ids(summaries),
        ehr=[e or {} for e in ehrs], has_ehr=torch.tensor([e is not None for e in ehrs], dtype=torch.bool),
        ehr_group=_group_ids([_ehr_key(e) for e in ehrs]),
    )  # fmt: skip


def align_config(config: Mapping[str, Any], d_text: int):
    from neuronarrator.models.clef import AlignConfig

    fields = dict(config.get("align") or {})
    unknown = sorted(
        set(fields) - {f.name for f in dataclasses.fields(AlignConfig)} | ({"d_text"} & set(fields))
    )
    if unknown:
        raise TrainConfigError(f"align has unknown (or fixed) fields {unknown}")
    try:
        return AlignConfig(**fields, d_text=d_text)
    except (TypeError, ValueError) as error:
        raise TrainConfigError(f"align: {error}") from None


@torch.no_grad()
def evaluate_align(model, data: AlignData, session_config, batch_size: int = 32) -> dict[str, Any]:
    """Val InfoNCE terms over the whole split at once, and session→summary retrieval: top-1 accuracy
    (a hit is any session whose summary equals the true one) against its chance level."""
    if not data.tokens:
        return {"n_sessions": 0}
    model.eval()
    device = next(model.parameters()).device
    keys = ("codes", "derivation", "freq_row", "time_pos", "pad_mask")
    emb = []
    for b in range(0, len(data.tokens), batch_size):
        batch = data.batch(range(b, min(b + batch_size, len(data.tokens))), session_config)
        emb.append(model.session_embedding({k: batch[k].to(device) for k in keys}).float())
    emb = torch.cat(emb)  # (n, d_model)
    out: dict[str, Any] = {"n_sessions": len(data.tokens)}
    has_text, has_ehr = data.has_text.to(device), data.has_ehr.to(device)
    if int(has_text.sum()) >= 2:
        s = torch.nn.functional.normalize(model.session_text(emb[has_text]).float(), dim=-1)
        t = model.embed_text(data.text.to(device)[has_text])
        groups = data.text_group.to(device)[has_text]
        out["text_loss"] = float(symmetric_info_nce(s, t, model.tau_text(), groups))
        hit = groups[(s @ t.T).argmax(1)] == groups
        out["text_top1"] = float(hit.float().mean())
        out["text_top1_chance"] = float((groups[:, None] == groups[None, :]).float().mean(1).mean())
    if int(has_ehr.sum()) >= 2:
        rows = [e for e, keep in zip(data.ehr, data.has_ehr.tolist(), strict=True) if keep]
        s, e = model.session_ehr(emb[has_ehr]), model.ehr(rows)
        out["ehr_loss"] = float(symmetric_info_nce(s, e, model.tau_ehr(), data.ehr_group.to(device)[has_ehr]))
    return out


def train_align(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    """Contrastive alignment on the train split; retrieval metrics on the val split."""
    from neuronarrator.io.errors import CorpusError
    from neuronarrator.models.clef import ClefAligner
    from neuronarrator.models.ehr import EHRVocab
    from neuronarrator.models.text import TextEncoder
    from neuronarrator.train.session_stage import load_session_model

    check_config(config, REQUIRED, "align")
    session, tokenizer = load_session_model(config["session_checkpoint"])
    text_encoder = TextEncoder(config.get("text_model"), device="cpu")
    model_align = align_config(config, text_encoder.dim)
    max_sessions = config.get("max_sessions")
    max_tt = session.config.max_time_tiles
    data = align_data(config["corpus"], "train", tokenizer, text_encoder, max_tt, max_sessions)
    if len(data.tokens) < 2:
        raise CorpusError(
            f"{config['corpus']}: alignment needs at least 2 train sessions, found {len(data.tokens)}"
        )
    vocab = EHRVocab.build([e.get("icd10", []) for e in data.ehr], [e.get("atc", []) for e in data.ehr],
                           min_count=int(config.get("ehr_min_count", 1)))  # fmt: skip
    seed = int(config["seed"])
    torch.manual_seed(seed)
    model = ClefAligner(session.train(), vocab, model_align)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(config["lr"]),
                                  weight_decay=float(config.get("weight_decay", 0.01)))  # fmt: skip
    batch_size = int(config["batch_size"])
    log.info("align: %d train sessions (%d with a report, %d with EHR), %d distinct summaries",
             len(data.tokens), int(data.has_text.sum()), int(data.has_ehr.sum()), int(data.text_group.max()) + 1)  # fmt: skip
    history = train_loop(
        model, epoch_batches(len(data.tokens), batch_size, seed, lambda pick: data.batch(pick, session.config)),
        optimizer, loss_fn=lambda m, batch: m.losses(batch)["total"],
        steps=int(config["steps"]), checkpoint_path=config["checkpoint"], config_dict=dict(config),
        log_every=int(config.get("log_every", 10)), checkpoint_every=config.get("checkpoint_every"),
        resume=resume, seed=seed, grad_clip=config.get("grad_clip", 1.0),
    )  # fmt: skip
    val = evaluate_align(model, align_data(config["corpus"], "val", tokenizer, text_encoder, max_tt, max_sessions),
                         session.config)  # fmt: skip
    return finish_stage(config, "align", history, val, train_sessions=len(data.tokens), ehr_vocab=vocab.to_dict(),
                        align_config=dataclasses.asdict(model_align), text_model=str(text_encoder.path))  # fmt: skip


def load_clef(path: str | Path, device: torch.device | str = "cpu"):
    """(ClefAligner in eval mode, its tokenizer, its text-model path) from an align-stage checkpoint."""
    from neuronarrator.models.clef import AlignConfig, ClefAligner
    from neuronarrator.models.ehr import EHRVocab
    from neuronarrator.train.session_stage import load_session_model

    ckpt = stage_checkpoint(path, "align", device)
    manifest = ckpt["manifest"]
    session, tokenizer = load_session_model(ckpt["config"]["session_checkpoint"], device)
    model = ClefAligner(
        session, EHRVocab.from_dict(manifest["ehr_vocab"]), AlignConfig(**manifest["align_config"])
    )
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), tokenizer, manifest["text_model"]

"""NeuroNarrator stage 1: train :class:`~neuronarrator.models.stage1.Stage1Model` (waveform and topomap
encoders aligned by InfoNCE, with finding heads) on the corpus's train segments, then calibrate the
presence probabilities on the val split (:class:`~neuronarrator.models.calibration.Calibration`).

Batches come from a DataLoader over :class:`~neuronarrator.corpus.datasets.SegmentDataset` (fields
waveform, topomap, findings) in :class:`~neuronarrator.corpus.datasets.ShardBlockSampler` order; epoch
e uses the sampler's order for (seed, e) and visits ``n_train // batch_size`` (at least 1) full batches,
so a run resumed at step s skips straight to epoch ``s // per_epoch`` at that offset (no segment is read
to skip) and sees the batches an uninterrupted run would have.

Config keys: ``corpus``, ``stage1`` (preset ``tiny``/``default``), ``stage1_overrides`` (Stage1Config
fields; ``waveform`` and ``topomap`` take mappings of their configs' fields), ``steps``, ``batch_size``,
``lr``, ``checkpoint``, ``seed``; optional ``weight_decay`` (0.01), ``log_every``, ``checkpoint_every``,
``grad_clip``, ``num_workers`` (0), ``calibration`` (``temperature``, the default, or ``isotonic``),
``augment`` (true: :class:`~neuronarrator.models.augment.SegmentAugment`'s defaults, the default; false;
or a mapping of its fields), ``pos_weight`` (true, the default: positives weighted by the train split's
``n_negative / n_positive`` per code, clipped at ``max_pos_weight``, 30), ``schedule`` (``cosine``, the
default: :func:`~neuronarrator.train.loop.warmup_cosine` with ``warmup_steps``, default 10 % of
``steps``; or ``constant``).

Val metrics (:func:`evaluate_stage1`): presence F1 at the calibrated threshold 0.5 and AUROC per code and
macro over codes whose counted val labels hold both classes; side accuracy where the code is present and
has a side; InfoNCE retrieval top-1 waveform → topomap within val batches (with its chance level); the
reliability (ECE, MCE) of the presence probabilities before and after calibration; state accuracy; and
the same at the session level (``sessions``): a session's score for a code is the maximum of its segments'
calibrated probabilities, which ``Calibration.session`` (Platt per code, fitted on the val sessions) maps
to a session probability -- what the narrator's findings threshold at 0.5. Both calibrations are fitted
and measured on the same val split, so the "after" figures are in-sample (optimistic).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuronarrator.train.config import check_config
from neuronarrator.train.loop import (
    TrainConfigError,
    finish_stage,
    stage_checkpoint,
    train_loop,
    warmup_cosine,
)

log = logging.getLogger(__name__)

REQUIRED = ("corpus", "stage1", "steps", "batch_size", "lr", "checkpoint", "seed")
FIELDS = ("waveform", "topomap", "findings")
DEFAULT_CALIBRATION = "temperature"


def stage1_config(config: Mapping[str, Any]):
    """The :class:`Stage1Config` of a stage config: preset, then ``stage1_overrides``."""
    from neuronarrator.models.encoders import TopomapConfig, WaveformConfig
    from neuronarrator.models.stage1 import Stage1Config

    presets = {"tiny": Stage1Config.tiny, "default": Stage1Config.default}
    if config["stage1"] not in presets:
        raise TrainConfigError(f"stage1 preset {config['stage1']!r} is unknown; known: {', '.join(presets)}")
    base = presets[config["stage1"]]()
    overrides = dict(config.get("stage1_overrides") or {})
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(Stage1Config)})
    if unknown:
        raise TrainConfigError(f"stage1_overrides has unknown fields {unknown}")
    try:
        for name, cls in (("waveform", WaveformConfig), ("topomap", TopomapConfig)):
            if name in overrides:
                sub = overrides[name]
                if not isinstance(sub, Mapping):
                    raise TrainConfigError(
                        f"stage1_overrides.{name} must be a mapping of {cls.__name__} fields"
                    )
                bad = sorted(set(sub) - {f.name for f in dataclasses.fields(cls)})
                if bad:
                    raise TrainConfigError(f"stage1_overrides.{name} has unknown fields {bad}")
                overrides[name] = dataclasses.replace(getattr(base, name), **sub)
        return dataclasses.replace(base, **overrides)
    except (TypeError, ValueError) as error:
        raise TrainConfigError(f"stage1_overrides: {error}") from None


def segment_batches(dataset, batch_size: int, seed: int, num_workers: int = 0):
    """A ``start_step -> iterator`` of default-collated SegmentDataset batches for
    :func:`~neuronarrator.train.loop.train_loop` (see the module docstring for the order)."""
    from torch.utils.data import DataLoader

    from neuronarrator.corpus.datasets import ShardBlockSampler

    n = len(dataset)
    if n < 1:
        raise ValueError("no segments to batch")
    per_epoch = max(1, n // batch_size)
    sampler = ShardBlockSampler(dataset, seed=seed)

    def batches(start_step: int) -> Iterator[dict[str, Any]]:
        epoch, offset = divmod(start_step, per_epoch)
        while True:
            sampler.set_epoch(epoch)
            # full batches only (one short batch where n < batch_size)
            order = list(sampler)[: per_epoch * batch_size]
            loader = DataLoader(dataset, batch_size=batch_size, sampler=order[offset * batch_size :],
                                num_workers=num_workers, persistent_workers=False)  # fmt: skip
            yield from loader
            epoch, offset = epoch + 1, 0

    return batches


@torch.no_grad()
def predict_split(model, dataset, batch_size: int, num_workers: int = 0) -> dict[str, Any]:
    """Presence and side logits, targets and per-batch retrieval of a whole split (in manifest order)."""
    from torch.utils.data import DataLoader

    model.eval()
    keys = ("presence", "side_logits", "findings", "side", "labels_complete", "state_logits", "state")
    acc: dict[str, list] = {k: [] for k in keys}
    hits = rows = 0
    chance = 0.0
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers):
        out = model(batch)
        acc["presence"].append(out["presence"].float().cpu())
        acc["side_logits"].append(out["side"].float().cpu())
        acc["findings"].append(batch["findings"])
        acc["side"].append(batch["side"])
        acc["labels_complete"].append(torch.as_tensor(batch["labels_complete"], dtype=torch.bool))
        acc["state_logits"].append(out["state"].float().cpu())
        acc["state"].append(torch.as_tensor(batch["state"]))
        keep = out["has_topomap"]
        n = int(keep.sum())
        if n >= 2:
            a = torch.nn.functional.normalize(out["waveform_aligned"][keep].float(), dim=1)
            b = torch.nn.functional.normalize(out["topomap_aligned"][keep].float(), dim=1)
            pred = (a @ b.T).argmax(1).cpu()
            hits += int((pred == torch.arange(n)).sum())
            rows += n
            chance += 1.0  # each of the n rows has chance 1/n
    result = {k: torch.cat(v).numpy() for k, v in acc.items()} if acc["presence"] else {}
    result["retrieval"] = {"top1": hits / rows if rows else None, "chance": chance / rows if rows else None,
                           "n": rows}  # fmt: skip
    return result


def _binary_metrics(probs: np.ndarray, labels: np.ndarray, mask: np.ndarray, codes) -> dict[str, Any]:
    from sklearn.metrics import f1_score, roc_auc_score

    per_code: dict[str, dict[str, Any]] = {}
    for j, code in enumerate(codes):
        m = mask[:, j]
        y = labels[m, j] > 0
        if y.all() or not y.any():
            continue
        p = probs[m, j]
        per_code[code] = {"f1": float(f1_score(y, p >= 0.5, zero_division=0)), "auroc": float(roc_auc_score(y, p)),
                          "n_pos": int(y.sum()), "n_neg": int((~y).sum())}  # fmt: skip
    macro = {
        k: float(np.mean([v[k] for v in per_code.values()])) if per_code else None for k in ("f1", "auroc")
    }
    return {
        "per_code": per_code,
        "macro_f1": macro["f1"],
        "macro_auroc": macro["auroc"],
        "n_codes": len(per_code),
    }


def _reliability_summary(figures: dict[str, Any]) -> dict[str, Any]:
    return {"ece": figures["ece"], "mce": figures["mce"], "n": figures["n"],
            "bins": [list(b) for b in figures["bins"]]}  # fmt: skip


def evaluate_stage1(model, dataset, batch_size: int, method: str = DEFAULT_CALIBRATION, num_workers: int = 0):
    """Fit the calibration on a split and measure it there: ``(val metrics dict, Calibration)``."""
    from neuronarrator.clinical.findings import CODES
    from neuronarrator.models.calibration import Calibration, label_mask, logit, reliability, session_scores

    if len(dataset) == 0:
        empty = {
            "n_segments": 0,
            "presence": None,
            "side_accuracy": None,
            "state_accuracy": None,
            "retrieval": None,
            "calibration": None,
        }
        return empty, Calibration.identity(len(CODES), CODES)
    pred = predict_split(model, dataset, batch_size, num_workers)
    logits, labels = pred["presence"], pred["findings"]
    mask = label_mask(labels, pred["labels_complete"])
    calibration = Calibration.fit(logits, labels, mask, method=method, codes=CODES)
    before = reliability(1.0 / (1.0 + np.exp(-logits)), labels, mask=mask)
    probs = calibration.apply(logits)
    after = reliability(probs, labels, mask=mask)
    # the session level: the max over a session's segments, Platt-calibrated on the val sessions
    scores, s_labels, s_mask, _ = session_scores(probs, labels, mask, dataset.table.column("session_id").to_pylist())
    calibration.session = Calibration.fit(logit(scores), s_labels, s_mask, method="platt", codes=CODES)
    s_probs = calibration.session.apply_probabilities(scores)

    present = labels > 0
    has_side = present & (pred["side"] >= 0)
    side_hits = pred["side_logits"].argmax(-1) == pred["side"]
    known = pred["state"] >= 0
    val = {
        "n_segments": len(dataset),
        "presence": _binary_metrics(probs, labels, mask, CODES),
        "side_accuracy": float(side_hits[has_side].mean()) if has_side.any() else None,
        "side_n": int(has_side.sum()),
        "state_accuracy": float((pred["state_logits"].argmax(-1) == pred["state"])[known].mean()) if known.any() else None,
        "state_n": int(known.sum()),
        "retrieval": pred["retrieval"],
        "sessions": {"n": len(scores), "max_of_segments": _binary_metrics(scores, s_labels, s_mask, CODES),
                     "calibrated": _binary_metrics(s_probs, s_labels, s_mask, CODES),
                     "reliability_before": _reliability_summary(reliability(scores, s_labels, mask=s_mask)),
                     "reliability_after": _reliability_summary(reliability(s_probs, s_labels, mask=s_mask))},
        "calibration": {
            "method": calibration.method,
            "n_fitted": int(sum(calibration.fitted)),
            "before": _reliability_summary(before),
            "after": _reliability_summary(after),
        },
    }
    return val, calibration


def train_positive_weights(dataset, max_weight: float) -> np.ndarray:
    """(n_codes,) positive weights from a SegmentDataset's labels (partial sessions count positives only)."""
    from neuronarrator.clinical.findings import CODES
    from neuronarrator.corpus.labels import finding_targets
    from neuronarrator.models.finding_heads import positive_weights

    table = dataset.table
    if not len(table):
        return np.ones(len(CODES))
    labels = np.stack([finding_targets(json.loads(f))[0] for f in table.column("findings").to_pylist()])
    complete = np.asarray(table.column("labels_complete").to_pylist(), bool)
    counted = complete[:, None] | (labels > 0)
    return positive_weights(labels, counted, max_weight)


def train_stage1(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    """Train stage 1 on the train split; calibrate and evaluate on the val split.

    Returns ``{"checkpoint", "step", "history", "val"}``; the checkpoint's manifest also holds ``val``,
    ``calibration`` (:meth:`Calibration.to_dict`), ``stage1_config`` and ``train_segments``."""
    from neuronarrator.clinical.findings import CODES
    from neuronarrator.corpus.datasets import SegmentDataset
    from neuronarrator.io.errors import CorpusError
    from neuronarrator.models.augment import SegmentAugment
    from neuronarrator.models.calibration import METHODS
    from neuronarrator.models.stage1 import Stage1Model

    check_config(config, REQUIRED, "stage1")
    model_config = stage1_config(config)
    method = str(config.get("calibration", DEFAULT_CALIBRATION))
    if method not in METHODS:
        raise TrainConfigError(f"calibration {method!r} is unknown; known: {', '.join(METHODS)}")
    batch_size, seed = int(config["batch_size"]), int(config["seed"])
    num_workers = int(config.get("num_workers", 0))
    train = SegmentDataset(config["corpus"], "train", fields=FIELDS)
    if len(train) == 0:
        raise CorpusError(f"{config['corpus']}: the train split has no segments")
    try:
        augment = SegmentAugment.from_config(config.get("augment", True))
    except (TypeError, ValueError) as error:
        raise TrainConfigError(f"augment: {error}") from None
    steps = int(config["steps"])
    schedule = str(config.get("schedule", "cosine"))
    if schedule not in ("cosine", "constant"):
        raise TrainConfigError(f"schedule {schedule!r} is unknown; known: cosine, constant")
    lr_schedule = (warmup_cosine(steps, int(config.get("warmup_steps", max(1, steps // 10))))
                   if schedule == "cosine" else None)  # fmt: skip
    torch.manual_seed(seed)  # the model's initial weights
    model = Stage1Model(model_config)
    if config.get("pos_weight", True):
        weights = train_positive_weights(train, float(config.get("max_pos_weight", 30.0)))
        model.heads.set_pos_weight(torch.from_numpy(weights))
        log.info("stage1: positive weights %s", dict(zip(CODES, np.round(weights, 1).tolist(), strict=True)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(config["lr"]),
                                  weight_decay=float(config.get("weight_decay", 0.01)))  # fmt: skip
    log.info("stage1: %d train segments, batches of %d", len(train), batch_size)

    def loss_fn(m, batch):
        return m.losses(augment(batch) if augment is not None else batch)["total"]

    history = train_loop(
        model, segment_batches(train, batch_size, seed, num_workers), optimizer, loss_fn=loss_fn,
        steps=steps, checkpoint_path=config["checkpoint"], config_dict=dict(config),
        log_every=int(config.get("log_every", 10)), checkpoint_every=config.get("checkpoint_every"),
        resume=resume, seed=seed, grad_clip=config.get("grad_clip", 1.0), lr_schedule=lr_schedule,
    )  # fmt: skip
    val_set = SegmentDataset(config["corpus"], "val", fields=FIELDS)
    val, calibration = evaluate_stage1(model, val_set, batch_size, method, num_workers)
    if not val["n_segments"]:
        log.warning(
            "%s: the val split is empty; no validation metrics, identity calibration", config["corpus"]
        )
    return finish_stage(config, "stage1", history, val, calibration=calibration.to_dict(),
                        train_segments=len(train), stage1_config=dataclasses.asdict(model_config))  # fmt: skip


def load_stage1(path: str | Path, device: torch.device | str = "cpu"):
    """The trained :class:`Stage1Model` of a stage1 checkpoint (eval mode) and its :class:`Calibration`."""
    from neuronarrator.models.calibration import Calibration
    from neuronarrator.models.stage1 import Stage1Model

    ckpt = stage_checkpoint(path, "stage1", device)
    model = Stage1Model(stage1_config(ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), Calibration.from_dict(ckpt["manifest"]["calibration"])

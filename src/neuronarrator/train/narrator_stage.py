"""NeuroNarrator's narrator stage: the state-space bridge and the language model, trained jointly on the
session narratives by the LM loss.

Per session of the train split: the sequence of its 10-s segments, each summarised as

- its spectral summary: log10 band powers (:data:`~neuronarrator.signal.bands.BANDS_HZ`, 5 bands) of each
  of the 19 rows (Welch, 2-s windows), channel-major, 95 values; a row without data is missing;
- with a ``stage1_checkpoint``: the segment embedding of the frozen stage-1 waveform encoder
  (``load_stage1(path)[0].waveform_encoder``), computed once before training.

A step's feature vector is ``[segment embedding (d_seg), spectral summary (95)]``, standardised per
dimension with the train split's mean and std (stored in the checkpoint manifest); a missing value
becomes 0, the train mean. Without stage 1 the bridge runs with ``d_seg = 0``: the spectral summary is its
only input (``StateSpaceBridge`` concatenates a width-0 segment embedding). That choice keeps one code path
and the narrator trainable before (or without) stage 1; it is not comparable to a run with stage 1.

The report tokenizer (byte-level BPE, :mod:`~neuronarrator.models.report_tokenizer`) is trained on the
train narratives and saved beside the checkpoint in ``<checkpoint>.tokenizer/``; a resumed run loads it
from there. Sessions without a narrative (or without a whole segment) are skipped and logged.

Config keys: ``corpus``, ``steps``, ``batch_size``, ``lr``, ``checkpoint``, ``seed``; optional
``stage1_checkpoint``, ``bridge`` (``"tiny"`` or ``"default"``, default tiny), ``bridge_overrides``
(:class:`~neuronarrator.models.bridge.BridgeConfig` fields except ``d_seg``, ``d_spec``, ``d_lm``, which
are set here), ``lm`` (``"tiny"`` or ``"small"``, default tiny), ``lm_overrides`` (:class:`LMConfig`
fields except ``d_prefix``), ``tokenizer_vocab`` (1000), ``tokenizer_min_frequency`` (2),
``max_text_tokens`` (128: ``<bos>`` text ``<eos>``, cut there; also the decoding limit), ``max_sessions``,
``n_examples`` (3 val narrations in the manifest), ``weight_decay`` (0.01), ``log_every``,
``checkpoint_every``, ``grad_clip``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuronarrator import distributed
from neuronarrator.train.batches import epoch_batches
from neuronarrator.train.config import check_config
from neuronarrator.train.loop import TrainConfigError, finish_stage, stage_checkpoint, train_loop

log = logging.getLogger(__name__)

REQUIRED = ("corpus", "steps", "batch_size", "lr", "checkpoint", "seed")
#: Samples of one stored segment (10 s at 200 Hz).
SEGMENT_SAMPLES = 2000
N_ROWS = 19
#: Added to a band power (µV²) before the log: a flat row gives log10(1e-2) = -2, not -inf.
POWER_FLOOR_UV2 = 1e-2


# --- features -----------------------------------------------------------------------------------------------


def spectral_summary(segments_uv: np.ndarray, channel_mask: np.ndarray, power: np.ndarray | None = None
                     ) -> np.ndarray:  # fmt: skip
    """(n, 19, 2000) µV, (19,) bool → (n, 19 · n_bands) float32 log10 band powers, NaN on rows without data.
    ``power``: those band powers (n, 19, n_bands) µV², already computed (then not recomputed)."""
    from neuronarrator.corpus.sources.base import SFREQ_HZ
    from neuronarrator.signal.bands import band_powers

    if power is None:
        power = band_powers(np.asarray(segments_uv, dtype=np.float64), SFREQ_HZ)  # (n, 19, n_bands)
    elif np.shape(power)[:2] != np.shape(segments_uv)[:2]:
        raise ValueError(f"band powers {np.shape(power)} for segments {np.shape(segments_uv)}")
    logp = np.log10(power + POWER_FLOOR_UV2)
    logp[:, ~np.asarray(channel_mask, bool)] = np.nan
    return logp.reshape(len(logp), -1).astype(np.float32)


@torch.no_grad()
def segment_embeddings(encoder: nn.Module, segments_uv: np.ndarray, channel_mask: np.ndarray, bipolar: bool,
                       batch_size: int = 32) -> np.ndarray:  # fmt: skip
    """(n, 19, 2000) µV → (n, d) embeddings of the frozen stage-1 waveform encoder."""
    device = next(encoder.parameters()).device
    out = []
    for b in range(0, len(segments_uv), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(segments_uv[b : b + batch_size], dtype=np.float32)).to(
            device
        )
        mask = torch.from_numpy(np.asarray(channel_mask, bool)).to(device).expand(len(x), -1)
        flag = torch.full((len(x),), bool(bipolar), device=device)
        out.append(encoder(x, mask, flag).embedding.float().cpu())
    return torch.cat(out).numpy()


def session_features(signal, encoder: nn.Module | None = None, *, embeddings: np.ndarray | None = None,
                     band_power: np.ndarray | None = None) -> np.ndarray | None:  # fmt: skip
    """A :class:`~neuronarrator.eval.signals.SessionSignal` → raw (unstandardised) features
    (n_segments, d_seg + 95) float32, or None when it holds no whole 10-s segment.

    ``embeddings``: the (n_segments, d_seg) segment embeddings of the frozen encoder, already computed (as
    :func:`~neuronarrator.narrator.pipeline.segment_predictions` gives them for the same encoder); then
    ``encoder`` is not run. ``band_power``: the segments' band powers (n_segments, 19, n_bands), already
    computed (:attr:`~neuronarrator.narrator.evidence.SegmentPredictions.band_power`)."""
    n = signal.data_uv.shape[1] // SEGMENT_SAMPLES
    if n == 0:
        return None
    data = np.asarray(signal.data_uv[:, : n * SEGMENT_SAMPLES], dtype=np.float32)
    segments = data.reshape(data.shape[0], n, SEGMENT_SAMPLES).transpose(1, 0, 2)  # (n, 19, 2000)
    parts = []
    if embeddings is not None:
        if len(embeddings) != n:
            raise ValueError(f"{len(embeddings)} segment embeddings for {n} segments")
        parts.append(np.asarray(embeddings, np.float32))
    elif encoder is not None:
        parts.append(segment_embeddings(encoder, segments, signal.channel_mask, signal.montage == "bipolar"))
    parts.append(spectral_summary(segments, signal.channel_mask, band_power))
    return np.concatenate(parts, axis=1).astype(np.float32)


def feature_stats(features: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std over every step of every session (NaN ignored; std 1 where ~0)."""
    steps = np.concatenate(list(features), axis=0).astype(np.float64)
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(steps, axis=0), nan=0.0)
        std = np.nan_to_num(np.nanstd(steps, axis=0), nan=1.0)
    std[std < 1e-6] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def standardise(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    if features.ndim != 2 or features.shape[1] != len(mean):
        raise ValueError(f"features must be (n_segments, {len(mean)}), got {tuple(features.shape)}")
    return torch.from_numpy(np.nan_to_num((features - mean) / std, nan=0.0).astype(np.float32))


# --- the model ----------------------------------------------------------------------------------------------


class NarratorModel(nn.Module):
    """The bridge and the LM: standardised step features (B, T, d_seg + d_spec) → prefix → report."""

    def __init__(self, bridge_config, lm_config, tokenizer) -> None:
        from neuronarrator.models.bridge import StateSpaceBridge
        from neuronarrator.models.narrator_lm import NarratorLM

        super().__init__()
        self.bridge = StateSpaceBridge(bridge_config)
        self.lm = NarratorLM.from_config(lm_config, tokenizer)

    def prefix(self, features: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        d_seg = self.bridge.cfg.d_seg
        spectral = features[..., d_seg:] if self.bridge.cfg.d_spec else None
        return self.bridge(features[..., :d_seg], spectral, pad_mask)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Mean LM cross-entropy over the text tokens of a batch from :meth:`NarratorData.batch`."""
        return self.lm(
            self.prefix(batch["features"], batch["pad_mask"]), batch["input_ids"], batch["attention_mask"]
        )


def pad_features(rows: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sessions of different lengths → (B, T_max, d) zero-padded at the end, pad_mask (B, T_max) True = pad."""
    length = max(len(r) for r in rows)
    out = torch.zeros(len(rows), length, rows[0].shape[1])
    pad = torch.ones(len(rows), length, dtype=torch.bool)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
        pad[i, : len(r)] = False
    return out, pad


@dataclasses.dataclass
class NarratorData:
    """A split's sessions: standardised features, narratives and ids, aligned."""

    features: list[torch.Tensor]
    texts: list[str]
    session_ids: list[str]

    def batch(self, pick: Sequence[int], lm, max_text_tokens: int) -> dict[str, torch.Tensor]:
        pick = [int(i) for i in pick]
        features, pad_mask = pad_features([self.features[i] for i in pick])
        input_ids, attention_mask = lm.encode([self.texts[i] for i in pick], max_length=max_text_tokens)
        return {
            "features": features,
            "pad_mask": pad_mask,
            "input_ids": input_ids,
            "attention_mask": attention_mask,
        }


def raw_split(corpus_dir, split: str, encoder: nn.Module | None, max_sessions: int | None = None
              ) -> tuple[list[np.ndarray], list[str], list[str]]:  # fmt: skip
    """(raw features, narratives, session ids) of a split's sessions that have a narrative and a segment."""
    from neuronarrator.eval.signals import corpus_sessions

    sessions, table = corpus_sessions(corpus_dir, split, max_sessions)
    features, texts, ids = [], [], []
    for signal, row in zip(sessions, table.to_pylist(), strict=True):
        text = row.get("narrative") or ""
        if not text.strip():
            log.info("%s: no narrative; skipped", signal.session_id)
            continue
        x = session_features(signal, encoder)
        if x is None:
            log.info("%s: no whole 10-s segment; skipped", signal.session_id)
            continue
        features.append(x)
        texts.append(text)
        ids.append(signal.session_id)
    return features, texts, ids


# --- config -------------------------------------------------------------------------------------------------


def _override(cls, base, overrides: Mapping[str, Any] | None, fixed: Sequence[str], name: str):
    overrides = dict(overrides or {})
    known = {f.name for f in dataclasses.fields(cls)}
    bad = sorted((set(overrides) - known) | (set(overrides) & set(fixed)))
    if bad:
        raise TrainConfigError(f"{name}_overrides has unknown (or fixed) fields {bad}")
    try:
        return dataclasses.replace(base, **overrides)
    except (TypeError, ValueError) as error:
        raise TrainConfigError(f"{name}_overrides: {error}") from None


def model_configs(config: Mapping[str, Any], d_seg: int):
    """(BridgeConfig, LMConfig) of a narrator config: presets + overrides, the bridge's input widths and
    output width set from the features and the LM."""
    from neuronarrator.models.bridge import BridgeConfig
    from neuronarrator.models.narrator_lm import LMConfig
    from neuronarrator.signal.bands import BANDS_HZ

    lm_presets = {"tiny": LMConfig.tiny, "small": LMConfig.small}
    bridge_presets = {"tiny": BridgeConfig.tiny, "default": BridgeConfig}
    lm_name, bridge_name = config.get("lm", "tiny"), config.get("bridge", "tiny")
    if lm_name not in lm_presets:
        raise TrainConfigError(f"lm must be one of {sorted(lm_presets)}, got {lm_name!r}")
    if bridge_name not in bridge_presets:
        raise TrainConfigError(f"bridge must be one of {sorted(bridge_presets)}, got {bridge_name!r}")
    lm_config = _override(LMConfig, lm_presets[lm_name](), config.get("lm_overrides"), ("d_prefix",), "lm")
    bridge = _override(BridgeConfig, bridge_presets[bridge_name](), config.get("bridge_overrides"),
                       ("d_seg", "d_spec", "d_lm"), "bridge")  # fmt: skip
    bridge = dataclasses.replace(bridge, d_seg=d_seg, d_spec=N_ROWS * len(BANDS_HZ), d_lm=lm_config.n_embd)
    max_text = int(config.get("max_text_tokens", 128))
    if max_text < 2 or bridge.n_prefix + max_text > lm_config.n_positions:
        raise TrainConfigError(
            f"max_text_tokens={max_text} with {bridge.n_prefix} prefix slots needs "
            f"{bridge.n_prefix + max_text} positions, the LM has {lm_config.n_positions} (and at least 2)"
        )
    return bridge, lm_config


def _stage1_encoder(path, device: torch.device | str = "cpu") -> nn.Module | None:
    if not path:
        return None
    from neuronarrator.train.stage1_stage import load_stage1  # lazily: stage 1 is optional

    model, _calibration = load_stage1(path, device)
    encoder = model.waveform_encoder.eval()
    encoder.requires_grad_(False)
    return encoder


def tokenizer_folder(checkpoint: str | Path) -> Path:
    """Where the narrator's report tokenizer lives: ``<checkpoint>.tokenizer/``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + ".tokenizer")


def _save_tokenizer(tokenizer, folder: Path) -> None:
    from neuronarrator.models.report_tokenizer import save_report_tokenizer

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_report_tokenizer(tokenizer, tmp / "t")
        if folder.exists():
            shutil.rmtree(folder)
        (tmp / "t").rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- evaluation ---------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_narrator(model: NarratorModel, data: NarratorData, max_text_tokens: int, n_examples: int = 3,
                      batch_size: int = 8) -> dict[str, Any]:  # fmt: skip
    """Token-weighted LM loss and perplexity over a split, ln(vocab) (a uniform guess) beside them, and
    greedy narrations of its first ``n_examples`` sessions."""
    n_vocab = len(model.lm.tokenizer)
    out: dict[str, Any] = {"n_sessions": len(data.texts), "uniform_loss": math.log(n_vocab)}
    if not data.texts:
        return out
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, n_tokens = 0.0, 0
    for b in range(0, len(data.texts), batch_size):
        batch = data.batch(range(b, min(b + batch_size, len(data.texts))), model.lm, max_text_tokens)
        batch = {k: v.to(device) for k, v in batch.items()}
        count = int(batch["attention_mask"][:, 1:].sum())
        total += float(model(batch)) * count
        n_tokens += count
    out["loss"] = total / n_tokens
    out["perplexity"] = math.exp(min(out["loss"], 50.0))
    examples = []
    for i in range(min(n_examples, len(data.texts))):
        features, pad_mask = pad_features([data.features[i]])
        prefix = model.prefix(features.to(device), pad_mask.to(device))
        text = model.lm.generate(prefix, max_new_tokens=max_text_tokens - 1)[0]
        examples.append({"session_id": data.session_ids[i], "generated": text, "reference": data.texts[i]})
    out["examples"] = examples
    model.train(was_training)
    return out


# --- the stage ----------------------------------------------------------------------------------------------


def train_narrator(config: Mapping[str, Any], *, resume: bool = True) -> dict[str, Any]:
    """Bridge + LM on the train split's narratives; LM loss, perplexity and example narrations on val."""
    from neuronarrator.io.errors import CorpusError
    from neuronarrator.models.report_tokenizer import load_report_tokenizer, train_report_tokenizer

    check_config(config, REQUIRED, "narrator")
    encoder = _stage1_encoder(config.get("stage1_checkpoint"))
    d_seg = 0 if encoder is None else int(encoder.config.d_model)
    bridge_config, lm_config = model_configs(config, d_seg)
    max_text = int(config.get("max_text_tokens", 128))
    max_sessions = config.get("max_sessions")
    raw, texts, ids = raw_split(config["corpus"], "train", encoder, max_sessions)
    if not raw:
        raise CorpusError(f"{config['corpus']}: no train session with a narrative")
    mean, std = feature_stats(raw)
    train = NarratorData([standardise(x, mean, std) for x in raw], texts, ids)

    checkpoint = Path(config["checkpoint"])
    tok_dir = tokenizer_folder(checkpoint)
    if resume and checkpoint.is_file() and (tok_dir / "tokenizer.json").is_file():
        tokenizer = load_report_tokenizer(tok_dir)
    else:
        trained = train_report_tokenizer(texts, vocab_size=int(config.get("tokenizer_vocab", 1000)),
                                         min_frequency=int(config.get("tokenizer_min_frequency", 2)))  # fmt: skip
        if distributed.is_main():  # every rank trained the same tokenizer; one writes it
            _save_tokenizer(trained, tok_dir)
        distributed.barrier()
        tokenizer = load_report_tokenizer(tok_dir)

    seed = int(config["seed"])
    torch.manual_seed(seed)
    model = NarratorModel(bridge_config, lm_config, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(config["lr"]),
                                  weight_decay=float(config.get("weight_decay", 0.01)))  # fmt: skip
    log.info("narrator: %d train sessions, vocabulary %d, d_seg %d, %.2fM parameters", len(texts), len(tokenizer),
             d_seg, sum(p.numel() for p in model.parameters()) / 1e6)  # fmt: skip
    history = train_loop(
        model, epoch_batches(len(texts), int(config["batch_size"]), seed,
                             lambda pick: train.batch(pick, model.lm, max_text)),
        optimizer, loss_fn=lambda m, batch: m(batch),
        steps=int(config["steps"]), checkpoint_path=checkpoint, config_dict=dict(config),
        log_every=int(config.get("log_every", 10)), checkpoint_every=config.get("checkpoint_every"),
        resume=resume, seed=seed, grad_clip=config.get("grad_clip", 1.0),
    )  # fmt: skip
    val_raw, val_texts, val_ids = raw_split(config["corpus"], "val", encoder, max_sessions)
    val_data = NarratorData([standardise(x, mean, std) for x in val_raw], val_texts, val_ids)
    val = evaluate_narrator(model, val_data, max_text, int(config.get("n_examples", 3)))
    return finish_stage(
        config, "narrator", history, val, train_sessions=len(texts), tokenizer=str(tok_dir),
        bridge_config=dataclasses.asdict(bridge_config), lm_config=dataclasses.asdict(lm_config),
        feature_mean=mean.tolist(), feature_std=std.tolist(), d_seg=d_seg, max_text_tokens=max_text,
    )  # fmt: skip


# --- inference ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class NarratorBundle:
    """What :func:`narrate` needs: the model (eval mode), the feature standardisation, the frozen stage-1
    encoder (None without stage 1) and the decoding limit."""

    model: NarratorModel
    mean: np.ndarray
    std: np.ndarray
    encoder: nn.Module | None
    max_new_tokens: int
    device: torch.device


def load_narrator(path: str | Path, device: torch.device | str = "cpu") -> NarratorBundle:
    """A finished narrator-stage checkpoint as a :class:`NarratorBundle` on ``device``."""
    from neuronarrator.models.bridge import BridgeConfig
    from neuronarrator.models.narrator_lm import LMConfig
    from neuronarrator.models.report_tokenizer import load_report_tokenizer

    device = torch.device(device)
    ckpt = stage_checkpoint(path, "narrator", device)
    manifest = ckpt["manifest"]
    tok_dir = Path(manifest["tokenizer"])
    if not tok_dir.is_dir():  # the checkpoint moved: its tokenizer moved beside it
        tok_dir = tokenizer_folder(path)
    model = NarratorModel(BridgeConfig(**manifest["bridge_config"]), LMConfig(**manifest["lm_config"]),
                          load_report_tokenizer(tok_dir))  # fmt: skip
    model.load_state_dict(ckpt["model"])
    stage1 = ckpt["config"].get("stage1_checkpoint")
    if stage1 and not Path(stage1).is_file() and (Path(path).parent / Path(stage1).name).is_file():
        stage1 = Path(path).parent / Path(stage1).name  # the two moved together (an exported model directory)
    encoder = _stage1_encoder(stage1, device)
    return NarratorBundle(
        model=model.to(device).eval(), mean=np.asarray(manifest["feature_mean"], np.float32),
        std=np.asarray(manifest["feature_std"], np.float32), encoder=encoder,
        max_new_tokens=int(manifest["max_text_tokens"]) - 1, device=device,
    )  # fmt: skip


@torch.no_grad()
def narrate(bundle: NarratorBundle, session, max_new_tokens: int | None = None) -> str:
    """Greedy narrative of one session: a :class:`~neuronarrator.eval.signals.SessionSignal`, or its raw
    features (n_segments, d_seg + 95) as :func:`session_features` gives them."""
    features = session if isinstance(session, np.ndarray) else session_features(session, bundle.encoder)
    if features is None:
        raise ValueError(f"{session.session_id}: shorter than one 10-s segment; nothing to narrate")
    from neuronarrator.narrator.pipeline import torch_threads

    x = standardise(np.asarray(features, np.float32), bundle.mean, bundle.std)[None].to(bundle.device)
    # One session, decoded token by token: ops too small for several threads (they would only spin).
    with torch_threads(1 if bundle.device.type == "cpu" else None):
        prefix = bundle.model.prefix(x)
        return bundle.model.lm.generate(prefix, max_new_tokens=max_new_tokens or bundle.max_new_tokens)[0]

"""Short-window peers of the CLEF benchmark: encoders of 10-s windows, trained from scratch on the
corpus's segments, whose window embeddings are mean-pooled over a session (CLEF's "pooled over windows").

The peers (:data:`PEERS`):

- ``biot``, ``labram``, ``cbramod``: braindecode's BIOT, Labram and CBraMod (the optional extra
  ``peers``), trained from scratch -- no pretrained weights can be had offline. braindecode imports
  torchaudio, which has no CPU build on PyPI, so on a CPU-only machine these are not available:
  :func:`peer_available` says so with the import error, and the benchmark reports them as "not run:
  <reason>". No other model is ever run under their names.
- ``biot_style``, ``labram_style``: two small models of our own after BIOT and LaBraM
  (:mod:`.short_window`), written by hand because braindecode cannot be imported on CPU-only machines.
  They are not the originals.

Embeddings: for our models, :meth:`~.short_window.BiotStyle.features` (the input of their linear head).
For braindecode models, the input of their ``final_layer`` (the classification head), caught with a
forward pre-hook: BIOT's encoder output (256-d, before the head's ELU), Labram's normalised [CLS] token
(200-d); CBraMod's head flattens a (channels, patches, 200) grid of projected tokens into one
38,000-wide vector, which is position-specific and far too wide for linear probes, so its embedding is
the mean of that grid over channels and patches (200-d). Where the head's input has more than two axes
the middle ones are averaged this way.

Training (:func:`train_peer`, the same budget knob as CLEF: optimizer steps): supervised, multi-label
binary cross-entropy over the finding codes of each 10-s segment of the train split; where a session's
labels are partial (``labels_complete`` False) only the positive targets count. Input: µV divided by
:data:`INPUT_SCALE_UV` (50 µV), rows without data set to zero. Our models also get the channel mask and
the montage (referential or bipolar); braindecode's get only the zeroed input, with Labram told the
``CANONICAL_19`` names for the rows whatever the montage (its position table is learned from scratch, so
a name only picks a learned slot).
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from neuronarrator.clinical.findings import CODES
from neuronarrator.corpus.sources.base import SFREQ_HZ
from neuronarrator.corpus.store import SEGMENT_SAMPLES
from neuronarrator.eval.short_window import BiotStyle, LabramStyle
from neuronarrator.io.channels import CANONICAL_19
from neuronarrator.models.session import autocast_context
from neuronarrator.models.tokenizer import pick_device

log = logging.getLogger(__name__)

#: Input scale: the models see µV / 50 (clinical EEG is tens of µV), rows without data zeroed.
INPUT_SCALE_UV = 50.0
N_CHANNELS = len(CANONICAL_19)


@dataclass(frozen=True)
class PeerSpec:
    """One peer: its name, what it is, and how to build it (``build(n_outputs, **kwargs) -> nn.Module``
    whose ``forward(x, channel_mask, bipolar)`` gives logits and ``features(...)`` the embedding)."""

    name: str
    title: str
    source: str  # "braindecode" or "own"
    build: Callable[..., nn.Module]
    braindecode_class: str | None = None


class BraindecodeNet(nn.Module):
    """A braindecode model behind the peers' interface (see the module docstring for the embedding)."""

    def __init__(self, net: nn.Module, *, ch_names: Sequence[str] | None = None) -> None:
        super().__init__()
        self.net = net
        self.ch_names = list(ch_names) if ch_names is not None else None

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) if self.ch_names is None else self.net(x, ch_names=self.ch_names)

    def forward(
        self, x: torch.Tensor, channel_mask: torch.Tensor, bipolar: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._call(x)

    def features(
        self, x: torch.Tensor, channel_mask: torch.Tensor, bipolar: torch.Tensor | None = None
    ) -> torch.Tensor:
        caught: list[torch.Tensor] = []
        handle = self.net.final_layer.register_forward_pre_hook(lambda module, args: caught.append(args[0]))
        try:
            self._call(x)
        finally:
            handle.remove()
        feats = caught[0]
        if feats.dim() > 2:  # CBraMod: (batch, channels, patches, emb), flattened by its head
            feats = feats.mean(dim=tuple(range(1, feats.dim() - 1)))
        return feats


def _braindecode_builder(class_name: str) -> Callable[..., nn.Module]:
    def build(n_outputs: int, **kwargs: Any) -> nn.Module:
        models = importlib.import_module("braindecode.models")
        cls = getattr(models, class_name)
        net = cls(n_outputs=n_outputs, n_chans=N_CHANNELS, n_times=SEGMENT_SAMPLES, sfreq=SFREQ_HZ, **kwargs)
        return BraindecodeNet(net, ch_names=CANONICAL_19 if class_name == "Labram" else None)

    return build


PEERS: dict[str, PeerSpec] = {
    spec.name: spec
    for spec in (
        PeerSpec(
            "biot", "BIOT (braindecode, from scratch)", "braindecode", _braindecode_builder("BIOT"), "BIOT"
        ),
        PeerSpec(
            "labram",
            "LaBraM (braindecode, from scratch)",
            "braindecode",
            _braindecode_builder("Labram"),
            "Labram",
        ),
        PeerSpec(
            "cbramod",
            "CBraMod (braindecode, from scratch)",
            "braindecode",
            _braindecode_builder("CBraMod"),
            "CBraMod",
        ),  # fmt: skip
        PeerSpec("biot_style", "after BIOT (ours, from scratch)", "own", BiotStyle),
        PeerSpec("labram_style", "after LaBraM (ours, from scratch)", "own", LabramStyle),
    )
}


def _spec(name: str) -> PeerSpec:
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    return PEERS[name]


def peer_available(name: str) -> tuple[bool, str]:
    """Whether ``name`` can run here: ``(True, "")`` or ``(False, reason)``, the reason one line carrying
    the real import error (braindecode without torchaudio, ...)."""
    spec = _spec(name)
    if spec.source != "braindecode":
        return True, ""
    try:
        models = importlib.import_module("braindecode.models")
        getattr(models, spec.braindecode_class)
    except Exception as exc:  # ImportError, OSError (a torchaudio without its libraries), AttributeError
        message = " ".join(str(exc).split()) or "(no message)"
        return (
            False,
            f"braindecode.models.{spec.braindecode_class} cannot be imported: {type(exc).__name__}: {message}",
        )
    return True, ""


@dataclass
class PeerModel:
    """A trained peer: ``net`` (eval mode after training) and what it was trained with."""

    name: str
    net: nn.Module
    dim: int
    n_params: int
    device: torch.device
    config: dict[str, Any] = field(default_factory=dict)
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss since the last entry)
    train_seconds: float = 0.0


def prepare_input(waveform_uv: torch.Tensor, channel_mask: torch.Tensor) -> torch.Tensor:
    """µV (batch, 19, n) -> model input: / :data:`INPUT_SCALE_UV`, rows without data zeroed."""
    return torch.where(channel_mask[:, :, None].bool(), waveform_uv.float() / INPUT_SCALE_UV, 0.0)


def build_peer(name: str, n_outputs: int = len(CODES), **kwargs: Any) -> nn.Module:
    """The untrained network of peer ``name``; raises RuntimeError with the reason when unavailable."""
    ok, reason = peer_available(name)
    if not ok:
        raise RuntimeError(f"peer {name!r} not available: {reason}")
    return _spec(name).build(n_outputs, **kwargs)


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, labels_complete: torch.Tensor) -> torch.Tensor:
    """Mean BCE over the targets that count: all where labels are complete, only positives elsewhere."""
    loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
    weight = torch.where(labels_complete.bool()[:, None], torch.ones_like(targets), targets).float()
    return (loss * weight).sum() / weight.sum().clamp_min(1.0)


def train_peer(name: str, corpus_dir: str | Path, *, steps: int, batch_size: int = 32, lr: float = 1e-3,
               seed: int = 0, device: str | torch.device | None = None, log_every: int = 50,
               weight_decay: float = 0.01, warmup_steps: int | None = None, num_workers: int = 0,
               model_kwargs: dict[str, Any] | None = None) -> PeerModel:  # fmt: skip
    """Train peer ``name`` from scratch for ``steps`` AdamW steps on the corpus's train segments.

    Batches follow :class:`~neuronarrator.corpus.datasets.ShardBlockSampler` (epoch after epoch); the
    learning rate warms up linearly over ``warmup_steps`` (default 5 % of ``steps``) then decays by a
    cosine to 10 %; gradients are clipped at norm 1. Deterministic given ``seed`` on CPU. On CUDA
    (the default device when there is one) the forward runs under bf16 autocast.
    """
    from neuronarrator.corpus.datasets import SegmentDataset, ShardBlockSampler

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    device = torch.device(device) if device is not None else pick_device()
    torch.manual_seed(seed)
    net = build_peer(name, len(CODES), **(model_kwargs or {})).to(device)
    dataset = SegmentDataset(corpus_dir, "train", fields=("waveform", "findings"))
    if len(dataset) == 0:
        raise ValueError(f"{corpus_dir}: the train split has no segments")
    warmup = max(1, round(0.05 * steps)) if warmup_steps is None else max(1, int(warmup_steps))
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)

    def lr_factor(step: int) -> float:  # linear warm-up, then a cosine from 1 down to 0.1
        done = min(1.0, max(0, step - warmup) / max(1, steps - warmup))
        return min((step + 1) / warmup, 0.1 + 0.45 * (1 + math.cos(math.pi * done)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    history: list[tuple[int, float]] = []
    window: list[torch.Tensor] = []
    step, epoch, start = 0, 0, time.perf_counter()
    while step < steps:
        sampler = ShardBlockSampler(dataset, seed=seed, epoch=epoch)
        loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                            drop_last=len(dataset) >= batch_size, generator=generator)  # fmt: skip
        for batch in loader:
            mask = batch["channel_mask"].to(device)
            x = prepare_input(batch["waveform"].to(device), mask)
            bipolar = torch.tensor([m == "bipolar" for m in batch["montage"]], device=device)
            with autocast_context(device):
                logits = net(x, mask, bipolar)
            loss = masked_bce(logits, batch["findings"].to(device), batch["labels_complete"].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            window.append(loss.detach())
            step += 1
            if step % log_every == 0 or step == steps:
                history.append((step, float(torch.stack(window).mean())))
                window = []
                log.info("%s step %d/%d loss %.4f", name, step, steps, history[-1][1])
            if step >= steps:
                break
        epoch += 1
    net.eval()
    dim = int(_features(net, torch.zeros(1, N_CHANNELS, SEGMENT_SAMPLES, device=device),
                        torch.ones(1, N_CHANNELS, dtype=torch.bool, device=device), None).shape[1])  # fmt: skip
    return PeerModel(name=name, net=net, dim=dim, n_params=sum(p.numel() for p in net.parameters()), device=device,
                     config={"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                             "weight_decay": weight_decay, "warmup_steps": warmup, "model_kwargs": model_kwargs or {}},
                     history=history, train_seconds=time.perf_counter() - start)  # fmt: skip


@torch.no_grad()
def _features(
    net: nn.Module, x: torch.Tensor, mask: torch.Tensor, bipolar: torch.Tensor | None
) -> torch.Tensor:
    with autocast_context(x.device):
        return net.features(x, mask, bipolar).float()


def embed_sessions(model: PeerModel, sessions: Sequence[Any], window_s: float = 10.0,
                   batch_size: int = 64) -> np.ndarray:  # fmt: skip
    """Session embeddings (n_sessions, model.dim) float32: the mean of the embeddings of each session's
    non-overlapping ``window_s`` windows (the peers are trained on 10-s windows; another length is refused).

    Each item is a :class:`~neuronarrator.eval.signals.SessionSignal`. A trailing part shorter than a
    window is left out; a session shorter than one window is zero-padded at the end to one window (logged).
    Runs in eval mode without gradients; windows of several sessions share batches.
    """
    n_window = int(round(window_s * SFREQ_HZ))
    if n_window != SEGMENT_SAMPLES:
        raise ValueError(
            f"the peers are trained on {SEGMENT_SAMPLES / SFREQ_HZ:g}-s windows; got window_s={window_s}"
        )
    net, device = model.net, model.device
    net.eval()
    sums = np.zeros((len(sessions), model.dim), np.float64)
    counts = np.zeros(len(sessions), np.int64)
    pending: list[tuple[int, np.ndarray, np.ndarray, bool]] = []

    def flush() -> None:
        x = torch.from_numpy(np.stack([p[1] for p in pending])).to(device)
        mask = torch.from_numpy(np.stack([p[2] for p in pending])).to(device)
        bipolar = torch.tensor([p[3] for p in pending], device=device)
        feats = _features(net, prepare_input(x, mask), mask, bipolar).cpu().numpy()
        for (i, *_), f in zip(pending, feats, strict=True):
            sums[i] += f
            counts[i] += 1
        pending.clear()

    for i, session in enumerate(sessions):
        data = np.asarray(session.data_uv, np.float32)
        if data.shape[1] < n_window:
            log.info("session %s is %.1f s, shorter than one %g-s window: zero-padded", session.session_id,
                     data.shape[1] / SFREQ_HZ, window_s)  # fmt: skip
            data = np.pad(data, ((0, 0), (0, n_window - data.shape[1])))
        mask = np.asarray(session.channel_mask, bool)
        for w in range(data.shape[1] // n_window):
            pending.append(
                (i, data[:, w * n_window : (w + 1) * n_window], mask, session.montage == "bipolar")
            )
            if len(pending) == batch_size:
                flush()
    if pending:
        flush()
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)

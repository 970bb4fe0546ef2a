"""One training loop for every stage: seeding, device, bf16 autocast, clipping, atomic checkpoints, resume.

The loop holds no global state: the model, its optimizer and its batches come in as arguments. Under
``torchrun`` (:mod:`neuronarrator.train.distributed`) it wraps the model and the loss in
DistributedDataParallel, keeps this rank's share of each global batch, logs the mean loss over the ranks
and lets rank 0 alone write the checkpoint; the checkpoint is the unwrapped model's, so it resumes on any
number of processes.

A checkpoint is one ``torch.save`` file written atomically (a temporary file beside it, then
``os.replace``), holding ``model``, ``optimizer``, ``step``, ``history`` (the loss of every step so far),
``rng`` (Python, NumPy, torch CPU and CUDA states), ``config`` (the run's config dict) and ``manifest``
(code version and commit, torch version, time, step). It loads with ``weights_only=True``: only tensors
and plain containers are stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuronarrator import distributed
from neuronarrator.io.atomic import atomic_output
from neuronarrator.io.errors import NeuroNarratorError

log = logging.getLogger(__name__)

#: Config keys that may change between a run and its resumption: they set how long to train, how often to
#: log or save, and how the work is spread over processes (DDP or FSDP), not what is trained.
RESUMABLE_KEYS = frozenset({"steps", "log_every", "checkpoint_every", "parallel"})


class TrainConfigError(NeuroNarratorError):
    """A training config that cannot be used (``str()`` names the file or key)."""

    exit_code = 2


class CheckpointMismatchError(NeuroNarratorError):
    """A checkpoint whose config differs from the run's: resuming would silently train something else."""

    exit_code = 3


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global state is what third-party code draws from
    torch.manual_seed(seed)  # also seeds every CUDA device


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 - saved so a resume replays it
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _unwrap(model: nn.Module) -> nn.Module:
    """The module itself under a DataParallel/DistributedDataParallel wrapper."""
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model


def code_manifest() -> dict[str, Any]:
    import neuronarrator
    from neuronarrator.corpus.card import git_commit

    return {
        "neuronarrator": neuronarrator.__version__,
        "git_commit": git_commit(),
        "torch": str(torch.__version__),
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """torch.save ``payload`` to ``path`` atomically (overwriting); only on rank 0 of a distributed run."""
    if not distributed.is_main():
        return
    with atomic_output(path, force=True) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=map_location, weights_only=True)


def finish_stage(config: Mapping[str, Any], stage: str, history: list[float], val: dict[str, Any],
                 **manifest: Any) -> dict[str, Any]:  # fmt: skip
    """Mark a stage's final checkpoint finished: ``stage``, ``val`` and ``manifest`` into its manifest.
    Returns the stage result ``{"checkpoint", "step", "history", "val"}``. Rank 0 writes; the other ranks
    of a distributed run wait for it."""
    ckpt = load_checkpoint(config["checkpoint"])
    ckpt["manifest"] = {**ckpt["manifest"], "stage": stage, "val": val, **manifest}
    save_checkpoint(config["checkpoint"], ckpt)
    distributed.barrier()
    return {
        "checkpoint": str(config["checkpoint"]),
        "step": int(ckpt["step"]),
        "history": history,
        "val": val,
    }


def stage_checkpoint(
    path: str | Path, stage: str, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """A finished stage's checkpoint; TrainConfigError naming the path when it is missing or of another
    (or an unfinished) stage."""
    if not Path(path).is_file():
        raise TrainConfigError(f"{path}: no {stage} checkpoint; train the {stage} stage first")
    ckpt = load_checkpoint(path, map_location=map_location)
    found = ckpt.get("manifest", {}).get("stage")
    if found != stage:
        raise TrainConfigError(f"{path}: not a finished {stage}-stage checkpoint (stage {found!r})")
    return ckpt


def config_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Keys (outside :data:`RESUMABLE_KEYS`) whose values differ, as ``key: saved -> current``."""
    keys = sorted((set(saved) | set(current)) - RESUMABLE_KEYS)
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def warmup_cosine(steps: int, warmup: int, floor: float = 0.02) -> Callable[[int], float]:
    """A learning-rate factor: linear warm-up from ``1/warmup`` to 1 over ``warmup`` steps, then a cosine
    decay to ``floor`` at ``steps`` (the usual schedule for small Transformers trained from scratch)."""
    steps, warmup = max(1, int(steps)), max(0, int(warmup))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def train_loop(
    model: nn.Module,
    batches: Iterable[Any] | Callable[[int], Iterable[Any]],
    optimizer: torch.optim.Optimizer,
    *,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    steps: int,
    checkpoint_path: str | Path,
    config_dict: Mapping[str, Any],
    log_every: int = 10,
    checkpoint_every: int | None = None,
    resume: bool = True,
    seed: int = 0,
    grad_clip: float | None = 1.0,
    device: torch.device | str | None = None,
    lr_schedule: Callable[[int], float] | None = None,
) -> list[float]:
    """Train ``model`` until step ``steps``; return the loss of every step (resumed steps included).

    Parameters
    ----------
    batches : iterable, or callable ``start_step -> iterable``
        The callable form lets a resumed run continue the data order where it stopped. The loop stops
        early (with a warning) if the batches run out.
    loss_fn : ``(model, batch) -> scalar tensor``
        The batch is already on the model's device.
    checkpoint_path : path
        Written every ``checkpoint_every`` steps (default: never in between) and at the end; read at the
        start when ``resume`` and it exists.
    config_dict : mapping
        Saved in the checkpoint; a resumed checkpoint's must equal it except for :data:`RESUMABLE_KEYS`,
        else :class:`CheckpointMismatchError`.
    device : default CUDA when present, else CPU. On CUDA the forward pass runs under bf16 autocast.
    lr_schedule : ``step -> factor``, optional
        Each parameter group's learning rate at step ``s`` is its initial one times ``lr_schedule(s)``
        (e.g. :func:`warmup_cosine`); a function of the step alone, so a resumed run continues the same
        curve (as long as ``steps`` is unchanged: the curve is drawn over ``steps``).
    """
    checkpoint_path = Path(checkpoint_path)
    config_dict = dict(config_dict)
    w = distributed.world()
    device = torch.device(device) if device is not None else w.device()
    # Each rank draws its own augmentations and dropout masks (rank 0, and a single process: ``seed``).
    seed_everything(seed + w.rank)
    model.to(device)
    step, history = 0, []
    base_lrs = [float(group["lr"]) for group in optimizer.param_groups]  # before a resumed state replaces them
    if resume and checkpoint_path.is_file():
        ckpt = load_checkpoint(checkpoint_path, map_location=device)
        diffs = config_differences(ckpt.get("config", {}), config_dict)
        if diffs:
            raise CheckpointMismatchError(
                f"{checkpoint_path}: was trained with another config ({'; '.join(diffs)}); "
                "rerun with --no-resume to start over, or use another checkpoint path"
            )
        _unwrap(model).load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, history = int(ckpt["step"]), [float(x) for x in ckpt["history"]]
        if w.distributed:  # the checkpoint holds rank 0's streams: give every rank its own again
            seed_everything(seed + 1_000_003 * step + w.rank)
        else:
            _set_rng_state(ckpt["rng"])
        log.info("resumed %s at step %d", checkpoint_path, step)

    parallel = str(config_dict.get("parallel", "ddp"))
    if parallel not in distributed.PARALLEL_MODES:
        raise TrainConfigError(f"parallel {parallel!r} is unknown; known: {', '.join(distributed.PARALLEL_MODES)}")
    sharded = w.distributed and parallel == "fsdp"
    net: nn.Module = _LossModule(_unwrap(model), loss_fn)

    def checkpoint() -> None:
        weights, optimizer_state = distributed.full_state_dicts(net, _unwrap(model), optimizer, sharded)
        save_checkpoint(checkpoint_path, {
            "model": weights, "optimizer": optimizer_state, "step": step,
            "history": torch.tensor(history, dtype=torch.float64), "rng": _rng_state(), "config": config_dict,
            "manifest": {**code_manifest(), "step": step},
        })  # fmt: skip
        log.info("step %d: wrote %s", step, checkpoint_path)

    if step >= steps:
        log.info("%s is already at step %d >= %d: nothing to train", checkpoint_path, step, steps)
        return history
    iterator: Iterator[Any] = iter(batches(step) if callable(batches) else batches)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    model.train()
    if sharded:
        distributed.shard_for_training(net, optimizer)
        log.info("fully sharded (FSDP) over %d processes (this is rank %d, on %s)", w.size, w.rank, device)
    elif w.distributed:
        from torch.nn.parallel import DistributedDataParallel

        # Every loss keeps all its parameters on the graph (a term without data adds 0 · output), so DDP
        # need not search the graph for unused ones each step.
        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        log.info("data-parallel over %d processes (this is rank %d, on %s)", w.size, w.rank, device)
    while step < steps:
        try:
            batch = next(iterator)
        except StopIteration:
            log.warning("batches ran out at step %d of %d", step, steps)
            break
        try:
            batch = distributed.shard(batch, w)
        except ValueError as error:
            raise TrainConfigError(f"{checkpoint_path}: {error}") from None
        batch = _to_device(batch, device)
        if lr_schedule is not None:
            factor = float(lr_schedule(step))
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * factor
        with autocast, distributed.sharded_forward():
            loss = net(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        value = distributed.mean_over_ranks(float(loss.detach()))
        if not math.isfinite(value):
            raise FloatingPointError(f"non-finite loss {value} at step {step}")
        history.append(value)
        step += 1
        if log_every and step % log_every == 0:
            log.info("step %d/%d: loss %.4f", step, steps, value)
        if checkpoint_every and step % checkpoint_every == 0 and step < steps:
            checkpoint()
    checkpoint()
    if sharded:
        distributed.unshard_after_training(net)
    distributed.barrier()  # the other ranks may read the checkpoint next
    return history


class _LossModule(nn.Module):
    """``loss_fn(model, batch)`` as a module's forward: DistributedDataParallel synchronises the gradients
    of what runs through its own ``forward``, and the stages' losses call model methods (``losses``)."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[nn.Module, Any], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> torch.Tensor:
        return self.loss_fn(self.model, batch)

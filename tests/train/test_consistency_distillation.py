"""Consistency distillation of a text-to-image model and the consistency sampler: exact on Gaussian data,
the loss's pieces, a tiny model distilled end to end, its folder's defaults, and the command's refusals."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from PIL import Image

from pixeldrift.cli.main import run
from pixeldrift.pipeline import GenerationRequest, TextToImage, load_model
from pixeldrift.sampling.samplers import STOCHASTIC_SAMPLERS, get_sampler
from pixeldrift.train.consistency import (ConsistencyDistillation, DistillSettings, consistency_distance,
                                          consistency_trainer, train_consistency)
from pixeldrift.train.trainer import BatchNoise, TrainerConfig

MU, SPREAD = 1.5, 0.7  # Gaussian data N(MU, SPREAD^2)


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def gaussian_consistency_function(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The exact consistency function of N(MU, SPREAD^2) data: the probability-flow ODE's map to sigma 0."""
    sigma = sigma.view(-1, *([1] * (x.ndim - 1)))
    return MU + SPREAD / torch.sqrt(SPREAD**2 + sigma**2) * (x - MU)


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_the_sampler_draws_the_data_distribution_from_an_exact_consistency_function(steps):
    sigmas = torch.cat([torch.tensor([80.0, 3.0, 1.0, 0.3][:steps]), torch.zeros(1)])
    x = torch.randn(40_000, 1, generator=torch.Generator().manual_seed(0)) * 80.0 + MU
    out = get_sampler("consistency")(gaussian_consistency_function, x, sigmas,
                                     generator=torch.Generator().manual_seed(1))
    assert out.mean().item() == pytest.approx(MU, abs=0.02)
    assert out.std().item() == pytest.approx(SPREAD, rel=0.02)
    assert "consistency" in STOCHASTIC_SAMPLERS


def test_one_step_returns_the_jump_and_later_steps_renoise_to_the_next_level():
    calls = []

    def to_seven(x, sigma):
        calls.append((x.clone(), sigma.clone()))
        return torch.full_like(x, 7.0)

    x = torch.randn(5000, 1)
    assert torch.equal(get_sampler("consistency")(to_seven, x, torch.tensor([80.0, 0.0])), torch.full_like(x, 7.0))
    calls.clear()
    get_sampler("consistency")(to_seven, x, torch.tensor([80.0, 2.0, 0.0]), generator=torch.Generator())
    second_x, second_sigma = calls[1]
    assert torch.all(second_sigma == 2.0)
    assert second_x.mean().item() == pytest.approx(7.0, abs=0.1) and second_x.std().item() == pytest.approx(2.0, rel=0.05)


def test_pseudo_huber_is_zero_for_equal_inputs_and_near_the_l2_distance_far_apart():
    a = torch.randn(3, 4, 8, 8)
    assert torch.allclose(consistency_distance(a, a), torch.zeros(3), atol=1e-7)
    b = a + 1.0
    assert consistency_distance(a, b) == pytest.approx(torch.full((3,), 16.0) - 0.00054 * math.sqrt(256), abs=1e-3)


def test_settings_are_bounded():
    with pytest.raises(ValueError, match="intervals must be from 2 to 1280, got 1"):
        DistillSettings(intervals=1)
    with pytest.raises(ValueError, match="guidance must be from 0 to 50"):
        DistillSettings(guidance=-1)


def config(**overrides) -> TrainerConfig:
    return TrainerConfig(**{**dict(steps=2, batch_size=4, learning_rate=1e-3, warmup_steps=1, checkpoint_every=1,
                                   log_every=1, ema_decay=0.5), **overrides})


def test_the_teacher_step_is_euler_on_the_guided_ode(random_model_dir, tmp_path):
    module = consistency_trainer(tmp_path / "run", config(), random_model_dir, DistillSettings(guidance=3.0)).model
    encoder, teacher = module.model.text_encoder, module.teacher.denoiser
    cond, uncond = encoder.encode(["a red circle"] * 2).as_cond(), encoder.encode([""] * 2).as_cond()
    x, sigma, sigma_next = torch.randn(2, 4, 8, 8), torch.tensor([5.0, 0.5]), torch.tensor([4.0, 0.25])
    with torch.no_grad():
        guided = teacher(x, sigma, **uncond) + 3.0 * (teacher(x, sigma, **cond) - teacher(x, sigma, **uncond))
        expected = x + (x - guided) / sigma.view(-1, 1, 1, 1) * (sigma_next - sigma).view(-1, 1, 1, 1)
        assert torch.allclose(module.teacher_step(x, sigma, sigma_next, cond, uncond), expected, atol=1e-5)


def test_only_the_student_denoiser_trains_and_the_loss_falls(random_model_dir, tmp_path):
    trainer = consistency_trainer(tmp_path / "run", config(), random_model_dir, DistillSettings(intervals=10))
    module: ConsistencyDistillation = trainer.model
    assert {n.split(".")[1] for n, p in module.named_parameters() if p.requires_grad} == {"denoiser"}
    assert all(not p.requires_grad for p in module.teacher.parameters())
    teacher_before = {k: v.clone() for k, v in module.teacher.state_dict().items()}
    images, captions = trainer.data.batch([0, 1, 2, 3])

    def fixed_loss():
        noise = BatchNoise(torch.Generator().manual_seed(3), slice(0, 4), 4, torch.device("cpu"))
        return module(images, captions, noise).mean()

    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=3e-3)
    before = fixed_loss().item()
    for _ in range(20):
        optimizer.zero_grad()
        fixed_loss().backward()
        optimizer.step()
    assert math.isfinite(before) and fixed_loss().item() < 0.9 * before
    assert all(torch.equal(v, module.teacher.state_dict()[k]) for k, v in teacher_before.items())


def test_distil_export_and_generate_with_the_folder_defaults(random_model_dir, tmp_path):
    student = train_consistency(tmp_path / "run", config(steps=3), random_model_dir, DistillSettings(intervals=8),
                                export=tmp_path / "cd", sample_steps=3)
    folder = load_model(tmp_path / "cd")
    defaults = folder.sampling_defaults
    assert (defaults.sampler, defaults.schedule, defaults.steps, defaults.guidance) == ("consistency", "flow_even",
                                                                                      3, 1.0)
    request = GenerationRequest("a red circle", seed=2, width=32, height=32)
    assert folder.generate(request)[0].image.tobytes() == student.generate(request)[0].image.tobytes()
    assert folder.generate(request)[0].image.tobytes() != load_model(random_model_dir).generate(request)[0].image.tobytes()


def test_the_command_trains_resumes_and_refuses_bad_options(random_model_dir, tmp_path, capsys):
    common = ["train", "consistency", "--teacher", str(random_model_dir), "--batch-size", "2", "--warmup", "1",
              "--threads", "1", "--intervals", "6"]
    assert run([*common, "--steps", "2", "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    assert run([*common, "--steps", "3", "--resume", "--out", str(tmp_path / "run"), "--export",
                str(tmp_path / "cd")]) == 0, capsys.readouterr().err
    assert "wrote the few-step model folder" in capsys.readouterr().out
    assert run(["generate", "a red circle", "--model", str(tmp_path / "cd"), "-o", str(tmp_path / "x.png")]) == 0
    assert Image.open(tmp_path / "x.png").size == (32, 32)
    code = run([*common[:-1], "1", "--out", str(tmp_path / "bad")])
    assert code == 2 and "--intervals" in capsys.readouterr().err
    code = run([*common, "--data", "somewhere", "--out", str(tmp_path / "bad")])
    assert code == 2 and "leave out --data and --size" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_multistep_levels_hold_the_segment_boundaries_and_each_level_knows_its_segment(random_model_dir, tmp_path):
    module = consistency_trainer(tmp_path / "run", config(), random_model_dir,
                                 DistillSettings(intervals=10, segments=2)).model
    middle = module.boundaries[1].item()
    assert module.boundaries[0] == 0 and 0.9 < middle < 1.0  # the 2-step flow_even level for sigma_max 80
    assert middle in module.levels.tolist() and len(module.levels) == 11  # the 10 Karras levels and it
    ends = module.segment_end(torch.tensor([0.002, middle, middle * 1.01, 80.0]))
    assert ends.tolist() == [0.0, 0.0, middle, middle]
    one = consistency_trainer(tmp_path / "one", config(), random_model_dir, DistillSettings(intervals=10)).model
    assert torch.all(one.segment_end(one.levels) == 0) and len(one.levels) == 10


def test_the_multistep_target_x0_steps_the_student_to_where_the_target_lands():
    """Heek et al. 2024: the DDIM step from (x_high, sigma_high) with the returned x0 lands on the target's
    step from (x_low, sigma_low) to the segment's end; with the end at 0, the target x0 is the target's answer."""
    generator = torch.Generator().manual_seed(0)
    x_high, x_low, denoised_low = (torch.randn(3, 4, 8, 8, generator=generator) for _ in range(3))
    sigma_high, sigma_low = torch.tensor([9.0, 2.0, 1.5]), torch.tensor([7.0, 1.6, 1.0])
    end = torch.tensor([1.0, 1.0, 1.0])
    target = ConsistencyDistillation.boundary_target(x_high, sigma_high, x_low, sigma_low, denoised_low,
                                                     end / sigma_high)

    def ddim(x, sigma, denoised):
        return denoised + (end / sigma).view(-1, 1, 1, 1) * (x - denoised)
    assert torch.allclose(ddim(x_high, sigma_high, target), ddim(x_low, sigma_low, denoised_low), atol=1e-5)
    at_zero = ConsistencyDistillation.boundary_target(x_high, sigma_high, x_low, sigma_low, denoised_low,
                                                      torch.zeros(3))
    assert torch.equal(at_zero, denoised_low)


def test_multistep_export_samples_deterministically_in_its_segments(random_model_dir, tmp_path, capsys):
    assert run(["train", "consistency", "--teacher", str(random_model_dir), "--student", str(random_model_dir),
                "--segments", "2", "--intervals", "6", "--steps", "2", "--batch-size", "2", "--warmup", "1",
                "--out", str(tmp_path / "run"), "--export", str(tmp_path / "mcm")]) == 0, capsys.readouterr().err
    defaults = load_model(tmp_path / "mcm").sampling_defaults
    assert (defaults.sampler, defaults.schedule, defaults.steps) == ("euler", "flow_even", 2)
    code = run(["train", "consistency", "--teacher", str(random_model_dir), "--segments", "17", "--out",
                str(tmp_path / "bad")])
    assert code == 2 and "--segments" in capsys.readouterr().err


def test_a_student_of_another_architecture_is_refused_by_both_distillations(random_model_dir, tmp_path, capsys):
    from pixeldrift.pipeline import save_model
    other = load_model(random_model_dir)
    other = TextToImage(replace(other.config, denoiser=replace(other.config.denoiser, base_channels=64)))
    save_model(other, tmp_path / "other")
    with pytest.raises(ValueError, match="not the teacher's architecture"):
        consistency_trainer(tmp_path / "run", config(), random_model_dir, DistillSettings(), tmp_path / "other")
    code = run(["train", "reflow", "--teacher", str(random_model_dir), "--student", str(tmp_path / "other"),
                "--pairs", "2", "--steps", "1", "--batch-size", "2", "--out", str(tmp_path / "reflow")])
    assert code == 1 and "not the teacher's architecture" in capsys.readouterr().err


def test_the_heun_teacher_step_is_second_order_on_the_exact_ode(random_model_dir, tmp_path):
    """On Gaussian data the ODE is known in closed form: halving the step cuts Euler's one-step error about 4x
    (O(h^2)) and Heun's about 8x (O(h^3))."""
    module = consistency_trainer(tmp_path / "run", config(), random_model_dir, DistillSettings(solver="heun")).model
    module.guided_teacher = lambda x, sigma, cond, uncond: \
        MU + SPREAD**2 / (SPREAD**2 + sigma.view(-1, 1, 1, 1)**2) * (x - MU)  # the exact denoiser of the data
    x, sigma = torch.randn(3, 4, 8, 8, dtype=torch.float64) * 5 + MU, torch.full((3,), 5.0, dtype=torch.float64)

    def error(solver: str, step: float) -> float:
        module.settings = DistillSettings(solver=solver)
        sigma_next = sigma - step
        exact = MU + torch.sqrt((SPREAD**2 + sigma_next**2) / (SPREAD**2 + sigma**2)).view(-1, 1, 1, 1) * (x - MU)
        return (module.teacher_step(x, sigma, sigma_next, {}, {}) - exact).abs().max().item()
    assert error("euler", 0.25) / error("euler", 0.125) == pytest.approx(4, rel=0.05)
    assert error("heun", 0.25) / error("heun", 0.125) == pytest.approx(8, rel=0.1)
    assert error("heun", 1.0) < error("euler", 1.0) / 3
    with pytest.raises(ValueError, match="the teacher's solver must be one of euler, heun"):
        DistillSettings(solver="rk4")

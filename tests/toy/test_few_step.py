"""Few-step models and the generative family of the toy lab: metrics against closed forms, the
consistency model's boundary and exact teacher, reflow's straightening, GAN and VAE, the comparison."""

import math

import pytest
import torch
from click.testing import CliRunner

from pixeldrift.cli.main import cli
from pixeldrift.diffusion.gaussian_mixture import GaussianMixture
from pixeldrift.evaluate.distances import sliced_wasserstein
from pixeldrift.toy.consistency import (ConsistencyConfig, build_consistency_model, consistency_sigmas,
                                        distill_consistency, ict_intervals, lognormal_interval_weights, noise_levels,
                                        sample_consistency, train_consistency)
from pixeldrift.toy.datasets import PointCloud
from pixeldrift.toy.family import FamilyConfig, train_gan, train_vae
from pixeldrift.toy.few_step import FewStepConfig, format_family_table, format_steps_table, run_few_step, \
    steps_in_budget
from pixeldrift.toy.metrics import length_ratio, liu_straightness, mode_grid
from pixeldrift.toy.model import ToyTrainingConfig, build_denoiser
from pixeldrift.toy.reflow import (distill_one_step, draw_coupling, flow_paths, rectified_flows, reflow,
                                   sample_flow)

TINY = dict(hidden=32, depth=2, embed_dim=16)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


# ----- metrics against closed forms --------------------------------------------------------

def test_straight_lines_are_straight_by_both_measures():
    start, end = torch.randn(50, 2, generator=torch.Generator().manual_seed(0)), torch.randn(50, 2)
    times = torch.linspace(1, 0, 9, dtype=torch.float64)
    steady = torch.stack([start + (1 - t) * (end - start) for t in times.float()])  # (9, 50, 2)
    assert length_ratio(steady) == pytest.approx(1.0, abs=1e-6)
    assert liu_straightness(steady, times) == pytest.approx(0.0, abs=1e-10)
    uneven = torch.stack([start + (1 - t) ** 2 * (end - start) for t in times.float()])
    assert length_ratio(uneven) == pytest.approx(1.0, abs=1e-6)  # straight, at a changing speed:
    assert liu_straightness(uneven, times) > 0.01                   # S counts the speed, the ratio does not


def test_a_bent_path_by_hand():
    # (0, 0) -> (1, 0) -> (1, 1) in two half-units of time: length 2, chord sqrt 2;
    # velocities (2, 0) and (0, 2) against the chord's (1, 1): S = 0.5 * 2 + 0.5 * 2 = 2
    path = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])
    times = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    assert length_ratio(path) == pytest.approx(math.sqrt(2), abs=1e-6)
    assert liu_straightness(path, times) == pytest.approx(2.0, abs=1e-6)
    with pytest.raises(ValueError, match="one time per state"):
        liu_straightness(path, times[:2])


def test_sliced_wasserstein_closed_forms():
    a = torch.randn(4000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert sliced_wasserstein(a, a.clone()) == 0.0
    shift = torch.tensor([0.6, -0.8], dtype=torch.float64)  # |shift| = 1
    # the same points moved by d: each direction u sees exactly |d . u|, whose mean over the circle is 2|d|/pi
    # (the Monte Carlo error over 10,000 directions is 0.5%)
    few = a[:100]
    moved = sliced_wasserstein(few, few + shift, projections=10_000, generator=torch.Generator().manual_seed(2))
    assert moved == pytest.approx(2 / math.pi, rel=0.02)
    b = torch.randn(4000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) + 3 * shift
    fresh = sliced_wasserstein(a, b, projections=500, generator=torch.Generator().manual_seed(4))
    assert fresh == pytest.approx(3 * 2 / math.pi, rel=0.05)


def test_mode_grid_counts_the_checkerboards_squares():
    cloud = PointCloud("checkerboard")
    grid = mode_grid(cloud)
    data = cloud.sample(4000, torch.Generator().manual_seed(5))
    assert len(grid.modes) == 8 and grid.data_share[grid.modes].sum() == pytest.approx(1.0, abs=1e-6)
    assert grid.coverage(data) == 1.0 and grid.on_modes(data) == 1.0
    collapsed = data[:1].expand(4000, 2)
    assert grid.coverage(collapsed) == 1 / 8
    assert grid.on_modes(torch.full((10, 2), 50.0)) == 0.0  # outside the board
    assert len(mode_grid(PointCloud("moons")).modes) >= 10


# ----- consistency models ------------------------------------------------------------------

def test_the_consistency_model_is_the_identity_at_sigma_min():
    config = ConsistencyConfig(sigma_min=0.002, **TINY)
    model = build_consistency_model(config)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(6)) * 3
    with torch.no_grad():
        assert torch.equal(model(x, torch.full((64,), 0.002)), x)  # c_skip = 1, c_out = 0: exactly
        assert not torch.allclose(model(x, torch.full((64,), 1.0)), x, atol=1e-3)


def test_multistep_sampling_jumps_then_renoises():
    seen = []

    def jump_to_zero(x, sigma):
        seen.append((sigma[0].item(), x.std().item()))
        return torch.zeros_like(x)
    jump_to_zero.sigma_min = 0.002
    sigmas = consistency_sigmas(3, 0.002, 80.0)
    assert sigmas[0] == pytest.approx(80.0) and sigmas[-1] == 0 and len(sigmas) == 4
    out = sample_consistency(jump_to_zero, torch.randn(20_000, 2) * 80, sigmas,
                             generator=torch.Generator().manual_seed(7))
    assert torch.equal(out, torch.zeros_like(out))
    assert [s for s, _ in seen] == pytest.approx(sigmas[:-1].tolist())
    for (sigma, spread) in seen[1:]:  # the jump (0) plus fresh noise of std sqrt(sigma^2 - sigma_min^2)
        assert spread == pytest.approx(math.sqrt(sigma**2 - 0.002**2), rel=0.03)


def test_consistency_distillation_from_an_exact_teacher_learns_the_exact_map():
    # data N(0, s^2 I): the ODE keeps x / sqrt(s^2 + sigma^2) fixed, so f(x, sigma) = x s / sqrt(s^2 + sigma^2)
    s = 0.5
    mixture = GaussianMixture(torch.zeros(1, 2), torch.tensor([s]), torch.ones(1))
    config = ConsistencyConfig(steps=400, batch_size=128, learning_rate=2e-3, sigma_max=10.0, teacher_intervals=20,
                               **TINY)
    model = distill_consistency(lambda x, sigma: mixture.denoise(x, sigma).float(), mixture.sample, config)
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        for sigma in (0.5, 2.0, 10.0):
            x_sigma = x * math.sqrt(s**2 + sigma**2)
            exact = x * s
            error = (model(x_sigma, torch.full((256,), sigma)) - exact).norm(dim=1).mean().item()
            assert error < 0.1 * s, (sigma, error)


def test_ict_curriculum_and_noise_schedule():
    assert [ict_intervals(k, 800, 10, 1280) for k in (0, 99, 100, 250, 799)] == [10, 10, 20, 40, 1280]
    levels = noise_levels(40, ConsistencyConfig())
    assert levels[0] == pytest.approx(0.002) and levels[-1] == pytest.approx(80.0) and len(levels) == 41
    assert (levels[1:] > levels[:-1]).all()
    weights = lognormal_interval_weights(levels, -1.1, 2.0)
    assert weights.sum() == pytest.approx(1.0) and (weights > 0).all()
    middle = int(((levels[:-1] - math.exp(-1.1)).abs()).argmin())  # most mass near sigma = exp(P_mean)
    assert weights[middle] > weights[0] and weights[middle] > weights[-1]


def test_consistency_training_and_distillation_from_any_parameterisation_run():
    cloud = PointCloud("moons")
    config = ConsistencyConfig(steps=20, batch_size=32, **TINY)
    for objective in ("eps", "edm", "flow"):
        teacher = build_denoiser(ToyTrainingConfig(objective=objective, **TINY)).eval()
        model = distill_consistency(teacher, cloud.sample, config)
        sigmas = consistency_sigmas(2, model.sigma_min)
        out = sample_consistency(model, torch.randn(16, 2) * 80, sigmas, generator=torch.Generator())
        assert out.shape == (16, 2) and torch.isfinite(out).all(), objective
    losses = []
    train_consistency(cloud.sample, config, on_step=lambda i, loss: losses.append(loss))
    assert len(losses) == 20 and all(math.isfinite(v) for v in losses)


# ----- rectified flow and reflow -----------------------------------------------------------

def test_reflow_straightens_the_paths_and_one_step_gets_close():
    cloud = PointCloud("moons")
    config = ToyTrainingConfig(objective="flow", steps=400, batch_size=256, learning_rate=3e-3, seed=0, **TINY)
    flows, couplings = rectified_flows(cloud.sample_labelled, config, rounds=2, pairs=2048, reflow_steps=300)
    noise = torch.randn(500, 2, generator=torch.Generator().manual_seed(9))
    ratios = [length_ratio(flow_paths(flow, noise, 32)[0]) for flow in flows]
    assert ratios[1] < 1 + 0.5 * (ratios[0] - 1), ratios  # 1-RF bends; 2-RF much less (seed 0: 2.06 -> 1.01)
    data = cloud.sample(2000, torch.Generator().manual_seed(10))
    noise = torch.randn(2000, 2, generator=torch.Generator().manual_seed(11))
    one_step = [sliced_wasserstein(sample_flow(f, noise, 1), data, generator=torch.Generator().manual_seed(0))
                for f in flows]
    assert one_step[1] < 0.5 * one_step[0], one_step  # seed 0: 0.75 -> 0.10
    assert len(couplings) == 2 and couplings[1].noise.shape == (2048, 2)


def test_reflow_trains_on_the_pairs_it_is_given():
    # a coupling that sends every noise point to the same place: the reflowed flow learns to go there
    flow = build_denoiser(ToyTrainingConfig(objective="flow", **TINY)).eval()
    coupling = draw_coupling(flow, 512, seed=0, steps=4)
    coupling.data = torch.full_like(coupling.data, 2.0)
    config = ToyTrainingConfig(objective="flow", steps=200, batch_size=128, learning_rate=3e-3, **TINY)
    noise = torch.randn(100, 2, generator=torch.Generator().manual_seed(13))
    before = (sample_flow(flow, noise, 4) - 2.0).abs().mean()
    moved = reflow(flow, coupling, config)
    assert (sample_flow(moved, noise, 4) - 2.0).abs().mean() < 0.25 * before
    distilled = distill_one_step(flow, coupling, steps=200, batch_size=128, learning_rate=3e-3)
    assert (sample_flow(distilled, noise, 1) - 2.0).abs().mean() < 0.25 * before


def test_rectified_flows_refuses_other_objectives():
    with pytest.raises(ValueError, match="trains a flow model"):
        rectified_flows(PointCloud("moons").sample_labelled, ToyTrainingConfig(objective="edm"))


# ----- the GAN and the VAE -----------------------------------------------------------------

def test_gan_and_vae_reach_more_modes_than_untrained():
    cloud = PointCloud("checkerboard")
    grid = mode_grid(cloud)
    for train in (train_gan, train_vae):
        untrained = train(cloud.sample, FamilyConfig(steps=1, hidden=64, depth=2))
        trained = train(cloud.sample, FamilyConfig(steps=400, hidden=64, depth=2))
        before = untrained.sample(2000, torch.Generator().manual_seed(12))
        after = trained.sample(2000, torch.Generator().manual_seed(12))
        assert after.shape == (2000, 2) and torch.isfinite(after).all()
        assert grid.coverage(before) <= 0.5 and grid.coverage(after) >= 0.75, (train.__name__, grid.coverage(after))
    with pytest.raises(ValueError, match="positive learning rate"):
        train_gan(cloud.sample, FamilyConfig(learning_rate=0))


# ----- the comparison and its command ------------------------------------------------------

def test_steps_in_budget_scales_with_the_cost_of_a_step():
    def busy(steps):
        x = torch.zeros(())
        for _ in range(steps * 2000):
            x += 1
    assert 0.5 * 100 <= steps_in_budget(busy, 100 * 2 * _cpu_seconds_per_step(busy)) <= 2.0 * 100


def _cpu_seconds_per_step(train) -> float:
    import time
    train(5)
    started = time.process_time()
    train(20)
    return (time.process_time() - started) / 40


def test_run_few_step_measures_every_method():
    config = FewStepConfig(data="moons", train_steps=8, batch_size=32, pairs=128, num_samples=128, reflow_rounds=3)
    result = run_few_step(config, log=lambda line: None)
    names = [r.name for r in result.rows]
    assert names == ["diffusion (EDM)", "1-RF (flow matching)", "2-RF", "3-RF", "2-RF distilled",
                     "consistency distillation (CD)", "consistency training (CT)", "GAN", "VAE"]
    steps_table, family_table = format_steps_table(result, config.step_counts), format_family_table(result)
    assert "| 3-RF |" in steps_table and "| GAN |" not in steps_table and "(data vs data)" in steps_table
    assert "| VAE | 1 |" in family_table and "modes reached" in family_table
    assert len(result.couplings) == 2 and len(result.paths) == 3  # the 3-RF's own map is not needed
    with pytest.raises(ValueError, match="unknown method magic"):
        FewStepConfig(methods=("magic",)).check()


def test_toy_method_command_prints_both_tables_and_draws(tmp_path):
    pytest.importorskip("matplotlib")
    result = CliRunner().invoke(cli, ["toy", "--data", "moons", "--method", "flow,reflow,gan", "--reflows", "2",
                                      "--train-steps", "6", "--batch-size", "32", "--num-samples", "128",
                                      "--pairs", "128", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "| 2-RF |" in result.output and "| GAN | 1 |" in result.output and "CD" not in result.output
    for name in ("couplings.png", "few_steps.png"):
        assert (tmp_path / name).stat().st_size > 1000, name


@pytest.mark.parametrize("args, message", [
    (["--method", "flow,magic"], "unknown method magic"),
    (["--method", "all", "--objective", "eps"], "--objective belong to the diffusion lab"),
    (["--method", "all", "--budget", "0"], "0.5<=x<=3600"),
    (["--method", "all", "--reflows", "9"], "1<=x<=5"),
])
def test_toy_method_command_rejects_bad_options(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["toy", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output, result.output

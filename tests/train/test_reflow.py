"""Reflow on a tiny model: the pairs are the teacher's own generations, drawing resumes, the coupled loss falls,
and the exported folder samples in few steps with guidance 1."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pixeldrift.bounded_files import BadFileError
from pixeldrift.cli.main import cli
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import even_flow_sigmas, make_sigmas
from pixeldrift.train import reflow
from pixeldrift.train.reflow import NOISE_SEED_BASE, PairSettings, PairShards, ReflowTraining, draw_pairs, shard_path
from pixeldrift.train.trainer import BatchNoise, TrainerConfig

SETTINGS = PairSettings(count=6, steps=3, sampler="euler", guidance=3.0, batch_size=4)


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


@pytest.fixture(scope="module")
def pairs_dir(random_model_dir, tmp_path_factory):
    """Drawn on one thread whatever the caller's setting (a module fixture is made before the
    function-scoped one-thread fixture applies), so the pairs are the same in any test order."""
    folder, threads = tmp_path_factory.mktemp("pairs"), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        draw_pairs(load_model(random_model_dir), folder, SETTINGS, report=lambda line: None)
    finally:
        torch.set_num_threads(threads)
    return folder


def test_each_pair_is_what_the_teacher_generates_from_that_noise_and_caption(random_model_dir, pairs_dir):
    teacher, data = load_model(random_model_dir), PairShards(pairs_dir, SETTINGS.count)
    for index in (0, 5):  # the first and the last batch of the shard
        pair, captions = data.batch([index])
        # batch() shuffles within a pass: find which pair row this is by its noise
        row = next(i for i in range(SETTINGS.count) if torch.equal(data.pairs[i], pair[0]))
        request = GenerationRequest(captions[0], steps=3, sampler="euler", guidance=3.0, seed=NOISE_SEED_BASE + row)
        expected = teacher.sample(captions, [NOISE_SEED_BASE + row], request)[0]
        # drawn in a batch of 4, sampled here alone: float sums may round apart by one level, not more
        drawn = np.asarray(teacher.to_images(pair[:, :4])[0]).astype(int)
        assert np.abs(drawn - np.asarray(expected).astype(int)).max() <= 1
        validated = request.validated(teacher.sampling_defaults, teacher.limits)
        assert torch.equal(pair[0, 4:], teacher.unit_noise([NOISE_SEED_BASE + row], validated)[0])


def test_drawing_again_keeps_written_shards_and_draws_only_missing_ones(random_model_dir, pairs_dir, monkeypatch):
    before = shard_path(pairs_dir, 0).read_bytes()
    monkeypatch.setattr(reflow, "teacher_pairs", lambda *args: pytest.fail("a written shard was drawn again"))
    draw_pairs(load_model(random_model_dir), pairs_dir, SETTINGS, report=lambda line: None)
    assert shard_path(pairs_dir, 0).read_bytes() == before


def test_every_pass_over_the_pairs_sees_each_pair_once_in_a_new_order(pairs_dir):
    data = PairShards(pairs_dir, SETTINGS.count, seed=3)
    first, _ = data.batch(list(range(6)))
    second, _ = data.batch(list(range(6, 12)))
    as_rows = lambda batch: sorted(tuple(row.flatten()[:4].tolist()) for row in batch)  # noqa: E731
    assert as_rows(first) == as_rows(second) == as_rows(data.pairs)
    assert not torch.equal(first, second)
    assert torch.equal(PairShards(pairs_dir, SETTINGS.count, seed=3).batch([7])[0], second[1:2])


def test_a_denoiser_that_knows_the_coupling_lands_on_its_latent_in_any_number_of_euler_steps():
    """Straight paths: x = x0 + sigma z moves along z alone, so Euler is exact (Liu et al. 2023, section 2)."""
    x0, z = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    oracle = lambda x, sigma, **cond: x0  # noqa: E731  (the exact denoiser of this coupling)
    for steps in (1, 2, 4):
        sigmas = even_flow_sigmas(steps, 80.0)
        landed = get_sampler("euler")(oracle, x0 + sigmas[0] * z, sigmas)
        assert torch.allclose(landed, x0, atol=1e-4)


def test_even_flow_steps_split_flow_time_equally_and_every_step_works():
    sigmas = make_sigmas("flow_even", 4, sigma_min=0.002, sigma_max=80.0)
    t = sigmas / (1 + sigmas)
    assert sigmas[0] == pytest.approx(80.0) and sigmas[-1] == 0 and len(sigmas) == 5
    assert torch.allclose(t[:-1] - t[1:], torch.full((4,), float(t[0]) / 4), atol=1e-6)
    with pytest.raises(ValueError, match="sigma_max"):
        even_flow_sigmas(2, 0.0)


def test_training_on_the_pairs_lowers_their_loss_and_exports_a_two_step_guidance_free_folder(
        random_model_dir, pairs_dir, tmp_path):
    runner = CliRunner()
    args = ["train", "reflow", "--teacher", str(random_model_dir), "--pairs", "6", "--pairs-from", str(pairs_dir),
            "--batch-size", "6", "--lr", "1e-3", "--warmup", "1", "--ema", "0.5", "--out", str(tmp_path / "run")]
    student_loss = _coupled_loss_of(random_model_dir, pairs_dir)
    result = runner.invoke(cli, args + ["--steps", "200", "--export", str(tmp_path / "fast")])
    assert result.exit_code == 0, result.output
    assert _coupled_loss_of(tmp_path / "fast", pairs_dir) < 0.8 * student_loss
    config = json.loads((tmp_path / "fast" / "config.json").read_text())
    chosen = {key: config["sampling"][key] for key in ("sampler", "schedule", "steps", "guidance")}
    assert chosen == {"sampler": "euler", "schedule": "flow_even", "steps": 2, "guidance": 1.0}
    assert config["training"]["method"] == "reflow" and config["training"]["steps_done"] == 200
    image = load_model(tmp_path / "fast").generate(GenerationRequest("a red circle", seed=2))[0]
    assert image.record.steps == 2 and image.record.cfg_scale == 1.0
    resumed = runner.invoke(cli, args + ["--steps", "201", "--resume"])  # the run's checkpoint goes on
    assert resumed.exit_code == 0, resumed.output


def _coupled_loss_of(folder, pairs_dir) -> float:
    model, data = load_model(folder), PairShards(pairs_dir, SETTINGS.count)
    module = ReflowTraining(model, sigma_max=80.0, sigma_max_share=0.5)
    noise = BatchNoise(torch.Generator().manual_seed(0), slice(0, 6), 6, torch.device("cpu"))
    with torch.no_grad():
        return float(module(*data.batch(list(range(6))), noise).mean())


def test_bad_settings_and_missing_pairs_are_named(random_model_dir, tmp_path):
    with pytest.raises(ValueError, match="deterministic"):
        PairSettings(sampler="euler_ancestral")
    with pytest.raises(ValueError, match="pairs must be"):
        PairSettings(count=0)
    with pytest.raises(BadFileError, match="missing"):
        PairShards(tmp_path, 10)
    result = CliRunner().invoke(cli, ["train", "reflow", "--teacher", str(random_model_dir), "--data", "x",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "leave out --data" in result.output

import torch
import pytest
from click.testing import CliRunner

from pixeldrift.cli.main import cli
from pixeldrift.evaluate.distances import sliced_wasserstein
from pixeldrift.toy.datasets import DATASETS, PointCloud, load_points
from pixeldrift.toy.lab import sample_points
from pixeldrift.toy.model import ToyTrainingConfig, train_point_denoiser


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_datasets_are_standardised_and_seeded(name):
    cloud = PointCloud(name)
    a = cloud.sample(20_000, torch.Generator().manual_seed(3))
    assert torch.equal(a, cloud.sample(20_000, torch.Generator().manual_seed(3)))
    assert a.mean(0).abs().max() < 0.05 and abs((a - a.mean(0)).std().item() - 1) < 0.05


def test_a_short_training_run_learns_the_moons():
    cloud = PointCloud("moons")
    denoiser = train_point_denoiser(cloud.sample, ToyTrainingConfig(steps=600, batch_size=256))
    data = cloud.sample(1000, torch.Generator().manual_seed(9))
    samples = sample_points(denoiser, "heun", 20, 1000, seed=1)
    noise_only = torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))
    learned, untrained = sliced_wasserstein(samples, data), sliced_wasserstein(noise_only, data)
    assert learned < 0.5 * untrained, (learned, untrained)


def test_points_file_errors_name_the_line(tmp_path):
    good = tmp_path / "shape.txt"
    good.write_text("# a triangle\n0 0\n1, 0\n0.5 1\n")
    assert load_points(good).shape == (3, 2)
    bad = tmp_path / "bad.txt"
    bad.write_text("0 0\n1 zero\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected two numbers"):
        load_points(bad)


def test_toy_command_writes_the_figures_and_the_table(tmp_path):
    result = CliRunner().invoke(cli, ["toy", "--train-steps", "50", "--samplers", "euler,heun", "--steps", "4",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "(data vs data)" in result.output and "heun" in result.output
    for name in ("forward.png", "drift.png", "trajectories.png", "flow.gif"):
        assert (tmp_path / name).stat().st_size > 1000


def test_toy_command_rejects_bad_options_with_the_accepted_values(tmp_path):
    runner = CliRunner()
    bad_sampler = runner.invoke(cli, ["toy", "--samplers", "euler,magic", "--out", str(tmp_path)])
    assert bad_sampler.exit_code == 2 and "unknown sampler 'magic'; accepted: euler" in bad_sampler.output
    bad_steps = runner.invoke(cli, ["toy", "--steps", "0", "--out", str(tmp_path)])
    assert bad_steps.exit_code == 2 and "from 1 to 1000" in bad_steps.output
    bad_file = tmp_path / "x.txt"
    bad_file.write_text("1 2 3\n")
    result = runner.invoke(cli, ["toy", "--points", str(bad_file), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "expected two finite numbers" in result.output

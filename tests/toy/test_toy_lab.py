import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pixeldrift.cli.main import cli
from pixeldrift.diffusion.losses import uniform_flow_sigma_sampler
from pixeldrift.diffusion.schedules import flow_t_from_sigma
from pixeldrift.evaluate.distances import chamfer_distance
from pixeldrift.sampling.sigma_schedules import make_sigmas
from pixeldrift.toy.datasets import DATASETS, MAX_CUSTOM_POINTS, Normalisation, PointCloud, load_points
from pixeldrift.toy.lab import SampleRun, ToyLabConfig, class_accuracy, run_lab, sample_points, save_samples
from pixeldrift.toy.model import OBJECTIVES, TimeMLP, ToyTrainingConfig, build_denoiser, train_denoiser


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_datasets_are_standardised_and_seeded(name):
    cloud = PointCloud(name)
    a = cloud.sample(20_000, torch.Generator().manual_seed(3))
    assert torch.equal(a, cloud.sample(20_000, torch.Generator().manual_seed(3)))
    assert a.mean(0).abs().max() < 0.05 and abs((a - a.mean(0)).std().item() - 1) < 0.05
    _, labels = cloud.sample_labelled(100, torch.Generator())
    assert (labels is None) == (cloud.num_classes == 0)


def test_chamfer_distance_by_hand():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[0.0, 0.5], [3.0, 0.0], [1.0, 0.0]])
    # a -> b: 0.25 + 0; b -> a: 0.25 + 4 + 0
    assert chamfer_distance(a, b) == pytest.approx(4.5, abs=1e-12)
    assert chamfer_distance(a, b, max_pairs=1) == pytest.approx(4.5, abs=1e-12)  # one row at a time
    assert chamfer_distance(a, a) == 0.0
    with pytest.raises(ValueError, match="non-empty"):
        chamfer_distance(a, torch.zeros(0, 2))


def test_the_course_swiss_roll_is_sklearns_with_the_course_normalisation():
    datasets = pytest.importorskip("sklearn.datasets")
    X, t = datasets.make_swiss_roll(n_samples=200_000, noise=0.0, random_state=0, hole=True)
    xz = X[:, [0, 2]]
    from pixeldrift.toy.datasets import swiss_roll, swiss_roll_from_t
    # the same t gives the same points: the x and z columns
    assert np.allclose(swiss_roll_from_t(torch.from_numpy(t)).numpy(), xz)
    # the hole: sklearn's t falls in the three turns 3/8, 2/8, 3/8 of the time; so does ours
    ours, _ = swiss_roll(200_000, torch.Generator().manual_seed(1))
    ours_t = ours.double().norm(dim=1).numpy()  # |(t cos t, t sin t)| = t
    bins = np.pi * np.array([1.5, 2.5, 3.5, 4.5])
    assert np.allclose(np.histogram(ours_t, bins)[0] / len(ours_t), np.histogram(t, bins)[0] / len(t), atol=0.005)
    # the course's normalize(): (X - X.mean()) / X.std() * 2 with numpy's scalar mean and std
    course = (xz - xz.mean()) / xz.std() * 2.0
    cloud = PointCloud("swissroll", normalisation="course")
    assert cloud.normalisation.mean[0] == cloud.normalisation.mean[1]
    assert cloud.normalisation.mean[0] == pytest.approx(xz.mean(), abs=0.05)
    assert cloud.normalisation.std == pytest.approx(xz.std(), rel=0.005)
    ours = cloud.sample(2048, torch.Generator().manual_seed(2))
    theirs = torch.from_numpy(course[:2048]).float()
    other = torch.from_numpy(course[2048:4096]).float()
    assert chamfer_distance(ours, theirs) < 1.5 * chamfer_distance(other, theirs) + 0.2


def test_normalisation_round_trips():
    norm = Normalisation.fit(torch.randn(1000, 2) * 3 + 5, "course")
    x = torch.randn(10, 2) * 3 + 5
    assert torch.allclose(norm.raw(norm(x)), x, atol=1e-5)
    with pytest.raises(ValueError, match="accepted: standard, course"):
        Normalisation.fit(x, "zscore")


def test_uniform_flow_times_are_uniform():
    sigma = uniform_flow_sigma_sampler()(50_000, torch.Generator().manual_seed(0))
    t = flow_t_from_sigma(sigma)
    assert t.min() > 0 and t.max() < 1 and abs(t.mean().item() - 0.5) < 0.01 and abs(t.var().item() - 1 / 12) < 0.005


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_each_objective_trains_and_samples(objective):
    config = ToyTrainingConfig(objective=objective, steps=3, batch_size=16, hidden=16, depth=2)
    cloud = PointCloud("moons")
    losses = []
    denoiser = train_denoiser(cloud.sample_labelled, config, on_step=lambda i, loss: losses.append(loss))
    assert len(losses) == 3 and all(np.isfinite(losses))
    name = {"eps": "leading", "v": "trailing", "edm": "karras", "flow": "flow"}[objective]
    sigmas = make_sigmas(name, 4, 0.01, 10.0, schedule=config.discrete_schedule())
    samples = sample_points(denoiser, "heun", sigmas, 32, seed=0)
    assert samples.shape == (32, 2) and torch.isfinite(samples).all()


def test_same_seed_same_model():
    cloud = PointCloud("gaussians")
    config = ToyTrainingConfig(objective="eps", steps=3, batch_size=16, hidden=16, depth=2)
    torch.rand(5)  # whatever ran before must not matter
    first = train_denoiser(cloud.sample_labelled, config, num_classes=8).state_dict()
    second = train_denoiser(cloud.sample_labelled, config, num_classes=8).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_the_mlp_reads_each_adapters_time_input():
    denoiser = build_denoiser(ToyTrainingConfig(objective="eps"))
    seen = []
    denoiser.net.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    denoiser(torch.zeros(2, 2), torch.tensor([denoiser.schedule.sigma_max] * 2))
    assert seen[0].tolist() == pytest.approx([999, 999], abs=1e-3)  # the timestep, times time_factor 1
    assert build_denoiser(ToyTrainingConfig(objective="edm")).net.time_factor == 250.0


def test_a_short_training_run_learns_the_moons():
    cloud = PointCloud("moons")
    config = ToyTrainingConfig(steps=300, batch_size=256, hidden=64)
    denoiser = train_denoiser(cloud.sample_labelled, config)
    data = cloud.sample(1000, torch.Generator().manual_seed(9))
    samples = sample_points(denoiser, "heun", make_sigmas("karras", 20, 0.005, 20.0), 1000, seed=1)
    noise_only = torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))
    assert chamfer_distance(samples, data) < 0.3 * chamfer_distance(noise_only, data)


def test_guidance_pulls_samples_into_their_class():
    cloud = PointCloud("gaussians")
    config = ToyTrainingConfig(objective="eps", steps=200, batch_size=128, hidden=32, depth=2, label_dropout=0.2)
    denoiser = train_denoiser(cloud.sample_labelled, config, num_classes=cloud.num_classes)
    data, labels = cloud.sample_labelled(800, torch.Generator().manual_seed(4))
    sigmas = make_sigmas("leading", 20, schedule=config.discrete_schedule())
    accuracy = {w: class_accuracy(sample_points(denoiser, "ddim", sigmas, 800, 0, labels, w), labels, data, labels)
                for w in (0.0, 1.0, 4.0)}
    assert accuracy[0.0] < 0.3                     # unconditional: about 1 in 8 by chance
    assert accuracy[1.0] > 0.6
    assert accuracy[4.0] > accuracy[1.0] + 0.03, accuracy  # seeds 0-2 gain 0.06-0.13


# ----- points files --------------------------------------------------------------------

def test_points_files_of_each_format(tmp_path):
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]])
    np.save(tmp_path / "p.npy", points)
    (tmp_path / "p.csv").write_text("x,y\n0,0\n1,0\n0.5,1\n")
    (tmp_path / "p.txt").write_text("# a triangle\n0 0\n1, 0\n0.5 1  # apex\n")
    for name in ("p.npy", "p.csv", "p.txt"):
        loaded, labels = load_points(tmp_path / name)
        assert labels is None and np.allclose(loaded.numpy(), points), name
    (tmp_path / "l.csv").write_text("0,0,1\n1,0,0\n0.5,1,1\n")
    loaded, labels = load_points(tmp_path / "l.csv")
    assert labels.tolist() == [1, 0, 1] and PointCloud(points_file=tmp_path / "l.csv").num_classes == 2


def test_points_file_errors_name_the_problem(tmp_path):
    cases = {
        "bad.txt": ("0 0\n1 zero\n", r"bad.txt:2: expected two numbers, got '1 zero'"),
        "ragged.txt": ("0 0\n1 2 3 4\n", r"ragged.txt:2: expected 2 numbers"),
        "nan.csv": ("0,0\nnan,1\n", r"point 2 is not finite"),
        "one.txt": ("0 0\n", r"need at least 2 points"),
        "labels.csv": ("0,0,0.5\n1,1,1\n", r"class labels, integers"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=message):
            load_points(tmp_path / name)
    np.save(tmp_path / "wide.npy", np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"shape \(5, 4\)"):
        load_points(tmp_path / "wide.npy")
    with pytest.raises(ValueError, match="no such points file"):
        load_points(tmp_path / "missing.npy")


def test_more_than_a_million_points_are_refused_before_reading(tmp_path):
    big = tmp_path / "big.npy"
    np.lib.format.open_memmap(big, mode="w+", dtype=np.float32, shape=(MAX_CUSTOM_POINTS + 1, 2)).flush()
    with pytest.raises(ValueError, match="1,000,001 points, more than the 1,000,000"):
        load_points(big)
    text = tmp_path / "big.txt"
    text.write_text("0 0\n" * (MAX_CUSTOM_POINTS + 1))
    with pytest.raises(ValueError, match="1,000,001 points"):
        load_points(text)


def test_save_writes_an_npy_atomically(tmp_path, monkeypatch):
    path = tmp_path / "samples.npy"
    save_samples(torch.ones(4, 2), path, labels=torch.tensor([0, 1, 2, 3]))
    assert np.load(path).tolist() == [[1, 1, 0], [1, 1, 1], [1, 1, 2], [1, 1, 3]]
    import pixeldrift.atomic_write as atomic

    def crash(*args):
        raise OSError("disk full")
    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_samples(torch.zeros(4, 2), path)
    assert np.load(path).shape == (4, 3)  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["samples.npy"]  # no temporary left behind


# ----- the lab and its command ---------------------------------------------------------

def test_run_lab_reports_and_saves(tmp_path):
    config = ToyLabConfig(data="gaussians", training=ToyTrainingConfig(objective="flow", steps=5, batch_size=32,
                                                                        hidden=16, depth=2),
                          runs=(SampleRun("euler", 3), SampleRun("flow_euler", 3)), guidance=(0.0, 2.0),
                          num_samples=64, save=tmp_path / "s.npy", figures=False)
    lines = []
    result = run_lab(config, None, log=lines.append)
    text = "\n".join(lines)
    assert "Chamfer" in text and "(data vs data)" in text and "in class c" in text
    assert "euler, flow_euler give the same numbers" in text
    assert result.runs[0].chamfer == result.runs[1].chamfer
    assert np.load(tmp_path / "s.npy").shape == (64, 3)


def test_toy_command_writes_the_figures_and_the_table(tmp_path):
    pytest.importorskip("matplotlib")
    result = CliRunner().invoke(cli, ["toy", "--train-steps", "5", "--batch-size", "32", "--samplers",
                                      "euler:3,heun:2", "--num-samples", "64", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "(data vs data)" in result.output and "heun" in result.output
    for name in ("forward.png", "drift.png", "trajectories.png", "samples.png", "flow.gif"):
        assert (tmp_path / name).stat().st_size > 1000, name


@pytest.mark.parametrize("args, message", [
    (["--samplers", "euler,magic"], "unknown sampler 'magic'; accepted: euler"),
    (["--samplers", "ddim:50:wiggly"], "unknown sigma schedule 'wiggly'"),
    (["--steps", "0"], "from 1 to 1000"),
    (["--setup", "course", "--objective", "v"], "the course trains eps (DDPM) and flow models"),
    (["--objective", "edm", "--schedule", "cosine"], "a beta schedule is for eps and v models"),
    (["--lr", "0"], "--lr"),
    (["--guidance", "1,strong"], "expected comma-separated numbers"),
])
def test_toy_command_rejects_bad_options_in_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["toy", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.parametrize("args, message", [
    (["--objective", "edm", "--sigmas", "leading"], "needs a model with discrete training timesteps"),
    (["--save", "samples.txt"], "give a path ending in .npy"),
])
def test_toy_command_refuses_bad_combinations_before_training(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["toy", *args, "--out", str(tmp_path)])
    assert result.exit_code == 1 and message in result.output and "training a" not in result.output, result.output

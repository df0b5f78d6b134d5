"""Class-conditional training on a class folder: a few steps, a model folder with its classes, generation by
class name (guidance on the no-class token), and the refusals around it."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.generate import generate
from pixeldrift.cli.train import train

TINY = ["--size", "32", "--denoiser-preset", "tiny", "--steps", "2", "--batch-size", "2", "--warmup", "1"]


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def class_folder(root, classes=("circle", "square")):
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((32, 32, 3), 60 * index + 10 * i, np.uint8)).save(root / name / f"{i}.png")
    return root


def test_train_a_class_conditional_model_and_generate_by_class_name(tmp_path):
    data = class_folder(tmp_path / "data")
    runner = CliRunner()
    result = runner.invoke(train, ["t2i", *TINY, "--data", str(data), "--text-encoder", "class-label",
                                   "--caption-dropout", "0.5", "--out", str(tmp_path / "run"),
                                   "--export", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["text_encoder"] == {"classes": ["circle", "square"], "width": 128}
    assert config["training"]["text_encoder"] == "class-label" and config["training"]["caption_dropout"] == 0.5
    assert json.loads((tmp_path / "run" / "classes.json").read_text()) == {"classes": ["circle", "square"]}
    made = runner.invoke(generate, ["square", "--model", str(tmp_path / "model"), "--steps", "2", "--guidance", "3",
                                    "-n", "2", "--out", str(tmp_path / "out")])
    assert made.exit_code == 0, made.output
    assert len(list((tmp_path / "out").glob("*.png"))) == 3  # two images and their grid
    unknown = runner.invoke(generate, ["a red circle", "--model", str(tmp_path / "model"), "--steps", "1"])
    assert unknown.exit_code == 1 and "'a red circle' is not a class of this model" in unknown.output
    assert "circle, square" in unknown.output


def test_labels_a_model_does_not_know_and_renamed_classes_are_refused(tmp_path):
    from pixeldrift.pipeline import load_model
    from pixeldrift.train.evaluation import evaluation_hook
    from pixeldrift.train.run import ModelChoice, text_to_image_trainer, train_text_to_image
    from pixeldrift.train.trainer import TrainerConfig

    config = TrainerConfig(steps=1, batch_size=2, warmup_steps=0)
    choice = ModelChoice(text_encoder="class-label", denoiser_preset="tiny")
    data = str(class_folder(tmp_path / "data"))
    train_text_to_image(tmp_path / "run", config, None, data, 32, export=tmp_path / "model", choice=choice)
    model = load_model(tmp_path / "model")
    assert model.text_encoder.cfg.classes == ("circle", "square")
    evaluation_hook(tmp_path / "run", size=32)(7, SimpleNamespace(model=model))  # --eval-every: class samples
    assert (tmp_path / "run" / "samples-000007.png").is_file() and not (tmp_path / "run" / "eval.csv").exists()
    other = str(class_folder(tmp_path / "other", ("circle", "star")))
    with pytest.raises(ValueError, match="labels star are not classes of .*model \\(circle, square\\)"):
        text_to_image_trainer(tmp_path / "run2", config, None, other, 32, init=tmp_path / "model")
    with pytest.raises(ValueError, match="trained on other classes than the data has now"):
        train_text_to_image(tmp_path / "run", config, None, other, 32, resume=True, choice=choice)
    with pytest.raises(ValueError, match="class labels come from an image folder"):
        text_to_image_trainer(tmp_path / "run3", config, None, "world", 32, choice)


def test_check_reports_the_classes_and_caption_dropout_is_bounded(tmp_path):
    data = class_folder(tmp_path / "data")
    result = CliRunner().invoke(train, ["t2i", *TINY, "--data", str(data), "--text-encoder", "class-label",
                                        "--out", str(tmp_path / "run"), "--check"])
    assert result.exit_code == 0 and "ok: 4 images of 2 classes in" in result.output, result.output
    refused = CliRunner().invoke(train, ["t2i", *TINY, "--data", str(data), "--caption-dropout", "1.5",
                                         "--out", str(tmp_path / "run")])
    assert refused.exit_code == 2 and "--caption-dropout" in refused.output
    assert not (tmp_path / "run").exists()

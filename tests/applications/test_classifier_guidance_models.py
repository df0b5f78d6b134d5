"""Classifier guidance through a whole pipeline: training, the folder, steering a tiny model, refusals."""

import pytest
import torch

from pixeldrift import world
from pixeldrift.applications.classifier_guidance import label_indices, open_classifier, steering, wanted_from_prompt
from pixeldrift.bounded_files import BadFileError
from pixeldrift.nets.noisy_classifier import NoisyClassifier, NoisyClassifierConfig, load_classifier, save_classifier
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.train.noisy_classifier import (HEADS, OTHER, ClassifierSettings, base_record, scene_labels,
                                               train_classifier)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(random_model_dir):
    return load_model(random_model_dir)


@pytest.fixture(scope="module")
def trained(model, random_model_dir, tmp_path_factory):
    settings = ClassifierSettings(examples=100, steps=3, batch_size=8)
    net, record = train_classifier(model, settings, log=lambda line: None)
    folder = save_classifier(net, tmp_path_factory.mktemp("classifiers") / "lone",
                             base_record(model, random_model_dir), record)
    return net, record, folder


def test_labels_are_a_lone_objects_colour_and_shape_and_other_otherwise():
    lone = world.parse_prompt("a small red circle")
    assert scene_labels(lone) == {"colour": "red", "shape": "circle"}
    assert scene_labels(world.parse_prompt("two red circles")) == {"colour": OTHER, "shape": OTHER}
    assert scene_labels(world.ClockScene(3, 15)) == {"colour": OTHER, "shape": OTHER}
    assert all(classes[-1] == OTHER for classes in HEADS.values())


def test_the_folder_round_trips_and_stays_small(trained, model):
    net, record, folder = trained
    loaded = open_classifier(folder, model)
    x, sigma = torch.randn(3, *model.latent_shape(32, 32)), torch.tensor([0.1, 1.0, 10.0])
    expected, got = net(x, sigma), loaded(x, sigma)
    assert all(torch.equal(expected[h], got[h]) for h in HEADS)
    assert (folder / "classifier.safetensors").stat().st_size < 1_000_000
    assert set(record["held_out_accuracy"]) == set(HEADS)
    assert not any(p.requires_grad for p in loaded.parameters())


def test_a_classifier_of_another_latent_space_is_refused(trained, random_model_dir):
    other = load_model(random_model_dir)
    with torch.no_grad():
        next(other.vae.parameters()).add_(0.01)
    with pytest.raises(ValueError, match="reads the latents of the model 'tiny-random'.*train one for this model"):
        open_classifier(trained[2], other)


def test_scale_zero_is_the_models_own_sampling_and_a_scale_changes_it(trained, model):
    classifier = open_classifier(trained[2], model)
    request = GenerationRequest(prompt="-", steps=3, guidance=2.0, sampler="euler_ancestral")
    plain = model.sample(["a red circle"] * 2, [0, 1], request)
    zero = model.sample(["a red circle"] * 2, [0, 1], request, steer=steering(classifier, {"colour": "red"}, 0.0, 2))
    assert [i.tobytes() for i in zero] == [i.tobytes() for i in plain]
    with torch.no_grad():  # the tiny classifier's gradient is small: make its head decisive
        classifier.heads["colour"].weight.mul_(1e3)
    pushed = model.sample(["a red circle"] * 2, [0, 1], request, steer=steering(classifier, {"colour": "red"}, 5.0, 2))
    assert [i.tobytes() for i in pushed] != [i.tobytes() for i in plain]


def test_classes_come_from_the_prompt_or_are_refused_by_name(trained):
    net = trained[0]
    assert wanted_from_prompt(net, "a red circle") == {"colour": "red", "shape": "circle"}
    assert wanted_from_prompt(net, "a star") == {"shape": "star"}
    with pytest.raises(ValueError, match="not a prompt of one object"):
        wanted_from_prompt(net, "a red circle left of a blue square")
    with pytest.raises(ValueError, match="not a prompt of one object"):
        wanted_from_prompt(net, "two red circles")
    with pytest.raises(ValueError, match="no head 'size'; accepted: colour, shape"):
        label_indices(net, {"size": "small"}, 2)
    with pytest.raises(ValueError, match="colour 'teal' is not a class of the classifier; accepted: red, orange"):
        label_indices(net, {"colour": "teal"}, 2)
    with pytest.raises(ValueError, match="name at least one class"):
        label_indices(net, {}, 2)


@pytest.mark.parametrize("field, value, message", [
    ("examples", 10, "examples must be an integer from 100"),
    ("steps", 0, "steps must be an integer from 1"),
    ("lone_share", 1.5, "lone_share must be a number from 0 to 1"),
    ("learning_rate", 5.0, "learning_rate must be a number"),
])
def test_bad_training_settings_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        ClassifierSettings(**{field: value}).check()


def test_bad_architectures_inputs_and_folders_are_refused(tmp_path):
    with pytest.raises(ValueError, match="head 'colour' needs 2 to 256 distinct classes"):
        NoisyClassifierConfig({"colour": ("red",)})
    with pytest.raises(ValueError, match="multiple of norm_groups"):
        NoisyClassifierConfig({"colour": ("red", "blue")}, channels=(12,))
    with pytest.raises(ValueError, match="embedding_dim must be 1 to 1024 and norm_groups 1 to 64, got 64, 0"):
        NoisyClassifierConfig({"colour": ("red", "blue")}, norm_groups=0)
    with pytest.raises(ValueError, match="embedding_dim must be 1 to 1024"):
        NoisyClassifierConfig({"colour": ("red", "blue")}, embedding_dim=10**9)
    net = NoisyClassifier(NoisyClassifierConfig({"colour": ("red", "blue")}, channels=(8,)))
    with pytest.raises(ValueError, match=r"takes latents \(N, 4, h, w\), got \(2, 3, 8, 8\)"):
        net(torch.zeros(2, 3, 8, 8), torch.ones(2))
    (tmp_path / "config.json").write_text('{"format": "pixeldrift-model/1"}')
    with pytest.raises(BadFileError, match="not a pixeldrift classifier folder"):
        load_classifier(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "pixeldrift-classifier/1", "classifier": {"heads": {}}}')
    with pytest.raises(BadFileError, match="needs 1 to 8 heads"):
        load_classifier(tmp_path)

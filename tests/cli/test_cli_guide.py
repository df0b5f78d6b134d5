"""`pixeldrift train classifier` then `pixeldrift guide`: labelled PNGs naming the classifier; bad classes refused."""

import pytest
from click.testing import CliRunner

from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import read_labels

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def classifier_dir(random_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("classifiers") / "lone"
    result = run("train", "classifier", "--base", random_model_dir, "--out", out, "--examples", 100, "--steps", 2,
                 "--batch-size", 8)
    assert result.exit_code == 0, result.output
    assert "colour accuracy by sigma" in result.output
    return out


@pytest.mark.parametrize("more, prompt, classes", [
    ((), "a red circle", "colour=red, shape=circle"),
    (("--class", "colour=blue", "--unconditional"), "a blue square", "colour=blue"),
])
def test_guided_images_are_labelled_with_the_classifier(random_model_dir, classifier_dir, tmp_path, more, prompt,
                                                        classes):
    out = tmp_path / "guided.png"
    result = run("guide", prompt, "--model", random_model_dir, "--classifier", classifier_dir, "--steps", 2,
                 "--classifier-scale", 2, *more, "-o", out)
    assert result.exit_code == 0, result.output
    record = read_labels(out.read_bytes()).record
    assert (record.extra["Classifier"], record.extra["Classifier classes"], record.extra["Classifier scale"]) == \
        ("lone", classes, "2")
    assert record.prompt == ("" if "--unconditional" in more else prompt)


@pytest.mark.parametrize("more, message", [
    (("--class", "colour"), "'colour' is not HEAD=CLASS"),
    (("--class", "colour=teal"), "colour 'teal' is not a class of the classifier; accepted: red"),
    (("--classifier-scale", -1), "-1"),
])
def test_bad_classes_and_scales_are_refused(random_model_dir, classifier_dir, more, message):
    result = run("guide", "a red circle", "--model", random_model_dir, "--classifier", classifier_dir, *more)
    assert result.exit_code != 0 and message in result.output, result.output


def test_a_prompt_of_several_objects_needs_named_classes(random_model_dir, classifier_dir):
    result = run("guide", "two red circles and a blue square", "--model", random_model_dir, "--classifier",
                 classifier_dir)
    assert result.exit_code == 1 and "not a prompt of one object; name the classes instead" in result.output

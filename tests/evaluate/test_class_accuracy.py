"""World class folders and class accuracy: renders of a class are verified as that class, others are not."""

from types import SimpleNamespace

import pytest

from pixeldrift import world
from pixeldrift.data import ImageFolder
from pixeldrift.evaluate.class_conditional import class_accuracy, class_scene, export_class_folders


def test_class_names_read_as_world_scenes():
    assert class_scene("circle") == world.parse_prompt("a circle")
    assert class_scene("red") == world.parse_prompt("a red shape")
    assert class_scene("three stars") == world.parse_prompt("three stars")
    with pytest.raises(ValueError, match="'cat' is not a world scene"):
        class_scene("cat")


def test_exported_class_folders_train_and_verify_as_their_class(tmp_path):
    folder = export_class_folders(tmp_path / "shapes", ("circle", "star"), per_class=3, size=32, seed=1)
    data = ImageFolder(folder, size=32, labels=True)
    assert data.classes == ("circle", "star") and len(data.rows) == 6
    images, labels = zip(*(data.example(i) for i in range(6)))
    assert all(world.verify(image, class_scene(label)).ok for image, label in zip(images, labels))
    assert not any(world.verify(image, class_scene("triangle")).ok for image in images)
    with pytest.raises(ValueError, match="already exists"):
        export_class_folders(folder, ("circle",), per_class=1)
    with pytest.raises(ValueError, match="per_class must be"):
        export_class_folders(tmp_path / "none", ("circle",), per_class=0)
    assert not (tmp_path / "none").exists()


def test_class_accuracy_counts_what_the_verifier_accepts():
    """A stand-in model that draws a star whatever it is asked: right for star, wrong for circle."""
    def sample(prompts, seeds, settings):
        assert settings.guidance == 3.0 and settings.width == 32
        return [world.render_image(class_scene("star"), 32, seed) for seed in seeds]

    model = SimpleNamespace(config=SimpleNamespace(text_encoder=SimpleNamespace(classes=("circle", "star")),
                                                   image_size=32), sample=sample)
    result = class_accuracy(model, guidance=3.0, samples=5, steps=2, batch=2)
    assert result.per_class == {"circle": (0, 5), "star": (5, 5)} and result.accuracy == 0.5

"""The prompt-free reader: real renders of every kind read as their kind; blank, noise and mixtures do not."""

from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pixeldrift import world
from pixeldrift.data.world_stream import WorldStream
from pixeldrift.evaluate.scene_kind import read_scene_kind

KIND_OF = {world.ObjectsScene: "objects", world.ClockScene: "clock", world.QuantityScene: "quantity",
           world.TextScene: "text"}


@pytest.mark.parametrize("size,count", [(32, 240), (64, 60)])
def test_real_renders_of_every_kind_read_as_that_kind(size, count):
    stream = WorldStream(seed=3, size=size)
    total, right = Counter(), Counter()
    for index in range(count):
        image, _, spec, _ = stream.scene(index)
        kind = KIND_OF[type(spec)]
        reading = read_scene_kind(image)
        total[kind] += 1
        right[kind] += reading.kind == kind
        assert reading.kind in (kind, None), (index, spec, reading)  # never the wrong kind
    assert set(total) == set(KIND_OF.values())
    for kind in total:
        assert right[kind] >= 0.95 * total[kind], (kind, right[kind], total[kind])


def test_blank_backgrounds_noise_and_grey_are_refused_with_a_reason():
    rng = np.random.default_rng(0)
    blank = np.full((32, 32, 3), 250, dtype=np.uint8)
    assert read_scene_kind(blank).reason.startswith("blank")
    for image in (rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), np.full((32, 32, 3), 128, dtype=np.uint8)):
        reading = read_scene_kind(image)
        assert not reading.ok and reading.mode is None and "background" in reading.reason
    floats = read_scene_kind(rng.random((64, 64, 3)))
    assert not floats.ok


def test_mixtures_and_heavy_noise_rarely_read_as_a_scene():
    stream = WorldStream(seed=4, size=32)
    images = [stream.scene(i)[0] for i in range(60)]
    blends = [((a.astype(int) + b) // 2).astype(np.uint8) for a, b in zip(images, images[1:] + images[:1])]
    rng = np.random.default_rng(1)
    noisy = [np.clip(a + rng.normal(0, 25, a.shape), 0, 255).astype(np.uint8) for a in images]
    assert sum(read_scene_kind(b).ok for b in blends) <= 6
    assert sum(read_scene_kind(n).ok for n in noisy) == 0
    blurred = [np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(1.5))) for a in images]
    assert sum(read_scene_kind(b).ok for b in blurred) <= 0.5 * len(blurred)


def test_an_objects_scene_reads_its_objects_largest_first_and_its_mode():
    spec = world.ObjectsScene((world.ObjectGroup("circle", "blue", "small"), world.ObjectGroup("star", "red", "large")),
                              background="white")
    reading = read_scene_kind(world.render(spec, size=32, seed=2))
    assert reading.kind == "objects" and reading.readable == ("objects",)
    assert reading.objects == (("red", "star"), ("blue", "circle"))
    assert reading.mode == "objects: red star"
    clock = read_scene_kind(world.render(world.ClockScene(3, 20, "cream"), size=32, seed=1))
    assert clock.mode == "clock" and clock.objects == ()


def test_a_sign_whose_letters_are_smudged_is_not_text():
    image = world.render(world.TextScene("CAT", "white"), size=32, seed=0)
    assert read_scene_kind(image).kind == "text"
    board = image.min(axis=2) < 200  # board and letters: everything off the white background
    ys, xs = np.nonzero(board)
    smudged = image.copy()
    middle = (ys.min() + ys.max()) // 2
    smudged[middle - 1:middle + 2, xs.min() + 3:xs.max() - 3] = image[ys.min() + 1, xs.min() + 1]  # board colour
    assert read_scene_kind(smudged).kind != "text"
    beside = image.copy()
    corner = (0, 0) if ys.min() > 6 else (image.shape[0] - 5, image.shape[1] - 5)
    beside[corner[0] + 1:corner[0] + 4, corner[1] + 1:corner[1] + 4] = 30  # a dark speck off the sign
    assert read_scene_kind(beside).kind is None


def test_refuses_what_is_not_an_image():
    with pytest.raises(ValueError, match="square"):
        read_scene_kind(np.zeros((32, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        read_scene_kind(np.zeros((32, 32, 3), dtype=np.int64))

"""Captions in a .txt beside each image (kohya's layout): read, and every bad file named before training."""

import os

import numpy as np
from PIL import Image
import pytest

from pixeldrift.data import ImageFolder
from pixeldrift.data.image_folder import DatasetError


def image(folder, name, size=(40, 40)):
    Image.fromarray(np.full((size[1], size[0], 3), 128, np.uint8)).save(folder / name)


def test_captions_beside_the_images_are_read(tmp_path):
    image(tmp_path, "a.png")
    image(tmp_path, "b.jpg")
    (tmp_path / "a.txt").write_text("  a red sks shape\n")
    (tmp_path / "b.txt").write_text("a blue sks shape")
    (tmp_path / "notes.md").write_text("left alone")
    data = ImageFolder(tmp_path, size=32)
    assert data.rows == [("a.png", "a red sks shape"), ("b.jpg", "a blue sks shape")]
    assert data.example(0)[0].shape == (32, 32, 3)


def test_every_bad_file_is_named_in_one_error(tmp_path):
    image(tmp_path, "good.png")
    (tmp_path / "good.txt").write_text("fine")
    image(tmp_path, "uncaptioned.png")
    image(tmp_path, "empty.png")
    (tmp_path / "empty.txt").write_text("  \n")
    image(tmp_path, "binary.png")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "broken.png").write_bytes(os.urandom(300))
    (tmp_path / "broken.txt").write_text("a caption")
    with pytest.raises(DatasetError) as caught:
        ImageFolder(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: 4 bad files")
    for expected in ("uncaptioned.png: no caption (uncaptioned.txt is missing)", "empty.txt: the caption is empty",
                     "binary.txt: not UTF-8 text", "broken.png: not an image in an accepted format"):
        assert expected in message, (expected, message)
    assert "good" not in message


def test_a_folder_without_images_or_metadata_says_what_it_needs(tmp_path):
    with pytest.raises(DatasetError, match="no metadata.jsonl and no images"):
        ImageFolder(tmp_path)


def test_mixed_sizes_are_reported_by_file_name(tmp_path):
    for name, size in (("a.png", (40, 40)), ("b.png", (40, 40)), ("c.png", (64, 48))):
        image(tmp_path, name, size)
        (tmp_path / name.replace(".png", ".txt")).write_text("x")
    report = ImageFolder(tmp_path, size=32).size_report()
    assert report == ["mixed sizes: most images are 40x40; these are not:",
                      "c.png: 64x48 (not square: stretched), resized to 32x32"]

"""Both data sources give the same example for the same index, and reject bad folders clearly."""

import json

import numpy as np
import pytest
from PIL import Image

from pixeldrift.data import ImageFolder, WorldStream


def test_world_stream_is_deterministic_per_index_and_in_range():
    stream = WorldStream(seed=3, size=64)
    images, captions = stream.batch([5, 6, 5])
    assert images.shape == (3, 3, 64, 64) and images.min() >= -1 and images.max() <= 1
    assert captions[0] == captions[2] and bool((images[0] == images[2]).all())


def test_world_stream_at_32_pixels_never_fails_on_long_words():
    images, _ = WorldStream(seed=0, size=32).batch(list(range(300)))
    assert images.shape == (300, 3, 32, 32)


def make_folder(tmp_path, rows):
    for name, _ in rows:
        Image.fromarray(np.full((40, 40, 3), len(name) * 20, np.uint8)).save(tmp_path / name)
    lines = [json.dumps({"file_name": n, "text": t}) for n, t in rows]
    (tmp_path / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_image_folder_covers_every_row_once_per_epoch(tmp_path):
    folder = ImageFolder(make_folder(tmp_path, [("a.png", "one"), ("bb.png", "two"), ("ccc.png", "three")]),
                         size=32)
    images, captions = folder.batch(list(range(6)))
    assert images.shape == (6, 3, 32, 32)
    assert sorted(captions[:3]) == sorted(captions[3:]) == ["one", "three", "two"]


def test_image_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="no metadata.jsonl"):
        ImageFolder(tmp_path)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "x.png"}\n')
    with pytest.raises(ValueError, match="metadata.jsonl: 1 bad lines: line 1: expected a JSON object with file_name"):
        ImageFolder(tmp_path)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "../../etc/passwd", "text": "t"}\n')
    with pytest.raises(ValueError, match="line 1: ../../etc/passwd: file_name must stay inside"):
        ImageFolder(tmp_path)

"""Class labels of an image folder: class sub-folders or a label field in metadata.jsonl, every problem named."""

import json

import numpy as np
import pytest
from PIL import Image

from pixeldrift.data import ImageFolder
from pixeldrift.data.image_folder import DatasetError


def image(path, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def test_class_sub_folders_give_the_class_names_as_texts(tmp_path):
    for name, value in (("square", 10), ("circle", 200)):
        image(tmp_path / name / "a.png", value)
        image(tmp_path / name / "b.jpg", value)
    (tmp_path / "circle" / ".DS_Store").write_bytes(b"\0")  # hidden files are skipped
    (tmp_path / "README.txt").write_text("top-level non-images are ignored")
    data = ImageFolder(tmp_path, size=8, labels=True)
    assert data.classes == ("circle", "square") and len(data.rows) == 4
    images, texts = data.batch(list(range(4)))
    assert sorted(texts) == ["circle", "circle", "square", "square"]
    assert all((images[i].mean() > 0) == (texts[i] == "circle") for i in range(4))  # each image with its class


def test_metadata_labels_text_or_integer(tmp_path):
    image(tmp_path / "a.png"), image(tmp_path / "b.png")
    rows = [{"file_name": "a.png", "label": "cat", "text": "ignored"}, {"file_name": "b.png", "label": 7, "text": "b"}]
    (tmp_path / "metadata.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    data = ImageFolder(tmp_path, labels=True)
    assert data.classes == ("7", "cat") and sorted(t for _, t in data.rows) == ["7", "cat"]
    assert ImageFolder(tmp_path).classes is None  # without labels: the captions, as before


def test_metadata_mixing_labelled_and_unlabelled_lines_names_each(tmp_path):
    image(tmp_path / "a.png")
    rows = [{"file_name": "a.png", "label": "cat"}, {"file_name": "a.png", "text": "a cat"},
            {"file_name": "a.png", "label": True}, {"file_name": "a.png", "label": "x" * 101},
            {"file_name": "a.png", "label": ""}]
    (tmp_path / "metadata.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    with pytest.raises(DatasetError) as caught:
        ImageFolder(tmp_path, labels=True)
    message = str(caught.value)
    assert "4 bad lines" in message and "line 2: no label; training on class labels needs one" in message
    assert "line 3: the label 'True' is neither text nor an integer" in message
    assert "line 4: the label" in message and "has 101 characters" in message and "line 5: the label" in message


def test_class_folder_problems_are_all_named(tmp_path):
    image(tmp_path / "stray.png")                      # an image beside the class folders
    image(tmp_path / "cat" / "a.png")
    image(tmp_path / "cat" / "deeper" / "b.png")       # a folder inside a class folder
    (tmp_path / "cat" / "notes.txt").write_text("x")   # not an image
    (tmp_path / "cat" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "empty").mkdir()
    (tmp_path / ("y" * 101)).mkdir()
    with pytest.raises(DatasetError) as caught:
        ImageFolder(tmp_path, labels=True)
    message = str(caught.value)
    for expected in ["stray.png: an image beside the class folders", "cat/deeper: a folder inside a class folder",
                     "cat/notes.txt: not an image file name", "cat/broken.png", "empty/: no images",
                     "the folder name is not a class name"]:
        assert expected in message, (expected, message)


def test_no_labels_at_all_and_too_many_classes_are_refused(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    with pytest.raises(DatasetError, match="no metadata.jsonl and no class sub-folders"):
        ImageFolder(tmp_path / "data", labels=True)
    with pytest.raises(DatasetError, match="no such folder"):
        ImageFolder(tmp_path / "missing", labels=True)
    monkeypatch.setattr("pixeldrift.data.class_folder.MAX_CLASSES", 2)
    for name in ("a", "b", "c"):
        image(tmp_path / "data" / name / "x.png")
    with pytest.raises(DatasetError, match="3 classes, over the 2"):
        ImageFolder(tmp_path / "data", labels=True)


def test_the_world_stream_has_no_labels():
    from pixeldrift.train.run import make_data
    with pytest.raises(ValueError, match="class labels come from an image folder"):
        make_data("world", 32, 0, labels=True)

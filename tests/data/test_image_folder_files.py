"""A training folder with broken or hostile files (issue 16): refused when it is opened, before step 1, with
every bad line of metadata.jsonl named by number; never a traceback, a hang or an aborted process."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from pixeldrift.data import ImageFolder
from pixeldrift.data.image_folder import MAX_CAPTION_CHARS, DatasetError


def good_image(folder, name="ok.png"):
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(folder / name)
    return name


def write_metadata(folder, lines):
    with open(folder / "metadata.jsonl", "wb") as file:
        for line in lines:
            file.write((json.dumps(line) if isinstance(line, dict) else line).encode()
                       if not isinstance(line, bytes) else line)
            file.write(b"\n")


def row(name, text="a caption"):
    return {"file_name": name, "text": text}


def test_every_bad_line_is_named_by_number(tmp_path):
    good_image(tmp_path)
    (tmp_path / "random.png").write_bytes(os.urandom(2000))
    whole = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "folder.png").mkdir()
    Image.new("1", (5000, 5000)).save(tmp_path / "bomb.png")  # 25 M pixels in a few KB
    write_metadata(tmp_path, [row("ok.png"), row("missing.png"), row("folder.png"), row("random.png"),
                              row("cut.png"), row("bomb.png"), "[" * 60_000, b"\xff\xfe not utf-8",
                              row("ok.png", "x" * (MAX_CAPTION_CHARS + 1)), row("ok.png", ["a", "list"])])
    with pytest.raises(DatasetError) as caught:
        ImageFolder(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'metadata.jsonl'}: 9 bad lines")
    for expected in ["line 2: .*missing.png: no such image file", "line 3: .*folder.png: is a folder",
                     "line 4: not an image in an accepted format", "line 5: cannot be decoded",
                     "line 6: bomb.png: 5000x5000 is larger than allowed", "line 7: not valid JSON",
                     "line 8: not UTF-8 text", "line 9: the caption has 2001 characters",
                     "line 10: expected a JSON object"]:
        assert __import__("re").search(expected, message), (expected, message)


def test_a_fifo_named_in_metadata_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    write_metadata(tmp_path, [row("pipe.png")])
    with pytest.raises(DatasetError, match="line 1: .*pipe.png: is not a regular file"):
        ImageFolder(tmp_path)


def test_a_fifo_as_metadata_jsonl_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "metadata.jsonl")
    with pytest.raises(ValueError, match="metadata.jsonl: is not a regular file"):
        ImageFolder(tmp_path)


def test_a_huge_caption_line_is_refused_without_being_read_whole(tmp_path):
    good_image(tmp_path)
    write_metadata(tmp_path, [row("ok.png"), row("ok.png", "y" * 3_000_000), row("ok.png")])
    with pytest.raises(DatasetError, match=r"1 bad lines: line 2: longer than 65536 bytes"):
        ImageFolder(tmp_path)


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir(), outside.mkdir()
    good_image(outside, "secret.png")
    (data / "link.png").symlink_to(outside / "secret.png")
    write_metadata(data, [row("link.png")])
    with pytest.raises(DatasetError, match="line 1: link.png: file_name must stay inside"):
        ImageFolder(data)


def test_an_eps_under_a_png_name_is_refused(tmp_path):
    (tmp_path / "doc.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    write_metadata(tmp_path, [row("doc.png")])
    with pytest.raises(DatasetError, match="line 1: not an image in an accepted format"):
        ImageFolder(tmp_path)


def test_captions_are_bounded_like_prompts():
    from pixeldrift.pipeline.request import MAX_PROMPT_CHARS

    assert MAX_CAPTION_CHARS == MAX_PROMPT_CHARS

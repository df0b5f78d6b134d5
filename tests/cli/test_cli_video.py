"""`pixeldrift video` on a tiny video model: a labelled MP4 and GIF of the asked frames, a first frame kept, and
every bad input refused by name with nothing written."""

from __future__ import annotations

import json

import imageio_ffmpeg
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.main import cli
from pixeldrift.provenance.label import AI_STATEMENT

PROMPT = "a red circle moving right"


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """One thread (tests/conftest.py says why)."""


def _run(acting_video_dir, *args):
    return CliRunner().invoke(cli, ["video", *args, "--model", str(acting_video_dir), "--steps", "2"])


def _frames(path) -> list[np.ndarray]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return [np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in reader]


def test_writes_a_labelled_mp4_and_gif_of_the_asked_frames(acting_video_dir, tmp_path):
    out = tmp_path / "clip.mp4"
    result = _run(acting_video_dir, PROMPT, "--frames", "10", "--fps", "5", "--seed", "3", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(_frames(out)) == 10
    assert AI_STATEMENT.encode() in out.read_bytes()
    gif = Image.open(tmp_path / "clip.gif")
    label = json.loads(gif.info["comment"])
    assert gif.n_frames >= 2 and label["record"]["prompt"] == PROMPT  # Pillow merges repeated frames
    assert "10 frames at 5 fps" in result.output


def test_the_same_seed_makes_the_same_clip(acting_video_dir, tmp_path):
    for name in ("a.mp4", "b.mp4"):
        assert _run(acting_video_dir, PROMPT, "--no-gif", "-o", str(tmp_path / name)).exit_code == 0
    assert all(np.array_equal(a, b) for a, b in zip(_frames(tmp_path / "a.mp4"), _frames(tmp_path / "b.mp4")))
    assert not (tmp_path / "a.gif").exists()


def test_a_first_frame_starts_the_clip(acting_video_dir, tmp_path):
    picture = np.zeros((32, 32, 3), np.uint8)
    picture[8:24, 4:20] = (220, 30, 30)
    Image.fromarray(picture).save(tmp_path / "first.png")
    out = tmp_path / "clip.mp4"
    result = _run(acting_video_dir, PROMPT, "--image", str(tmp_path / "first.png"), "-o", str(out))
    assert result.exit_code == 0, result.output
    gif = Image.open(tmp_path / "clip.gif")
    assert json.loads(gif.info["comment"])["record"]["extra"]["First frame"] == "first.png"


@pytest.mark.parametrize("args, message", [
    (["a red circle moving diagonally"], "motion 'moving diagonally' is not known"),
    (["a red circle"], "does not move"),
    ([PROMPT, "--frames", "40"], "40 is not in the range"),
    ([PROMPT, "--fps", "0"], "0 is not in the range"),
    ([PROMPT, "--image-guidance", "2"], "--image-guidance applies to --image"),
    ([PROMPT, "--resize"], "--resize applies to --image"),
    ([PROMPT, "--plan-strength", "1"], "--plan-strength applies to --plan"),
    ([PROMPT, "--plan", "--any-prompt"], "does not take --any-prompt"),
    ([PROMPT, "--plan", "--plan-strength", "9"], "9.0 is not in the range"),
])
def test_bad_input_is_refused_by_name_and_nothing_is_written(acting_video_dir, tmp_path, args, message):
    out = tmp_path / "clip.mp4"
    result = _run(acting_video_dir, *args, "-o", str(out))
    assert result.exit_code == 2 and message in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_a_first_frame_of_another_size_needs_resize(acting_video_dir, tmp_path):
    Image.new("RGB", (48, 40), (0, 90, 200)).save(tmp_path / "big.png")
    out = tmp_path / "clip.mp4"
    refused = _run(acting_video_dir, PROMPT, "--image", str(tmp_path / "big.png"), "-o", str(out))
    assert refused.exit_code == 2 and "the first frame is 48x40" in refused.output and not out.exists()
    resized = _run(acting_video_dir, PROMPT, "--image", str(tmp_path / "big.png"), "--resize", "-o", str(out))
    assert resized.exit_code == 0, resized.output and out.exists()


def test_the_output_must_be_an_mp4_in_a_folder_that_exists(acting_video_dir, tmp_path):
    assert "must end in .mp4" in _run(acting_video_dir, PROMPT, "-o", str(tmp_path / "clip.gif")).output
    assert "does not exist" in _run(acting_video_dir, PROMPT, "-o", str(tmp_path / "none" / "clip.mp4")).output


def test_any_prompt_lets_free_text_through(acting_video_dir, tmp_path):
    result = _run(acting_video_dir, "a red circle moving diagonally", "--any-prompt", "--no-gif", "-o",
                  str(tmp_path / "clip.mp4"))
    assert result.exit_code == 0, result.output


def test_an_image_model_folder_is_refused_clearly(random_model_dir, tmp_path):
    result = CliRunner().invoke(cli, ["video", PROMPT, "--model", str(random_model_dir), "-o",
                                      str(tmp_path / "clip.mp4")])
    assert result.exit_code == 1 and "pixeldrift-video/1" in result.output and not (tmp_path / "clip.mp4").exists()


def test_a_planned_clip_is_drawn_from_its_plan_and_says_so(acting_video_dir, acting_controlnet_dir, tmp_path):
    out = tmp_path / "clip.mp4"
    args = ["--seed", "2", "--plan-control", str(acting_controlnet_dir), "-o", str(out)]
    planned = _run(acting_video_dir, "a circle moving left", "--plan", *args)
    assert planned.exit_code == 0, planned.output
    extra = json.loads(Image.open(tmp_path / "clip.gif").info["comment"])["record"]["extra"]
    assert extra["Plan"].startswith("a ") and "circle moving left on a" in extra["Plan"]  # colour, size, background
    assert extra["Plan control"] == "cn, strength 2"
    strip = Image.open(tmp_path / "clip.plan.png")  # the 8 frames' layout maps, left to right
    assert strip.size == (8 * 32, 32) and "clip.plan.png" in planned.output
    plain = tmp_path / "plain.mp4"
    assert _run(acting_video_dir, "a circle moving left", *args[:2], "-o", str(plain)).exit_code == 0
    assert [f.tobytes() for f in _frames(out)] != [f.tobytes() for f in _frames(plain)]


def test_a_plan_takes_no_first_frame(acting_video_dir, tmp_path):
    Image.new("RGB", (32, 32), (0, 90, 200)).save(tmp_path / "first.png")
    out = tmp_path / "clip.mp4"
    result = _run(acting_video_dir, PROMPT, "--plan", "--image", str(tmp_path / "first.png"), "-o", str(out))
    assert result.exit_code == 2 and "does not take --image" in result.output and not out.exists()

"""Clip files: the MP4 (H.264) decodes back to its frames, the GIF's frames carry the watermark, both carry the
AI-generated label, bad clips are refused by name and nothing is half-written."""

from __future__ import annotations

import io
import json

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from pixeldrift.pipeline.video_files import (VideoFileError, gif_bytes, labelled_frames, use_debian_ffmpeg,
                                             write_gif, write_mp4)
from pixeldrift.provenance.label import AI_STATEMENT
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.provenance.watermark import detect_watermark, embed_watermark
from pixeldrift.world.motion import parse_clip, render_clip

RECORD = GenerationRecord(prompt="a red circle moving right", seed=3)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return render_clip(parse_clip("a red circle and a blue star moving right"), 8, 64, seed=3)


def _decoded(path) -> tuple[dict, list[np.ndarray]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return meta, [np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in reader]


def test_the_mp4_is_h264_and_decodes_to_its_frames(tmp_path, clip):
    path = write_mp4(clip, tmp_path / "clip.mp4", RECORD, fps=12)
    meta, frames = _decoded(path)
    assert meta["codec"] == "h264" and meta["fps"] == 12 and meta["size"] == (64, 64) and len(frames) == 8
    marked, _record, _id = labelled_frames(clip, RECORD, 12)
    error = np.abs(np.stack(frames).astype(int) - marked.astype(int)).mean()
    assert error < 6  # H.264 at CRF 18: close to the watermarked frames, not merely the right shape
    data = path.read_bytes()
    assert AI_STATEMENT.encode() in data and b'"ai_generated": true' in data and b'"Frames": "8"' in data


def test_the_mp4_runs_debians_ffmpeg_when_it_is_installed():
    import shutil
    if shutil.which("ffmpeg") is None:
        pytest.skip("Debian's ffmpeg is not installed (scripts/install_ffmpeg.sh)")
    assert use_debian_ffmpeg() == shutil.which("ffmpeg")


def test_every_gif_frame_carries_the_watermark_and_the_label(tmp_path, clip):
    path = write_gif(clip, tmp_path / "clip.gif", RECORD, fps=8)
    image = Image.open(path)
    assert image.n_frames == 8 and abs(image.info["duration"] - 125) < 10  # GIF delays are in hundredths
    label = json.loads(image.info["comment"])
    assert label["ai_generated"] is True and label["watermark"]["embedded"] is True
    assert label["record"]["extra"] == {"Frames": "8", "FPS": "8"}
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")))
    mark_id = label["watermark"]["id"]
    # The GIF is lossless here (under 256 colours a frame): each frame is exactly the marked one.
    assert all(np.array_equal(f, embed_watermark(c, mark_id)) for f, c in zip(frames, clip))
    # One 64-pixel frame is too little for a sure reading (and the 16-bit id is not read back at this size);
    # the frames side by side keep the tiles aligned and pool them.
    assert detect_watermark(np.concatenate(frames, axis=1)).found
    assert not detect_watermark(np.concatenate(list(clip), axis=1)).found
    plain = Image.open(io.BytesIO(gif_bytes(clip, RECORD, fps=8, watermark=False)))
    assert json.loads(plain.info["comment"])["watermark"]["embedded"] is False
    assert np.array_equal(np.asarray(plain.convert("RGB")), clip[0])


def test_frames_too_small_for_the_watermark_are_labelled_without_it():
    tiny = np.full((4, 16, 16, 3), 200, np.uint8)
    label = json.loads(Image.open(io.BytesIO(gif_bytes(tiny, RECORD))).info["comment"])
    assert label["watermark"]["embedded"] is False and label["ai_generated"] is True


@pytest.mark.parametrize("frames, fps, named", [
    (1, 8, "frames: 1 given"), (33, 8, "frames: 33 given"), (8, 0, "fps"), (8, 31, "fps"), (8, 7.5, "fps"),
])
def test_bad_counts_and_rates_are_refused_and_nothing_is_written(tmp_path, frames, fps, named):
    clip = np.zeros((frames, 64, 64, 3), np.uint8)
    for write, name in ((write_mp4, "clip.mp4"), (write_gif, "clip.gif")):
        with pytest.raises(VideoFileError, match=named):
            write(clip, tmp_path / name, RECORD, fps=fps)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("frames, named", [
    ([np.zeros((64, 64, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)], "frames \\[1\\] differ"),
    (np.zeros((4, 63, 63, 3), np.uint8), "even sides"),
    (np.zeros((4, 64, 64), np.uint8), "frame 0"),
    (np.zeros((4, 64, 64, 3), np.float32), "frame 0"),
    (5, "not a sequence"),
])
def test_bad_frames_are_refused_by_name(tmp_path, frames, named):
    with pytest.raises(VideoFileError, match=named):
        write_gif(frames, tmp_path / "clip.gif", RECORD)


def test_a_wrong_suffix_or_missing_folder_is_refused_and_an_old_file_survives_a_failure(tmp_path, clip):
    with pytest.raises(VideoFileError, match="should end in .mp4"):
        write_mp4(clip, tmp_path / "clip.gif", RECORD)
    with pytest.raises(VideoFileError, match="does not exist"):
        write_gif(clip, tmp_path / "missing" / "clip.gif", RECORD)
    old = write_gif(clip, tmp_path / "clip.gif", RECORD).read_bytes()
    with pytest.raises(VideoFileError):
        write_gif(clip[:1], tmp_path / "clip.gif", RECORD)
    assert (tmp_path / "clip.gif").read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif"]

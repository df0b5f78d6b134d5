"""Writing a generated clip: an MP4 (H.264) and a GIF, each labelled as AI-generated, each written atomically.

Every frame carries the invisible watermark of provenance/watermark.py (the record's id, as a PNG's does)
when it is at least the watermark's tile on each side; the label says whether it does. The label is the
PNG label's JSON (provenance/label.py: the record, the IPTC trainedAlgorithmicMedia statement, the
watermark state), with the clip's frame count and rate in the record: in an MP4 it is the ``comment``
tag beside a ``description`` holding the plain statement; in a GIF it is the comment extension.

The MP4 is encoded by ffmpeg's libx264 (yuv420p, CRF 18) through imageio-ffmpeg, which pipes raw
frames into an ffmpeg process. The ffmpeg it runs is Debian's, which scripts/install_ffmpeg.sh installs
(found on PATH), unless IMAGEIO_FFMPEG_EXE names another; without either, imageio-ffmpeg's own build.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.provenance.label import AI_STATEMENT, label_json
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.provenance.watermark import WatermarkSpec, embed_watermark

MIN_FRAMES, MAX_FRAMES = 2, 32
MIN_FPS, MAX_FPS = 1, 30
MAX_SIDE = 1024
MP4_QUALITY = ["-crf", "18", "-preset", "medium"]


class VideoFileError(ValueError):
    """Frames or settings a clip file cannot be written from; the message names the problem."""


def check_clip(frames, fps: int) -> np.ndarray:
    """The frames as one (F, H, W, 3) uint8 array within the bounds, or VideoFileError naming what is not."""
    if not isinstance(fps, int) or isinstance(fps, bool) or not MIN_FPS <= fps <= MAX_FPS:
        raise VideoFileError(f"fps: {fps!r} is not accepted; accepted: integers {MIN_FPS} to {MAX_FPS}")
    try:
        count = len(frames)
    except TypeError:
        raise VideoFileError(f"frames: a {type(frames).__name__} is not a sequence of frames") from None
    if not MIN_FRAMES <= count <= MAX_FRAMES:
        raise VideoFileError(f"frames: {count} given; accepted: {MIN_FRAMES} to {MAX_FRAMES}")
    arrays = [np.asarray(f.convert("RGB")) if isinstance(f, Image.Image) else np.asarray(f) for f in frames]
    first = arrays[0]
    if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
        raise VideoFileError(f"frame 0: {first.dtype} {first.shape}; accepted: RGB uint8 (H, W, 3)")
    odd = [i for i, a in enumerate(arrays) if a.shape != first.shape or a.dtype != np.uint8]
    if odd:
        raise VideoFileError(f"frames {odd} differ from frame 0's {first.shape} uint8; accepted: one size for all")
    height, width = first.shape[:2]
    if height % 2 or width % 2 or not 2 <= min(height, width) <= max(height, width) <= MAX_SIDE:
        raise VideoFileError(f"frame size {width}x{height}; accepted: even sides from 2 to {MAX_SIDE} (H.264's "
                             "4:2:0 colour needs even sides)")
    return np.stack(arrays)


def labelled_frames(frames, record: GenerationRecord, fps: int, watermark: bool = True,
                    spec: WatermarkSpec = WatermarkSpec()) -> tuple[np.ndarray, GenerationRecord, int | None]:
    """The checked frames, watermarked where the size allows; the record with the clip's frames and rate;
    the watermark id (None when not embedded)."""
    clip = check_clip(frames, fps)
    record = replace(record, extra={**record.extra, "Frames": str(len(clip)), "FPS": str(fps)})
    record.validate()
    fits = min(clip.shape[1:3]) >= spec.min_size
    watermark_id = record.watermark_id() if watermark and fits else None
    if watermark_id is not None:
        clip = np.stack([embed_watermark(frame, watermark_id, spec) for frame in clip])
    return clip, record, watermark_id


def use_debian_ffmpeg() -> str:
    """The ffmpeg imageio-ffmpeg will run: IMAGEIO_FFMPEG_EXE when set; else Debian's on PATH, which this sets
    there once for the process (imageio-ffmpeg would otherwise prefer its own build); else its own build."""
    import imageio_ffmpeg

    debian = shutil.which("ffmpeg")
    if debian and not os.environ.get("IMAGEIO_FFMPEG_EXE"):
        os.environ["IMAGEIO_FFMPEG_EXE"] = debian
    return imageio_ffmpeg.get_ffmpeg_exe()


def mp4_bytes(frames, record: GenerationRecord, fps: int = 8, watermark: bool = True,
              generator: str = "pixeldrift", spec: WatermarkSpec = WatermarkSpec()) -> bytes:
    """An H.264 MP4 of the clip in memory, labelled (module docstring)."""
    import imageio_ffmpeg

    clip, record, watermark_id = labelled_frames(frames, record, fps, watermark, spec)
    tags = ["-metadata", f"comment={label_json(record, watermark_id, generator, spec)}",
            "-metadata", f"description={AI_STATEMENT}", "-metadata", f"title={record.prompt[:200]}"]
    height, width = clip.shape[1:3]
    use_debian_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="pixeldrift-video-") as folder:
        path = Path(folder) / "clip.mp4"
        writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=fps, codec="libx264",
                                             pix_fmt_out="yuv420p", quality=None, macro_block_size=2,
                                             ffmpeg_log_level="error", output_params=MP4_QUALITY + tags)
        writer.send(None)
        for frame in clip:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        return path.read_bytes()


def gif_bytes(frames, record: GenerationRecord, fps: int = 8, watermark: bool = True,
              generator: str = "pixeldrift", spec: WatermarkSpec = WatermarkSpec()) -> bytes:
    """A looping GIF of the clip in memory (Pillow, each frame its own adaptive palette), labelled; GIF delays
    count hundredths of a second, so 8 fps plays at 120 ms a frame. Pillow stores a frame equal to the one
    before it as a longer delay of that one (a clip that holds still plays the same, with fewer frames)."""
    clip, record, watermark_id = labelled_frames(frames, record, fps, watermark, spec)
    images = [Image.fromarray(frame) for frame in clip]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0,
                   comment=label_json(record, watermark_id, generator, spec).encode("utf-8"))
    return buffer.getvalue()


def _write(path, suffix: str, data_of) -> Path:
    target = Path(path)
    if target.suffix.lower() != suffix:
        raise VideoFileError(f"{str(target)!r} should end in {suffix}")
    if not target.parent.is_dir():
        raise VideoFileError(f"folder {str(target.parent)!r} does not exist")
    return write_bytes_atomically(target, data_of())


def write_mp4(frames, path, record: GenerationRecord, fps: int = 8, watermark: bool = True,
              generator: str = "pixeldrift", spec: WatermarkSpec = WatermarkSpec()) -> Path:
    """Write the labelled MP4 atomically: a failure leaves the old file or none."""
    return _write(path, ".mp4", lambda: mp4_bytes(frames, record, fps, watermark, generator, spec))


def write_gif(frames, path, record: GenerationRecord, fps: int = 8, watermark: bool = True,
              generator: str = "pixeldrift", spec: WatermarkSpec = WatermarkSpec()) -> Path:
    """Write the labelled GIF atomically: a failure leaves the old file or none."""
    return _write(path, ".gif", lambda: gif_bytes(frames, record, fps, watermark, generator, spec))

"""Pictures of the toy lab, drawn with Pillow: point clouds, trajectories, the drift field, a GIF."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from pixeldrift.atomic_write import write_bytes_atomically

PANEL = 240          # pixels per panel side
VIEW = 3.2           # the panel shows [-VIEW, VIEW]^2 in data units
BACKGROUND = (250, 250, 247)
INK = (40, 60, 120)
DATA_INK = (200, 90, 40)


def _to_pixels(points: torch.Tensor) -> torch.Tensor:
    return (points / VIEW * 0.5 + 0.5) * torch.tensor([PANEL, -PANEL]) + torch.tensor([0, PANEL])


def _panel(title: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (PANEL, PANEL + 18), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((6, PANEL + 3), title, fill=(30, 30, 30))
    return image, draw


def scatter(points: torch.Tensor, title: str, colour=INK) -> Image.Image:
    image, draw = _panel(title)
    for x, y in _to_pixels(points).tolist():
        draw.rectangle([x - 1, y - 1, x, y], fill=colour)
    return image


def row(panels: list[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (sum(p.width for p in panels) + 4 * (len(panels) - 1), panels[0].height), "white")
    x = 0
    for p in panels:
        out.paste(p, (x, 0))
        x += p.width + 4
    return out


def trajectories(paths: torch.Tensor, title: str) -> Image.Image:
    """paths: (steps + 1, N, 2) in the VP scale x / sqrt(1 + sigma^2), from noise to data."""
    image, draw = _panel(title)
    pixels = _to_pixels(paths.reshape(-1, 2)).reshape(paths.shape)
    for n in range(paths.shape[1]):
        draw.line([tuple(p) for p in pixels[:, n].tolist()], fill=(150, 165, 200), width=1)
    for x, y in pixels[-1].tolist():
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=DATA_INK)
    return image


def drift_field(denoiser, sigma: float, title: str, grid: int = 17) -> Image.Image:
    """Arrows from grid points x towards the model's clean guess D(x, sigma), all of one length."""
    image, draw = _panel(title)
    axis = torch.linspace(-VIEW * 0.9, VIEW * 0.9, grid)
    points = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        pull = denoiser(points, torch.full((len(points),), sigma)) - points
    pull = pull / pull.norm(dim=1, keepdim=True).clamp_min(1e-8) * (VIEW / grid)
    for start, end in zip(_to_pixels(points).tolist(), _to_pixels(points + pull).tolist()):
        draw.line([tuple(start), tuple(end)], fill=INK, width=1)
        draw.ellipse([end[0] - 1.5, end[1] - 1.5, end[0] + 1.5, end[1] + 1.5], fill=DATA_INK)
    return image


def save_gif(frames: list[Image.Image], path: Path, frame_ms: int = 80) -> None:
    """Animated GIF, written atomically so a crash leaves no half file."""
    buffer = io.BytesIO()
    hold = [frames[-1]] * 12  # pause on the result before looping
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:] + hold, duration=frame_ms, loop=0)
    write_bytes_atomically(path, buffer.getvalue())


def save_png(image: Image.Image, path: Path) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes_atomically(path, buffer.getvalue())

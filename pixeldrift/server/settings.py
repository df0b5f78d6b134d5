"""ServerSettings: where the server listens, who may call it, and how much one request may ask for."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

TOKEN_ENV = "PIXELDRIFT_TOKEN"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServerSettings:
    """Everything `pixeldrift serve` can set; the defaults suit one person on one machine."""

    host: str = "127.0.0.1"
    port: int = 7860                        # AUTOMATIC1111's port, where its clients look first
    token: str | None = None                # required when host is not a loopback address
    gallery_dir: Path = Path("outputs/gallery")
    model_paths: tuple[str | None, ...] = (None,)   # model folders; None is the embedded default
    control_paths: tuple[str, ...] = ()     # ControlNets: pixeldrift ControlNet folders, SD ControlNet files/folders
    lora_dir: Path | None = None            # LoRA files a prompt's <lora:NAME:WEIGHT> may name (adapters.py)
    embedding_dir: Path | None = None       # textual-inversion embeddings, applied where a prompt uses their word
    video_path: str | Path | None = None    # a video model folder (pixeldrift train video); None: no video
    video_plan_control_path: str | Path | None = None   # a layout ControlNet folder: the video model's plans
    upscaler_path: str | Path | None = None  # an upscaler folder (pixeldrift train upscaler): the hires fix's SR3 and
                                            # OpenAI sizes above the model's own; None: no trained upscaler
    device: str = "cpu"
    queue_size: int = 16                    # jobs waiting per device; one more gets 429
    max_side: int = 512                     # pixels, also capped by each model's own limit
    max_steps: int = 150
    max_images: int = 16                    # images one request may make (batch x iterations)
    max_grid_cells: int = 64                # images one X/Y/Z grid job may make
    max_upload_bytes: int = 16 << 20        # one decoded image
    max_upload_pixels: int = 4096 * 4096
    max_body_bytes: int = 64 << 20          # one HTTP request body to a route that takes images
    max_text_body_bytes: int = 1 << 20      # one HTTP request body to any other route (text fields only)
    max_body_bytes_in_flight: int = 192 << 20   # all request bodies being received at once
    preview_interval_s: float = 0.2         # at most this often a live preview is decoded
    watermark: bool = True
    allowed_hosts: tuple[str, ...] = field(default=LOOPBACK_NAMES)

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < 8:
            raise ValueError("the API token must be at least 8 characters")
        if not self.is_loopback and not self.token:
            raise ValueError(f"binding {self.host!r} exposes the server to the network: give an API token "
                             f"(--token or ${TOKEN_ENV}), or bind 127.0.0.1")
        for name in ("queue_size", "max_side", "max_steps", "max_images", "max_grid_cells", "max_upload_bytes",
                     "max_upload_pixels", "max_body_bytes", "max_text_body_bytes", "max_body_bytes_in_flight"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.video_plan_control_path is not None and self.video_path is None:
            raise ValueError("a plan ControlNet (video_plan_control_path) steers a video model; give video_path too")
        if self.max_body_bytes_in_flight < self.max_body_bytes:
            raise ValueError("max_body_bytes_in_flight must be at least max_body_bytes, or no upload could fit")

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name other than localhost may resolve anywhere

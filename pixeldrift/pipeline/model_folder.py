"""A model on disk: a folder with config.json, safetensors weights and a README model card.

    config.json                 architecture, parameterization, sampling defaults, training recipe, metrics
    text_encoder.safetensors    absent when the text encoder is the frozen pretrained MiniLM; for a
                                class-conditional model, the class tokens (the names are in config.json)
    denoiser.safetensors        the EMA weights
    vae.safetensors             absent for pixel-space models
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pixeldrift.bounded_files import BadFileError, check_number, inside, read_json_object
from pixeldrift.diffusion.parameterization import PARAMETERIZATIONS
from pixeldrift.diffusion.schedules import BETA_SCHEDULES
from pixeldrift.nets import (VAE, DiTConfig, TextEncoderConfig, UNetConfig, VAEConfig, WeightsError,
                             load_weights, save_weights)
from pixeldrift.nets.io import describe_mismatch, header_state
from pixeldrift.nets.registry import MAX_PARAMETERS
from pixeldrift.nets.config import JsonConfig
from pixeldrift.nets.class_label_encoder import ClassLabelEncoderConfig
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoderConfig
from pixeldrift.pipeline.request import ModelLimits, SamplingDefaults

MAX_SIDE = 512  # our small models are trained at 64 px; 8x that is the most worth asking for
MAX_IMAGE_SIZE = 4096
MAX_NAME = 200
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "default"
FORMAT = "pixeldrift-model/1"
WEIGHT_FILES = ("text_encoder", "denoiser", "vae")


@dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Everything needed to rebuild a model; the weights files hold the rest."""

    name: str
    image_size: int
    text_encoder: TextEncoderConfig | MiniLMTextEncoderConfig | ClassLabelEncoderConfig
    denoiser: UNetConfig | DiTConfig
    vae: VAEConfig | None            # None: the denoiser works on pixels
    sigma_data: float = 0.5          # EDM preconditioning (Karras et al. 2022)
    parameterization: str = "edm"    # what the network predicts: edm (x0), eps, v or flow (velocity)
    vp_schedule: str = "scaled_linear"  # eps and v: the 1000-step VP schedule they were trained on
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 0 < len(self.name) <= MAX_NAME:
            raise ValueError(f"name must be text of 1 to {MAX_NAME} characters")
        channels = 3 if self.vae is None else self.vae.latent_channels
        factor = self.size_multiple
        problems = []
        if self.denoiser.in_channels != channels or self.denoiser.out_channels != channels:
            problems.append(f"the denoiser takes {self.denoiser.in_channels} channels, the latents have {channels}")
        if self.denoiser.context_dim != self.text_encoder.width:
            problems.append(f"the denoiser attends to width {self.denoiser.context_dim}, "
                            f"the text encoder gives {self.text_encoder.width}")
        if self.parameterization not in PARAMETERIZATIONS:
            problems.append(f"unknown parameterization {self.parameterization!r}; "
                            f"accepted: {', '.join(PARAMETERIZATIONS)}")
        if self.vp_schedule not in BETA_SCHEDULES:
            problems.append(f"unknown vp_schedule {self.vp_schedule!r}; accepted: {', '.join(BETA_SCHEDULES)}")
        problems += _number_problems(self)
        if not problems and self.image_size % factor:
            problems.append(f"image_size {self.image_size} is not a multiple of {factor}")
        if problems:
            raise ValueError("inconsistent model config: " + "; ".join(problems))

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this: the VAE's and the denoiser's downsampling together."""
        return self.denoiser.downsample_factor * (1 if self.vae is None else self.vae.downsample_factor)

    @property
    def limits(self) -> ModelLimits:
        return ModelLimits(self.image_size, self.image_size, self.size_multiple, max_side=MAX_SIDE)

    @property
    def weight_files(self) -> tuple[str, ...]:
        """The parts whose weights the folder holds: a frozen pretrained encoder comes from its package."""
        frozen = isinstance(self.text_encoder, MiniLMTextEncoderConfig)
        return tuple(part for part in WEIGHT_FILES if not (part == "vae" and self.vae is None)
                     and not (part == "text_encoder" and frozen))

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int]:
        if self.vae is None:
            return (3, height, width)
        f = self.vae.downsample_factor
        return (self.vae.latent_channels, height // f, width // f)


def _number_problems(config: ModelConfig) -> list[str]:
    """The numbers a config file may get wrong without any network noticing: sigma_data 0 or inf gives
    a flat image and exit 0, so every one is bounded here."""
    sampling = config.sampling
    checks = [(config.image_size, 1, MAX_IMAGE_SIZE, "image_size", True),
              (config.sigma_data, 1e-6, 1e6, "sigma_data (> 0)", False),
              (sampling.steps, 1, 10_000, "sampling.steps", True),
              (sampling.guidance, 0, 100, "sampling.guidance", False),
              (sampling.sigma_min, 0, 1e6, "sampling.sigma_min", False),
              (sampling.sigma_max, 1e-9, 1e6, "sampling.sigma_max", False)]
    problems = []
    for value, low, high, where, integer in checks:
        try:
            check_number(value, low, high, where, integer)
        except ValueError as error:
            problems.append(str(error))
    return problems


def read_folder_config(folder: Path, form: str, what: str) -> tuple[Path, dict[str, Any]]:
    """A folder's config.json as a dict, inside the folder, bounded in size, of format `form`;
    BadFileError naming the file otherwise (`what`: the kind of folder, for the message)."""
    path = folder / "config.json"
    if not path.is_file():
        raise BadFileError(f"{folder} is not a {what} folder: no config.json")
    inside(folder, path)
    data = read_json_object(path)
    if data.get("format") != form:
        raise BadFileError(f"{path}: format {str(data.get('format'))[:80]!r} is not {form!r}")
    return path, data


def _read_config(folder: Path) -> tuple[ModelConfig, dict[str, Any]]:
    """The folder's config.json, bounded in size, checked field by field; BadFileError naming it otherwise."""
    path, data = read_folder_config(folder, FORMAT, "pixeldrift model")
    extras = {k: data.pop(k) for k in ("format", "training", "metrics") if k in data}
    data.setdefault("parameterization", "edm")  # folders written before these fields existed were all EDM
    data.setdefault("vp_schedule", "scaled_linear")
    try:
        return ModelConfig.from_dict(data), extras
    except (TypeError, ValueError) as error:
        raise BadFileError(f"{path}: {error}") from None


def expected_weights(config: ModelConfig, source: Path) -> dict[str, dict]:
    """{part: its state dict as meta tensors}: the shapes each weights file must have, and the model's
    size, known before anything is built. BadFileError naming `source` past MAX_PARAMETERS."""
    from pixeldrift.pipeline.text_to_image import make_denoiser, make_text_encoder

    builders = {"text_encoder": lambda: make_text_encoder(config.text_encoder),
                "denoiser": lambda: make_denoiser(config), "vae": lambda: VAE(config.vae)}
    with torch.device("meta"):
        states = {part: builders[part]().state_dict() for part in config.weight_files}
    count = sum(t.numel() for state in states.values() for t in state.values())
    if count > MAX_PARAMETERS:
        raise BadFileError(f"{source}: the config describes {count:.3g} parameters, "
                           f"over the {MAX_PARAMETERS:.0e} a model folder may have")
    return states


def load_model(folder: str | Path | None = None, device: str = "cpu"):
    """Build the model a folder describes and load its weights, all or nothing.

    Every file is checked before the model is built: inside the folder, regular, a
    config within bounds, and each weights header against the shapes the config gives.
    """
    from pixeldrift.pipeline.text_to_image import TextToImage  # the model class lives with generation

    folder = Path(folder) if folder is not None else DEFAULT_MODEL_DIR
    config, _extras = _read_config(folder)  # training recipe and metrics: for the model card, not the model
    paths = {part: _weights_path(folder, part) for part in config.weight_files}
    for part, expected in expected_weights(config, folder / "config.json").items():
        problems = describe_mismatch(expected, header_state(paths[part]))
        if problems:
            raise WeightsError(f"{paths[part]} does not match {folder / 'config.json'}: " + "; ".join(problems))
    model = TextToImage(config)
    for part, path in paths.items():
        load_weights(getattr(model, part), path)
    return model.to(device).eval()


def _weights_path(folder: Path, part: str) -> Path:
    path = folder / f"{part}.safetensors"
    if not path.is_file() and not path.is_symlink():
        raise BadFileError(f"{folder}: missing {path.name}")
    inside(folder, path)
    return path


def save_model(model, folder: str | Path, training: dict | None = None, metrics: dict | None = None,
               card: str | None = None) -> Path:
    """Write a model folder: into a temporary folder first, then swapped in whole."""
    config = {"format": FORMAT, **model.config.to_dict(), "training": training or {}, "metrics": metrics or {}}
    return write_folder(folder, config, {part: getattr(model, part) for part in model.config.weight_files}, card)


def write_folder(folder: str | Path, config: dict, weights: dict, card: str | None = None) -> Path:
    """config.json, PART.safetensors for each module of `weights` and the card, written into a temporary
    folder beside `folder` and swapped in whole: a crash leaves the old folder or none."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        for part, module in weights.items():
            save_weights(module, staging / f"{part}.safetensors")
        if card is not None:
            (staging / "README.md").write_text(card, encoding="utf-8")
        _swap_in(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _swap_in(staging: Path, folder: Path) -> None:
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)

"""A video model on disk:

    config.json              format, the image model's config (as in its own folder), the temporal
                             layers' config, the clip defaults (frames, fps, image guidance), training
    denoiser.safetensors     the video UNet: the image UNet's layers (spatial.*) and the temporal ones
    vae.safetensors          the image model's VAE
    text_encoder.safetensors as in an image model folder: absent for the frozen pretrained MiniLM
    README.md                the model card

Loading checks every file before anything is built, as model folders do (pipeline/model_folder.py).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from pixeldrift.bounded_files import BadFileError
from pixeldrift.nets import VAE, WeightsError, load_weights
from pixeldrift.nets.io import describe_mismatch, header_state
from pixeldrift.nets.registry import MAX_PARAMETERS
from pixeldrift.nets.temporal import TemporalConfig, VideoUNet
from pixeldrift.pipeline.model_folder import ModelConfig, _weights_path, read_folder_config, write_folder
from pixeldrift.pipeline.video_model import TextToVideo, VideoSettings

FORMAT = "pixeldrift-video/1"


def save_video_model(model: TextToVideo, folder: str | Path, training: dict | None = None,
                     card: str | None = None) -> Path:
    """Write the folder into a temporary one, then swap it in whole."""
    config = {"format": FORMAT, "image_model": model.image_model.config.to_dict(),
              "temporal": model.temporal.to_dict(), "clip": asdict(model.defaults), "training": training or {}}
    image_model = model.image_model
    return write_folder(folder, config, {part: getattr(image_model, part) for part in image_model.config.weight_files},
                        card)


def _read(folder: Path) -> tuple[ModelConfig, TemporalConfig, VideoSettings]:
    path, data = read_folder_config(folder, FORMAT, "pixeldrift video model")
    try:
        image = dict(data["image_model"])
        image.pop("format", None)
        config = ModelConfig.from_dict(image)
        temporal = TemporalConfig.from_dict(data["temporal"])
        clip = VideoSettings(**data["clip"])
        clip.check(temporal.max_frames)
    except (KeyError, TypeError, ValueError) as error:
        raise BadFileError(f"{path}: {error}") from None
    if config.vae is None:
        raise BadFileError(f"{path}: a video model is a latent model; its image model has no VAE")
    return config, temporal, clip


def load_video_model(folder: str | Path, device: str = "cpu") -> TextToVideo:
    """Build the video model a folder describes and load its weights, all or nothing."""
    from pixeldrift.pipeline.text_to_image import TextToImage, make_text_encoder

    folder = Path(folder)
    config, temporal, clip = _read(folder)
    builders = {"denoiser": lambda: _video_denoiser(config, temporal), "vae": lambda: VAE(config.vae),
                "text_encoder": lambda: make_text_encoder(config.text_encoder)}
    with torch.device("meta"):  # shapes only: each weights file is checked before anything is built
        expected = {part: builders[part]().state_dict() for part in config.weight_files}
    count = sum(t.numel() for state in expected.values() for t in state.values())
    if count > MAX_PARAMETERS:
        raise BadFileError(f"{folder / 'config.json'}: the config describes {count:.3g} parameters, over the "
                           f"{MAX_PARAMETERS:.0e} a model folder may have")
    paths = {part: _weights_path(folder, part) for part in config.weight_files}
    for part, path in paths.items():
        problems = describe_mismatch(expected[part], header_state(path))
        if problems:
            raise WeightsError(f"{path} does not match {folder / 'config.json'}: " + "; ".join(problems))
    model = TextToVideo(TextToImage(config), temporal, clip)
    for part, path in paths.items():
        load_weights(getattr(model.image_model, part), path)
    return model.to(device).eval()


def _video_denoiser(config: ModelConfig, temporal: TemporalConfig):
    from pixeldrift.pipeline.text_to_image import make_denoiser

    denoiser = make_denoiser(config)
    denoiser.net = VideoUNet(denoiser.net, temporal)
    return denoiser

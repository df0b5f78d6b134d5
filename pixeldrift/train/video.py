"""`pixeldrift train video`: a video model grown from a trained image model (Video LDM's recipe).

Blattmann et al. 2023 ("Align your Latents", sec. 3.1) keep an image LDM's spatial layers, add
temporal layers and train on video clips; here the spatial layers start from the image model's
weights and are trained on with the temporal ones, at one learning rate (their sec. 3.1.1 also
fine-tunes the whole network in some settings), and the VAE and text encoder stay frozen.

With `freeze_spatial` only the temporal layers learn and every frame keeps the image model's spatial
weights (AnimateDiff, Guo et al. 2024, sec. 4.2, trains its motion module this way), so the frames stay as good
as the image model's stills; `spatial_from` puts an image model's spatial weights back under a video model's
temporal layers, to go on from a video model whose spatial layers drifted.

The loss is the image model's denoising loss (EDM weighting, its noise-level distribution) on every
frame of a clip at one noise level, with two conditionings dropped at random so that sampling can
guide on each (sampling/video_guidance.py):
  - the caption, replaced by the empty text with probability `caption_dropout`;
  - the first frame, given clean with probability `first_frame_share` (image-to-video): it is passed
    at the near-zero level GIVEN_SIGMA and left out of the loss, as Stable Video Diffusion and
    diffusion forcing condition on known frames by their noise level.
The clips come from the world in motion (data/video_stream.py, training split only).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from pixeldrift.data.video_stream import VideoStream
from pixeldrift.diffusion.forward import append_dims
from pixeldrift.nets.temporal import TemporalConfig
from pixeldrift.pipeline.model_folder import load_model
from pixeldrift.bounded_files import read_json_object
from pixeldrift.pipeline.video_folder import FORMAT as VIDEO_FORMAT
from pixeldrift.pipeline.video_folder import load_video_model, save_video_model
from pixeldrift.pipeline.video_model import TextToVideo, VideoSettings, mixed_noise
from pixeldrift.sampling.video_guidance import GIVEN_SIGMA
from pixeldrift.train.recipes import training_sigma_sampler
from pixeldrift.train.run import init_distributed
from pixeldrift.train.trainer import Trainer, TrainerConfig


class VideoTraining(nn.Module):
    """forward(clips (N, F, 3, H, W) in [-1, 1], captions, noise) -> the per-clip loss (N,)."""

    def __init__(self, model: TextToVideo, caption_dropout: float = 0.1, first_frame_share: float = 0.5,
                 temporal_lr_scale: float = 5.0, freeze_spatial: bool = False):
        super().__init__()
        if not 0 < temporal_lr_scale <= 100:
            raise ValueError(f"the temporal layers' learning-rate scale must be in (0, 100], got {temporal_lr_scale}")
        self.temporal_lr_scale = temporal_lr_scale
        for name, share in (("caption dropout", caption_dropout), ("first-frame share", first_frame_share)):
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be a fraction from 0 to 1, got {share}")
        self.model, self.caption_dropout, self.first_frame_share = model, caption_dropout, first_frame_share
        image_model = model.image_model
        image_model.vae.requires_grad_(False)
        image_model.text_encoder.requires_grad_(False)
        if freeze_spatial:
            model.denoiser.net.spatial.requires_grad_(False)
        self.draw_sigma = training_sigma_sampler(image_model)

    def learning_rate_scale(self, name: str) -> float:
        """The new temporal layers learn `temporal_lr_scale` times faster than the pretrained spatial ones: they
        start from zero and have a few thousand steps (the trainer reads this, train/trainer.py)."""
        return self.temporal_lr_scale if ".temporal." in name else 1.0

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.image_model.vae.eval()  # frozen
        self.model.image_model.text_encoder.eval()
        return self

    def forward(self, clips, captions, noise):
        n, frames = clips.shape[:2]
        drop, given = noise.rand() < self.caption_dropout, noise.rand() < self.first_frame_share
        sigma = noise.draw(self.draw_sigma)[:, None].repeat(1, frames)  # (N, F): one level per clip
        sigma[:, 0] = torch.where(given, torch.full_like(sigma[:, 0], GIVEN_SIGMA), sigma[:, 0])
        image_model = self.model.image_model
        with torch.no_grad():
            latents = self._latents(clips, noise)
            texts = ["" if d else c for d, c in zip(drop.tolist(), captions)]
            cond = image_model.text_encoder.encode(texts).as_cond()
        shared = noise.randn(1, *latents.shape[2:])  # (N, 1, C, h, w)
        eps = mixed_noise(shared, noise.randn(*latents.shape[1:]), self.model.temporal.shared_noise)
        denoiser = image_model.denoiser
        denoised = denoiser(latents + append_dims(sigma, latents.ndim) * eps, sigma, **cond)
        errors = denoiser.loss_weight(sigma) * (denoised - latents).pow(2).flatten(2).mean(2)  # (N, F)
        counted = torch.ones_like(errors)
        counted[:, 0] = (~given).to(errors.dtype)  # a given frame is not predicted
        return (errors * counted).sum(1) / counted.sum(1)

    def _latents(self, clips, noise):
        vae = self.model.image_model.vae
        posterior = vae.encode(clips.flatten(0, 1))
        sample = posterior.mean + posterior.std * noise.randn(clips.shape[1], *posterior.mean.shape[1:]).flatten(0, 1)
        return (sample * vae.cfg.latent_scale).reshape(*clips.shape[:2], *posterior.mean.shape[1:])


def initial_video_model(init: Path, temporal: TemporalConfig, defaults: VideoSettings,
                        spatial_from: Path | None = None) -> TextToVideo:
    """From an image model folder: its UNet with new temporal layers. From a video model folder: that model,
    trained on (with `temporal`'s noise prior and `defaults`; its layers' shapes are the folder's), its spatial
    layers replaced by the UNet of the image model folder `spatial_from` when that is given."""
    defaults.check(temporal.max_frames)
    if read_json_object(Path(init) / "config.json").get("format") != VIDEO_FORMAT:
        if spatial_from is not None:
            raise ValueError(f"spatial_from replaces a video model's spatial layers; {init} is an image model, "
                             "whose UNet already is the spatial layers")
        return TextToVideo(load_model(init), temporal, defaults)
    model = load_video_model(init)
    model.temporal = replace(model.temporal, shared_noise=temporal.shared_noise)
    model.denoiser.net.cfg, model.defaults = model.temporal, defaults
    defaults.check(model.temporal.max_frames)
    if spatial_from is not None:
        replace_spatial_layers(model, spatial_from)
    return model


def replace_spatial_layers(model: TextToVideo, image_folder: Path) -> None:
    """Load the UNet of the image model folder into the video model's spatial layers (shapes must agree)."""
    unet = load_model(image_folder).denoiser.net
    spatial = model.denoiser.net.spatial
    if unet.cfg != spatial.cfg:
        raise ValueError(f"the UNet of {image_folder} is not the video model's spatial UNet: "
                         f"{unet.cfg} against {spatial.cfg}")
    spatial.load_state_dict(unet.state_dict())


def train_video(out: Path, config: TrainerConfig, init: Path, frames: int = 8, fps: int = 8,
                temporal: TemporalConfig = TemporalConfig(), export: Path | None = None, resume: bool = False,
                caption_dropout: float = 0.1, first_frame_share: float = 0.5, temporal_lr_scale: float = 5.0,
                freeze_spatial: bool = False, spatial_from: Path | None = None, report=print) -> TextToVideo:
    """Grow a video model from the image model folder `init` and train it on world clips; export a folder."""
    init_distributed(config.device)
    rank = dist.get_rank() if dist.is_initialized() else 0
    model = initial_video_model(init, temporal, VideoSettings(frames=frames, fps=fps), spatial_from)
    module = VideoTraining(model, caption_dropout, first_frame_share, temporal_lr_scale, freeze_spatial).train()
    data = VideoStream(seed=config.seed, size=model.size, frames=frames)
    trainer = Trainer(module, data, config, out)
    if resume:
        trainer.resume()
    trainer.fit()
    shipped = trainer.ema.model.model
    if export is not None and rank == 0:
        recipe = {"trainer": asdict(config), "method": "video", "init": str(init), "frames": frames,
                  "caption_dropout": caption_dropout, "first_frame_share": first_frame_share,
                  "temporal_lr_scale": temporal_lr_scale, "freeze_spatial": freeze_spatial,
                  "spatial_from": None if spatial_from is None else str(spatial_from),
                  "steps_done": trainer.step}
        save_video_model(shipped, export, training=recipe)
        report(f"wrote the video model folder {export}")
    return shipped

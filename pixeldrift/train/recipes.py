"""What is trained, as modules whose forward is their loss (see trainer.TrainingModule)."""

from __future__ import annotations

import math

import torch
from torch import nn

from pixeldrift.diffusion.losses import denoising_loss, lognormal_sigma_sampler
from pixeldrift.nets import VAE
from pixeldrift.pipeline.text_to_image import TextToImage


class VAETraining(nn.Module):
    """Reconstruction (L1 + MSE) plus a small KL pull towards N(0, I), as in latent diffusion."""

    def __init__(self, vae: VAE, kl_weight: float = 1e-6):
        super().__init__()
        self.vae, self.kl_weight = vae, kl_weight

    def forward(self, images, captions, noise):
        posterior = self.vae.encode(images)
        recon = self.vae.decode(posterior.mean + posterior.std * noise.randn(*posterior.mean.shape[1:]))
        error = (recon - images).abs().flatten(1).mean(1) + (recon - images).pow(2).flatten(1).mean(1)
        return error + self.kl_weight * posterior.kl()


class TextToImageTraining(nn.Module):
    """The EDM denoising loss on VAE latents, text encoder trained jointly, captions dropped for CFG."""

    def __init__(self, model: TextToImage, caption_dropout: float = 0.1, p_mean: float | None = None,
                 p_std: float = 1.2):
        super().__init__()
        if p_mean is None:  # EDM's -1.2 is for sigma_data = 0.5; keep sigma / sigma_data distributed the same
            p_mean = -1.2 + math.log(model.config.sigma_data / 0.5)
        self.model = model
        if model.vae is not None:
            model.vae.requires_grad_(False).eval()
        self.caption_dropout = caption_dropout
        self.draw_sigma = lognormal_sigma_sampler(p_mean, p_std)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.model.vae is not None:
            self.model.vae.eval()  # frozen
        return self

    def forward(self, images, captions, noise):
        drop = noise.rand() < self.caption_dropout
        sigma = noise.draw(self.draw_sigma)
        with torch.no_grad():
            latents = self._latents(images, noise)
        texts = ["" if d else c for d, c in zip(drop.tolist(), captions)]
        cond = self.model.text_encoder.encode(texts).as_cond()
        return denoising_loss(self.model.denoiser, latents, sigma, noise.randn(*latents.shape[1:]), **cond)

    def _latents(self, images, noise):
        vae = self.model.vae
        if vae is None:
            return images
        posterior = vae.encode(images)
        return (posterior.mean + posterior.std * noise.randn(*posterior.mean.shape[1:])) * vae.cfg.latent_scale

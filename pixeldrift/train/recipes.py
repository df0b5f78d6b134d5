"""What is trained, as modules whose forward is their loss (see trainer.TrainingModule)."""

from __future__ import annotations

import math

import torch
from torch import nn

from pixeldrift.diffusion.losses import (SigmaSampler, denoising_loss, discrete_sigma_sampler,
                                         logit_normal_flow_sigma_sampler, lognormal_sigma_sampler)
from pixeldrift.nets import VAE
from pixeldrift.pipeline.text_to_image import TextToImage
from pixeldrift.sampling.control import ControlDenoiser, ControlUnit


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
    """The denoising loss on VAE latents, text encoder trained jointly, captions dropped for CFG (a
    class-label model's labels alike: the empty prompt is its no-class token).

    The loss is the MSE on the network's own target (see diffusion.losses); the
    noise levels are drawn the way each parameterization's paper trained it.
    """

    def __init__(self, model: TextToImage, caption_dropout: float = 0.1):
        super().__init__()
        if not 0 <= caption_dropout <= 1:
            raise ValueError(f"caption dropout must be a fraction from 0 to 1, got {caption_dropout}")
        self.model = model
        if model.vae is not None:
            model.vae.requires_grad_(False).eval()
        self.caption_dropout = caption_dropout
        self.draw_sigma = training_sigma_sampler(model)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.model.vae is not None:
            self.model.vae.eval()  # frozen
        return self

    def forward(self, images, captions, noise):
        return self.loss(self.model.denoiser, images, captions, noise)

    def loss(self, denoiser, images, captions, noise):
        """The per-sample loss of `denoiser` (the model's own, or one wrapping it) on a batch."""
        drop = noise.rand() < self.caption_dropout
        sigma = noise.draw(self.draw_sigma)
        with torch.no_grad():
            latents = self._latents(images, noise)
        texts = ["" if d else c for d, c in zip(drop.tolist(), captions)]
        cond = self.model.text_encoder.encode(texts).as_cond()
        return denoising_loss(denoiser, latents, sigma, noise.randn(*latents.shape[1:]), **cond)

    def _latents(self, images, noise):
        vae = self.model.vae
        if vae is None:
            return images
        posterior = vae.encode(images)
        return (posterior.mean + posterior.std * noise.randn(*posterior.mean.shape[1:])) * vae.cfg.latent_scale


def training_sigma_sampler(model: TextToImage, p_std: float = 1.2) -> SigmaSampler:
    """EDM: log-normal sigma; eps and v: uniform timesteps of the VP schedule; flow: logit-normal time (SD3)."""
    kind = model.config.parameterization
    if kind == "edm":  # EDM's P_mean -1.2 is for sigma_data 0.5: keep sigma / sigma_data distributed the same
        return lognormal_sigma_sampler(-1.2 + math.log(model.config.sigma_data / 0.5), p_std)
    if kind in ("eps", "v"):
        return discrete_sigma_sampler(model.denoiser.schedule)
    return logit_normal_flow_sigma_sampler()


class ControlNetTraining(nn.Module):
    """ControlNet (Zhang et al. 2023): the denoising loss of the frozen model steered by a trainable copy of
    its encoder. Batches carry the control map as three extra channels: images (N, 6, H, W) are the picture
    in [-1, 1], then its map in [0, 1]. Half the captions are dropped, as the paper does, so the ControlNet
    learns to read the map itself rather than lean on the prompt.
    """

    def __init__(self, model: TextToImage, controlnet: nn.Module, caption_dropout: float = 0.5):
        super().__init__()
        self.base = TextToImageTraining(model, caption_dropout)
        model.requires_grad_(False).eval()  # every part of the base model stays bit-identical
        self.controlnet = controlnet
        self.unit = ControlUnit(controlnet, torch.zeros(1, 3, 1, 1))
        self.denoiser = ControlDenoiser(model.denoiser, [self.unit])

    def train(self, mode: bool = True):
        super().train(mode)
        self.base.model.eval()  # frozen, dropout off
        return self

    def forward(self, images, captions, noise):
        pictures, self.unit.hint = images[:, :3], images[:, 3:]
        return self.base.loss(self.denoiser, pictures, captions, noise)


class DreamBoothTraining(TextToImageTraining):
    """DreamBooth (Ruiz et al. 2023): fine-tune on a few images of one subject, named by a rare identifier
    ("a sks shape"), with the class-specific prior-preservation loss of their eq. 2:

        E[w_t ||x_hat(a_t x + s_t eps, c) - x||^2] + lambda E[w_t' ||x_hat(a_t' x_pr + s_t' eps', c_pr) - x_pr||^2]

    where x_pr are class images the frozen base model generated itself from c_pr ("a shape"), so the
    class keeps meaning what it meant (no language drift). A batch mixes both: rows whose caption holds
    the identifier are the subject's (weight 1), the others class images (weight `prior_weight`,
    lambda). No caption is dropped: the paper trains on every prompt.
    """

    def __init__(self, model: TextToImage, identifier: str, prior_weight: float = 1.0):
        super().__init__(model, caption_dropout=0.0)
        if not 0 <= prior_weight <= 100:
            raise ValueError(f"the prior-preservation weight must be from 0 to 100, got {prior_weight}")
        self.identifier, self.prior_weight = identifier, prior_weight

    def forward(self, images, captions, noise):
        return prior_weighted(self.loss(self.model.denoiser, images, captions, noise), captions, self.identifier,
                              self.prior_weight)


def prior_weighted(losses: torch.Tensor, captions, identifier: str, prior_weight: float) -> torch.Tensor:
    """Per-image losses weighted as DreamBooth's eq. 2: 1 for the subject's rows (their caption names the
    identifier), lambda = `prior_weight` for the class images'."""
    weights = [1.0 if identifier in caption.split() else prior_weight for caption in captions]
    return losses * torch.tensor(weights, device=losses.device)

"""Score distillation sampling (SDS): optimise a differentiable picture until the model's score agrees with a prompt.

DreamFusion (Poole et al. 2022, eq. 3) optimises the parameters theta of any differentiable
generator x = g(theta) with the gradient

    grad_theta L_SDS = E_{t, eps} [ w(t) (eps_hat(x_t; y, t) - eps) dx/dtheta ],   x_t = x + sigma_t eps,

leaving out the U-Net's Jacobian d eps_hat / dx_t: the denoiser is called without gradients,
and only the generator is differentiated. In sigma space (x = x0 + sigma eps, see
sampling/samplers.py) eps_hat = (x_t - D(x_t, sigma)) / sigma, so eps_hat - eps = (x0 - D) / sigma;
with w(sigma) = sigma, the weighting used here, the gradient is x0 - D(x0 + sigma eps, sigma):
each step pulls the picture towards the model's denoised guess of it, in the same units at
every noise level. eps_hat is the classifier-free guided one (Ho & Salimans 2022), at a scale
far above sampling's (DreamFusion uses 100): SDS is mode-seeking, and its known pathologies,
over-saturated colours and over-smoothed forms at high guidance, are measured in
bench/score_distillation.py.

Our model is latent, so a picture is turned into latents before the score sees it:
- `LatentPicture`: the latents themselves are the parameters ("a raw latent image");
- `BlobPicture`: K soft coloured ellipses (2-D Gaussian-like blobs with a flat top) over a
  flat background, rasterised in torch; their centres, sizes, rotations, colours and
  opacities are the parameters, and the VAE's encoder (differentiable) maps the pixels to
  latents, so dx/dtheta runs through rasteriser and encoder.

Two improvements, each a setting:
- `schedule="annealed"`: sigma decreases monotonically over the iterations (coarse layout
  first, detail last) instead of being drawn at random each step: DreamTime's time-prioritised
  schedule (Huang et al. 2023, "DreamTime"), here log-linear in sigma with a little jitter;
- `guidance_rescale`: CFG rescale (Lin et al. 2024, section 3.4, as in sampling/guidance.py)
  pulls the guided noise prediction's spread back towards the conditional one, the
  over-exposure fix of samplers applied to the score SDS follows.

Variational score distillation (ProlificDreamer), which scores the pictures against a LoRA model
of their own distribution instead of against the noise, is variational_score_distillation.py; it
runs this module's loop (`distil(..., score=...)`) on this module's pictures and settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from pixeldrift.diffusion.forward import append_dims
from pixeldrift.pipeline.request import _check_int, _check_range
from pixeldrift.safety.moderation import enforce_prompt
from pixeldrift.sampling.guidance import CFGDenoiser

SCHEDULES = ("random", "annealed")
PICTURES = ("latent", "blobs")
MAX_GUIDANCE = 1000.0  # DreamFusion distils at 100
MAX_BLOBS = 64


# ----- the gradient ------------------------------------------------------------------------------

@torch.no_grad()
def sds_gradient(denoiser, x0: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor,
                 extra_args: dict | None = None) -> torch.Tensor:
    """Poole et al. 2022, eq. 3 with w(sigma) = sigma: x0 - D(x0 + sigma eps, sigma), no denoiser Jacobian.

    sigma (N,), noise like x0. This is sigma (eps_hat - eps), the gradient on x0 itself; a
    picture's parameters get it through dx0/dtheta (`distillation_step`).
    """
    x = x0 + append_dims(sigma, x0.ndim) * noise
    return x0 - denoiser(x, sigma, **(extra_args or {}))


def sigma_for_step(step: int, steps: int, n: int, schedule: str, sigma_range: tuple[float, float],
                   generator: torch.Generator) -> torch.Tensor:
    """(n,) noise levels for iteration `step` of `steps`.

    random: log-uniform in sigma_range, fresh for every picture and step (DreamFusion's t ~ U).
    annealed: from sigma_max down to sigma_min, log-linear over the run, times a jitter of
    +-10% (DreamTime's monotone schedule, Huang et al. 2023).
    """
    low, high = math.log(sigma_range[0]), math.log(sigma_range[1])
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    if schedule == "random":
        return (low + (high - low) * u).exp().float()
    if schedule == "annealed":
        centre = high + (low - high) * step / max(1, steps - 1)
        return (centre + math.log(1.1) * (2 * u - 1)).exp().float()
    raise ValueError(f"unknown schedule {schedule!r}; accepted: {', '.join(SCHEDULES)}")


# ----- pictures ----------------------------------------------------------------------------------

class LatentPicture(nn.Module):
    """N raw latent images (N, C, h, w) as parameters, started at small noise."""

    def __init__(self, shape: tuple[int, ...], generator: torch.Generator, scale: float = 0.1):
        super().__init__()
        self.latent = nn.Parameter(torch.randn(shape, generator=generator) * scale)

    def latents(self, model) -> torch.Tensor:
        return self.latent

    def pixels(self, model) -> torch.Tensor:
        """Images in [-1, 1] through the model's decoder."""
        return model.latents_to_pixels(self.latent).clamp(-1, 1)


class BlobPicture(nn.Module):
    """N pictures of K soft coloured ellipses on a flat background, rasterised at size x size pixels.

    Blob k covers pixel p with alpha_k = opacity_k exp(-q^2), q = |R(-angle_k)(p - centre_k) / scale_k|^2,
    a flat-topped bump whose edge is a pixel or two wide; the blobs join by a soft union
    (coverage 1 - prod(1 - alpha_k), colour the alpha-weighted mean of theirs), over the background.
    Colours, centres and opacities live in logit space, so every value stays in range.
    """

    def __init__(self, n: int, blobs: int, size: int, generator: torch.Generator):
        super().__init__()
        rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
        self.size = size
        self.centre = nn.Parameter(torch.logit(0.2 + 0.6 * rand(n, blobs, 2)))
        self.log_scale = nn.Parameter(torch.full((n, blobs, 2), math.log(0.08)) + 0.2 * rand(n, blobs, 2))
        self.angle = nn.Parameter(math.pi * rand(n, blobs, 1))
        self.colour = nn.Parameter(torch.randn(n, blobs, 3, generator=generator))
        self.opacity = nn.Parameter(torch.full((n, blobs, 1), -1.0))
        self.background = nn.Parameter(torch.full((n, 3), 1.5) + 0.3 * torch.randn(n, 3, generator=generator))

    def coverage(self) -> torch.Tensor:
        """(N, K, S, S) each blob's alpha."""
        axis = (torch.arange(self.size, dtype=torch.float32) + 0.5) / self.size
        grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1)  # (S, S, 2) as (x, y)
        offset = grid - torch.sigmoid(self.centre)[:, :, None, None, :]  # (N, K, S, S, 2)
        cos, sin = self.angle.cos()[..., None, None], self.angle.sin()[..., None, None]  # (N, K, 1, 1, 1)
        along = cos[..., 0] * offset[..., 0] + sin[..., 0] * offset[..., 1]
        across = -sin[..., 0] * offset[..., 0] + cos[..., 0] * offset[..., 1]
        scale = self.log_scale.exp()[..., None, None, :]  # (N, K, 1, 1, 2)
        q = (along / scale[..., 0]) ** 2 + (across / scale[..., 1]) ** 2
        return torch.sigmoid(self.opacity)[..., None] * torch.exp(-q**2)

    def pixels(self, model=None) -> torch.Tensor:
        """(N, 3, S, S) images in [-1, 1]."""
        alpha = self.coverage()  # (N, K, S, S)
        covered = 1 - torch.prod(1 - alpha, dim=1, keepdim=True)  # (N, 1, S, S)
        colours = torch.sigmoid(self.colour)[..., None, None]  # (N, K, 3, 1, 1)
        mixed = (alpha[:, :, None] * colours).sum(1) / alpha.sum(1, keepdim=True).clamp_min(1e-6)  # (N, 3, S, S)
        background = torch.sigmoid(self.background)[..., None, None]
        return 2 * (background * (1 - covered) + mixed * covered) - 1

    def latents(self, model) -> torch.Tensor:
        return model.pixels_to_latents(self.pixels())


# ----- the optimisation over a model ---------------------------------------------------------------

@dataclass(frozen=True)
class DistillationSettings:
    picture: str = "latent"
    guidance: float = 7.5
    guidance_rescale: float = 0.0
    schedule: str = "random"
    iterations: int = 200
    learning_rate: float = 0.05               # Adam's, for every parameter of the picture
    sigma_range: tuple[float, float] = (0.1, 10.0)
    blobs: int = 12
    seed: int = 0

    def check(self) -> None:
        if self.picture not in PICTURES:
            raise ValueError(f"unknown picture {self.picture!r}; accepted: {', '.join(PICTURES)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; accepted: {', '.join(SCHEDULES)}")
        if not 0 < self.sigma_range[0] < self.sigma_range[1]:
            raise ValueError(f"sigma range must be 0 < low < high, got {self.sigma_range}")
        if type(self.iterations) is not int or not 1 <= self.iterations <= 10_000:
            raise ValueError(f"iterations must be an integer from 1 to 10000, got {self.iterations!r}")
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"learning rate must be in (0, 1], got {self.learning_rate!r}")
        _check_range("guidance", self.guidance, 0, MAX_GUIDANCE)
        _check_range("guidance rescale", self.guidance_rescale, 0, 1)
        _check_int("blobs", self.blobs, 1, MAX_BLOBS)


def make_picture(model, n: int, settings: DistillationSettings, generator: torch.Generator) -> nn.Module:
    width, height = model.limits.default_width, model.limits.default_height
    if settings.picture == "latent":
        return LatentPicture((n, *model.latent_shape(width, height)), generator)
    return BlobPicture(n, settings.blobs, height, generator)


class GuidedScore:
    """SDS's score: the classifier-free guided pretrained denoiser, the same for the whole run.

    `gradient` is what a picture's latents are pushed by; `learn` follows the pictures as they change
    (nothing here: the pretrained model is fixed; VSD's score learns, variational_score_distillation.py).
    """

    def __init__(self, model, settings: DistillationSettings):
        self.guided = CFGDenoiser(model.denoiser, settings.guidance, settings.guidance_rescale)

    def gradient(self, latents: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor, cond: dict,
                 uncond: dict) -> torch.Tensor:
        return sds_gradient(self.guided, latents, sigma, noise, {"cond": cond, "uncond": uncond})

    def learn(self, latents: torch.Tensor, cond: dict) -> None:
        pass


def distillation_step(picture: nn.Module, optimiser: torch.optim.Optimizer, model, score, sigma: torch.Tensor,
                      noise: torch.Tensor, cond: dict, uncond: dict) -> None:
    """One update: the score's gradient on the latents, carried to the picture's parameters by dx0/dtheta
    alone; then the score follows the latents it saw (VSD's LoRA step; nothing for SDS)."""
    params = [p for p in picture.parameters()]
    with torch.enable_grad():
        latents = picture.latents(model)
        gradient = score.gradient(latents.detach(), sigma, noise, cond, uncond)
        # sum(latents * g) has derivative g with respect to the latents: the chain rule does the rest
        grads = torch.autograd.grad((latents * gradient).sum(), params)  # not .backward(): the model keeps no grads
    for p, g in zip(params, grads):
        p.grad = g
    optimiser.step()
    score.learn(latents.detach(), cond)


def distil(model, prompts: list[str], settings: DistillationSettings = DistillationSettings(),
           callback=None, score=None) -> torch.Tensor:
    """Optimise one picture per prompt by SDS; returns the pictures' pixels (N, 3, H, W) in [-1, 1].

    `callback(i, picture)` is called after every iteration. `score` replaces SDS's `GuidedScore`
    (VSD's, variational_score_distillation.py); a prompt given k times gets k pictures (particles).
    """
    settings.check()
    for prompt in dict.fromkeys(prompts):
        enforce_prompt(prompt)
    torch.set_flush_denormal(True)
    generator = torch.Generator().manual_seed(settings.seed)
    n = len(prompts)
    picture = make_picture(model, n, settings, generator).to(model.device)
    with torch.no_grad():  # the prompts are fixed: no graph into the text encoder
        cond, uncond = model.encode_prompts(list(prompts), [""] * n)
    score = GuidedScore(model, settings) if score is None else score
    optimiser = torch.optim.Adam(picture.parameters(), lr=settings.learning_rate)
    shape = picture.latents(model).shape
    for i in range(settings.iterations):
        sigma = sigma_for_step(i, settings.iterations, n, settings.schedule, settings.sigma_range, generator)
        noise = torch.randn(shape, generator=generator)
        distillation_step(picture, optimiser, model, score, sigma.to(model.device), noise.to(model.device),
                          cond, uncond)
        if callback is not None:
            callback(i, picture)
    with torch.no_grad():
        return picture.pixels(model)

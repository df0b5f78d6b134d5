"""Variational score distillation (VSD): score the pictures against a model of their own distribution.

ProlificDreamer (Wang et al. 2023) treats the pictures' parameters theta as particles of a
distribution mu(theta | y) and minimises, at every noise level, KL(q_t(x_t | y) || p_t(x_t | y))
between the noisy pictures' distribution and the pretrained model's (eq. 7). The gradient
(eq. 9) is SDS's with the random noise eps replaced by the noise prediction eps_phi of a second
denoiser, the particles' own:

    grad_theta L_VSD = E_{t, eps} [ w(t) (eps_pretrain(x_t; y, t) - eps_phi(x_t; y, t)) dx/dtheta ],

and eps_phi follows the particles by the ordinary denoising loss on their noisy versions, with
no gradient into x (eq. 8):

    min_phi E_{t, eps} || eps_phi(x_t; y, t) - eps ||^2,   x_t = sg(x) + sigma_t eps.

Notation, paper -> here: t -> sigma (x_t = x0 + sigma eps, sampling/samplers.py); eps_pretrain ->
the guided pretrained denoiser D_pretrained; eps_phi -> `ParticleDenoiser` D_phi. Since
eps_hat = (x_t - D) / sigma, eps_pretrain - eps_phi = (D_phi(x_t) - D_pretrained(x_t)) / sigma, and
with w(sigma) = sigma, the weighting of score_distillation.sds_gradient, the gradient on the latents is

    g_VSD = D_phi(x_t) - D_pretrained(x_t) = (x0 - D_pretrained(x_t)) - (x0 - D_phi(x_t)),

SDS's pull towards the model's guided denoised guess less the pull the particles' own model
already exerts; a descent step moves x0 by -lr g_VSD, towards D_pretrained and away from D_phi.
Where the particles are distributed as the model (q = p) the two denoisers agree and g_VSD is
zero for every eps: VSD's fixed point is the distribution, SDS's (whose q is a point: D_phi(x_t) = x0)
the mode. So the guidance stays at sampling's scale (the paper's 7.5), not SDS's 100.

D_phi is, as in the paper, a copy of the pretrained denoiser with LoRA layers (Hu et al. 2021,
nets/lora.py) on its attention projections, kept on the pictures' captions and scored at
guidance 1. LoRA's up matrices start at zero, so at the first step D_phi is the pretrained
conditional denoiser D_cond and g_VSD = D_cond - D_guided = (1 - w)(D_cond - D_uncond): the
guidance's push alone. After every picture step, one (or `steps`) Adam step of eq. 8 on the latents
that step saw, with fresh noise and sigma log-uniform in the run's sigma range (where D_phi is
queried). The paper also feeds the camera to the LoRA model; a picture has no camera, so the
LoRA model sees what the pretrained one does (latents, noise level, caption).

A prompt given k times gets k pictures, k particles of one distribution for the shared D_phi:

    pixels = distil_variational(model, ["two red circles"] * 4, DistillationSettings(guidance=7.5))
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from pixeldrift.applications.score_distillation import DistillationSettings, GuidedScore, distil, sigma_for_step
from pixeldrift.diffusion.forward import append_dims
from pixeldrift.diffusion.losses import denoising_loss
from pixeldrift.nets.lora import add_lora, attention_projections, check_rank_and_alpha, convolutions
from pixeldrift.pipeline.request import _check_int, _check_range


@torch.no_grad()
def vsd_gradient(pretrained, particles, x0: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor,
                 pretrained_args: dict | None = None, particle_args: dict | None = None) -> torch.Tensor:
    """Wang et al. 2023, eq. 9 with w(sigma) = sigma: D_phi(x_t) - D_pretrained(x_t), x_t = x0 + sigma eps,
    no denoiser Jacobian. sigma (N,), noise like x0; `pretrained` is the guided denoiser, `particles` D_phi."""
    x = x0 + append_dims(sigma, x0.ndim) * noise
    return particles(x, sigma, **(particle_args or {})) - pretrained(x, sigma, **(pretrained_args or {}))


@dataclass(frozen=True)
class VSDSettings:
    """The particles' LoRA model: rank r and alpha (update scaled by alpha / r), Adam's learning rate, LoRA steps
    per picture step, and whether the denoiser's convolutions are adapted too (its attention projections always).

    The learning rate was picked on held-out prompts the bench does not score (docs/zero_shot.md): at 1e-3 the
    LoRA model lags the pictures over a 200-step run, and a lagging D_phi pushes colours past the scale.
    """

    rank: int = 4
    alpha: float = 4.0
    learning_rate: float = 1e-2
    steps: int = 1
    convolutions: bool = False

    def check(self) -> None:
        check_rank_and_alpha(self.rank, self.alpha)
        _check_range("LoRA learning rate", self.learning_rate, 1e-8, 1)
        _check_int("LoRA steps", self.steps, 1, 100)


class ParticleDenoiser(nn.Module):
    """D_phi of Wang et al. 2023: a LoRA-adapted copy of `denoiser` that learns the particles' distribution (eq. 8).

    Only the LoRA matrices train; the copy's own weights, and the pretrained denoiser, stay as they are.
    """

    def __init__(self, denoiser: nn.Module, settings: VSDSettings = VSDSettings(),
                 sigma_range: tuple[float, float] = (0.1, 10.0), seed: int = 0):
        super().__init__()
        settings.check()
        self.settings, self.sigma_range = settings, sigma_range
        self.denoiser = copy.deepcopy(denoiser).requires_grad_(False).eval()
        net = self.denoiser.net
        names = attention_projections(net) + (convolutions(net) if settings.convolutions else [])
        add_lora(net, names, settings.rank, settings.alpha, seed)  # freezes the copy, adds trainable A and B
        self.optimiser = torch.optim.Adam([p for p in self.denoiser.parameters() if p.requires_grad],
                                          lr=settings.learning_rate)
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        return self.denoiser(x, sigma, **cond)

    def loss(self, x0: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor, cond: dict) -> torch.Tensor:
        """Eq. 8 in sigma space, per particle (N,): the model's own weighted ||D_phi(x0 + sigma eps) - x0||^2."""
        return denoising_loss(self.denoiser, x0.detach(), sigma, noise, **cond)

    def learn(self, x0: torch.Tensor, cond: dict) -> None:
        """`settings.steps` Adam steps of eq. 8 on the particles x0 (N, ...), each at fresh noise."""
        for _ in range(self.settings.steps):
            sigma = sigma_for_step(0, 1, x0.shape[0], "random", self.sigma_range, self.generator).to(x0)
            noise = torch.randn(x0.shape, generator=self.generator).to(x0)
            with torch.enable_grad():
                self.optimiser.zero_grad(set_to_none=True)
                self.loss(x0, sigma, noise, cond).mean().backward()
            self.optimiser.step()


class VariationalScore(GuidedScore):
    """VSD's score for score_distillation.distil: the guided pretrained denoiser against the particles' LoRA model,
    which learns after every picture step."""

    def __init__(self, model, settings: DistillationSettings, vsd: VSDSettings = VSDSettings()):
        super().__init__(model, settings)
        self.particles = ParticleDenoiser(model.denoiser, vsd, settings.sigma_range, settings.seed)

    def gradient(self, latents: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor, cond: dict,
                 uncond: dict) -> torch.Tensor:
        return vsd_gradient(self.guided, self.particles, latents, sigma, noise, {"cond": cond, "uncond": uncond}, cond)

    def learn(self, latents: torch.Tensor, cond: dict) -> None:
        self.particles.learn(latents, cond)


def distil_variational(model, prompts: list[str], settings: DistillationSettings = DistillationSettings(),
                       vsd: VSDSettings = VSDSettings(), callback=None) -> torch.Tensor:
    """Optimise one picture per prompt by VSD; returns their pixels (N, 3, H, W) in [-1, 1]. A prompt given k times
    gets k particles. The model is left untouched (the LoRA model is a copy)."""
    settings.check()
    vsd.check()
    return distil(model, prompts, settings, callback, score=VariationalScore(model, settings, vsd))

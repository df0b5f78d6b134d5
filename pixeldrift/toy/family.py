"""The other generative models, at the toy lab's size: a GAN and a VAE on 2-D points.

They sit beside diffusion and flow in the family comparison: each maps a simple latent
(Gaussian noise) to points in one network call, so they are fast to sample; what they
pay is the subject of bench/few_step_2d.py (a GAN drops modes, a VAE blurs them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from pixeldrift.toy.model import check_optimisation, optimise


@dataclass
class FamilyConfig:
    steps: int = 2000
    batch_size: int = 256
    learning_rate: float = 1e-3
    hidden: int = 128
    depth: int = 3               # hidden layers of every network
    latent: int = 2              # VAE latent size
    gan_noise: int = 8           # GAN input size: more than 2, so the map can tear the plane into separate modes
    gan_betas: tuple[float, float] = (0.5, 0.999)  # the DCGAN setting (Radford et al. 2016)
    r1: float = 0.1              # weight of the R1 penalty on the discriminator (0: none)
    seed: int = 0

    def check(self) -> None:
        check_optimisation(self.steps, self.batch_size, self.learning_rate)
        if min(self.hidden, self.depth, self.latent, self.gan_noise) < 1 or self.r1 < 0:
            raise ValueError("hidden, depth, latent and gan_noise must be positive and r1 not negative")


def mlp(inputs: int, outputs: int, hidden: int, depth: int, activation=nn.SiLU) -> nn.Sequential:
    """inputs -> depth hidden layers of `hidden` units -> outputs."""
    sizes = [inputs] + [hidden] * depth
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers, nn.Linear(hidden, outputs))


# ----- GAN ---------------------------------------------------------------------------------

class GAN(nn.Module):
    """A generator G(z) and a discriminator D(x) (Goodfellow et al. 2014); only G samples."""

    def __init__(self, config: FamilyConfig, dims: int = 2, generator: nn.Module | None = None,
                 discriminator: nn.Module | None = None):
        """MLPs by default; any `generator` ((N, gan_noise) -> a sample) and `discriminator` (a sample ->
        (N, 1) logits), e.g. convolutions over images (toy/family_world.py)."""
        super().__init__()
        self.noise_size = config.gan_noise
        if generator is None:
            generator = mlp(config.gan_noise, dims, config.hidden, config.depth)
        if discriminator is None:
            discriminator = mlp(dims, 1, config.hidden, config.depth, lambda: nn.LeakyReLU(0.2))
        self.generator, self.discriminator = generator, discriminator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)  # (N, dims) or (N, C, H, W)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.generator(torch.randn(n, self.noise_size, generator=generator))


def discriminator_loss(gan: GAN, real: torch.Tensor, fake: torch.Tensor, r1: float) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))) (Goodfellow et al. 2014, eq. 1, with D = sigmoid of the logit), plus
    the R1 penalty (r1 / 2) E ||grad_x D(x)||^2 on real points (Mescheder et al. 2018, eq. 9)."""
    real = real.requires_grad_(r1 > 0)
    real_logit = gan.discriminator(real)
    loss = F.softplus(-real_logit).mean() + F.softplus(gan.discriminator(fake.detach())).mean()
    if r1 > 0:
        grad, = torch.autograd.grad(real_logit.sum(), real, create_graph=True)
        loss = loss + r1 / 2 * grad.pow(2).sum(1).mean()
    return loss


def generator_loss(gan: GAN, fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating loss -log D(G(z)) (Goodfellow et al. 2014, Section 3): strong gradients early,
    when D rejects every fake and log(1 - D(G(z))) would be flat."""
    return F.softplus(-gan.discriminator(fake)).mean()


def train_gan(sample, config: FamilyConfig, on_step=None, build=GAN) -> GAN:
    """Alternate one discriminator step and one generator step, Adam with betas (0.5, 0.999), constant rate;
    `build(config)` makes the GAN."""
    config.check()
    torch.manual_seed(config.seed)
    gan = build(config)
    generator = torch.Generator().manual_seed(config.seed)
    torch.set_flush_denormal(True)
    d_opt = torch.optim.Adam(gan.discriminator.parameters(), lr=config.learning_rate, betas=config.gan_betas)
    g_opt = torch.optim.Adam(gan.generator.parameters(), lr=config.learning_rate, betas=config.gan_betas)
    for step in range(config.steps):
        fake = gan(torch.randn(config.batch_size, gan.noise_size, generator=generator))
        d_loss = discriminator_loss(gan, sample(config.batch_size, generator), fake, config.r1)
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        g_loss = generator_loss(gan, fake)
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        if on_step is not None:
            on_step(step, g_loss.item())
    return gan.eval()


# ----- VAE ---------------------------------------------------------------------------------

class VAE(nn.Module):
    """An encoder q(z | x) = N(mu(x), diag s(x)^2) and a decoder p(x | z) = N(m(z), diag sigma^2), with one
    learned sigma per axis (Kingma & Welling 2014). Samples: z ~ N(0, I), then x ~ p(x | z)."""

    def __init__(self, config: FamilyConfig, dims: int = 2, encoder: nn.Module | None = None,
                 decoder: nn.Module | None = None):
        """MLPs by default; any `encoder` (x -> (N, 2 latent)) and `decoder` (z -> x's shape) with `dims`
        numbers per sample, e.g. convolutions over images (toy/family_world.py), one sigma per number."""
        super().__init__()
        self.latent = config.latent
        if encoder is None:
            encoder = mlp(dims, 2 * config.latent, config.hidden, config.depth)
        if decoder is None:
            decoder = mlp(config.latent, dims, config.hidden, config.depth)
        self.encoder, self.decoder = encoder, decoder
        self.log_sigma = nn.Parameter(torch.full((dims,), math.log(0.5)))

    def negative_elbo(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """-ELBO per point, averaged: Gaussian reconstruction -log p(x | z) with z = mu + s * eps (the
        reparameterisation), plus KL(q(z | x) || N(0, I)) in closed form (Kingma & Welling 2014, eq. 10)."""
        mu, log_var = self.encoder(x).chunk(2, dim=1)  # (N, latent) each
        z = mu + (0.5 * log_var).exp() * torch.randn(mu.shape, generator=generator)
        mean = self.decoder(z).flatten(1)  # (N, dims)
        reconstruction = (((x.flatten(1) - mean) / self.log_sigma.exp()).pow(2) / 2 + self.log_sigma
                          + 0.5 * math.log(2 * math.pi)).sum(1)
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(1)
        return (reconstruction + kl).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, decoder_noise: bool = True) -> torch.Tensor:
        """z ~ N(0, I) through the decoder; with decoder_noise the model's full p(x | z), else its mean."""
        mean = self.decoder(torch.randn(n, self.latent, generator=generator))
        if not decoder_noise:
            return mean
        return mean + self.log_sigma.exp().view(mean.shape[1:]) * torch.randn(mean.shape, generator=generator)


def train_vae(sample, config: FamilyConfig, on_step=None, build=VAE) -> VAE:
    """Maximise the ELBO on fresh data every step, Adam with cosine decay (the diffusion models' loop);
    `build(config)` makes the VAE."""
    config.check()
    torch.manual_seed(config.seed)
    vae = build(config)
    generator = torch.Generator().manual_seed(config.seed)
    optimise(vae, lambda step: vae.negative_elbo(sample(config.batch_size, generator), generator),
             config.steps, config.learning_rate, on_step=on_step)
    return vae.eval()

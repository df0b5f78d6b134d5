"""The generative family on world images: a GAN, a VAE, diffusion and flow matching at 32 pixels.

The image half of the family comparison (the 2-D half is few_step.py). Four unconditional
generators learn the world stream's training renders (fresh images every step), each for the
same CPU budget on one thread (a timed probe sets the step count), all in pixel space:

- GAN: DCGAN-shaped convolutions (Radford et al. 2016), the non-saturating loss, spectral norm on
  the discriminator (Miyato et al. 2018) rather than the 2-D lab's R1: no second backward pass,
  so more steps fit the budget, and it is what made DCGAN-sized nets train stably there;
- VAE: the mirror convolutions, a 64-d latent, a Gaussian decoder with one learned sigma per
  pixel and channel, the ELBO; samples are the decoder's mean (its per-pixel noise is white
  noise, which would only hide the picture);
- diffusion: the UNet preset (3 channels, no text) with EDM preconditioning, log-normal sigma;
- flow matching: the same UNet as a FlowDenoiser, logit-normal time (the project's recipe);
  both sample with an exponential moving average of their weights.

Each is measured on N samples the same way: quality, the share that reads cleanly as one kind
of world scene without a prompt (evaluate/scene_kind.py); diversity, the share of the data's
modes reached (a scene kind, and for objects scenes the colour and shape of the largest object;
reached: a quarter of the data's share, as toy.metrics says); sliced Wasserstein to as many
fresh renders in pixel space; CPU milliseconds per image. bench/family_world.py prints it.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from pixeldrift.data.world_stream import WorldStream
from pixeldrift.diffusion.losses import denoising_loss, lognormal_sigma_sampler, logit_normal_flow_sigma_sampler
from pixeldrift.diffusion.parameterization import Denoiser, EDMDenoiser, FlowDenoiser
from pixeldrift.evaluate.distances import sliced_wasserstein
from pixeldrift.evaluate.scene_kind import KINDS, SceneReading, read_scene_kind
from pixeldrift.nets.unet import UNET_PRESETS, UNet
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import make_sigmas
from pixeldrift.toy.family import GAN, VAE, FamilyConfig, train_gan, train_vae
from pixeldrift.toy.few_step import check_training, train_in_budget
from pixeldrift.toy.metrics import reached
from pixeldrift.toy.model import optimise
from pixeldrift.toy.reflow import sample_flow

METHODS = ("diffusion", "flow", "gan", "vae")
ODE_STEPS = (32, 4)          # diffusion and flow: their usual 32 Euler steps, and few
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0  # EDM's sampling range for data of standard deviation 0.5
MODE_MIN_SHARE = 0.003       # a mode holds at least this share of the read reference renders
PROBE_STEPS = 10             # timed steps that turn the budget into a step count (a UNet step is ~0.5 s)
TIMING_BATCH = 16            # images per timed sampling call
SAMPLING_BATCH = 125         # images per sampling call while measuring


@dataclass
class WorldFamilyConfig:
    size: int = 32
    methods: tuple[str, ...] = METHODS
    budget_seconds: float = 480.0        # CPU seconds of one thread per model
    train_steps: int | None = None       # instead of a budget: this many steps per model (reproducible)
    batch_size: int = 16                 # small batches, more steps: what a CPU budget of minutes favours
    unet: str = "tiny"                   # UNet preset of diffusion and flow (3 channels, no text)
    width: int = 64                      # GAN and VAE: channels of the first convolution, doubling down
    latent: int = 64                     # VAE latent size, and the GAN's noise size
    num_samples: int = 500
    reference: int = 2000                # real renders read to find the data's modes and their shares
    ode_steps: tuple[int, ...] = ODE_STEPS
    seed: int = 0

    def check(self) -> None:
        check_training(self.methods, METHODS, self.budget_seconds, self.train_steps, 36_000)
        if self.size not in (32, 64):
            raise ValueError(f"world images for the family are 32 or 64 pixels, got {self.size}")
        if self.unet not in UNET_PRESETS:
            raise ValueError(f"unknown UNet preset {self.unet!r}; accepted: {', '.join(UNET_PRESETS)}")
        if not 16 <= self.num_samples <= 20_000 or not 16 <= self.reference <= 100_000:
            raise ValueError("need 16 to 20,000 samples and 16 to 100,000 reference renders")
        if self.batch_size < 2 or self.width < 4 or self.latent < 1 or not all(1 <= n <= 1000 for n in self.ode_steps):
            raise ValueError("need a batch of at least 2, a width of at least 4, a latent, and 1 to 1000 steps")


class WorldImages:
    """Training renders of the world stream as tensors in [-1, 1]: fresh scenes at every call."""

    def __init__(self, size: int = 32, seed: int = 0):
        self.stream = WorldStream(seed=seed, size=size)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        indices = torch.randint(0, 2**62, (n,), generator=generator).tolist()
        return from_uint8(np.stack([self.stream.scene(i)[0] for i in indices]))  # (n, 3, S, S)


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, 3, S, S) floats in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) floats in [-1, 1] (clamped) -> (N, S, S, 3) uint8, as an image file would hold them."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


# ----- the networks ------------------------------------------------------------------------

def up_path(inputs: int, width: int, size: int, batch_norm: bool) -> nn.Sequential:
    """(N, inputs) -> (N, 3, size, size): a linear layer to 4 x 4, then transposed convolutions doubling the
    side and halving the channels down to `width`, then to RGB (DCGAN's generator; the VAE's decoder)."""
    levels = int(math.log2(size // 4))
    channels = [width * 2 ** (levels - 1 - i) for i in range(levels)]  # 4x4 ... size/2, e.g. 256, 128, 64

    def act(c: int) -> list[nn.Module]:
        return [nn.BatchNorm2d(c), nn.ReLU()] if batch_norm else [nn.SiLU()]

    layers: list[nn.Module] = [nn.Linear(inputs, channels[0] * 16), nn.Unflatten(1, (channels[0], 4, 4)),
                               *act(channels[0])]
    for a, b in zip(channels[:-1], channels[1:]):
        layers += [nn.ConvTranspose2d(a, b, 4, 2, 1), *act(b)]
    return nn.Sequential(*layers, nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1))


def down_path(outputs: int, width: int, size: int, spectral: bool) -> nn.Sequential:
    """(N, 3, size, size) -> (N, outputs): strided convolutions halving the side down to 4 x 4 and doubling
    the channels from `width`, then a linear layer (DCGAN's discriminator; the VAE's encoder)."""
    levels = int(math.log2(size // 4))
    channels = [3] + [width * 2**i for i in range(levels)]
    norm = spectral_norm if spectral else (lambda layer: layer)
    layers: list[nn.Module] = []
    for a, b in zip(channels[:-1], channels[1:]):
        layers += [norm(nn.Conv2d(a, b, 4, 2, 1)), nn.LeakyReLU(0.2) if spectral else nn.SiLU()]
    return nn.Sequential(*layers, nn.Flatten(), norm(nn.Linear(channels[-1] * 16, outputs)))


def build_gan(config: WorldFamilyConfig) -> Callable[[FamilyConfig], GAN]:
    def build(family: FamilyConfig) -> GAN:
        generator = nn.Sequential(up_path(family.gan_noise, config.width, config.size, batch_norm=True), nn.Tanh())
        return GAN(family, generator=generator, discriminator=down_path(1, config.width, config.size, spectral=True))
    return build


def build_vae(config: WorldFamilyConfig) -> Callable[[FamilyConfig], VAE]:
    def build(family: FamilyConfig) -> VAE:
        return VAE(family, 3 * config.size**2, encoder=down_path(2 * family.latent, config.width, config.size, False),
                   decoder=up_path(family.latent, config.width, config.size, batch_norm=False))
    return build


def image_unet(preset: str) -> UNet:
    """A UNet preset for RGB pixels without a text encoder."""
    return UNet(replace(UNET_PRESETS[preset], in_channels=3, out_channels=3, context_dim=None))


def train_image_denoiser(images: WorldImages, denoiser: Denoiser, draw_sigma, steps: int, batch_size: int,
                         learning_rate: float = 2e-3, ema: float = 0.995, seed: int = 0, on_step=None) -> Denoiser:
    """The denoising loss on fresh renders every step, Adam with cosine decay (the toy lab's loop); sampled
    with the exponential moving average of the weights (EDM's recipe; a horizon of ~200 steps here)."""
    generator = torch.Generator().manual_seed(seed)

    def batch_loss(step: int) -> torch.Tensor:
        x0 = images.sample(batch_size, generator)
        noise = torch.randn(x0.shape, generator=generator)
        return denoising_loss(denoiser, x0, draw_sigma(batch_size, generator), noise).mean()

    optimise(denoiser, batch_loss, steps, learning_rate, ema=ema, on_step=on_step)
    return denoiser.eval()


def family_config(config: WorldFamilyConfig, method: str, steps: int) -> FamilyConfig:
    """The GAN's and VAE's settings: DCGAN's rate and betas for the GAN, no R1 (spectral norm instead)."""
    rate = 2e-4 if method == "gan" else 1e-3
    return FamilyConfig(steps=steps, batch_size=config.batch_size, learning_rate=rate, latent=config.latent,
                        gan_noise=config.latent, r1=0.0, seed=config.seed)


def train_method(method: str, config: WorldFamilyConfig, images: WorldImages, steps: int) -> nn.Module:
    """One model of the family, trained `steps` steps."""
    if method == "gan":
        return train_gan(images.sample, family_config(config, method, steps), build=build_gan(config))
    if method == "vae":
        return train_vae(images.sample, family_config(config, method, steps), build=build_vae(config))
    torch.manual_seed(config.seed)
    if method == "diffusion":
        denoiser, draw_sigma = EDMDenoiser(image_unet(config.unet), sigma_data=0.5), lognormal_sigma_sampler()
    else:
        denoiser, draw_sigma = FlowDenoiser(image_unet(config.unet)), logit_normal_flow_sigma_sampler()
    return train_image_denoiser(images, denoiser, draw_sigma, steps, config.batch_size, seed=config.seed)


# ----- sampling ----------------------------------------------------------------------------

def draw_samples(method: str, model: nn.Module, n: int, steps: int, seed: int, size: int) -> torch.Tensor:
    """n images (n, 3, size, size) in [-1, 1]: Euler along the ODE for diffusion (Karras sigmas) and flow
    (equal steps of flow time), one network call for the GAN and the VAE."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if method == "gan":
            return model.sample(n, generator).clamp(-1, 1)
        if method == "vae":
            return model.sample(n, generator, decoder_noise=False).clamp(-1, 1)
        noise = torch.randn(n, 3, size, size, generator=generator)
        if method == "flow":
            return sample_flow(model, noise, steps).clamp(-1, 1)
        sigmas = make_sigmas("karras", steps, SIGMA_MIN, SIGMA_MAX)
        return get_sampler("euler")(model, noise * SIGMA_MAX, sigmas).clamp(-1, 1)


def milliseconds_per_image(draw: Callable[[], object], images: int = TIMING_BATCH, repeats: int = 3) -> float:
    """CPU milliseconds per image of `draw` (a batch of `images`), the fastest of `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        draw()
        best = min(best, time.process_time() - started)
    return 1000 * best / images


# ----- modes -------------------------------------------------------------------------------

def coarse(mode: str | None) -> str | None:
    """The scene kind of a mode ("objects: red star" -> "objects")."""
    return None if mode is None else mode.split(":")[0]


@dataclass(frozen=True)
class WorldModes:
    """The data's modes and their shares, from reading real renders: coverage as the 2-D lab measures it."""

    shares: dict[str, float]             # every mode the reference renders reach -> its share of them
    accepted: float                      # share of the reference renders that read cleanly

    @property
    def modes(self) -> list[str]:
        return sorted(m for m, share in self.shares.items() if share >= MODE_MIN_SHARE)

    def coverage(self, readings: list[SceneReading], kinds_only: bool = False) -> float:
        """Share of the modes (or of the four kinds) where the samples put a quarter of the data's share."""
        if kinds_only:
            data = Counter()
            for mode, share in self.shares.items():
                data[coarse(mode)] += share
            modes, label = [k for k in KINDS if data[k] >= MODE_MIN_SHARE], lambda r: coarse(r.mode)
        else:
            data, modes, label = self.shares, self.modes, lambda r: r.mode
        counts = Counter(label(r) for r in readings)
        samples = torch.tensor([counts[m] / max(len(readings), 1) for m in modes])
        return reached(samples, torch.tensor([data[m] for m in modes])).float().mean().item()


def world_modes(readings: list[SceneReading]) -> WorldModes:
    counts = Counter(r.mode for r in readings if r.ok)
    return WorldModes({m: c / len(readings) for m, c in counts.items()}, sum(counts.values()) / len(readings))


def read_all(images: np.ndarray) -> list[SceneReading]:
    return [read_scene_kind(image) for image in images]


# ----- the comparison ----------------------------------------------------------------------

@dataclass
class Row:
    """One model at one sampling setting, measured."""

    name: str
    steps: int                           # sampling steps (1: one network call)
    accepted: float                      # share of samples that read cleanly as one kind of scene
    kinds: dict[str, float]              # share of samples read as each kind
    kinds_reached: float                 # share of the four kinds reached
    modes_reached: float                 # share of the data's modes reached
    sliced: float                        # sliced Wasserstein to fresh renders, pixels in [-1, 1]
    ms_per_image: float | None = None
    train_steps: int | None = None
    train_seconds: float | None = None
    shown: np.ndarray | None = None      # (k, S, S, 3) uint8: the first samples, for the figure


@dataclass
class WorldFamilyResult:
    config: WorldFamilyConfig
    modes: WorldModes
    rows: list[Row] = field(default_factory=list)
    floor: float = 0.0                   # sliced W of fresh renders against more fresh renders


class _Measure:
    """Measures samples against one fixed set of fresh renders and the reference renders' modes."""

    def __init__(self, config: WorldFamilyConfig):
        self.config = config
        reference = WorldImages(config.size, seed=config.seed + 1)
        self.modes = world_modes(read_all(to_uint8(reference.sample(config.reference, _seeded(config.seed + 101)))))
        self.data = reference.sample(config.num_samples, _seeded(config.seed + 102))
        more = reference.sample(config.num_samples, _seeded(config.seed + 103))
        self.floor = self.sliced(more)
        self.data_row = self.row("(data)", 1, more)

    def sliced(self, samples: torch.Tensor) -> float:
        return sliced_wasserstein(samples.flatten(1), self.data.flatten(1), generator=_seeded(0))

    def row(self, name: str, steps: int, samples: torch.Tensor) -> Row:
        pixels = to_uint8(samples)
        readings = read_all(pixels)
        kinds = Counter(coarse(r.mode) for r in readings)
        return Row(name, steps, sum(r.ok for r in readings) / len(readings),
                   {k: kinds[k] / len(readings) for k in KINDS}, self.modes.coverage(readings, kinds_only=True),
                   self.modes.coverage(readings), self.sliced(samples), shown=pixels[:16])


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


NAMES = {"diffusion": "diffusion (EDM)", "flow": "flow matching", "gan": "GAN", "vae": "VAE"}


def run_world_family(config: WorldFamilyConfig, log=print) -> WorldFamilyResult:
    """Train every model of `config.methods` on world renders and measure it (see the module's docstring)."""
    config.check()
    measure = _Measure(config)
    result = WorldFamilyResult(config, measure.modes, floor=measure.floor)
    budget = (f"{config.train_steps:,} steps" if config.train_steps is not None
              else f"{config.budget_seconds:g} CPU seconds") + f" x {config.batch_size} images per model"
    log(f"world at {config.size} px: {len(measure.modes.modes)} modes, {100 * measure.modes.accepted:.1f}% of "
        f"{config.reference:,} reference renders read cleanly; training budget {budget}")
    images = WorldImages(config.size, seed=config.seed)
    for method in config.methods:
        model, steps, seconds = train_in_budget(lambda n: train_method(method, config, images, n),
                                                config.budget_seconds, config.train_steps, PROBE_STEPS)
        step_counts = config.ode_steps if method in ("diffusion", "flow") else (1,)
        for n in step_counts:
            seed = config.seed + 104
            samples = torch.cat([draw_samples(method, model, min(SAMPLING_BATCH, config.num_samples - start), n,
                                              seed + start, config.size)
                                 for start in range(0, config.num_samples, SAMPLING_BATCH)])
            row = measure.row(NAMES[method], n, samples)
            row.ms_per_image = milliseconds_per_image(
                lambda: draw_samples(method, model, TIMING_BATCH, n, seed, config.size))
            row.train_steps, row.train_seconds = steps, seconds
            result.rows.append(row)
            log(f"  {row.name}, {n} step{'s' if n > 1 else ''}: {steps:,} training steps in {seconds:.0f} CPU s; "
                f"reads as a scene {100 * row.accepted:.0f}%, modes {100 * row.modes_reached:.0f}%, "
                f"sliced W {row.sliced:.4f}, {row.ms_per_image:.1f} ms / image")
    result.rows.append(measure.data_row)
    return result


# ----- the table and the figure ------------------------------------------------------------

def format_table(result: WorldFamilyResult) -> str:
    lines = ["| model | steps | reads as a scene | objects / clock / quantity / text | kinds reached | "
             f"modes reached (of {len(result.modes.modes)}) | sliced W | CPU ms / image | train steps | train CPU s |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in result.rows:
        kinds = " / ".join(f"{100 * row.kinds[k]:.0f}" for k in KINDS)
        ms = "" if row.ms_per_image is None else f"{row.ms_per_image:.1f}"
        steps = "" if row.train_steps is None else f"{row.train_steps:,}"
        seconds = "" if row.train_seconds is None else f"{row.train_seconds:.0f}"
        sampled = "" if row.name == "(data)" else str(row.steps)
        lines.append(f"| {row.name} | {sampled} | {100 * row.accepted:.0f}% | {kinds} | "
                     f"{100 * row.kinds_reached:.0f}% | {100 * row.modes_reached:.0f}% | {row.sliced:.3f} | {ms} | "
                     f"{steps} | {seconds} |")
    return "\n".join(lines)


def figure_rows(result: WorldFamilyResult) -> list[dict]:
    """What the figure shows: each row's label, its first samples and its place in the triangle."""
    return [{"name": row.name if row.name == "(data)" else f"{row.name}, {row.steps} step{'s' * (row.steps > 1)}",
             "images": row.shown, "ms": row.ms_per_image, "accepted": row.accepted, "coverage": row.modes_reached}
            for row in result.rows]

"""Train a noise-aware classifier on a latent model's world latents, for classifier guidance.

Dhariwal & Nichol 2021 (section 4.1): the classifier sees noisy inputs x0 + sigma eps at the
noise levels the diffusion model was trained on, with sigma as an input, and learns
p(y | x_sigma, sigma) by cross-entropy. Here x0 are the model's VAE latents of world scenes, whose
labels are exact: the colour and the shape of a lone object, and "other" for every other scene
(several objects, clocks, glasses, signs), so that guidance towards "red" also asks for a
lone object. Half the noise levels are drawn as the model was trained (EDM's log-normal), half
log-uniformly over the model's whole sampling range: guidance acts at every step a sampler
takes, up to sigma_max, where the model's own training draws almost nothing.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pixeldrift import world
from pixeldrift.nets.noisy_classifier import NoisyClassifier, NoisyClassifierConfig, weights_sha256
from pixeldrift.train.recipes import training_sigma_sampler

OTHER = "other"
HEADS = {"colour": world.COLOURS + (OTHER,), "shape": world.SHAPES + (OTHER,)}
LONE_OBJECTS = world.SamplerWeights(kinds={"objects": 1.0}, structures={"single": 1.0})
EVAL_SIGMAS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)


def scene_labels(spec: world.Scene) -> dict[str, str]:
    """A lone object's colour and shape; OTHER for both in every other scene."""
    if isinstance(spec, world.ObjectsScene) and spec.total_objects == 1:
        group = spec.groups[0]
        return {"colour": group.colour, "shape": group.shape}
    return {head: OTHER for head in HEADS}


@dataclass(frozen=True)
class ClassifierSettings:
    examples: int = 6000     # world scenes encoded once; noise is drawn afresh at every step
    lone_share: float = 0.5  # scenes drawn as lone objects; the rest from the uniform world stream
    steps: int = 1500
    batch_size: int = 128
    learning_rate: float = 2e-3
    held_out: float = 0.1    # share of the scenes kept for the accuracy table
    seed: int = 0

    def check(self) -> ClassifierSettings:
        bounds = {"examples": (100, 200_000), "steps": (1, 100_000), "batch_size": (1, 4096)}
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
        for name, low, high in (("lone_share", 0, 1), ("held_out", 0.01, 0.5), ("learning_rate", 1e-6, 1.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
        return self


def world_scenes(n: int, lone_share: float, seed: int, size: int) -> tuple[np.ndarray, list[dict[str, str]]]:
    """n training-split scenes (N, size, size, 3) uint8 and their labels; a share drawn as lone objects."""
    rng = random.Random(f"classifier:{seed}")
    images, labels = [], []
    while len(images) < n:
        spec = world.sample_spec(rng, "train", LONE_OBJECTS if rng.random() < lone_share else None)
        try:
            images.append(world.render(spec, size=size, seed=rng.randrange(2**31)))
        except world.SpecError:  # a long sign that does not fit a small image: draw again
            continue
        labels.append(scene_labels(spec))
    return np.stack(images), labels


@torch.no_grad()
def encode(model, images: np.ndarray, batch: int = 256) -> torch.Tensor:
    """uint8 images (N, H, W, 3) -> the model's latents (N, C, h, w), the encoder's posterior mean."""
    out = []
    for start in range(0, len(images), batch):
        pixels = torch.from_numpy(images[start:start + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
        out.append(model.pixels_to_latents(pixels.to(model.device)).float().cpu())
    return torch.cat(out)


def noise_levels(model, n: int, generator: torch.Generator) -> torch.Tensor:
    """(n,) sigmas: the first half as the model was trained, the rest log-uniform over its sampling range."""
    d = model.sampling_defaults
    trained = training_sigma_sampler(model)(n - n // 2, generator)
    low, high = math.log(d.sigma_min), math.log(d.sigma_max)
    spread = (low + (high - low) * torch.rand(n // 2, generator=generator)).exp()
    return torch.cat([trained, spread]).clamp(d.sigma_min, d.sigma_max)


def train_classifier(model, settings: ClassifierSettings, log=print) -> tuple[NoisyClassifier, dict]:
    """(the trained classifier, a record: settings, base, seconds, held-out accuracy by sigma)."""
    settings.check()
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)
    images, labels = world_scenes(settings.examples, settings.lone_share, settings.seed, model.limits.default_width)
    latents = encode(model, images)
    targets = {head: torch.tensor([classes.index(y[head]) for y in labels]) for head, classes in HEADS.items()}
    held = max(1, int(len(latents) * settings.held_out))
    train_idx = torch.arange(len(latents) - held)
    net = NoisyClassifier(NoisyClassifierConfig(HEADS, in_channels=latents.shape[1], sigma_data=model.config.sigma_data))
    optimiser = torch.optim.AdamW(net.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.learning_rate, total_steps=settings.steps)
    log(f"{len(latents)} scenes encoded in {time.perf_counter() - started:.0f} s; training {settings.steps} steps")
    for step in range(1, settings.steps + 1):
        batch = train_idx[torch.randint(len(train_idx), (settings.batch_size,), generator=generator)]
        sigma = noise_levels(model, settings.batch_size, generator)
        noisy = latents[batch] + sigma[:, None, None, None] * torch.randn(latents[batch].shape, generator=generator)
        logits = net(noisy, sigma)
        loss = sum(F.cross_entropy(logits[head], targets[head][batch]) for head in HEADS)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == settings.steps:
            log(f"step {step}: loss {loss.item():.3f} ({time.perf_counter() - started:.0f} s)")
    net.eval().requires_grad_(False)
    held_idx = torch.arange(len(latents) - held, len(latents))
    accuracy = held_out_accuracy(net, latents[held_idx], {h: t[held_idx] for h, t in targets.items()}, generator)
    record = {"settings": asdict(settings), "seconds": round(time.perf_counter() - started, 1),
              "held_out_accuracy": accuracy, "held_out_scenes": held}
    return net, record


@torch.no_grad()
def held_out_accuracy(net: NoisyClassifier, latents: torch.Tensor, targets: dict[str, torch.Tensor],
                      generator: torch.Generator) -> dict[str, dict[str, float]]:
    """Per head, per sigma in EVAL_SIGMAS: the share of held-out scenes whose class is the argmax."""
    table: dict[str, dict[str, float]] = {head: {} for head in targets}
    for sigma in EVAL_SIGMAS:
        s = torch.full((len(latents),), sigma)
        logits = net(latents + sigma * torch.randn(latents.shape, generator=generator), s)
        for head, target in targets.items():
            table[head][f"{sigma:g}"] = round(float((logits[head].argmax(1) == target).float().mean()), 3)
    return table


def base_record(model, folder) -> dict:
    """What a classifier folder says about the model whose latents it reads."""
    vae = getattr(model, "vae", None)
    return {"name": model.name, "folder": str(folder), "vae_sha256": weights_sha256(vae) if vae is not None else None,
            "latent_shape": list(model.latent_shape(model.limits.default_width, model.limits.default_height))}

"""`pixeldrift train reflow`: rectified flow's reflow (Liu, Gong & Liu 2023) for a trained text-to-image model.

Reflow straightens a model's paths so that one to four Euler steps suffice:

1. Couplings. The teacher draws (z, x0) pairs with its deterministic sampler (an ODE
   solver), guided as it samples: z is the unit noise it starts from, x0 the latent it
   ends at, for a caption drawn from the world stream's training split. Pairs are written
   in shards (OUT/pairs/pairs-00000.safetensors, ...), so an interrupted run goes on where it
   stopped, and under torchrun each process draws its own shards.
2. Training. The student starts from the teacher's weights and learns, on those pairs only,
   D(x0 + sigma z, sigma, caption) = x0: the loss of Liu et al.'s eq. 1 on the straight line
   X_t = t z + (1 - t) x0 between the coupled ends, written in sigma space (x = X_t / (1 - t),
   sigma = t / (1 - t)) so that it is the model's own denoising loss with the pair's noise
   instead of fresh noise. A model that fits the couplings exactly maps z to x0 in one Euler
   step from any sigma, which is what "straight" means.

Flow times are drawn uniformly (Liu et al. train on t ~ U(0, 1)), and a share of the batch
exactly at sigma_max, the level every few-step sampling starts from; `sigma_max_share` = 1
trains only there, Liu et al.'s one-step distillation (their section 2.3) of the pairs.
Guidance is distilled with the pairs: the student is sampled with guidance 1 (one network
call per step, no unconditional pass), so its folder's defaults are Euler in equal flow-time
steps ('flow_even'), `steps` steps, guidance 1.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from pixeldrift.bounded_files import BadFileError
from pixeldrift.data import WorldStream
from pixeldrift.diffusion.losses import denoising_loss, uniform_flow_sigma_sampler
from pixeldrift.pipeline.model_folder import load_model, save_model
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.pipeline.text_to_image import TextToImage
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import STOCHASTIC_SAMPLERS, get_sampler
from pixeldrift.train.run import init_distributed
from pixeldrift.train.trainer import Trainer, TrainerConfig

MAX_PAIRS = 1_000_000
SHARD_SIZE = 512
NOISE_SEED_BASE = 1_000_000_000  # pair i starts from the unit noise of seed base + i, apart from the usual seeds


@dataclass(frozen=True)
class PairSettings:
    """How the teacher draws its couplings: `count` pairs, its sampler at `steps` steps and `guidance`
    (None: the teacher folder's defaults), captions from the world stream of `seed`."""

    count: int = 20_000
    steps: int | None = None
    guidance: float | None = None
    sampler: str | None = None
    seed: int = 0
    batch_size: int = 64

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_PAIRS:
            raise ValueError(f"pairs must be from 1 to {MAX_PAIRS:,}, got {self.count}")
        if not 1 <= self.batch_size <= 1024:
            raise ValueError(f"the pair batch must be from 1 to 1024, got {self.batch_size}")
        if self.sampler in STOCHASTIC_SAMPLERS:
            raise ValueError(f"sampler {self.sampler!r} adds fresh noise at every step, so its output is no "
                             "function of its starting noise; reflow needs a deterministic (ODE) sampler")


def shard_path(folder: Path, shard: int) -> Path:
    return folder / f"pairs-{shard:05d}.safetensors"


@torch.no_grad()
def teacher_pairs(teacher: TextToImage, captions: list[str], seeds: list[int], settings: PairSettings
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, x0): each caption's unit noise (of its seed) and the latent the teacher's ODE takes it to."""
    request = GenerationRequest(prompt=captions[0], steps=settings.steps, guidance=settings.guidance,
                                sampler=settings.sampler)
    r = request.validated(teacher.sampling_defaults, teacher.limits)
    if r.sampler in STOCHASTIC_SAMPLERS:
        raise ValueError(f"the teacher samples with {r.sampler!r}, which adds fresh noise at every step; name a "
                         "deterministic sampler (e.g. --sampler dpmpp_2m)")
    sigmas = teacher.sigmas(r.schedule, r.steps)
    cond, uncond = teacher.condition(captions, [""] * len(captions), r)
    noise = teacher.unit_noise(seeds, r)
    start = noise / teacher.denoiser.input_scale(sigmas[0])
    latents = get_sampler(r.sampler)(CFGDenoiser(teacher.denoiser, r.guidance), start, sigmas,
                                     extra_args={"cond": cond, "uncond": uncond})
    return noise, latents


def draw_pairs(teacher: TextToImage, folder: Path, settings: PairSettings, rank: int = 0, world: int = 1,
               report=print) -> None:
    """Write the shards of `settings.count` pairs that belong to this process (shard % world == rank),
    skipping shards already on disk: each shard is written whole (to a temporary name, then renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    stream = WorldStream(seed=settings.seed, size=teacher.config.image_size)
    shards = -(-settings.count // SHARD_SIZE)
    torch.set_flush_denormal(True)
    for shard in range(rank, shards, world):
        path = shard_path(folder, shard)
        if path.is_file():
            continue
        indices = range(shard * SHARD_SIZE, min((shard + 1) * SHARD_SIZE, settings.count))
        captions = [stream.scene(i)[1] for i in indices]
        parts = [teacher_pairs(teacher, captions[k:k + settings.batch_size],
                               [NOISE_SEED_BASE + i for i in indices[k:k + settings.batch_size]], settings)
                 for k in range(0, len(captions), settings.batch_size)]
        noise, latents = (torch.cat(p).contiguous() for p in zip(*parts))
        staging = path.with_suffix(".partial")
        save_file({"noise": noise, "latents": latents}, str(staging), metadata={"captions": json.dumps(captions)})
        os.replace(staging, path)
        report(f"pairs: shard {shard + 1} of {shards} written ({len(captions)} pairs)")


class PairShards:
    """The pairs on disk as a dataset: batch(indices) -> ((N, 2C, h, w) latents then noise, captions).

    Index i reads pair i mod count through a shuffle drawn per pass over the pairs (seeded), so the
    trainer's step s always sees the same pairs, as its reproducibility asks."""

    def __init__(self, folder: Path, count: int, seed: int = 0):
        shards = -(-count // SHARD_SIZE)
        missing = [shard_path(folder, s).name for s in range(shards) if not shard_path(folder, s).is_file()]
        if missing:
            raise BadFileError(f"{folder}: {len(missing)} of {shards} pair shards are missing ({missing[0]} first); "
                               "draw them first (train reflow draws them before training)")
        latents, noise, captions = [], [], []
        for s in range(shards):
            with safe_open(str(shard_path(folder, s)), "pt") as file:
                latents.append(file.get_tensor("latents"))
                noise.append(file.get_tensor("noise"))
                captions += _captions(file.metadata(), shard_path(folder, s))
        self.pairs = torch.cat([torch.cat(latents), torch.cat(noise)], dim=1)[:count]
        self.captions, self.count, self.seed = captions[:count], count, seed
        if len(self.captions) != len(self.pairs):
            raise BadFileError(f"{folder}: {len(self.pairs)} pairs but {len(self.captions)} captions")
        self._order: tuple[int, torch.Tensor] | None = None

    def _position(self, index: int) -> int:
        epoch, offset = divmod(index, self.count)
        if self._order is None or self._order[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 7919 + epoch)
            self._order = (epoch, torch.randperm(self.count, generator=generator))
        return int(self._order[1][offset])

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, list[str]]:
        rows = [self._position(i) for i in indices]
        return self.pairs[rows], [self.captions[r] for r in rows]


def _captions(metadata: dict | None, path: Path) -> list[str]:
    try:
        captions = json.loads((metadata or {})["captions"])
    except (KeyError, ValueError):
        raise BadFileError(f"{path}: no captions in its metadata; draw the pairs again") from None
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        raise BadFileError(f"{path}: its captions are not a list of strings")
    return captions


class ReflowTraining(nn.Module):
    """The denoising loss on coupled pairs: x = x0 + sigma z with the pair's own z (see the module's docstring)."""

    def __init__(self, model: TextToImage, sigma_max: float, sigma_max_share: float = 0.25):
        super().__init__()
        if not 0 <= sigma_max_share <= 1:
            raise ValueError(f"the share of the batch at sigma_max must be from 0 to 1, got {sigma_max_share}")
        self.model, self.sigma_max, self.sigma_max_share = model, sigma_max, sigma_max_share
        if model.vae is not None:
            model.vae.requires_grad_(False)  # the pairs are latents already
        self.draw_t = uniform_flow_sigma_sampler(t_max=sigma_max / (1 + sigma_max))

    def forward(self, pairs, captions, noise):
        latents, z = pairs.chunk(2, dim=1)
        at_max = noise.rand() < self.sigma_max_share
        sigma = torch.where(at_max, torch.full_like(at_max, self.sigma_max, dtype=torch.float32),
                            noise.draw(self.draw_t))
        cond = self.model.text_encoder.encode(list(captions)).as_cond()
        return denoising_loss(self.model.denoiser, latents, sigma, z, **cond)


def load_student(teacher: TextToImage, teacher_folder: Path, student_folder: Path | None = None) -> TextToImage:
    """A distillation's student, in training mode: the teacher's weights, or `student_folder`'s (a model of the
    teacher's architecture, e.g. a few-step model to distil further); ValueError for another architecture."""
    student = load_model(student_folder or teacher_folder).train()
    if student.config.denoiser != teacher.config.denoiser:
        raise ValueError(f"the student {student_folder} is not the teacher's architecture")
    return student


def few_step_model(model: TextToImage, steps: int, sampler: str = "euler") -> TextToImage:
    """The same model with few-step sampling defaults: `sampler` (Euler for reflow, the consistency sampler for
    a consistency model) in equal flow-time steps, guidance 1 (distilled in: one call a step)."""
    sampling = replace(model.config.sampling, sampler=sampler, schedule="flow_even", steps=steps, guidance=1.0,
                       excite=0.0)
    model.config = replace(model.config, sampling=sampling)
    return model


def check_reflow(teacher_folder: Path, pairs: PairSettings, folder: Path) -> str:
    """What `train reflow --check` reports: the teacher loads, and how many pair shards are drawn already."""
    teacher = load_model(teacher_folder)
    shards = -(-pairs.count // SHARD_SIZE)
    drawn = sum(shard_path(folder, s).is_file() for s in range(shards))
    d = teacher.sampling_defaults
    return (f"ok: teacher {teacher_folder} ({d.sampler}, {pairs.steps or d.steps} steps, guidance "
            f"{pairs.guidance if pairs.guidance is not None else d.guidance}); {drawn} of {shards} pair shards of "
            f"{SHARD_SIZE} drawn in {folder}")


def train_reflow(out: Path, config: TrainerConfig, teacher_folder: Path, pairs: PairSettings,
                 export: Path | None = None, resume: bool = False, sigma_max_share: float = 0.25,
                 sample_steps: int = 2, pairs_folder: Path | None = None, pairs_only: bool = False,
                 report=print, student_folder: Path | None = None) -> TextToImage | None:
    """Draw the pairs (those missing), then (unless `pairs_only`) train the student on them (from the
    teacher's weights, or `student_folder`'s: e.g. a few-step model to distil to one step); export a
    few-step model folder."""
    init_distributed(config.device)
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    folder = pairs_folder or out / "pairs"
    teacher = load_model(teacher_folder)
    draw_pairs(teacher, folder, pairs, rank, world, report)
    if world > 1:
        dist.barrier()
    if pairs_only:
        return None
    student = load_student(teacher, teacher_folder, student_folder)
    module = ReflowTraining(student, teacher.sampling_defaults.sigma_max, sigma_max_share)
    trainer = Trainer(module, PairShards(folder, pairs.count, config.seed), config, out)
    if resume:
        trainer.resume()
    trainer.fit()
    shipped = few_step_model(trainer.ema.model.model, sample_steps)
    if export is not None and rank == 0:
        recipe = {"trainer": asdict(config), "method": "reflow", "teacher": str(teacher_folder),
                  "pairs": asdict(pairs), "pairs_folder": str(folder), "sigma_max_share": sigma_max_share,
                  "student_from": str(student_folder or teacher_folder),
                  "steps_done": trainer.step}
        save_model(shipped, export, training=recipe)
    return shipped

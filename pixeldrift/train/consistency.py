"""`pixeldrift train consistency`: consistency distillation (Song et al. 2023) of a text-to-image model.

A consistency model f(x, sigma) maps every point of a probability-flow ODE path to the path's end, so
one call draws an image and a few calls refine it (sampling/samplers.sample_consistency, their
Algorithm 1). Consistency distillation (their Algorithm 2) learns f from a trained teacher:

1. a training latent x0 and caption, a level n of N Karras levels sigma_1 < ... < sigma_N on
   [sigma_min, sigma_max], and x_{n+1} = x0 + sigma_{n+1} z;
2. one step of the teacher's ODE from sigma_{n+1} down to sigma_n (Euler, i.e. DDIM in sigma space),
   guided: the teacher's denoiser is D_u + w (D_c - D_u), so the student learns the guided ODE and
   is sampled at guidance 1, one call a step (the guided distillation of Latent Consistency Models,
   Luo et al. 2023, eq. 9-10, with w fixed);
3. the loss d(f(x_{n+1}, sigma_{n+1}), f^-(x_n, sigma_n)) weighted by 1 / (sigma_{n+1} - sigma_n), with
   d the pseudo-Huber distance sqrt(|a - b|^2 + c^2) - c, c = 0.00054 sqrt(dims) (iCT, Song &
   Dhariwal 2023, section 3.3 and 3.5).

The target f^- is the student itself under stop-gradient, not a slow EMA of it: iCT (section 3.2)
shows the EMA target biases the objective and that mu = 0 trains better; the trainer's own EMA is
still what is exported. Captions are never dropped: the student is only ever asked the guided
question. Its answer to the empty prompt is not trained and drifts with the shared weights, so the
export is meant for guidance 1 (one call a step); guidance above 1 or a negative prompt would mix in
that untrained branch.

The student starts from the teacher's weights and keeps the teacher's parameterization, so the export
is an ordinary model folder that every command loads. The boundary condition f(x, sigma_min) = x holds
as closely as the parameterization makes it: EDM's c_skip at sigma 0.002 is 0.99998 and c_out 0.002.
Its sampling defaults: the consistency sampler, `sample_steps` steps on the flow_even schedule (for two
steps sigma 80 then 1, the middle of the path in flow time), guidance 1.

With `segments` K > 1 the student is a multistep consistency model (Heek, Hoogeboom & Salimans 2024,
"Multistep Consistency Models", section 3): the path is cut at the K-step flow_even levels
s_0 = sigma_max > s_1 > ... > s_K = 0, and the student is consistent within each segment only. Its
answer D at sigma is read as a DDIM step to the segment's lower end s, y = D + (s / sigma)(x - D); the
target is the same step from the teacher-stepped point, y^- = D^- + (s / sigma_n)(x_n - D^-), turned back
into the x0 that would make the student's step land on it (their "x0 from the boundary point"):
x0^- = (y^- - r x_{n+1}) / (1 - r), r = s / sigma_{n+1}; the distance is weighted by (1 - r) as well, i.e.
measured at the landing point. At K = 1 (s = 0) this is the loss above. The boundaries join the Karras
levels, so a teacher step never crosses one. Sampled deterministically: Euler
(DDIM in sigma space) on the same K flow_even levels, one call a step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from pixeldrift.data import WorldStream
from pixeldrift.diffusion.losses import pseudo_huber
from pixeldrift.pipeline.model_folder import load_model, save_model
from pixeldrift.pipeline.text_to_image import TextToImage
from pixeldrift.sampling.sigma_schedules import even_flow_sigmas, karras_sigmas
from pixeldrift.train.reflow import few_step_model, load_student
from pixeldrift.train.run import init_distributed
from pixeldrift.train.trainer import Trainer, TrainerConfig

MAX_INTERVALS = 1280
MAX_SEGMENTS = 16
TEACHER_SOLVERS = ("euler", "heun")


@dataclass(frozen=True)
class DistillSettings:
    """`intervals` Karras levels (rho 7) on [sigma_min, sigma_max] of the teacher, so intervals - 1 gaps
    between neighbours; the teacher's guidance `guidance` (None: its folder's default); `segments` of
    the path the student is consistent within (1: Song et al.'s consistency model; K: multistep); the
    teacher's ODE step, `solver` "euler" or "heun" (second order, two teacher calls: Song et al. distil
    with Heun, section 6)."""

    intervals: int = 40
    guidance: float | None = None
    segments: int = 1
    solver: str = "euler"

    def __post_init__(self) -> None:
        if self.solver not in TEACHER_SOLVERS:
            raise ValueError(f"the teacher's solver must be one of {', '.join(TEACHER_SOLVERS)}, got {self.solver!r}")
        if not 2 <= self.intervals <= MAX_INTERVALS:
            raise ValueError(f"intervals must be from 2 to {MAX_INTERVALS}, got {self.intervals}")
        if not 1 <= self.segments <= MAX_SEGMENTS:
            raise ValueError(f"segments must be from 1 to {MAX_SEGMENTS}, got {self.segments}")
        if self.guidance is not None and not 0 <= self.guidance <= 50:
            raise ValueError(f"guidance must be from 0 to 50, got {self.guidance}")


def consistency_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample pseudo-Huber distance with iCT's c = 0.00054 sqrt(dims) (section 3.3)."""
    return pseudo_huber(a, b, 0.00054 * math.sqrt(a[0].numel()))


class ConsistencyDistillation(nn.Module):
    """The loss of consistency distillation on world images (see the module's docstring)."""

    def __init__(self, student: TextToImage, teacher: TextToImage, settings: DistillSettings):
        super().__init__()
        self.model, self.settings = student, settings
        self.teacher = teacher.requires_grad_(False).eval()
        student.requires_grad_(False)
        student.denoiser.requires_grad_(True)
        defaults = teacher.sampling_defaults
        self.guidance = defaults.guidance if settings.guidance is None else settings.guidance
        levels = karras_sigmas(settings.intervals, defaults.sigma_min, defaults.sigma_max)[:-1]  # less its final 0
        boundaries = even_flow_sigmas(settings.segments, defaults.sigma_max)[1:]  # s_1 > ... > s_K = 0
        levels = torch.cat([levels, boundaries[:-1]]).unique()  # ascending: sigma_1 < ... < sigma_N
        self.register_buffer("levels", levels, persistent=False)
        self.register_buffer("boundaries", boundaries.flip(0), persistent=False)  # ascending, from 0

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        if self.model.vae is not None:
            self.model.vae.eval()
        return self

    def forward(self, images, captions, noise):
        levels = self.levels
        n = (noise.rand() * (len(levels) - 1)).long().clamp(max=len(levels) - 2)
        sigma_low, sigma_high = levels[n], levels[n + 1]
        with torch.no_grad():
            # the posterior mean: the teacher's ODE is solved from a latent, not from a VAE sample
            latents = self.model.pixels_to_latents(images)
            x_high = latents + sigma_high.view(-1, 1, 1, 1) * noise.randn(*latents.shape[1:])
            # the text encoder is frozen and the teacher's own: one encoding serves both networks
            cond = self.model.text_encoder.encode(list(captions)).as_cond()
            uncond = self.model.text_encoder.encode([""] * len(captions)).as_cond()
            x_low = self.teacher_step(x_high, sigma_high, sigma_low, cond, uncond)
            ratio = self.segment_end(sigma_high) / sigma_high  # 0 for one segment
            target = self.boundary_target(x_high, sigma_high, x_low, sigma_low,
                                          self.model.denoiser(x_low, sigma_low, **cond), ratio)
        prediction = self.model.denoiser(x_high, sigma_high, **cond)
        # measured where the step lands, (1 - r) times the x0 difference: near a segment's end the answer
        # barely moves the landing point, and the x0 the target asks for is noise amplified by 1 / (1 - r)
        return consistency_distance(prediction, target) * (1 - ratio) / (sigma_high - sigma_low)

    def segment_end(self, sigma: torch.Tensor) -> torch.Tensor:
        """The lower end s of the segment (s, s'] that holds each sigma (0 for one segment)."""
        return self.boundaries[torch.searchsorted(self.boundaries, sigma) - 1]

    @staticmethod
    def boundary_target(x_high, sigma_high, x_low, sigma_low, denoised_low, ratio) -> torch.Tensor:
        """The x0 whose DDIM step from (x_high, sigma_high) lands where the target's step from x_low lands, at
        the segment's lower end s = ratio * sigma_high (Heek et al. 2024); with s = 0, the target's own x0."""
        end, ratio = (ratio * sigma_high).view(-1, 1, 1, 1), ratio.view(-1, 1, 1, 1)
        landing = torch.lerp(denoised_low, x_low, end / sigma_low.view(-1, 1, 1, 1))
        return (landing - ratio * x_high) / (1 - ratio)

    def teacher_step(self, x, sigma, sigma_next, cond: dict, uncond: dict) -> torch.Tensor:
        """One step of the teacher's guided probability-flow ODE from sigma to sigma_next (per sample): Euler,
        or Heun's (Karras et al. 2022, Algorithm 1: Euler, then the mean of the two slopes; sigma_next > 0)."""
        denoised = self.guided_teacher(x, sigma, cond, uncond)
        euler = torch.lerp(denoised, x, (sigma_next / sigma).view(-1, 1, 1, 1))  # x + (x - D)(s' - s)/s
        if self.settings.solver == "euler":
            return euler
        slope = (x - denoised) / sigma.view(-1, 1, 1, 1)
        slope_next = (euler - self.guided_teacher(euler, sigma_next, cond, uncond)) / sigma_next.view(-1, 1, 1, 1)
        return x + (sigma_next - sigma).view(-1, 1, 1, 1) * (slope + slope_next) / 2

    def guided_teacher(self, x, sigma, cond: dict, uncond: dict) -> torch.Tensor:
        guided = self.teacher.denoiser(x, sigma, **cond)
        if self.guidance != 1:
            unconditional = self.teacher.denoiser(x, sigma, **uncond)
            guided = unconditional + self.guidance * (guided - unconditional)
        return guided


def consistency_trainer(out: Path, config: TrainerConfig, teacher_folder: Path,
                        settings: DistillSettings = DistillSettings(), student_folder: Path | None = None) -> Trainer:
    """The run's trainer: the student from the teacher's weights (or `student_folder`'s, a model of the same
    architecture, e.g. a consistency model to make multistep), on the world stream at the teacher's size."""
    teacher = load_model(teacher_folder)
    module = ConsistencyDistillation(load_student(teacher, teacher_folder, student_folder), teacher, settings)
    return Trainer(module, WorldStream(seed=config.seed, size=teacher.config.image_size), config, out)


def train_consistency(out: Path, config: TrainerConfig, teacher_folder: Path,
                      settings: DistillSettings = DistillSettings(), export: Path | None = None,
                      resume: bool = False, sample_steps: int = 2, student_folder: Path | None = None) -> TextToImage:
    """Distil (or resume); with `export` write the few-step model folder."""
    init_distributed(config.device)
    trainer = consistency_trainer(out, config, teacher_folder, settings, student_folder)
    if resume:
        trainer.resume()
    trainer.fit()
    sampler = "consistency" if settings.segments == 1 else "euler"
    student = few_step_model(trainer.ema.model.model, sample_steps, sampler=sampler)
    if export is not None and trainer.rank == 0:
        recipe = {"trainer": asdict(config), "method": "consistency distillation", "teacher": str(teacher_folder),
                  "distill": asdict(settings), "student_from": str(student_folder or teacher_folder),
                  "guidance": trainer.ema.model.guidance, "steps_done": trainer.step}
        save_model(student, export, training=recipe)
    return student

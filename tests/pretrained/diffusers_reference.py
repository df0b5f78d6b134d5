"""diffusers' pipelines as the reference our pipeline is compared with, to 1e-3, on tiny random models.

Both sides run the same model from the same initial latents (ours, from the seed;
diffusers gets them as `latents=`) with the scheduler that does the same steps. What
makes the schedulers agree:

- DDIM: leading spacing, steps_offset 1, as SD configs say; but set_alpha_to_one=True.
  With SD's False, diffusers' last step stops at sigma(t=0) ~ 0.029 and decodes a
  still slightly noisy latent; our schedules always end at sigma = 0.
- Euler: leading spacing, steps_offset 1: the same timesteps and the same start
  sqrt(1 + sigma_max^2) * noise.
- DPM-Solver++(2M): trailing spacing. Under leading, diffusers' multistep
  schedulers space by T // (n + 1) and drop the last point, unlike its DDIM and
  Euler (T // n); trailing is the same on both sides.
- Karras (Euler): linspace spacing in diffusers, whose Karras range is that of
  the spaced timesteps (under leading it would stop short of sigma_max); linspace
  spans the whole table, as our karras does. diffusers then starts Euler from
  sigma_max * noise, not the VP prior sqrt(1 + sigma_max^2) * noise that we use,
  so its latents are given pre-scaled to land on our start.
- SDXL: diffusers' negative_prompt=None, which (force_zeros_for_empty_prompt) is
  what our empty negative prompt means.
"""

import diffusers
import torch

from pixeldrift.pipeline import GenerationRequest

TOLERANCE = 1e-3
PROMPT = "a cat on the mat"
SCHEDULERS = {  # our sampler, our schedule, diffusers scheduler and its settings
    "ddim": ("ddim", "leading", diffusers.DDIMScheduler, dict(set_alpha_to_one=True, timestep_spacing="leading")),
    "euler": ("euler", "leading", diffusers.EulerDiscreteScheduler, dict(timestep_spacing="leading")),
    "dpmpp_2m": ("dpmpp_2m", "trailing", diffusers.DPMSolverMultistepScheduler,
                 dict(algorithm_type="dpmsolver++", solver_order=2, timestep_spacing="trailing")),
    "euler_karras": ("euler", "karras", diffusers.EulerDiscreteScheduler,
                     dict(timestep_spacing="linspace", use_karras_sigmas=True)),
}


def their_pixels(pipeline_class, folder, model, request, case, call: dict | None = None, **options) -> torch.Tensor:
    """diffusers' image for our request; `options` go to from_pretrained, `call` to the pipeline's call."""
    _, _, scheduler_class, settings = SCHEDULERS[case]
    pipe = pipeline_class.from_pretrained(folder, local_files_only=True, **options)
    pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config, **settings)
    pipe.set_progress_bar_config(disable=True)
    r = request.validated(model.sampling_defaults, model.limits)
    latents = model.unit_noise([r.seed], r)
    if isinstance(pipe.scheduler, diffusers.EulerDiscreteScheduler):  # it works in sigma space: land on our start
        pipe.scheduler.set_timesteps(r.steps)
        sigma_max = float(pipe.scheduler.sigmas[0])
        latents = latents * (1 + sigma_max**2) ** 0.5 / float(pipe.scheduler.init_noise_sigma)
    return pipe(r.prompt, num_inference_steps=r.steps, guidance_scale=r.guidance, height=r.height, width=r.width,
                latents=latents, output_type="pt", **(call or {})).images


def request_for(case: str, size: int, steps: int = 4) -> GenerationRequest:
    sampler, schedule, _, _ = SCHEDULERS[case]
    return GenerationRequest(PROMPT, steps=steps, sampler=sampler, schedule=schedule, guidance=6.0, seed=7,
                             width=size, height=size)


def assert_close(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """The largest difference, after checking it is within TOLERANCE and the reference is not flat."""
    assert ours.shape == theirs.shape
    assert theirs.std() > 0.01, "the reference image is flat: the comparison would prove nothing"
    err = (ours - theirs).abs().max().item()
    assert err <= TOLERANCE, f"max abs difference {err:.2e}"
    return err



"""Generation for any model made of a text encoder, a denoiser in sigma space and (optionally) a VAE.

A model class (our TextToImage, a Stable Diffusion checkpoint from pixeldrift.pretrained)
subclasses LatentDiffusionPipeline and supplies its parts:

    denoiser                          D(x, sigma, **cond) -> x0_hat (diffusion/parameterization.py)
    name, sampling_defaults, limits   what it is called, how it samples, what sizes it makes
    latent_shape(width, height)       (C, h, w) of the latent for an image of that size
    encode_prompts(prompts, negs)     (cond, uncond) keyword dicts for the denoiser
    condition(prompts, negs, request) the same, for models that also condition on size (default: the above)
    pixels_to_latents(pixels)         images in [-1, 1] (N, 3, H, W) -> latents (deterministic)
    latents_to_pixels(latents)        latents -> images in [-1, 1]

and this class does the rest: text-to-image, image-to-image, inpainting, variations,
guidance, ControlNet, the hires fix, every sampler and every schedule, through that one interface.
"""

from __future__ import annotations

import torch
from PIL import Image
from torch import nn

from pixeldrift.pipeline import attend_and_excite, control, editing, hires_fix
from pixeldrift.pipeline.pixels import pixels_to_images
from pixeldrift.pipeline.request import GeneratedImage, GenerationRequest, ModelLimits, SamplingDefaults
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.safety.moderation import enforce_prompt
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import make_sigmas


class LatentDiffusionPipeline(nn.Module):
    denoiser: nn.Module

    # --- what a model supplies ------------------------------------------------------------
    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def sampling_defaults(self) -> SamplingDefaults:
        raise NotImplementedError

    @property
    def limits(self) -> ModelLimits:
        raise NotImplementedError

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int]:
        raise NotImplementedError

    def encode_prompts(self, prompts: list[str], negative: list[str]) -> tuple[dict, dict]:
        raise NotImplementedError

    def pixels_to_latents(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def latents_to_pixels(self, latents: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def condition(self, prompts: list[str], negative: list[str], r: GenerationRequest) -> tuple[dict, dict]:
        """Everything the denoiser is conditioned on; models that also take the size (SDXL) override."""
        return self.encode_prompts(prompts, negative)

    def sigmas(self, schedule: str, steps: int) -> torch.Tensor:
        """The sampling sigmas; models with discrete training timesteps may override."""
        d = self.sampling_defaults
        return make_sigmas(schedule, steps, sigma_min=d.sigma_min, sigma_max=d.sigma_max,
                           schedule=getattr(self.denoiser, "schedule", None))

    # --- what every model gets ------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def to_images(self, latents: torch.Tensor) -> list[Image.Image]:
        """Latents (e.g. a sampler callback's denoised estimate) to RGB images."""
        return pixels_to_images(self.latents_to_pixels(latents))

    @torch.no_grad()
    def generate(self, request: GenerationRequest, callback=None, model_name: str | None = None, *,
                 moderated: bool = False) -> list[GeneratedImage]:
        """`batch_size` images of one prompt; image i uses seed + i and is reproducible on its own.

        moderated: the caller has already run the moderation policy on this prompt (the server
        does, to refuse before queueing), so it is not run twice.
        """
        r = request.validated(self.sampling_defaults, self.limits)
        seeds = [r.seed + i for i in range(r.batch_size)]
        images = self.sample([r.prompt] * r.batch_size, seeds, r, callback, moderated=moderated)
        name = model_name or self.name
        return [GeneratedImage(image, self.record(r, seed, name)) for seed, image in zip(seeds, images)]

    @torch.no_grad()
    def sample(self, prompts: list[str], seeds: list[int], settings: GenerationRequest, callback=None, *,
               moderated: bool = False, steer=None) -> list[Image.Image]:
        """One image per (prompt, seed), all in one batch; `settings` gives everything else.

        `callback(i, x, denoised)` is called after each step with the latents; `moderated` as in generate().
        `steer(guided_denoiser, cond) -> denoiser` wraps the guided denoiser for methods that
        steer sampling (e.g. attend_and_excite); the wrapper is called as (x, sigma, cond, uncond).
        With a hires fix, both passes run (hires_fix.py) and the callback's steps count on across them.
        """
        for prompt in dict.fromkeys(prompts) if not moderated else ():
            enforce_prompt(prompt)
        r = settings.validated(self.sampling_defaults, self.limits)
        if r.hires is not None:
            return hires_fix.sample(self, prompts, seeds, r, callback, moderated=True, steer=steer)
        latents, start = self.sample_latents(prompts, seeds, r, callback, moderated=True, steer=steer)
        pixels = self.latents_to_pixels(latents)
        if start.pixel_mask is not None:
            pixels = editing.composite(start.pixels, pixels, start.pixel_mask)
        return pixels_to_images(pixels)

    @torch.no_grad()
    def sample_latents(self, prompts: list[str], seeds: list[int], settings: GenerationRequest, callback=None, *,
                       moderated: bool = False, steer=None, known: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, editing.Start]:
        """sample() up to the clean latents (a hires fix is not run here), with where sampling started.

        `known`: latents (N, C, h, w) of the request's size to start from as image-to-image does from an
        init image, at the request's strength (the hires fix's second pass).
        """
        for prompt in dict.fromkeys(prompts) if not moderated else ():
            enforce_prompt(prompt)
        r = settings.validated(self.sampling_defaults, self.limits)
        torch.set_flush_denormal(True)  # denormal floats are ~100x slower on CPUs and invisible in images
        sigmas = self.sigmas(r.schedule, r.steps).to(self.device)
        cond, uncond = self.condition(list(prompts), [r.negative_prompt] * len(prompts), r)
        noise = self.unit_noise(seeds, r)
        denoiser = CFGDenoiser(control.controlled(self, self.denoiser, r, sigmas), r.guidance, r.guidance_rescale)
        if steer is None and r.excite > 0:
            steer = attend_and_excite.steering(self, prompts, r.excite)
        if steer is not None:
            denoiser = steer(denoiser, cond)
        start = editing.prepare(self, r, noise, sigmas, len(prompts), known)
        if start.mask is not None:
            denoiser = editing.KnownRegionDenoiser(denoiser, start.known, start.mask, noise)
        generator = torch.Generator().manual_seed(seeds[0])
        return _denoise(denoiser, start, r, {"cond": cond, "uncond": uncond}, callback, generator), start

    def unit_noise(self, seeds: list[int], r: GenerationRequest) -> torch.Tensor:
        """Unit Gaussian latents from one CPU generator per image: the same on every device.

        With a variation seed, each image's noise is a spherical blend with the
        variation seed's noise (image i: variation_seed + i), so small strengths
        give small, coherent changes.
        """
        shape = self.latent_shape(r.width, r.height)
        noise = torch.stack([_randn(shape, s) for s in seeds])
        if r.variation_seed is not None and r.variation_strength > 0:
            other = torch.stack([_randn(shape, r.variation_seed + i) for i in range(len(seeds))])
            noise = slerp(r.variation_strength, noise, other)
        return noise.to(self.device)

    def record(self, r: GenerationRequest, seed: int, model_name: str) -> GenerationRecord:
        extra = {"Schedule type": r.schedule, "RNG": "cpu", "Guidance rescale": str(r.guidance_rescale)}
        if r.excite > 0:
            extra["Attend-and-Excite"] = str(r.excite)
        if r.init_image is not None:
            extra["Denoising strength"] = str(r.strength)
        if r.hires is not None:
            extra.update(r.hires.describe())
        if r.mask is not None:
            extra.update({"Mask blur": str(r.mask_blur), "Resample": str(r.resample)})
        extra.update(control.describe(r.controls))
        if r.variation_seed is not None and r.variation_strength > 0:
            extra.update({"Variation seed": str(r.variation_seed + seed - r.seed),
                          "Variation seed strength": str(r.variation_strength)})
        return GenerationRecord(prompt=r.prompt, negative_prompt=r.negative_prompt, steps=r.steps, sampler=r.sampler,
                                cfg_scale=r.guidance, seed=seed, width=r.width, height=r.height, model=model_name,
                                extra=extra)


def _denoise(denoiser, start: editing.Start, r: GenerationRequest, extra_args: dict, callback, generator
             ) -> torch.Tensor:
    """Run the request's sampler from where editing.prepare said to start."""
    sampler = get_sampler(r.sampler)
    if len(start.sigmas) < 2:  # image-to-image at strength ~0: nothing left to denoise
        return start.x
    if r.resample > 1 and start.mask is not None:
        return editing.resampled(sampler, denoiser, start.x, start.sigmas, r.resample, extra_args, callback,
                                 generator)
    return sampler(denoiser, start.x, start.sigmas, extra_args=extra_args, callback=callback, generator=generator)


def _randn(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def slerp(t: float, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation per sample: keeps the norm a Gaussian sample should have."""
    flat_a, flat_b = a.flatten(1), b.flatten(1)
    cos = (flat_a * flat_b).sum(1) / (flat_a.norm(dim=1) * flat_b.norm(dim=1))
    omega = cos.clamp(-1, 1).acos()[:, None]
    sin = omega.sin()
    mixed = torch.where(sin.abs() < 1e-6, (1 - t) * flat_a + t * flat_b,
                        ((1 - t) * omega).sin() / sin * flat_a + (t * omega).sin() / sin * flat_b)
    return mixed.view_as(a)

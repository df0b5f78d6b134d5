"""A latent text-to-image model (text encoder + EDM-preconditioned UNet + VAE) and its generate()."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from pixeldrift.diffusion.parameterization import EDMDenoiser
from pixeldrift.nets import VAE, TextEncoder, TextEncoding, UNet
from pixeldrift.pipeline.model_folder import ModelConfig
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord
from pixeldrift.safety.moderation import enforce_prompt
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import get_sampler
from pixeldrift.sampling.sigma_schedules import check_steps, make_sigmas

MAX_PROMPT_CHARS = 2000
MAX_BATCH = 64
MAX_SIZE = 512


@dataclass(frozen=True)
class GenerationRequest:
    """One call of generate(); None means the model's own default."""

    prompt: str
    negative_prompt: str = ""
    steps: int | None = None
    sampler: str | None = None
    schedule: str | None = None
    guidance: float | None = None
    guidance_rescale: float = 0.0
    seed: int = 0
    batch_size: int = 1
    size: int | None = None  # square side in pixels; the model's own by default

    def validated(self, config: ModelConfig) -> "GenerationRequest":
        defaults = config.sampling
        filled = replace(self, steps=self.steps or defaults.steps, sampler=self.sampler or defaults.sampler,
                         schedule=self.schedule or defaults.schedule,
                         guidance=defaults.guidance if self.guidance is None else self.guidance,
                         size=self.size or config.image_size)
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValueError("the prompt is empty; describe the image to generate")
        if len(self.prompt) > MAX_PROMPT_CHARS or len(self.negative_prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"prompts are limited to {MAX_PROMPT_CHARS} characters")
        check_steps(filled.steps)
        get_sampler(filled.sampler)
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch size must be from 1 to {MAX_BATCH}, got {self.batch_size}")
        if not 0 <= filled.guidance <= 50:
            raise ValueError(f"guidance scale must be from 0 to 50, got {filled.guidance}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be from 0 to 2**63 - 1, got {self.seed}")
        multiple = config.size_multiple
        if filled.size % multiple or not multiple <= filled.size <= MAX_SIZE:
            raise ValueError(f"size must be a multiple of {multiple} from {multiple} to {MAX_SIZE}, got {filled.size}")
        return filled


@dataclass
class GeneratedImage:
    image: Image.Image
    record: GenerationRecord
    extra: dict = field(default_factory=dict)

    def save(self, path: str | Path, watermark: bool = True) -> Path:
        """Write a labelled PNG: watermark, A1111 parameters, AI-generated statement (provenance/label.py)."""
        return save_labelled_png(self.image, path, self.record, watermark=watermark)


class TextToImage(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.text_encoder = TextEncoder(config.text_encoder)
        self.denoiser = EDMDenoiser(UNet(config.denoiser), sigma_data=config.sigma_data)
        self.vae = VAE(config.vae) if config.vae is not None else None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode_text(self, prompts: list[str], negative: list[str]) -> tuple[dict, dict]:
        """Cond and uncond token states, padded to one length so guidance can batch them."""
        both: TextEncoding = self.text_encoder.encode(prompts + negative)
        n = len(prompts)
        cond = {"context": both.context[:n], "context_mask": both.context_mask[:n]}
        uncond = {"context": both.context[n:], "context_mask": both.context_mask[n:]}
        return cond, uncond

    def to_images(self, latents: torch.Tensor) -> list[Image.Image]:
        pixels = self.vae.decode_latents(latents) if self.vae is not None else latents
        array = ((pixels.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return [Image.fromarray(np.ascontiguousarray(a)) for a in array]

    def initial_noise(self, seeds: list[int], sigma_max: float, size: int) -> torch.Tensor:
        """Noise from one CPU generator per image, seeded by its seed: the same on every device."""
        shape = self.config.latent_shape(size)
        noise = torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds])
        scale = self.denoiser.input_scale(torch.tensor(sigma_max))
        return (noise / scale).to(self.device)

    @torch.no_grad()
    def generate(self, request: GenerationRequest, callback=None, model_name: str = "default"
                 ) -> list[GeneratedImage]:
        """`batch_size` images of one prompt; image i uses seed + i and is reproducible on its own."""
        r = request.validated(self.config)
        seeds = [r.seed + i for i in range(r.batch_size)]
        images = self.sample([r.prompt] * r.batch_size, seeds, r, callback)
        return [GeneratedImage(image, self._record(r, seed, model_name)) for seed, image in zip(seeds, images)]

    @torch.no_grad()
    def sample(self, prompts: list[str], seeds: list[int], settings: GenerationRequest, callback=None
               ) -> list[Image.Image]:
        """One image per (prompt, seed), all in one batch; `settings` gives everything else."""
        for prompt in dict.fromkeys(prompts):
            enforce_prompt(prompt)
        r = settings.validated(self.config)
        torch.set_flush_denormal(True)  # denormal floats are ~100x slower on CPUs and invisible in images
        s = self.config.sampling
        sigmas = make_sigmas(r.schedule, r.steps, sigma_min=s.sigma_min, sigma_max=s.sigma_max).to(self.device)
        cond, uncond = self.encode_text(list(prompts), [r.negative_prompt] * len(prompts))
        x = self.initial_noise(seeds, float(sigmas[0]), r.size)
        guided = CFGDenoiser(self.denoiser, r.guidance, r.guidance_rescale)
        latents = get_sampler(r.sampler)(guided, x, sigmas, extra_args={"cond": cond, "uncond": uncond},
                                         callback=callback, generator=torch.Generator().manual_seed(seeds[0]))
        return self.to_images(latents)

    def _record(self, r: GenerationRequest, seed: int, model_name: str) -> GenerationRecord:
        size = r.size
        extra = {"Schedule type": r.schedule, "RNG": "cpu", "Guidance rescale": str(r.guidance_rescale)}
        return GenerationRecord(prompt=r.prompt, negative_prompt=r.negative_prompt, steps=r.steps, sampler=r.sampler,
                                cfg_scale=r.guidance, seed=seed, width=size, height=size, model=model_name,
                                extra=extra)

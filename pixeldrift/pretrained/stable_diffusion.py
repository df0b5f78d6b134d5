"""A Stable Diffusion checkpoint (SD 1.x, 2.x, SDXL) as a pixeldrift LatentDiffusionPipeline.

The parts come from diffusers and transformers (components.py); everything that
samples them is ours: the UNet is wrapped as an eps or v denoiser in sigma space
over the model's own discrete schedule, so every sampler, schedule, guidance
option and editing tool of LatentDiffusionPipeline drives it unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from pixeldrift.diffusion.parameterization import EpsDenoiser, VDenoiser
from pixeldrift.diffusion.schedules import DiscreteSchedule
from pixeldrift.pipeline.latent_pipeline import LatentDiffusionPipeline
from pixeldrift.pipeline.request import GenerationRequest, ModelLimits, SamplingDefaults
from pixeldrift.pretrained.clip_prompts import ClipPromptEncoder
from pixeldrift.pretrained.components import SDParts
from pixeldrift.pretrained.extra import CheckpointError
from pixeldrift.sampling.sigma_schedules import SPACINGS, discrete_sigmas, make_sigmas

# diffusers scheduler class in a model's config -> our sampler of the same method
SAMPLER_OF_SCHEDULER = {"DDIMScheduler": "ddim", "DDPMScheduler": "ddpm", "EulerDiscreteScheduler": "euler",
                        "EulerAncestralDiscreteScheduler": "euler_ancestral", "HeunDiscreteScheduler": "heun",
                        "DPMSolverMultistepScheduler": "dpmpp_2m", "UniPCMultistepScheduler": "unipc"}
BETA_SCHEDULES = {"scaled_linear": "scaled_linear", "linear": "linear", "squaredcos_cap_v2": "cosine"}
DEFAULT_STEPS = 25
DEFAULT_GUIDANCE = {"sd1": 7.5, "sd2": 7.5, "sdxl": 5.0}  # the scales diffusers' pipelines default to


class UNetBackbone(nn.Module):
    """diffusers' UNet2DConditionModel called as net(x_in, timestep, **cond), the denoisers' backbone interface."""

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                pooled: torch.Tensor | None = None, time_ids: torch.Tensor | None = None,
                control: list[torch.Tensor] | None = None) -> torch.Tensor:
        """`control`: ControlNet residuals (sd_controlnet.py), one per encoder skip and the last for the middle."""
        dtype = self.unet.dtype  # fp16/bf16 weights on a GPU; the sampler keeps x in float32
        added = None if pooled is None else {"text_embeds": pooled.to(dtype), "time_ids": time_ids.to(dtype)}
        residuals = {} if control is None else {
            "down_block_additional_residuals": tuple(r.to(dtype) for r in control[:-1]),
            "mid_block_additional_residual": control[-1].to(dtype)}
        out = self.unet(x.to(dtype), timestep, encoder_hidden_states=context.to(dtype), added_cond_kwargs=added,
                        return_dict=False, **residuals)[0]
        return out.to(x.dtype)


def schedule_from_config(config: dict, source) -> DiscreteSchedule:
    """The training noise schedule a diffusers scheduler config describes."""
    if config.get("rescale_betas_zero_snr"):
        raise CheckpointError(f"{source}: zero-terminal-SNR schedules are not supported yet")
    if config.get("trained_betas"):
        return DiscreteSchedule.from_betas(torch.tensor(config["trained_betas"], dtype=torch.float64))
    name = config.get("beta_schedule", "scaled_linear")
    if name not in BETA_SCHEDULES:
        raise CheckpointError(f"{source}: beta schedule {name!r} is not supported; "
                              f"accepted: {', '.join(BETA_SCHEDULES)}")
    return DiscreteSchedule.named(BETA_SCHEDULES[name], config.get("num_train_timesteps", 1000),
                                  config.get("beta_start", 0.00085), config.get("beta_end", 0.012))


class StableDiffusion(LatentDiffusionPipeline):
    def __init__(self, parts: SDParts, name: str | None = None):
        super().__init__()
        self.family = parts.family
        self.source = parts.source
        self.unet, self.vae = parts.unet, parts.vae
        self.scheduler_config = parts.scheduler
        self._name = name or (parts.source.stem if parts.source.is_file() else parts.source.name)
        is_xl = parts.family.base == "sdxl"
        self.prompt_encoder = ClipPromptEncoder(parts.text_encoders, parts.tokenizers, penultimate=is_xl,
                                                pooled=is_xl, zero_empty_negative=is_xl and bool(
                                                    parts.options.get("force_zeros_for_empty_prompt")))
        schedule = schedule_from_config(parts.scheduler, parts.source)
        adapter = VDenoiser if parts.family.prediction == "v_prediction" else EpsDenoiser
        self.denoiser = adapter(UNetBackbone(parts.unet), schedule)
        self.loras: list = []  # (path, scale) of the LoRAs applied, in order (lora.py)
        self._lora_originals: dict = {}  # layer path -> (layer, its weight before any LoRA)

    # --- LoRA -------------------------------------------------------------------------------
    def load_lora(self, path, scale: float = 1.0) -> None:
        """Apply a LoRA file at `scale` on top of any already applied (lora.py); all or nothing."""
        from pixeldrift.pretrained.lora import apply_lora

        apply_lora(self, path, scale)

    def unload_loras(self) -> None:
        """Restore the weights as they were before the first LoRA, exactly."""
        from pixeldrift.pretrained.lora import unload_loras

        unload_loras(self)

    # --- textual inversion ------------------------------------------------------------------
    def load_embedding(self, path) -> str:
        """Add an embedding file's word (its file name) with its vectors as new tokens (embeddings.py)."""
        from pixeldrift.pretrained.embeddings import load_embedding

        return load_embedding(self, path)

    def unload_embeddings(self) -> None:
        """Every added word gone, the vocabulary as it was."""
        self.prompt_encoder.remove_words()

    # --- LatentDiffusionPipeline hooks ------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def vae_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def sampling_defaults(self) -> SamplingDefaults:
        config, schedule = self.scheduler_config, self.denoiser.schedule
        spacing = "karras" if config.get("use_karras_sigmas") else config.get("timestep_spacing", "leading")
        return SamplingDefaults(sampler=SAMPLER_OF_SCHEDULER.get(config.get("_class_name"), "dpmpp_2m"),
                                schedule=spacing if spacing in SPACINGS + ("karras",) else "leading",
                                steps=DEFAULT_STEPS, guidance=DEFAULT_GUIDANCE[self.family.base],
                                sigma_min=schedule.sigma_min, sigma_max=schedule.sigma_max)

    @property
    def limits(self) -> ModelLimits:
        side = self.unet.config.sample_size * self.vae_factor  # 512 SD 1.x, 768 SD 2.x-v, 1024 SDXL
        return ModelLimits(side, side, self.vae_factor)

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int]:
        f = self.vae_factor
        return (self.unet.config.in_channels, height // f, width // f)

    def encode_prompts(self, prompts: list[str], negative: list[str]) -> tuple[dict, dict]:
        return self.prompt_encoder.encode_pair(prompts, negative)

    def condition(self, prompts: list[str], negative: list[str], r: GenerationRequest) -> tuple[dict, dict]:
        """SDXL also sees the size: (original h, w, crop top, left, target h, w), uncropped at the request's size."""
        cond, uncond = self.encode_prompts(prompts, negative)
        if self.family.base == "sdxl":
            time_ids = torch.tensor([[r.height, r.width, 0, 0, r.height, r.width]], dtype=torch.float32,
                                    device=self.device)
            cond["time_ids"] = time_ids.expand(len(prompts), -1)
            uncond["time_ids"] = time_ids.expand(len(negative), -1)
        return cond, uncond

    def sigmas(self, schedule: str, steps: int) -> torch.Tensor:
        """Discrete spacings visit the model's own training sigmas (with its steps_offset); karras and
        exponential span the model's own sigma range."""
        table = self.denoiser.schedule
        if schedule in SPACINGS:
            return discrete_sigmas(table, steps, schedule, steps_offset=self.scheduler_config.get("steps_offset", 0))
        if schedule == "flow":
            raise ValueError("the flow schedule is for rectified-flow models; Stable Diffusion 1.x/2.x/XL "
                             f"use one of {', '.join(SPACINGS)}, karras or exponential")
        return make_sigmas(schedule, steps, schedule=table)

    def pixels_to_latents(self, pixels: torch.Tensor) -> torch.Tensor:
        posterior = self.vae.encode(pixels.to(self.vae.dtype)).latent_dist
        return (posterior.mean * self.vae.config.scaling_factor).float()  # the mean: deterministic

    def latents_to_pixels(self, latents: torch.Tensor) -> torch.Tensor:
        latents = latents.to(self.vae.dtype) / self.vae.config.scaling_factor
        return self.vae.decode(latents, return_dict=False)[0].float()

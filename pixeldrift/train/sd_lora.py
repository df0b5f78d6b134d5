"""LoRA training for Stable Diffusion checkpoints (SD 1.x, 2.x, SDXL): the recipe of train/lora.py on diffusers'
UNet, written in the kohya layout A1111, ComfyUI and diffusers' load_lora_weights read.

The adapters (nets/lora.py, Hu et al. 2021) sit on the UNet's attention projections (to_q, to_k, to_v,
to_out.0 of every attention layer, self and cross); everything else stays frozen. The loss is the model's
own (StableDiffusionTraining, shared with textual inversion and DreamBooth on SD): eps or v prediction on
its discrete training schedule (EpsDenoiser / VDenoiser), on the VAE posterior mean of each image times the
VAE's scaling factor, SDXL conditioned on the image size as it samples. Layers are named as kohya names
them: the diffusers path for SD 1.x/2.x, the original (LDM) path for SDXL, dots as "_" (pretrained/lora.py
reads both).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from pixeldrift.data import ImageFolder
from pixeldrift.diffusion.losses import denoising_loss, discrete_sigma_sampler
from pixeldrift.nets.lora import add_lora, lora_layers
from pixeldrift.nets.lora_files import kohya_tensors, write_lora_file
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.train.recipes import prior_weighted
from pixeldrift.train.run_record import keep_run_record
from pixeldrift.train.trainer import Trainer, TrainerConfig

PROJECTIONS = ("to_q", "to_k", "to_v", "to_out.0")


def unet_attention_projections(unet: nn.Module) -> list[str]:
    """Names of the query, key, value and output projections of every attention layer of a diffusers UNet."""
    return [f"{name}.{projection}" for name, module in unet.named_modules()
            if type(module).__name__ == "Attention" for projection in PROJECTIONS]


class StableDiffusionTraining(nn.Module):
    """The per-image denoising loss of a Stable Diffusion model (the module's docstring says which); the caller
    or subclass unfreezes what trains. `text_trains`: gradients reach the text encoders (textual inversion);
    `prior` (identifier, lambda): DreamBooth's weighting of the class images' rows (recipes.prior_weighted)."""

    text_trains = False

    def __init__(self, model, prior: tuple[str, float] | None = None):
        super().__init__()
        # Each part registered once: the model holds its UNet twice (as .unet and inside its denoiser), which
        # a safetensors checkpoint cannot store. The model itself is kept unregistered (a deep copy, the EMA,
        # still shares these parts with it).
        self.unet, self.vae, self.prompt_encoder = model.unet, model.vae, model.prompt_encoder
        object.__setattr__(self, "sd", model)
        self.draw_sigma = discrete_sigma_sampler(model.denoiser.schedule)
        self.prior = prior

    def train(self, mode: bool = True):
        super().train(mode)
        self.vae.eval()
        self.prompt_encoder.eval()
        return self

    def forward(self, images, captions, noise):
        side = images.shape[-1]
        with torch.no_grad():
            latents = self.sd.pixels_to_latents(images)
        with torch.set_grad_enabled(self.text_trains and torch.is_grad_enabled()):
            cond, _ = self.sd.condition(list(captions), [], GenerationRequest(prompt="-", width=side, height=side))
        sigma = noise.draw(self.draw_sigma)
        losses = denoising_loss(self.sd.denoiser, latents, sigma, noise.randn(*latents.shape[1:]), **cond)
        return losses if self.prior is None else prior_weighted(losses, captions, *self.prior)


class StableDiffusionLoRATraining(StableDiffusionTraining):
    """The loss of a frozen Stable Diffusion model whose UNet carries LoRA layers."""

    def __init__(self, model, rank: int, alpha: float, seed: int = 0, prior: tuple[str, float] | None = None):
        model.requires_grad_(False)
        add_lora(model.unet, unet_attention_projections(model.unet), rank, alpha, seed)
        super().__init__(model, prior)


def kohya_names(model) -> dict[str, nn.Module]:
    """{kohya name: LoRA layer} of the adapters in `model.unet`: original names for SDXL, diffusers' otherwise."""
    from pixeldrift.pretrained.original_names import original_unet_name

    xl = model.family.base == "sdxl"
    return {"lora_unet_" + (original_unet_name(name, model.unet.config) if xl else name).replace(".", "_"): layer
            for name, layer in lora_layers(model.unet).items()}


def save_sd_lora(model, path: Path, about: dict) -> Path:
    named = kohya_names(model)
    first = next(iter(named.values()))
    return write_lora_file(path, kohya_tensors(named), first.rank, first.alpha,
                           {"base": {"name": model.name, "family": model.family.name}, "layers": len(named), **about})


def sd_lora_trainer(out: Path, config: TrainerConfig, base: Path, data: str | Path, rank: int = 4,
                    alpha: float = 4.0, family: str | None = None) -> Trainer:
    """The run's trainer: the checkpoint opened (a diffusers folder or one file) and frozen, adapters added,
    the image folder checked whole at the model's own size."""
    from pixeldrift.pretrained import open_model

    model = open_model(base, family=family)
    size = model.limits.default_width
    return Trainer(StableDiffusionLoRATraining(model, rank, alpha, config.seed),
                   ImageFolder(data, size=size, seed=config.seed), config, out)


def run_sd_training(trainer: Trainer, record: Path, run: dict, config: TrainerConfig, resume: bool,
                    save=None) -> Trainer:
    """Keep the run's record, resume if asked, train; then `save(the EMA's model, about)` on rank 0."""
    keep_run_record(record, run, resume, trainer.rank == 0)
    if resume:
        trainer.resume()
    trainer.fit()
    if save and trainer.rank == 0:
        save(trainer.ema.model.sd, {**run, "steps_done": trainer.step, "trainer": asdict(config)})
    return trainer


def train_sd_lora(out: Path, config: TrainerConfig, base: Path, data: str | Path, rank: int = 4,
                  alpha: float = 4.0, family: str | None = None, export: Path | None = None,
                  resume: bool = False) -> Trainer:
    """Train (or resume) and, with `export`, write the kohya-layout LoRA file."""
    trainer = sd_lora_trainer(out, config, base, data, rank, alpha, family)
    run = {"method": "lora", "base": str(base), "family": trainer.model.sd.family.name, "data": str(data),
           "rank": rank, "alpha": alpha}
    return run_sd_training(trainer, out / "lora_run.json", run, config, resume,
                           None if export is None else lambda model, about: save_sd_lora(model, export, about))

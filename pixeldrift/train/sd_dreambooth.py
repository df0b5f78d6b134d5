"""`pixeldrift train dreambooth --base SD_CHECKPOINT`: DreamBooth (Ruiz et al. 2023) for Stable Diffusion 1.x,
2.x and SDXL.

The recipe of train/dreambooth.py on a Stable Diffusion checkpoint: captions name the subject with a rare
identifier ("a photo of sks cat"); class images the frozen base draws from the same captions without it
(or a folder of real ones) fill every other slot of a batch with weight lambda (prior preservation, their
eq. 2); the loss is the model's own eps or v loss (sd_lora.py StableDiffusionTraining). The UNet is
fine-tuned whole, the text encoders and the VAE frozen (the diffusers example's default), and written as a
diffusers folder, or with an export name ending .safetensors as one file in the original layout
(pretrained/export.py): pixeldrift's loader and diffusers open both. With `lora`, LoRA adapters on the UNet's
attention train instead and are written as a kohya LoRA file (sd_lora.py).
"""

from __future__ import annotations

from pathlib import Path

from pixeldrift.data import ImageFolder
from pixeldrift.nets.minilm_text_encoder import check_new_word
from pixeldrift.train.dreambooth import check_identifier, training_examples
from pixeldrift.train.lora import LoRASettings
from pixeldrift.train.sd_lora import (StableDiffusionLoRATraining, StableDiffusionTraining, run_sd_training,
                                      save_sd_lora)
from pixeldrift.train.trainer import Trainer, TrainerConfig


def check_settings(lora: LoRASettings | None, export: Path | None, prior: bool, prior_weight: float,
                   class_data) -> None:
    """ValueError for a combination this route does not take, before anything is loaded."""
    if lora is not None and (lora.convolutions or lora.text_encoder):
        raise ValueError("for a Stable Diffusion checkpoint the DreamBooth LoRA adapts the UNet's attention "
                         "projections; leave out --convolutions and --text-encoder")
    if export is not None and lora is not None and export.suffix != ".safetensors":
        raise ValueError(f"--export {export}: a DreamBooth LoRA is written as a .safetensors file")
    if export is not None and lora is None and export.suffix not in ("", ".safetensors"):
        raise ValueError(f"--export {export}: a fine-tuned Stable Diffusion model is written as a diffusers folder "
                         "(no suffix) or one .safetensors file")
    if export is not None and lora is None and not export.suffix and export.exists() and \
            (not export.is_dir() or any(export.iterdir())):
        raise ValueError(f"--export {export}: already exists; give a new folder")
    if class_data is not None and not prior:
        raise ValueError("class images are for prior preservation: leave out either the class data or no-prior")
    if not 0 <= prior_weight <= 100:
        raise ValueError(f"the prior-preservation weight must be from 0 to 100, got {prior_weight}")


def sd_dreambooth_trainer(out: Path, config: TrainerConfig, base: Path, data: str | Path, identifier: str,
                          prior: bool = True, prior_weight: float = 1.0, class_images: int = 50,
                          lora: LoRASettings | None = None, make_class_images: bool = True,
                          class_data: str | Path | None = None, family: str | None = None) -> Trainer:
    """The run's trainer: the checkpoint opened, the subject's folder (and the class images, drawn first by the
    base unless given or `make_class_images` is False: a --check) checked whole at the model's own size."""
    from pixeldrift.pretrained import open_model

    identifier = check_new_word(identifier)
    model = open_model(base, family=family)
    subject = ImageFolder(data, size=model.limits.default_width, seed=config.seed)
    check_identifier(subject, identifier)
    source = training_examples(model, subject, identifier, out, config.seed, prior, class_images, make_class_images,
                               class_data)
    weighting = (identifier, prior_weight) if prior else None
    if lora is not None:
        return Trainer(StableDiffusionLoRATraining(model, lora.rank, lora.alpha, config.seed, weighting), source,
                       config, out)
    model.requires_grad_(False)
    model.unet.requires_grad_(True)
    return Trainer(StableDiffusionTraining(model, weighting), source, config, out)


def train_sd_dreambooth(out: Path, config: TrainerConfig, base: Path, data: str | Path, identifier: str,
                        prior: bool = True, prior_weight: float = 1.0, class_images: int = 50,
                        lora: LoRASettings | None = None, export: Path | None = None, resume: bool = False,
                        class_data: str | Path | None = None, family: str | None = None) -> Trainer:
    """Train (or resume); with `export` write a diffusers folder, one .safetensors file, or (`lora`) a LoRA file."""
    from pixeldrift.pretrained.export import save_diffusers_folder, save_single_file

    check_settings(lora, export, prior, prior_weight, class_data)
    trainer = sd_dreambooth_trainer(out, config, base, data, identifier, prior, prior_weight, class_images, lora,
                                    class_data=class_data, family=family)
    run = {"method": "dreambooth", "base": str(base), "family": trainer.model.sd.family.name, "data": str(data),
           "identifier": check_new_word(identifier), "prior_preservation": prior,
           "prior_weight": prior_weight if prior else 0.0,
           "class_images": class_images if prior and class_data is None else 0,
           "class_data": str(class_data) if prior and class_data is not None else None,
           "lora": {"rank": lora.rank, "alpha": lora.alpha} if lora else None}

    def save(model, about: dict) -> None:
        if lora is not None:
            save_sd_lora(model, export, about)
        elif export.suffix:
            save_single_file(model, export, about)
        else:
            save_diffusers_folder(model, export, about)

    return run_sd_training(trainer, out / "dreambooth_run.json", run, config, resume,
                           None if export is None else save)

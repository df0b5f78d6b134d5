"""Training entry points: build things, loop, save. Used by `pixeldrift train` and by torchrun."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import BadFileError, read_json_object
from pixeldrift.data import ImageFolder, WorldStream
from pixeldrift.nets import (DIT_PRESETS, UNET_PRESETS, VAE, VAE_PRESETS, DiTConfig, TextEncoderConfig, UNetConfig,
                             VAEConfig, load_weights, save_weights)
from pixeldrift.nets.class_label_encoder import ClassLabelEncoderConfig, listed
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoderConfig
from pixeldrift.pipeline.model_folder import ModelConfig, load_model, save_model
from pixeldrift.pipeline.text_to_image import TextToImage, sampling_defaults_for
from pixeldrift.train.recipes import TextToImageTraining, VAETraining
from pixeldrift.train.trainer import Trainer, TrainerConfig

# The CPU default: small enough to train on a laptop, big enough to draw the world's shapes.
# Attention only at the two coarser levels: at 16x16 it would cost more than all the convolutions.
CPU_TEXT = TextEncoderConfig(max_length=64, width=128, depth=2, heads=4)


# class-label: one learned token per class of the data, the class names taken from the image folder
TEXT_ENCODERS = {"bytes": CPU_TEXT, "minilm": MiniLMTextEncoderConfig(), "class-label": None}


def cpu_unet(channels: int, context_dim: int = CPU_TEXT.width) -> UNetConfig:
    return UNetConfig(in_channels=channels, out_channels=channels, base_channels=32, channel_mults=(1, 2, 2),
                      attention_levels=(1, 2), context_dim=context_dim, norm_groups=16, head_channels=32)


# A DiT on pixels takes 4x4 patches, so 64 px still makes 256 tokens, not 1024; on latents 2x2.
PIXEL_PATCH = 4


def cpu_dit(channels: int, context_dim: int = CPU_TEXT.width, pixels: bool = False) -> DiTConfig:
    """A DiT of about the CPU UNet's size: 64 tokens on a 16x16 latent."""
    return DiTConfig(in_channels=channels, out_channels=channels, patch_size=PIXEL_PATCH if pixels else 2,
                     hidden_dim=128, depth=6, heads=4, mlp_ratio=4, context_dim=context_dim)


DENOISERS = ("unet", "dit")


def denoiser_config(kind: str, channels: int, context_dim: int, preset: str = "cpu",
                    pixels: bool = False) -> UNetConfig | DiTConfig:
    """The denoiser network: "cpu" is the laptop recipe; tiny .. large are the presets of `pixeldrift nets`.

    `pixels`: the model works on pixels (no VAE), where a DiT takes bigger patches."""
    if kind not in DENOISERS:
        raise ValueError(f"unknown denoiser {kind!r}; accepted: {', '.join(DENOISERS)}")
    if preset == "cpu":
        return cpu_unet(channels, context_dim) if kind == "unet" else cpu_dit(channels, context_dim, pixels)
    presets = UNET_PRESETS if kind == "unet" else DIT_PRESETS
    if preset not in presets:
        raise ValueError(f"unknown {kind} preset {preset!r}; accepted: cpu, {', '.join(presets)}")
    config = replace(presets[preset], in_channels=channels, out_channels=channels, context_dim=context_dim)
    if kind == "dit" and pixels:
        config = replace(config, patch_size=PIXEL_PATCH)
    return config


def init_distributed(device: str) -> None:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")


def make_data(source: str, size: int, seed: int, mix: str = "uniform", labels: bool = False):
    """The world stream (scene kinds drawn by the named mix) or an image folder (`labels`: its class names
    instead of captions)."""
    if source == "world":
        if labels:
            raise ValueError("class labels come from an image folder: --data FOLDER with one sub-folder per "
                             "class, or a label field in its metadata.jsonl; the world stream has captions")
        return WorldStream(seed=seed, size=size, mix=mix)
    return ImageFolder(source, size=size, seed=seed, labels=labels)


def vae_config(preset: str = "tiny", latent_channels: int | None = None) -> VAEConfig:
    """A named VAE preset, optionally with another number of latent channels."""
    if preset not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {preset!r}; accepted: {', '.join(VAE_PRESETS)}")
    chosen = VAE_PRESETS[preset]
    return chosen if latent_channels is None else replace(chosen, latent_channels=latent_channels)


def vae_trainer(out: Path, config: TrainerConfig, preset: str = "tiny", data: str = "world",
                size: int = 64, latent_channels: int | None = None, scene_mix: str = "uniform") -> Trainer:
    """The VAE run's trainer, its data checked whole (an image folder) before anything is trained."""
    vae = VAE(vae_config(preset, latent_channels))
    return Trainer(VAETraining(vae), make_data(data, size, config.seed, scene_mix), config, out)


def train_vae(out: Path, config: TrainerConfig, preset: str = "tiny", data: str = "world", size: int = 64,
              resume: bool = False, latent_channels: int | None = None, scene_mix: str = "uniform") -> Path:
    init_distributed(config.device)
    trainer = vae_trainer(out, config, preset, data, size, latent_channels, scene_mix)
    if resume:
        trainer.resume()
    trainer.fit()
    ema_vae = trainer.ema.model.vae
    scale = latent_scale(ema_vae, make_data(data, size, config.seed + 1))
    final = VAE(VAEConfig.from_dict({**ema_vae.cfg.to_dict(), "latent_scale": scale}))
    final.load_state_dict(ema_vae.state_dict())
    if trainer.rank == 0:
        save_weights(final, out / "vae.safetensors")
        (out / "vae_config.json").write_text(final.cfg.to_json() + "\n")
    return out


def check_run(trainer: Trainer, resume: bool) -> str:
    """What `pixeldrift train ... --check` reports once data, model and (with --resume) the checkpoint
    have been checked, without training or writing anything."""
    if resume:
        trainer.resume()
    parameters = list(trainer.model.parameters())
    total = sum(p.numel() for p in parameters)
    trained = sum(p.numel() for p in parameters if p.requires_grad)
    data = trainer.data
    source = "the world stream" if not isinstance(data, ImageFolder) else \
        f"{len(data.rows)} captioned images in {data.folder}" if data.classes is None else \
        f"{len(data.rows)} images of {len(data.classes)} classes in {data.folder}"
    return (f"ok: {source}; {total / 1e6:.2f}M parameters, {trained / 1e6:.2f}M trained; "
            f"{'resumes at step ' + str(trainer.step) if resume else 'starts at step 0'} of {trainer.config.steps}")


@torch.no_grad()
def latent_scale(vae: VAE, data, samples: int = 512) -> float:
    """1 / std of the latents, so diffusion sees unit-variance data (Rombach et al. 2022, section 4.3.2)."""
    images, _ = data.batch(list(range(samples)))
    return float(1.0 / vae.encode(images).mean.std())


def load_trained_vae(folder: Path) -> VAE:
    """The VAE of a `train vae` folder, or of a model folder (a new denoiser can reuse a shipped VAE)."""
    config_path = folder / "vae_config.json"
    if not config_path.is_file() and (folder / "config.json").is_file():
        vae = load_model(folder).vae
        if vae is None:
            raise ValueError(f"{folder}: this model works on pixels and has no VAE to reuse")
        return vae
    if not config_path.is_file():
        raise ValueError(f"{folder}: no vae_config.json; train a VAE first with `pixeldrift train vae`")
    data = read_json_object(config_path)  # bounded in size, an object
    try:
        vae = VAE(VAEConfig.from_dict(data))
    except (TypeError, ValueError) as error:
        raise BadFileError(f"{config_path}: {error}") from None
    load_weights(vae, folder / "vae.safetensors")
    return vae


@dataclass(frozen=True)
class ModelChoice:
    """What `pixeldrift train t2i` builds, by the names its options take."""

    text_encoder: str = "minilm"         # minilm | bytes | class-label
    denoiser: str = "unet"               # unet | dit
    denoiser_preset: str = "cpu"         # cpu | tiny | small | base | large
    parameterization: str = "edm"        # edm | eps | v | flow
    vp_schedule: str = "scaled_linear"   # eps and v: linear | scaled_linear | cosine
    name: str = "pixeldrift-cpu"


def text_encoder_config(name: str, classes: tuple[str, ...] | None = None):
    """The text encoder by its option name; class-label needs the class names (of the data)."""
    if name not in TEXT_ENCODERS:
        raise ValueError(f"unknown text encoder {name!r}; accepted: {', '.join(TEXT_ENCODERS)}")
    if name != "class-label":
        return TEXT_ENCODERS[name]
    if not classes:
        raise ValueError("the class-label encoder needs class names: train it on a labelled image folder")
    return ClassLabelEncoderConfig(classes=tuple(classes), width=CPU_TEXT.width)


def text_to_image_config(vae: VAE | None, size: int, choice: ModelChoice = ModelChoice(),
                         classes: tuple[str, ...] | None = None) -> ModelConfig:
    """The architecture the training command builds: latent (with a VAE) or pixel space; `classes` names
    the classes of a class-label model."""
    text_config = text_encoder_config(choice.text_encoder, classes)
    channels = vae.cfg.latent_channels if vae is not None else 3
    denoiser = denoiser_config(choice.denoiser, channels, text_config.width, choice.denoiser_preset, vae is None)
    return ModelConfig(name=choice.name, image_size=size, text_encoder=text_config, denoiser=denoiser,
                       vae=vae.cfg if vae is not None else None, sigma_data=0.5 if vae is None else 1.0,
                       parameterization=choice.parameterization, vp_schedule=choice.vp_schedule,
                       sampling=sampling_defaults_for(choice.parameterization, choice.vp_schedule))


def architecture_of(config: ModelConfig) -> dict[str, str]:
    """The training command's names for a model's text encoder, network and objective."""
    kinds = {MiniLMTextEncoderConfig: "minilm", ClassLabelEncoderConfig: "class-label"}
    return {"text_encoder": kinds.get(type(config.text_encoder), "bytes"),
            "denoiser": "unet" if isinstance(config.denoiser, UNetConfig) else "dit",
            "parameterization": config.parameterization, "vp_schedule": config.vp_schedule}


def initial_model(vae_dir: Path | None, size: int, choice: ModelChoice, init: Path | None = None,
                  classes: tuple[str, ...] | None = None) -> TextToImage:
    """A new model of the given architecture (`classes`: of a class-label model), or (with `init`) a model
    folder's, weights and all, to train on."""
    if init is None:
        vae = load_trained_vae(vae_dir) if vae_dir is not None else None
        model = TextToImage(text_to_image_config(vae, size, choice, classes))
        if vae is not None:
            model.vae.load_state_dict(vae.state_dict())
        return model
    if vae_dir is not None:
        raise ValueError("init trains on from a model folder, VAE included; give no vae_dir")
    model = load_model(init).train()
    if model.config.image_size != size:
        side = model.config.image_size
        raise ValueError(f"{init} makes {side} px images; train it with --size {side}")
    return model


def text_to_image_trainer(out: Path, config: TrainerConfig, vae_dir: Path | None, data: str = "world",
                          size: int = 64, choice: ModelChoice = ModelChoice(), init: Path | None = None,
                          on_eval=None, eval_every: int = 0, scene_mix: str = "uniform",
                          caption_dropout: float = 0.1) -> Trainer:
    """The text-to-image run's trainer: the model built and the data checked whole, nothing trained yet.

    A class-label model reads its classes from the data (an --init model's must include the data's);
    `caption_dropout` of the captions or labels are replaced by the empty prompt, the uncond of guidance."""
    if init is None:
        source = make_data(data, size, config.seed, scene_mix, labels=choice.text_encoder == "class-label")
        model = initial_model(vae_dir, size, choice, classes=getattr(source, "classes", None))
    else:
        model = initial_model(vae_dir, size, choice, init)
        known = getattr(model.config.text_encoder, "classes", None)
        source = make_data(data, size, config.seed, scene_mix, labels=known is not None)
        unknown = sorted(set(source.classes) - set(known)) if known is not None else []
        if unknown:
            raise ValueError(f"{data}: labels {listed(unknown)} are not classes of {init} ({listed(known)})")
    return Trainer(TextToImageTraining(model, caption_dropout), source, config, out,
                   on_eval=on_eval, eval_every=eval_every)


def train_text_to_image(out: Path, config: TrainerConfig, vae_dir: Path | None, data: str = "world",
                        size: int = 64, export: Path | None = None, resume: bool = False,
                        choice: ModelChoice = ModelChoice(), init: Path | None = None,
                        on_eval=None, eval_every: int = 0, scene_mix: str = "uniform",
                        caption_dropout: float = 0.1) -> TextToImage:
    init_distributed(config.device)
    trainer = text_to_image_trainer(out, config, vae_dir, data, size, choice, init, on_eval, eval_every, scene_mix,
                                    caption_dropout)
    keep_classes(out, trainer, resume)
    if resume:
        trainer.resume()
    trainer.fit()
    shipped = trainer.ema.model.model
    if export is not None and trainer.rank == 0:
        recipe = {"trainer": asdict(config), "data": data, "scene_mix": scene_mix, "init": str(init) if init else None,
                  "caption_dropout": caption_dropout,
                  "vae": str(vae_dir) if vae_dir else None, **architecture_of(shipped.config),
                  "denoiser_preset": None if init else choice.denoiser_preset}
        save_model(shipped, export, training=recipe)
        (out / "recipe.json").write_text(json.dumps(recipe, indent=2))
    return shipped


def keep_classes(out: Path, trainer: Trainer, resume: bool) -> None:
    """A class-label run writes its class names to OUT/classes.json, and a resume checks them: the same
    number of classes under other names would load the checkpoint's tokens into the wrong classes."""
    classes = getattr(trainer.model.model.config.text_encoder, "classes", None)
    path = out / "classes.json"
    if classes is None:
        return
    if resume and path.is_file():
        before = read_json_object(path).get("classes")
        if before != list(classes):
            raise ValueError(f"{path}: this run trained on other classes than the data has now; resume with the "
                             f"same data, or start a new run")
    elif trainer.rank == 0:
        write_bytes_atomically(path, (json.dumps({"classes": list(classes)}, indent=1) + "\n").encode(),
                               make_parents=True)

"""`pixeldrift train lora`: low-rank adapters (Hu et al. 2021) for a frozen pixeldrift model, on a captioned
image folder (metadata.jsonl, or a .txt beside each image).

Only the adapters train: every weight of the base model stays as it is, bit for bit (the Trainer's
checkpoint leaves frozen parameters out, so it holds the adapters alone). By default the adapters sit on
the denoiser's attention projections, where Hu et al. put them (section 4.2, 7.1); --convolutions adds
every convolution of the denoiser, --text-encoder the attention projections of the text encoder. The
export is a kohya-layout file (pipeline/adapter_files.py) that `generate --lora FILE[:WEIGHT]` merges.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from pixeldrift.data import ImageFolder
from pixeldrift.nets.lora import add_lora, attention_projections, check_rank_and_alpha, convolutions
from pixeldrift.pipeline.adapter_files import base_of, save_lora, text_network
from pixeldrift.pipeline.model_folder import load_model
from pixeldrift.train.recipes import TextToImageTraining
from pixeldrift.train.run import init_distributed
from pixeldrift.train.run_record import keep_run_record
from pixeldrift.train.trainer import Trainer, TrainerConfig


@dataclass(frozen=True)
class LoRASettings:
    """Where the adapters go and their size: rank r and alpha (the update is scaled by alpha / r)."""

    rank: int = 4
    alpha: float = 4.0
    convolutions: bool = False    # every convolution of the denoiser too
    text_encoder: bool = False    # the text encoder's attention projections too

    def __post_init__(self) -> None:
        check_rank_and_alpha(self.rank, self.alpha)


def add_adapters(model, settings: LoRASettings, seed: int = 0) -> int:
    """Freeze every weight of `model`, then wrap the chosen layers in LoRA layers (drawn from `seed`);
    returns how many."""
    model.requires_grad_(False)
    net = model.denoiser.net
    count = len(add_lora(net, attention_projections(net) + (convolutions(net) if settings.convolutions else []),
                         settings.rank, settings.alpha, seed))
    if settings.text_encoder:
        text = text_network(model)
        count += len(add_lora(text, attention_projections(text), settings.rank, settings.alpha, seed + 1))
    return count


def caption_folder(data: str | Path, model, seed: int) -> ImageFolder:
    """The training images at the model's size; ValueError for the world stream (personalisation learns
    from a folder of one's own images)."""
    if str(data) == "world":
        raise ValueError("personalisation trains on a folder of your images: give --data FOLDER (metadata.jsonl, "
                         "or a .txt caption beside each image)")
    return ImageFolder(data, size=model.config.image_size, seed=seed)


def lora_trainer(out: Path, config: TrainerConfig, base: Path, data: str | Path,
                 settings: LoRASettings = LoRASettings(), caption_dropout: float = 0.0) -> Trainer:
    """The run's trainer: the base model loaded and frozen, its adapters added, the folder checked whole.
    `trainer.model.base_record` is what the export says about the base."""
    model = load_model(base)
    base_record = {**base_of(model), "folder": str(base)}
    add_adapters(model, settings, config.seed)
    training = TextToImageTraining(model, caption_dropout)
    training.base_record = base_record
    return Trainer(training, caption_folder(data, model, config.seed), config, out)


def train_lora(out: Path, config: TrainerConfig, base: Path, data: str | Path,
               settings: LoRASettings = LoRASettings(), export: Path | None = None, resume: bool = False,
               caption_dropout: float = 0.0, on_eval=None, eval_every: int = 0, command: str = "") -> Trainer:
    """Train (or resume) and, with `export`, write the LoRA file; returns the trainer."""
    init_distributed(config.device)
    trainer = lora_trainer(out, config, base, data, settings, caption_dropout)
    trainer.on_eval, trainer.eval_every = on_eval, eval_every
    run = {"method": "lora", "base": trainer.model.base_record, "data": str(data), **asdict(settings)}
    keep_run_record(out / "lora_run.json", run, resume, trainer.rank == 0)
    if resume:
        trainer.resume()
    trainer.fit()
    if export is not None and trainer.rank == 0:
        save_lora(trainer.ema.model.model, export, trainer.model.base_record,
                  {"method": "lora", **asdict(settings), "data": str(data), "steps_done": trainer.step,
                   "trainer": asdict(config), "command": command})
    return trainer

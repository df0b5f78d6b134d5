"""`pixeldrift train textual-inversion --base SD_CHECKPOINT`: textual inversion (Gal et al. 2023) for Stable
Diffusion 1.x, 2.x and SDXL.

The new word gets n vectors (1 by default) as new rows of each text encoder's embedding table (two for
SDXL; pretrained/clip_prompts.py), started from the embeddings of an init word's tokens spread over the
n rows (A1111's rule), and those rows are all that trains (their eq. 2): the model's own eps or v loss
(sd_lora.py StableDiffusionTraining) on captions that use the word, every network frozen. The export is
A1111's safetensors layout (pretrained/embeddings.py): emb_params (n, width), or for SDXL clip_l and
clip_g; `generate --model CHECKPOINT --embedding FILE` reads it back, its word being the file's name.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pixeldrift.data import ImageFolder
from pixeldrift.nets.minilm_text_encoder import check_new_word
from pixeldrift.pipeline.adapter_files import write_embedding_tensors
from pixeldrift.pretrained.embeddings import MAX_VECTORS, embedding_tensors
from pixeldrift.train.dreambooth import check_identifier
from pixeldrift.train.sd_lora import StableDiffusionTraining, run_sd_training
from pixeldrift.train.trainer import Trainer, TrainerConfig


def init_rows(encoder, tokenizer, init_word: str, count: int) -> torch.Tensor:
    """(count, width) starting rows: the init word's token embeddings, row k taken from token k m // count."""
    ids = tokenizer(init_word, add_special_tokens=False).input_ids
    if not ids:
        raise ValueError(f"the init word {init_word!r} has no tokens; give a word that describes the subject")
    table = encoder.get_input_embeddings()
    embedded = table(torch.tensor(ids, device=table.weight.device)).detach()  # (m, width)
    return embedded[[k * len(ids) // count for k in range(count)]]


class StableDiffusionInversionTraining(StableDiffusionTraining):
    """The loss of a frozen Stable Diffusion model in which only the new word's rows train."""

    text_trains = True

    def __init__(self, model, token: str, vectors: int = 1, init_word: str = "shape"):
        if not 1 <= vectors <= MAX_VECTORS:
            raise ValueError(f"a word has 1 to {MAX_VECTORS} vectors, got {vectors}")
        model.requires_grad_(False)
        encoder = model.prompt_encoder
        rows = [init_rows(text, tokenizer, init_word, vectors)
                for text, tokenizer in zip(encoder.text_encoders, encoder.tokenizers)]
        encoder.add_word(token, rows, trainable=True)
        super().__init__(model)
        self.token = token


def sd_inversion_trainer(out: Path, config: TrainerConfig, base: Path, data: str | Path, token: str,
                         vectors: int = 1, init_word: str = "shape", family: str | None = None) -> Trainer:
    """The run's trainer: the checkpoint opened and frozen, the word added, the image folder checked whole at
    the model's own size (every caption must use the word)."""
    from pixeldrift.pretrained import open_model

    token = check_new_word(token)
    model = open_model(base, family=family)
    folder = ImageFolder(data, size=model.limits.default_width, seed=config.seed)
    check_identifier(folder, token)
    return Trainer(StableDiffusionInversionTraining(model, token, vectors, init_word), folder, config, out)


def train_sd_textual_inversion(out: Path, config: TrainerConfig, base: Path, data: str | Path, token: str,
                               vectors: int = 1, init_word: str = "shape", family: str | None = None,
                               export: Path | None = None, resume: bool = False) -> Trainer:
    """Train (or resume) and, with `export`, write the embedding in A1111's safetensors layout."""
    if export is not None and export.suffix.lower() != ".safetensors":
        raise ValueError(f"--export {export}: an embedding is written as a .safetensors file")
    trainer = sd_inversion_trainer(out, config, base, data, token, vectors, init_word, family)
    token = trainer.model.token
    run = {"method": "textual-inversion", "base": str(base), "family": trainer.model.sd.family.name,
           "data": str(data), "token": token, "vectors": vectors, "init_word": init_word}

    def save(model, about: dict) -> None:
        write_embedding_tensors(export, embedding_tensors(model, token), {"token": token, **about})

    return run_sd_training(trainer, out / "inversion_run.json", run, config, resume,
                           None if export is None else save)

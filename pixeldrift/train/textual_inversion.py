"""`pixeldrift train textual-inversion`: textual inversion (Gal et al. 2023) for a pixeldrift model.

A new word (the pseudo-word S*, e.g. "sks") is added to the text encoder's vocabulary with the
embedding of a coarse descriptor ("shape") as its start, and that one embedding vector is all that
trains (their eq. 2, nets/new_tokens.py): the denoising loss on captions that use the word, every
network frozen. The export holds the vector alone (A1111's embedding layout, pipeline/adapter_files.py),
a 1.6 KB file; `generate --embedding FILE` adds the word back. Needs the MiniLM text encoder, whose
table a row can be added to (the default model's).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder, check_new_word
from pixeldrift.pipeline.adapter_files import base_of, save_embedding
from pixeldrift.pipeline.model_folder import load_model
from pixeldrift.train.dreambooth import check_identifier
from pixeldrift.train.lora import caption_folder
from pixeldrift.train.recipes import TextToImageTraining
from pixeldrift.train.run import init_distributed
from pixeldrift.train.run_record import keep_run_record
from pixeldrift.train.trainer import Trainer, TrainerConfig


def inversion_trainer(out: Path, config: TrainerConfig, base: Path, data: str | Path, token: str,
                      init_word: str = "shape") -> Trainer:
    """The run's trainer: every weight of the base frozen, `token` added with `init_word`'s embedding,
    the folder checked whole (every caption must use the token)."""
    token = check_new_word(token)
    model = load_model(base)
    encoder = model.text_encoder
    if not isinstance(encoder, MiniLMTextEncoder):
        raise ValueError(f"{base}: textual inversion needs the MiniLM text encoder; this model has "
                         f"{type(encoder).__name__}")
    base_record = {**base_of(model), "folder": str(base)}
    data_source = caption_folder(data, model, config.seed)
    check_identifier(data_source, token)
    model.requires_grad_(False)
    encoder.add_token(token, encoder.token_embedding(init_word))
    training = TextToImageTraining(model, caption_dropout=0.0)
    training.base_record = base_record
    return Trainer(training, data_source, config, out)


def learned_embedding(model):
    """The vector of the token the run added (the last new row of the table)."""
    return model.text_encoder.model.embeddings.word.new[-1]


def train_textual_inversion(out: Path, config: TrainerConfig, base: Path, data: str | Path, token: str,
                            init_word: str = "shape", export: Path | None = None, resume: bool = False,
                            on_eval=None, eval_every: int = 0, command: str = "") -> Trainer:
    """Train (or resume) and, with `export`, write the embedding file."""
    init_distributed(config.device)
    trainer = inversion_trainer(out, config, base, data, token, init_word)
    trainer.on_eval, trainer.eval_every = on_eval, eval_every
    recipe = {"method": "textual-inversion", "base": trainer.model.base_record, "data": str(data),
              "token": check_new_word(token), "init_word": init_word}
    keep_run_record(out / "inversion_run.json", recipe, resume, trainer.rank == 0)
    if resume:
        trainer.resume()
    trainer.fit()
    if export is not None and trainer.rank == 0:
        save_embedding(export, recipe["token"], learned_embedding(trainer.ema.model.model),
                       {**recipe, "steps_done": trainer.step, "trainer": asdict(config), "command": command})
    return trainer

"""`pixeldrift train dreambooth`: DreamBooth (Ruiz et al. 2023) for a pixeldrift model.

A few images of one subject, each captioned with a rare identifier word before the class noun
("a red sks shape"), teach the model that the identifier means this subject. Fine-tuning on them
alone makes the class noun itself drift towards the subject ("a red shape" draws it too: the
paper's language drift). Prior preservation (their eq. 2, train/recipes.py DreamBoothTraining)
counters it: the frozen base model first draws class images from the same captions without the
identifier, and every batch trains on both, half and half.

The whole denoiser is fine-tuned (exported as a model folder), or with `lora` only low-rank adapters
(exported as a LoRA file). Class images are generated once into OUT/class-images (reused by a resume),
or given as a captioned folder (`class_data`: real images of the class, the "regularisation images"
kohya's trainers take), which preserves the prior the data shows rather than what the base model draws.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import read_json_object
from pixeldrift.data import ImageFolder
from pixeldrift.data.examples import ExampleSource
from pixeldrift.data.image_folder import refuse_problems
from pixeldrift.nets.minilm_text_encoder import check_new_word
from pixeldrift.pipeline.adapter_files import base_of, save_lora
from pixeldrift.pipeline.model_folder import load_model, save_model
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.train.lora import LoRASettings, add_adapters, caption_folder
from pixeldrift.train.recipes import DreamBoothTraining
from pixeldrift.train.run import init_distributed
from pixeldrift.train.run_record import keep_run_record
from pixeldrift.train.trainer import Trainer, TrainerConfig

MAX_CLASS_IMAGES = 10_000
CLASS_BATCH = 16


def check_identifier(data: ImageFolder, identifier: str, present: bool = True) -> None:
    """DatasetError naming every image whose caption lacks the identifier as a word of its own (`present`),
    or, for class images (`present` False), every one whose caption names it."""
    problems = [f"{name}: the caption {text[:60]!r} {'does not name' if present else 'names'} {identifier!r}"
                for name, text in data.rows if (identifier in text.split()) != present]
    refuse_problems(data.folder, problems, f"captions {'without' if present else 'with'} the identifier "
                                           f"{identifier!r}")


def class_caption(caption: str, identifier: str) -> str:
    """The caption of the class image: the subject's caption with its identifier taken out."""
    return " ".join(word for word in caption.split() if word != identifier)


@torch.no_grad()
def generate_class_images(model, prompts: list[str], count: int, folder: Path, seed: int = 0) -> Path:
    """`count` images from the base `model` (prompt i % len(prompts), seed seed + i) as a captioned folder;
    a folder already holding the same set (same prompts, count, seed and base) is reused."""
    if not 1 <= count <= MAX_CLASS_IMAGES:
        raise ValueError(f"class images: give 1 to {MAX_CLASS_IMAGES}, got {count}")
    record = {"prompts": prompts, "count": count, "seed": seed, "base": base_of(model)["denoiser_sha256"]}
    if (folder / "class_images.json").is_file() and read_json_object(folder / "class_images.json") == record:
        return folder
    jobs = [(prompts[i % len(prompts)], seed + i) for i in range(count)]
    side = model.limits.default_width
    settings = GenerationRequest(prompt="-", width=side, height=side)
    lines = []
    for start in range(0, count, CLASS_BATCH):
        batch = jobs[start:start + CLASS_BATCH]
        images = model.sample([p for p, _ in batch], [s for _, s in batch], settings)
        for (prompt, image_seed), image in zip(batch, images):
            name = f"class-{image_seed:05d}.png"
            folder.mkdir(parents=True, exist_ok=True)
            image.save(folder / name)  # training data for this run, not a published image: no label
            lines.append(json.dumps({"file_name": name, "text": prompt}))
    write_bytes_atomically(folder / "metadata.jsonl", ("\n".join(lines) + "\n").encode())
    write_bytes_atomically(folder / "class_images.json", json.dumps(record).encode())
    return folder


class SubjectAndClass(ExampleSource):
    """Even indices: the subject's images in turn; odd ones: the class images in turn (half and half)."""

    def __init__(self, subject: ImageFolder, prior: ImageFolder):
        self.subject, self.prior = subject, prior

    def example(self, index: int) -> tuple[np.ndarray, str]:
        return (self.subject if index % 2 == 0 else self.prior).example(index // 2)


def training_examples(model, subject: ImageFolder, identifier: str, out: Path, seed: int, prior: bool = True,
                      class_images: int = 50, make_class_images: bool = True,
                      class_data: str | Path | None = None) -> ExampleSource:
    """The subject's images, and with `prior` class images in every other slot: read from `class_data` (checked
    whole, even by a --check) or drawn by the base `model` into OUT/class-images. `make_class_images` False
    (a --check) gives the subject alone and writes nothing."""
    size = model.limits.default_width
    if prior and class_data is not None:
        given = ImageFolder(class_data, size=size, seed=seed)
        check_identifier(given, identifier, present=False)
        return SubjectAndClass(subject, given) if make_class_images else subject
    if prior and make_class_images:
        prompts = list(dict.fromkeys(class_caption(text, identifier) for _, text in subject.rows))
        folder = generate_class_images(model, prompts, class_images, out / "class-images", seed)
        return SubjectAndClass(subject, ImageFolder(folder, size=size, seed=seed))
    return subject


def dreambooth_trainer(out: Path, config: TrainerConfig, base: Path, data: str | Path, identifier: str,
                       prior: bool = True, prior_weight: float = 1.0, class_images: int = 50,
                       lora: LoRASettings | None = None, make_class_images: bool = True,
                       class_data: str | Path | None = None) -> Trainer:
    """The run's trainer; with `prior` (and `make_class_images`) the class images are generated first, or
    read from `class_data` (checked whole, like the subject's folder, even by a --check).
    `make_class_images` False (a --check) trains on the subject alone and writes nothing."""
    identifier = check_new_word(identifier)
    model = load_model(base)
    base_record = {**base_of(model), "folder": str(base)}
    subject = caption_folder(data, model, config.seed)
    check_identifier(subject, identifier)
    source = training_examples(model, subject, identifier, out, config.seed, prior, class_images, make_class_images,
                               class_data)
    if lora is not None:
        add_adapters(model, lora, config.seed)
    else:
        model.requires_grad_(False)
        model.denoiser.requires_grad_(True)
    training = DreamBoothTraining(model, identifier, prior_weight if prior else 0.0)
    training.base_record = base_record
    return Trainer(training, source, config, out)


def train_dreambooth(out: Path, config: TrainerConfig, base: Path, data: str | Path, identifier: str,
                     prior: bool = True, prior_weight: float = 1.0, class_images: int = 50,
                     lora: LoRASettings | None = None, export: Path | None = None, resume: bool = False,
                     on_eval=None, eval_every: int = 0, command: str = "",
                     class_data: str | Path | None = None) -> Trainer:
    """Train (or resume); with `export` write a model folder (full fine-tune) or a LoRA file (`lora`)."""
    init_distributed(config.device)
    if export is not None and lora is not None and export.suffix != ".safetensors":
        raise ValueError(f"--export {export}: a DreamBooth LoRA is written as a .safetensors file")
    if export is not None and lora is None and export.suffix:
        raise ValueError(f"--export {export}: a fully fine-tuned model is written as a model folder, not a file")
    if class_data is not None and not prior:
        raise ValueError("class images are for prior preservation: leave out either the class data or no-prior")
    trainer = dreambooth_trainer(out, config, base, data, identifier, prior, prior_weight, class_images, lora,
                                 class_data=class_data)
    trainer.on_eval, trainer.eval_every = on_eval, eval_every
    recipe = {"method": "dreambooth", "base": trainer.model.base_record, "data": str(data), "identifier": identifier,
              "prior_preservation": prior, "prior_weight": prior_weight if prior else 0.0,
              "class_images": class_images if prior and class_data is None else 0,
              "class_data": str(class_data) if prior and class_data is not None else None,
              "lora": asdict(lora) if lora else None}
    keep_run_record(out / "dreambooth_run.json", recipe, resume, trainer.rank == 0)
    if resume:
        trainer.resume()
    trainer.fit()
    if export is not None and trainer.rank == 0:
        about = {**recipe, "steps_done": trainer.step, "trainer": asdict(config), "command": command}
        model = trainer.ema.model.model
        if lora is not None:
            save_lora(model, export, trainer.model.base_record, about)
        else:
            model.config = replace(model.config, name=f"{model.name}-dreambooth")
            save_model(model, export, training=about)
    return trainer


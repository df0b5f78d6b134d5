"""What the trainer looks at every N steps: a grid of samples and the compositional accuracy."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from pixeldrift.evaluate.compose import ComposeSettings, load_prompts, model_generator, overall, run_compose, score
from pixeldrift.pipeline.contact_sheet import contact_sheet
from pixeldrift.pipeline.text_to_image import GenerationRequest
from pixeldrift.provenance.label import save_labelled_png
from pixeldrift.provenance.record import GenerationRecord

GRID_PROMPTS = ("three red circles", "a blue square to the left of a yellow star", "an analog clock showing 3:00",
                "a sign that says HI", "two glasses: empty and full", "a green triangle above a purple diamond",
                "five orange crosses", "a large cyan circle")


def evaluation_hook(out_dir: Path, prompts_per_eval: int = 60, size: int = 64):
    """Returns on_eval(step, ema_training_module): writes samples-STEP.png and appends to eval.csv (a
    class-conditional model: samples of its first classes only)."""
    held_out = load_prompts("heldout")[:prompts_per_eval]

    def on_eval(step: int, ema_module) -> None:
        model = ema_module.model.eval()
        classes = getattr(model.config.text_encoder, "classes", None)
        prompts = list(classes[:len(GRID_PROMPTS)] if classes else GRID_PROMPTS)
        settings = GenerationRequest(prompt="-", width=size, height=size)
        images = model.sample(prompts, list(range(len(prompts))), settings)
        record = GenerationRecord(prompt=" | ".join(prompts), steps=20, model=f"training step {step}",
                                  width=size, height=size)
        save_labelled_png(contact_sheet(images), out_dir / f"samples-{step:06d}.png", record, watermark=False)
        if classes:  # a class-conditional model takes class names, not the benchmark's prompts
            return
        results, _failures = run_compose(model_generator(model, size), held_out,
                              ComposeSettings(model="training", prompts="heldout", size=size, seeds=(0,)))
        accuracy = overall(score(results))
        path = out_dir / "eval.csv"
        fresh = not path.exists()
        with open(path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if fresh:
                writer.writerow(["step", "heldout_accuracy", "prompts"])
            writer.writerow([step, f"{accuracy:.4f}", len(held_out)])
    return on_eval


def prompt_samples_hook(out_dir: Path, prompt: str, count: int = 4):
    """Returns on_eval(step, ema_training_module): writes samples-STEP.png, `count` seeds of one fixed prompt
    (what a personalisation run shows as it learns its subject)."""
    def on_eval(step: int, ema_module) -> None:
        model = ema_module.model.eval()
        size = model.config.image_size
        with torch.no_grad():
            images = model.sample([prompt] * count, list(range(count)), GenerationRequest(prompt="-", width=size,
                                                                                          height=size))
        record = GenerationRecord(prompt=prompt, steps=20, model=f"training step {step}", width=size, height=size)
        save_labelled_png(contact_sheet(images), out_dir / f"samples-{step:06d}.png", record, watermark=False)
    return on_eval

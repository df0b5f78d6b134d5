"""Class-conditional models on world data: class folders the world draws, and class accuracy by its verifier.

A class name is read as a world prompt ("three stars"), else as "a NAME" ("circle" -> a circle),
else as "a NAME shape" ("red" -> a red shape); its scene leaves the rest to chance (colour, size,
background, position), so a class folder holds every such scene of the class. A sample "shows its
class" when the verifier accepts it for that scene: exactly the objects the class names, as in
`pixeldrift bench compose`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pixeldrift import world
from pixeldrift.pipeline.request import GenerationRequest

WORLD_CLASSES = {"shape": ("circle", "square", "triangle", "star"), "colour": ("red", "green", "blue", "yellow")}
MAX_PER_CLASS = 100_000


def class_scene(name: str) -> world.Scene:
    """The world scene a class name stands for; ValueError when the world cannot read it."""
    for prompt in (name, f"a {name}", f"a {name} shape"):
        try:
            return world.parse_prompt(prompt)
        except world.PromptError:
            continue
    raise ValueError(f"class {name[:80]!r} is not a world scene: name a shape, a colour or a world prompt")


def export_class_folders(folder: str | Path, classes: tuple[str, ...], per_class: int, size: int = 32,
                         seed: int = 0) -> Path:
    """`per_class` renders of each class's scene in FOLDER/CLASS/NNNNN.png. FOLDER must not exist; it appears
    complete or not at all (written under a temporary name beside it, then renamed)."""
    folder = Path(folder)
    scenes = {name: class_scene(name) for name in classes}
    if not 1 <= per_class <= MAX_PER_CLASS:
        raise ValueError(f"per_class must be from 1 to {MAX_PER_CLASS}, got {per_class}")
    if folder.exists():
        raise ValueError(f"{folder} already exists; export into a new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for index, (name, scene) in enumerate(scenes.items()):
            (staging / name).mkdir()
            for i in range(per_class):
                image = world.render(scene, size, seed * 1_000_003 + index * MAX_PER_CLASS + i)
                Image.fromarray(image).save(staging / name / f"{i:05d}.png")
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


@dataclass(frozen=True)
class ClassAccuracy:
    guidance: float
    correct: int
    total: int
    per_class: dict[str, tuple[int, int]]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total


def class_accuracy(model, guidance: float, samples: int, steps: int = 20, seed: int = 0,
                   batch: int = 64) -> ClassAccuracy:
    """Sample `samples` images of each of a class-conditional model's classes at one guidance scale (seeds
    seed .. seed + samples - 1, the same for every class and scale) and count those the verifier accepts."""
    classes = model.config.text_encoder.classes
    size = model.config.image_size
    settings = GenerationRequest(prompt="-", guidance=guidance, steps=steps, width=size, height=size)
    per_class = {}
    for name in classes:
        scene, ok = class_scene(name), 0
        for start in range(0, samples, batch):
            seeds = list(range(seed + start, seed + min(samples, start + batch)))
            images = model.sample([name] * len(seeds), seeds, settings)
            ok += sum(world.verify(image, scene).ok for image in images)
        per_class[name] = (ok, samples)
    correct = sum(ok for ok, _ in per_class.values())
    return ClassAccuracy(guidance, correct, samples * len(classes), per_class)

"""Spot the AI: the two kinds of picture a detector learns to tell apart, made and cached.

"Real" pictures are the world's renders (world/render.py); "generated" ones come from a
text-to-image model asked for the same scenes, so both classes show the same content and
only the way the pixels were made differs. Each source is one model and sampler setting;
the detector trains on one and is evaluated on the others (docs/spot_the_ai.md).
Generated pixels are taken straight from the pipeline, before any watermark or label.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.world.caption import caption
from pixeldrift.world.render import render
from pixeldrift.world.sample import sample_spec

SIZE = 64
BATCH = 16
BLOCK = 50
MAX_COUNT = 5000
CACHE = Path("runs/spot")


@dataclass(frozen=True)
class Source:
    """Where pictures come from: the world's renderer, or a model folder under one sampler setting."""

    kind: str                       # "real" or "model"
    model: str = "models/default"
    sampler: str = "dpmpp_2m"
    steps: int = 20
    guidance: float | None = None   # None: the model's own
    plan: str | None = None         # a layout ControlNet folder: plan-then-draw (pipeline/plan.py)

    @property
    def label(self) -> int:
        return 0 if self.kind == "real" else 1


SOURCES: dict[str, Source] = {
    "real": Source("real"),
    "dpmpp_2m-20": Source("model"),                                   # the training source
    "euler_a-30": Source("model", sampler="euler_ancestral", steps=30),
    "ddim-10": Source("model", sampler="ddim", steps=10),
    "dpmpp_2m-20-g8": Source("model", guidance=8.0),
    "plan-cn-layout": Source("model", plan="models/cn-layout"),
}
TRAIN_SOURCE = "dpmpp_2m-20"


def scene(seed: int):
    """The scene of picture `seed` and its caption: the same for every source."""
    spec = sample_spec(random.Random(seed))
    return spec, caption(spec, random.Random(seed).choice(("plain", "long", "short")))


def source_named(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"source: {name!r} is not known; accepted: {', '.join(SOURCES)}")
    return SOURCES[name]


def make_pictures(source: Source, seeds: list[int]) -> np.ndarray:
    """(N, SIZE, SIZE, 3) uint8 pictures of the scenes of `seeds` from `source`."""
    if source.kind == "real":
        return np.stack([render(scene(s)[0], SIZE, s) for s in seeds])
    from pixeldrift.pipeline import GenerationRequest, load_model
    from pixeldrift.pipeline.plan import plan_control, plan_from_prompt

    model = load_model(source.model)
    request = GenerationRequest(prompt="-", steps=source.steps, sampler=source.sampler, guidance=source.guidance,
                                width=SIZE, height=SIZE)
    controlnet = None
    if source.plan is not None:
        from pixeldrift.pretrained import open_controlnet
        controlnet = open_controlnet(source.plan, base=model)
    out = []
    for start in range(0, len(seeds), BATCH):
        batch = seeds[start:start + BATCH]
        prompts = [scene(s)[1] for s in batch]
        r = request
        if controlnet is not None:
            plans = [plan_from_prompt(p, s, SIZE, controlnet.kind) for p, s in zip(prompts, batch)]
            r = replace(request, controls=(plan_control(plans, controlnet),))
        out += [np.asarray(image.convert("RGB")) for image in model.sample(prompts, batch, r)]
    return np.stack(out)


def cached_pictures(name: str, first_seed: int, count: int, cache: Path = CACHE) -> np.ndarray:
    """make_pictures, cached in `cache` as safetensors (uint8) blocks of BLOCK pictures, so a source is
    generated once and an interrupted run keeps the blocks it finished."""
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count: {count} pictures asked for; accepted: 1 to {MAX_COUNT}")
    blocks = []
    for start in range(first_seed, first_seed + count, BLOCK):
        size = min(BLOCK, first_seed + count - start)
        path = Path(cache) / f"{name}-{start}-{size}.safetensors"
        if not path.is_file():
            pictures = make_pictures(source_named(name), list(range(start, start + size)))
            write_bytes_atomically(path, save({"pictures": torch.from_numpy(pictures)}), make_parents=True)
        blocks.append(load_file(path)["pictures"].numpy())
    return np.concatenate(blocks)

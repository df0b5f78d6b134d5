"""`pixeldrift train controlnet`: a ControlNet (Zhang et al. 2023) for a frozen model, on the world stream.

Every training scene's control map is drawn from the same scene as its picture
(pipeline/control_maps.world_control), so the data costs nothing but rendering. The
run resumes exactly like the others (the Trainer's checkpoint holds only the
ControlNet: the base model is frozen), and it exports a ControlNet folder
(pipeline/controlnet_folder.py) that names its base model.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import read_json_object
from pixeldrift.data import WorldStream
from pixeldrift.data.examples import images_to_tensor
from pixeldrift.pipeline.control_maps import check_kind, world_control
from pixeldrift.pipeline.controlnet_folder import base_record, load_controlnet, new_controlnet, save_controlnet
from pixeldrift.pipeline.model_folder import load_model
from pixeldrift.train.recipes import ControlNetTraining
from pixeldrift.train.run import init_distributed
from pixeldrift.train.trainer import Trainer, TrainerConfig


class WorldControlStream:
    """The world stream with each scene's control map: batch() -> ((N, 6, H, W), captions), the picture in
    [-1, 1] then its `kind` map in [0, 1] (what ControlNetTraining reads)."""

    def __init__(self, kind: str, seed: int = 0, size: int = 64, mix: str = "uniform"):
        self.kind, self.stream = check_kind(kind), WorldStream(seed=seed, size=size, mix=mix)

    def example(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        image, text, spec, seed = self.stream.scene(index)
        return image, world_control(self.kind, spec, self.stream.size, seed, image), text

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, list[str]]:
        images, maps, captions = zip(*(self.example(i) for i in indices))
        hints = (images_to_tensor(list(maps)) + 1) / 2
        return torch.cat([images_to_tensor(list(images)), hints], dim=1), list(captions)


def controlnet_trainer(out: Path, config: TrainerConfig, base: Path, kind: str, scene_mix: str = "uniform",
                       caption_dropout: float = 0.5, init: Path | None = None) -> Trainer:
    """The run's trainer: the base model loaded and frozen, the ControlNet copied from its UNet, or with
    `init` the weights of an exported ControlNet folder of the same kind for the same base (to train on)."""
    model = load_model(base)
    controlnet = new_controlnet(model) if init is None else initial_controlnet(init, model, kind)
    data = WorldControlStream(kind, config.seed, model.config.image_size, scene_mix)
    return Trainer(ControlNetTraining(model, controlnet, caption_dropout), data, config, out)


def initial_controlnet(folder: Path, model, kind: str):
    """A trainable copy of the ControlNet in `folder`; ValueError unless it steers `model` with `kind` maps."""
    loaded = load_controlnet(folder)
    loaded.check_base(model)
    if loaded.kind != kind:
        raise ValueError(f"--init {folder} holds a ControlNet for {loaded.kind} maps and this run trains one for "
                         f"{kind} maps; train on from a {kind} folder or leave out --init")
    return loaded.net.requires_grad_(True).train()


def keep_run(out: Path, trainer: Trainer, run: dict, resume: bool) -> None:
    """OUT/controlnet_run.json records the base model and the kind; a resume must have the same."""
    path = out / "controlnet_run.json"
    if resume and path.is_file():
        before = read_json_object(path)
        if before != run:
            was = before.get("base") if isinstance(before.get("base"), dict) else {}
            raise ValueError(f"{path}: this run trained a {before.get('kind')} ControlNet for {was.get('folder')} "
                             f"(denoiser {str(was.get('denoiser_sha256'))[:12]}), not a {run['kind']} one for "
                             f"{run['base']['folder']} (denoiser {run['base']['denoiser_sha256'][:12]}); resume "
                             "with the same --base and --control, or start a new run")
    elif trainer.rank == 0:
        write_bytes_atomically(path, (json.dumps(run, indent=1) + "\n").encode(), make_parents=True)


def train_controlnet(out: Path, config: TrainerConfig, base: Path, kind: str, export: Path | None = None,
                     resume: bool = False, scene_mix: str = "uniform", caption_dropout: float = 0.5,
                     command: str = "", init: Path | None = None):
    """Train (or resume) and, with `export`, write the ControlNet folder; returns the EMA ControlNet."""
    init_distributed(config.device)
    trainer = controlnet_trainer(out, config, base, kind, scene_mix, caption_dropout, init)
    model = trainer.model.base.model
    run = {"kind": kind, "base": base_record(model, base)}
    keep_run(out, trainer, run, resume)
    if resume:
        trainer.resume()
    trainer.fit()
    shipped = trainer.ema.model.controlnet
    if export is not None and trainer.rank == 0:
        training = {"trainer": asdict(config), "scene_mix": scene_mix, "caption_dropout": caption_dropout,
                    "steps_done": trainer.step, "init": str(init) if init is not None else None,
                    "command": command}
        save_controlnet(shipped, export, kind, run["base"], training)
    return shipped

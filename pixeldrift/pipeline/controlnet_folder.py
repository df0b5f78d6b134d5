"""A trained ControlNet on disk, beside the model it steers:

    config.json              format, control kind, the ControlNet's config, and the base model it was
                             trained on: its name, folder and the SHA-256 of its denoiser's weights
    controlnet.safetensors   the ControlNet's (EMA) weights
    README.md                a short card: kind, base, the command that trained it

A ControlNet is a copy of one UNet's encoder, so it is only opened for that UNet: a
folder for another base model is refused, naming both.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from pixeldrift.bounded_files import BadFileError, inside, read_json_object
from pixeldrift.nets import UNet, WeightsError, load_weights, save_weights
from pixeldrift.nets.controlnet import ControlNet, ControlNetConfig
from pixeldrift.nets.io import describe_mismatch, header_state
from pixeldrift.pipeline.control_maps import CONTROL_KINDS, check_kind
from pixeldrift.pipeline.model_folder import _swap_in, read_folder_config

FORMAT = "pixeldrift-controlnet/1"
WEIGHTS = "controlnet.safetensors"


def denoiser_fingerprint(model) -> str:
    """SHA-256 of a model's denoiser weights (names, shapes and float32 values, in name order)."""
    return net_fingerprint(model.denoiser.net)


def net_fingerprint(net) -> str:
    """SHA-256 of a network's weights (names, shapes and float32 values, in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def base_record(model, folder: str | Path | None) -> dict:
    """What a ControlNet folder says about the model it was trained on."""
    return {"name": model.name, "folder": str(folder) if folder is not None else None,
            "denoiser_sha256": denoiser_fingerprint(model)}


@dataclass
class ControlModel:
    """A loaded ControlNet folder: the network, its control kind and the base model it belongs to."""

    net: ControlNet
    kind: str
    base: dict
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    def check_base(self, model) -> None:
        """ValueError naming both models unless `model` is the one this ControlNet was trained on."""
        if not isinstance(getattr(getattr(model, "denoiser", None), "net", None), UNet):
            raise ValueError(f"the ControlNet {self.folder} steers pixeldrift's UNet model "
                             f"{self.base.get('name')!r}; {getattr(model, 'name', 'this model')!r} is another kind")
        self._refuse_other_unet(model.denoiser.net, f"not on {model.name!r}", "use it with its own base model")

    def check_spatial_base(self, video) -> None:
        """ValueError unless the video model's spatial layers are the UNet this ControlNet was trained on (a
        video model grown from that image model with its spatial layers kept: `train video --freeze-spatial`)."""
        spatial = getattr(getattr(getattr(video, "denoiser", None), "net", None), "spatial", None)
        if not isinstance(spatial, UNet):
            raise ValueError(f"the ControlNet {self.folder} steers a video model's spatial UNet; "
                             f"{getattr(video, 'name', 'this model')!r} has none")
        self._refuse_other_unet(spatial, "but this video model's spatial layers are another UNet",
                                "their weights moved in training; use a video model trained with --freeze-spatial "
                                "on that image model")

    def _refuse_other_unet(self, unet, whose: str, advice: str) -> None:
        """ValueError naming both UNets unless `unet`'s weights are this ControlNet's base's."""
        fingerprint, base = net_fingerprint(unet), str(self.base.get("denoiser_sha256"))
        if fingerprint != base:
            raise ValueError(f"the ControlNet {self.folder} was trained on the model {self.base.get('name')!r} "
                             f"({self.base.get('folder')}, denoiser {base[:12]}), {whose} (denoiser "
                             f"{fingerprint[:12]}); {advice}")

def new_controlnet(model, image_factor: int | None = None) -> ControlNet:
    """A ControlNet copied from a model's UNet (our own models; a DiT has no encoder to copy)."""
    unet = getattr(model.denoiser, "net", None)
    if not isinstance(unet, UNet):
        raise ValueError(f"ControlNet needs a model whose denoiser is a UNet; {model.name!r} has "
                         f"{type(unet).__name__}")
    factor = image_factor or (model.vae.cfg.downsample_factor if getattr(model, "vae", None) is not None else 1)
    return ControlNet.from_unet(unet, ControlNetConfig(unet.cfg, image_factor=factor))


def save_controlnet(net: ControlNet, folder: str | Path, kind: str, base: dict, training: dict | None = None,
                    card: str = "") -> Path:
    """Write a ControlNet folder, staged and swapped in whole."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        config = {"format": FORMAT, "kind": check_kind(kind), "controlnet": net.control_cfg.to_dict(),
                  "base": base, "training": training or {}}
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        save_weights(net, staging / WEIGHTS)
        (staging / "README.md").write_text(card or _card(kind, base, training or {}), encoding="utf-8")
        _swap_in(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _card(kind: str, base: dict, training: dict) -> str:
    command = training.get("command", "")
    return (f"# ControlNet: {kind}\n\nA ControlNet (Zhang et al. 2023) for the pixeldrift model "
            f"`{base.get('name')}` ({base.get('folder')}; denoiser SHA-256 `{base.get('denoiser_sha256')}`), "
            f"conditioned on `{kind}` control maps rendered from the world stream's scenes.\n\n"
            + (f"Trained with:\n\n    {command}\n" if command else "")
            + "\nGenerate with it:\n\n    pixeldrift generate PROMPT --model BASE --control THIS_FOLDER "
              "--control-image MAP.png\n")


def is_controlnet_folder(path: str | Path) -> bool:
    """Whether `path` is a pixeldrift ControlNet folder (its config.json of this format), not another kind."""
    config = Path(path) / "config.json"
    return config.is_file() and read_json_object(config).get("format") == FORMAT


def load_controlnet(folder: str | Path, device: str | torch.device = "cpu") -> ControlModel:
    """Open a ControlNet folder, every file checked before anything is built; BadFileError naming it otherwise."""
    folder = Path(folder)
    path, data = read_folder_config(folder, FORMAT, "ControlNet")
    if data.get("kind") not in CONTROL_KINDS or not isinstance(data.get("base"), dict):
        raise BadFileError(f"{path}: kind must be one of {', '.join(CONTROL_KINDS)} and base an object")
    try:
        config = ControlNetConfig.from_dict(data.get("controlnet"))
    except (TypeError, ValueError) as error:
        raise BadFileError(f"{path}: {error}") from None
    weights = folder / WEIGHTS
    inside(folder, weights)
    with torch.device("meta"):
        expected = ControlNet(config).state_dict()
    problems = describe_mismatch(expected, header_state(weights))
    if problems:
        raise WeightsError(f"{weights} does not match {path}: " + "; ".join(problems))
    net = ControlNet(config)
    load_weights(net, weights)
    return ControlModel(net.to(device).eval().requires_grad_(False), data["kind"], data["base"], folder)

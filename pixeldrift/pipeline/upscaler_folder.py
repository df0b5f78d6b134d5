"""A trained upscaler on disk:

    config.json              format, the UpscalerConfig (network, factor, input side, sampling defaults), training
    denoiser.safetensors     the network's (EMA) weights, float16 by default (loaded as float32)
    README.md                the model card: what it enlarges, the data, the command that trained it

Loading checks every file before anything is built, as model folders do (pipeline/model_folder.py):
the format, each config field, and the weights' names, shapes and dtypes against the config.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from pixeldrift.bounded_files import BadFileError, read_json_object
from pixeldrift.nets import WeightsError, load_weights
from pixeldrift.nets.io import describe_mismatch, header_state
from pixeldrift.nets.registry import MAX_PARAMETERS
from pixeldrift.nets.upscaler import LowResConditionedUNet
from pixeldrift.pipeline.model_folder import _weights_path, read_folder_config, write_folder
from pixeldrift.pipeline.upscaler import Upscaler, UpscalerConfig

FORMAT = "pixeldrift-upscaler/1"
WEIGHTS = "denoiser"
DTYPES = {"float16": torch.float16, "float32": torch.float32}


def save_upscaler(model: Upscaler, folder: str | Path, training: dict | None = None, dtype: str = "float16",
                  card: str | None = None) -> Path:
    """Write the folder into a temporary one, then swap it in whole; weights stored as `dtype`."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown weights dtype {dtype!r}; accepted: {', '.join(DTYPES)}")
    config = {"format": FORMAT, "upscaler": model.config.to_dict(), "weights_dtype": dtype, "training": training or {}}
    net = copy.deepcopy(model.denoiser.net).to("cpu", DTYPES[dtype])
    return write_folder(folder, config, {WEIGHTS: net}, card if card is not None else model_card(model, training))


def model_card(model: Upscaler, training: dict | None) -> str:
    c, command = model.config, (training or {}).get("command", "")
    side = c.low_res_size
    return (f"# Upscaler: {c.name}\n\nA super-resolution diffusion model (SR3, Saharia et al. 2021) that enlarges "
            f"{side}x{side} images {c.factor} times to {side * c.factor}x{side * c.factor}, trained on world scenes "
            f"rendered at {side * c.factor} px (training split) and their {c.factor}x box reductions; its network "
            + ("predicts the detail the bicubic enlargement lacks (SRDiff's residual).\n\n" if c.residual else
               "predicts the whole image.\n\n")
            + (f"Trained with:\n\n    {command}\n\n" if command else "")
            + f"Use it:\n\n    pixeldrift upscale IMAGE.png --model THIS_FOLDER -o OUT.png\n"
              f"    pixeldrift generate PROMPT --hires-scale {c.factor} --hires-upscaler sr --hires-upscaler-model "
              "THIS_FOLDER --hires-strength 0\n")


def is_upscaler_folder(path: str | Path) -> bool:
    """Whether `path` is a pixeldrift upscaler folder (its config.json of this format), not another kind."""
    config = Path(path) / "config.json"
    return config.is_file() and read_json_object(config).get("format") == FORMAT


def load_upscaler(folder: str | Path, device: str | torch.device = "cpu") -> Upscaler:
    """Build the upscaler a folder describes and load its weights, all or nothing; BadFileError or WeightsError
    naming the file otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadFileError(f"{folder} is not an upscaler folder: no such folder")
    path, data = read_folder_config(folder, FORMAT, "pixeldrift upscaler")
    try:
        config = UpscalerConfig.from_dict(data.get("upscaler"))
    except (TypeError, ValueError) as error:
        raise BadFileError(f"{path}: {error}") from None
    with torch.device("meta"):  # shapes only: the weights file is checked before anything is built
        expected = LowResConditionedUNet(config.unet).state_dict()
    count = sum(t.numel() for t in expected.values())
    if count > MAX_PARAMETERS:
        raise BadFileError(f"{path}: the config describes {count:.3g} parameters, over the {MAX_PARAMETERS:.0e} a "
                           "model folder may have")
    weights = _weights_path(folder, WEIGHTS)
    problems = describe_mismatch(expected, header_state(weights))
    if problems:
        raise WeightsError(f"{weights} does not match {path}: " + "; ".join(problems))
    model = Upscaler(config)
    load_weights(model.denoiser.net, weights)
    return model.to(device).eval().requires_grad_(False)

"""Adapters for models made elsewhere: Stable Diffusion checkpoints (optional extra `pretrained`).

    from pixeldrift.pretrained import open_model
    model = open_model("path/to/sd15.safetensors", loras=[("style.safetensors", 0.8)])
    model.generate(GenerationRequest("a lighthouse at dusk"))

    canny = open_controlnet("control_v11p_sd15_canny.safetensors", base=model)
    model.generate(GenerationRequest("a lighthouse", controls=(Control(canny, edge_map),)))

Nothing here imports diffusers or transformers until a checkpoint is opened.
"""

from __future__ import annotations

from pathlib import Path

from pixeldrift.pretrained.extra import INSTALL_HINT, CheckpointError

__all__ = ["CheckpointError", "INSTALL_HINT", "open_controlnet", "open_model"]

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth")


def open_model(path: str | Path | None = None, family: str | None = None, device: str = "cpu", dtype=None,
               loras=(), config: str | Path | None = None):
    """Any model pixeldrift can run, as a LatentDiffusionPipeline.

    path     None or a pixeldrift model folder (config.json): our own model;
             a diffusers folder (model_index.json) or a single .safetensors / .ckpt file: Stable Diffusion
    family   sd1, sd2, sd2-v or sdxl, to override what the files say
    dtype    float32 on a CPU; float16 on a GPU by default
    loras    LoRA files, each a path or (path, scale), applied in order
    config   for a single file: a diffusers folder of the same architecture to take configs and tokenizers from
    """
    from pixeldrift.pipeline import load_model

    if path is None or (Path(path).is_dir() and (Path(path) / "config.json").is_file()
                        and not (Path(path) / "model_index.json").is_file()):
        if family is not None or loras or config is not None:
            raise ValueError("family, loras and config apply to Stable Diffusion checkpoints, "
                             "not to pixeldrift model folders")
        return load_model(path, device=device)
    model = _open_stable_diffusion(Path(path), family, None if config is None else Path(config))
    import torch

    model = model.to(device=device, dtype=dtype or (torch.float32 if str(device) == "cpu" else torch.float16))
    for entry in loras:
        lora_path, scale = (entry, 1.0) if isinstance(entry, (str, Path)) else entry
        model.load_lora(lora_path, scale)
    return model.eval()


def _open_stable_diffusion(path: Path, family: str | None, config: Path | None):
    from pixeldrift.pretrained.extra import require_extra

    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    require_extra()
    from pixeldrift.pretrained.diffusers_folder import is_diffusers_folder, load_folder
    from pixeldrift.pretrained.single_file import load_single_file
    from pixeldrift.pretrained.stable_diffusion import StableDiffusion

    if path.is_dir():
        if not is_diffusers_folder(path):
            raise CheckpointError(f"{path}: not a model folder: it has neither config.json (a pixeldrift model) "
                                  "nor model_index.json (a diffusers model)")
        return StableDiffusion(load_folder(path, family))
    if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
        raise CheckpointError(f"{path}: not a checkpoint file; expected one of {', '.join(SINGLE_FILE_SUFFIXES)}")
    return StableDiffusion(load_single_file(path, family, config))


def open_controlnet(path: str | Path, base=None, device: str | None = None, dtype=None):
    """Any ControlNet pixeldrift can run, for Control(model=...): a pixeldrift ControlNet folder (pixeldrift
    train controlnet), or a Stable Diffusion ControlNet (a diffusers folder or one .safetensors file).
    `base`: the model it will steer, checked now (an SD single file also takes its attention heads from it)."""
    from pixeldrift.pipeline.controlnet_folder import is_controlnet_folder, load_controlnet

    if is_controlnet_folder(path):
        control = load_controlnet(path, device or "cpu")
        if base is not None:
            control.check_base(base)
        return control
    from pixeldrift.pretrained.controlnet_files import open_controlnet as open_files

    return open_files(path, base, device, dtype)

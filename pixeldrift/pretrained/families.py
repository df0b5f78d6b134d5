"""Stable Diffusion model families, and how to tell which one a checkpoint is.

    sd1    SD 1.x: one CLIP ViT-L text encoder, predicts the noise (eps)
    sd2    SD 2.x base: OpenCLIP ViT-H text encoder, eps
    sd2-v  SD 2.x 768-v: the same network predicting the velocity v
    sdxl   SDXL base: CLIP ViT-L + OpenCLIP ViT-bigG, pooled embedding, size/crop conditioning

A diffusers folder says the family in its files (a second text encoder; the
scheduler's prediction_type). A single file says it in its key names; whether an
SD 2.x file predicts v or eps is not in the weights: a `NAME.yaml` beside it
(the convention of the original repositories and the AUTOMATIC1111 web UI) or
`family="sd2"` / `"sd2-v"` decides, and v is assumed otherwise (SD 2.0 and 2.1
768 are v models).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from pixeldrift.pretrained.extra import CheckpointError

FAMILIES = ("sd1", "sd2", "sd2-v", "sdxl")

# one key each family's single files always have (original CompVis / Stability names)
_SDXL_KEY = "conditioner.embedders.1.model.positional_embedding"
_SDXL_REFINER_KEY = "conditioner.embedders.0.model.positional_embedding"
_SD2_KEY = "cond_stage_model.model.positional_embedding"
_SD1_KEY = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
_UNET_KEY = "model.diffusion_model.input_blocks.0.0.weight"


@dataclass(frozen=True)
class Family:
    base: str        # sd1, sd2 or sdxl: the architecture
    prediction: str  # "epsilon" or "v_prediction", diffusers' words

    @property
    def name(self) -> str:
        return "sd2-v" if self.base == "sd2" and self.prediction == "v_prediction" else self.base

    @classmethod
    def parse(cls, name: str) -> "Family":
        if name not in FAMILIES:
            raise CheckpointError(f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)}")
        if name == "sd2-v":
            return cls("sd2", "v_prediction")
        return cls(name, "epsilon")


def family_of_keys(keys, path: Path) -> str:
    """sd1, sd2 or sdxl from a single file's tensor names; CheckpointError for anything else."""
    keys = set(keys)
    if _UNET_KEY not in keys:
        raise CheckpointError(f"{path}: not a Stable Diffusion checkpoint (no UNet under model.diffusion_model.); "
                              "a LoRA, a VAE or an embedding alone cannot be opened as a model")
    if _SDXL_KEY in keys:
        return "sdxl"
    if _SDXL_REFINER_KEY in keys:
        raise CheckpointError(f"{path}: an SDXL refiner; only SDXL base models are supported")
    if _SD2_KEY in keys:
        return "sd2"
    if _SD1_KEY in keys:
        return "sd1"
    raise CheckpointError(f"{path}: has a UNet but no text encoder pixeldrift recognises "
                          f"(looked for {_SD1_KEY}, {_SD2_KEY} and {_SDXL_KEY}); pass family= to say which it is")


def single_file_family(keys, path: Path, override: str | None) -> Family:
    if override is not None:
        family = Family.parse(override)
        found = family_of_keys(keys, path)
        if found != family.base:
            raise CheckpointError(f"{path}: family {override!r} was asked for but the file is an {found} model")
        return family
    base = family_of_keys(keys, path)
    if base != "sd2":
        return Family(base, "epsilon")
    return Family("sd2", _sd2_prediction(path))


def _sd2_prediction(path: Path) -> str:
    """v or eps for an SD 2.x file: from `parameterization: "v"` in a NAME.yaml beside it, else v."""
    sidecar = path.with_suffix(".yaml")
    if sidecar.is_file():
        text = sidecar.read_text(encoding="utf-8", errors="replace")
        return "v_prediction" if re.search(r"parameterization:\s*['\"]?v['\"]?\s*$", text, re.M) else "epsilon"
    warnings.warn(f"{path.name}: an SD 2.x model with no {sidecar.name} beside it; assuming v-prediction "
                  "(SD 2.x 768). Pass family='sd2' for a 512 eps model.", stacklevel=3)
    return "v_prediction"


def folder_family(index: dict, text_config: dict, scheduler: dict, override: str | None, path: Path) -> Family:
    """The family of a diffusers folder from model_index.json and its configs; `override` wins."""
    base = "sdxl" if index.get("text_encoder_2") else ("sd2" if text_config.get("hidden_size") == 1024 else "sd1")
    if override is not None:
        family = Family.parse(override)
        if (family.base == "sdxl") != (base == "sdxl"):
            raise CheckpointError(f"{path}: family {override!r} was asked for but the folder is an {base} model")
        return family
    return Family(base, scheduler.get("prediction_type", "epsilon"))

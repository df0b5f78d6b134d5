"""The feature network of FID and KID, from a file the user supplies, and the features of image folders.

The accepted file is a safetensors file holding the state dict of the FID Inception-v3
(`pixeldrift.nets.fid_inception`, pytorch-fid's names, float tensors, without fc and the batch-norm
counters). Nothing is downloaded and nothing is unpickled when it is loaded. A user who has pytorch-fid's
`pt_inception-2015-12-05-6726825d.pth` (from its GitHub release, or the cache of pytorch-fid,
~/.cache/torch/hub/checkpoints/) converts it once:

    pixeldrift bench fid-convert pt_inception-2015-12-05-6726825d.pth fid_inception.safetensors

The converter reads the .pth with torch.load(weights_only=True): tensors and plain containers only,
never code. Image folders are read like training folders: bounded in count, each file regular,
inside the folder, of an allowed format and at most MAX_IMAGE_PIXELS pixels.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from pixeldrift.bounded_files import BadFileError, regular_file
from pixeldrift.data.class_folder import IMAGE_SUFFIXES
from pixeldrift.data.image_folder import IMAGE_ERRORS, open_image, reason
from pixeldrift.nets import fid_inception
from pixeldrift.nets.fid_inception import FIDInceptionV3
from pixeldrift.nets.io import WeightsError, describe_mismatch, load_weights, save_weights

MAX_PTH_BYTES = 512 << 20   # pytorch-fid's file is 95 MB
MAX_IMAGES = 100_000
FORMAT = "pixeldrift-features/1"
_DROPPED = ("fc.", "AuxLogits.")  # the classifier heads: not used for features


def load_feature_network(path: str | Path, device: str = "cpu") -> FIDInceptionV3:
    """The FID Inception-v3 with the weights of a safetensors file; WeightsError naming the file and what
    does not fit otherwise (checked on the header, before any tensor is read)."""
    path = Path(path)
    network = FIDInceptionV3()
    try:
        load_weights(network, path)
    except WeightsError as error:
        raise WeightsError(f"{error}. The feature network must be the FID Inception-v3 as safetensors; convert "
                           "pytorch-fid's pt_inception-2015-12-05-6726825d.pth with "
                           "`pixeldrift bench fid-convert`", error.reason) from None
    return network.to(device).eval().requires_grad_(False)


def convert_pytorch_fid_weights(source: str | Path, target: str | Path) -> Path:
    """pytorch-fid's .pth state dict -> our safetensors file, every tensor checked; written atomically."""
    source, target = Path(source), Path(target)
    regular_file(source, MAX_PTH_BYTES, ".pth file")
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError, OSError) as error:
        raise BadFileError(f"{source}: not a PyTorch weights file that loads without running code "
                           f"({type(error).__name__}: {str(error)[:200]})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise BadFileError(f"{source}: not a state dict (a mapping of names to tensors)")
    kept = {k: v for k, v in state.items() if not k.startswith(_DROPPED) and not k.endswith("num_batches_tracked")}
    network = FIDInceptionV3()
    problems = describe_mismatch(network.state_dict(), kept)
    if problems:
        raise BadFileError(f"{source}: not pytorch-fid's FID Inception-v3: " + "; ".join(problems))
    if not all(v.is_floating_point() and torch.isfinite(v).all() for v in kept.values()):
        raise BadFileError(f"{source}: holds weights that are not finite floating-point numbers")
    network.load_state_dict(kept)
    save_weights(network, target, metadata={"format": FORMAT, "network": "fid-inception-v3",
                                            "source": source.name[:200]})
    return target


def image_paths(folder: str | Path, max_images: int) -> list[str]:
    """The image files directly inside a folder (by suffix, sorted); ValueError past `max_images`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadFileError(f"{folder}: no such folder")
    names = []
    with os.scandir(folder) as scan:
        for entry in scan:
            if entry.name.lower().endswith(IMAGE_SUFFIXES) and not entry.name.startswith("."):
                if len(names) == max_images:
                    raise ValueError(f"{folder}: over {max_images} images; raise --max-images (at most "
                                     f"{MAX_IMAGES}) or use fewer")
                names.append(entry.name)
    if len(names) < 2:
        raise ValueError(f"{folder}: {len(names)} images; FID and KID need at least 2 (thousands to be stable)")
    return sorted(names)


def _read(folder: Path, name: str) -> torch.Tensor:
    """One image as (3, 299, 299) floats in [0, 1]: resized on its own, so sizes may differ (the network
    resizes to 299 again, which at 299 changes nothing)."""
    try:
        with open_image(folder, name) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    except IMAGE_ERRORS as error:
        why = reason(error)
        raise BadFileError(why if name in why else f"{folder / name}: {why}") from None
    tensor = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    side = fid_inception.INPUT_SIZE
    return torch.nn.functional.interpolate(tensor, size=(side, side), mode="bilinear", align_corners=False)[0]


@torch.no_grad()
def folder_features(network: FIDInceptionV3, folder: str | Path, max_images: int = 10_000,
                    batch_size: int = 32, progress=None) -> np.ndarray:
    """(N, 2048) features of a folder's images, read a batch at a time (memory bounded by the batch)."""
    folder = Path(folder)
    names = image_paths(folder, max_images)
    device = next(network.parameters()).device
    features = []
    for start in range(0, len(names), batch_size):
        batch = torch.stack([_read(folder, name) for name in names[start:start + batch_size]])
        features.append(network(batch.to(device)).double().cpu().numpy())
        if progress is not None:
            progress(min(start + batch_size, len(names)), len(names))
    return np.concatenate(features)

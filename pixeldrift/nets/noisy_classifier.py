"""A noise-aware classifier p(y | x_sigma, sigma) on a latent diffusion model's noisy latents.

Dhariwal & Nichol 2021 (section 4) guide sampling with a classifier trained on noisy
images x_t at every t: the downsampling half of the UNet, then a pooled head. This is the
same at our scale: ResBlocks (the UNet's, modulated by the noise-level embedding) at each
resolution, a mean pool and one linear head per attribute (e.g. the colour and the shape of
a lone object), each with its own class list. The input is scaled by EDM's
c_in = 1 / sqrt(sigma^2 + sigma_data^2) and the noise level enters as c_noise = ln(sigma) / 4
(Karras et al. 2022, Table 1), so every noise level reaches the network at unit scale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import BadFileError, inside, read_json_object
from pixeldrift.nets.embeddings import NoiseLevelEmbedding, check_noise_level
from pixeldrift.nets.io import load_weights, save_weights
from pixeldrift.nets.unet import ResBlock

MAX_CLASSES = 256
MAX_HEADS = 8


@dataclass(frozen=True)
class NoisyClassifierConfig:
    """heads: attribute name -> its class names, in logit order."""

    heads: dict[str, tuple[str, ...]]
    in_channels: int = 4
    channels: tuple[int, ...] = (32, 64, 64)  # one level each, halving the resolution between levels
    embedding_dim: int = 64
    norm_groups: int = 8
    sigma_data: float = 1.0

    def __post_init__(self) -> None:
        heads = {str(k): tuple(str(c) for c in v) for k, v in dict(self.heads).items()}
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if not 1 <= len(heads) <= MAX_HEADS:
            raise ValueError(f"a classifier needs 1 to {MAX_HEADS} heads, got {len(heads)}")
        for name, classes in heads.items():
            if not 2 <= len(classes) <= MAX_CLASSES or len(set(classes)) != len(classes):
                raise ValueError(f"head {name!r} needs 2 to {MAX_CLASSES} distinct classes, got {list(classes)}")
        if not 1 <= self.embedding_dim <= 1024 or not 1 <= self.norm_groups <= 64:
            raise ValueError(f"embedding_dim must be 1 to 1024 and norm_groups 1 to 64, got {self.embedding_dim}, "
                             f"{self.norm_groups}")
        if not 1 <= len(self.channels) <= 4 or any(not 1 <= c <= 512 or c % self.norm_groups
                                                     for c in self.channels):
            raise ValueError(f"channels must be 1 to 4 widths of 1 to 512, each a multiple of norm_groups "
                             f"({self.norm_groups}), got {self.channels}")
        if not 1 <= self.in_channels <= 64 or not self.sigma_data > 0:
            raise ValueError(f"in_channels must be 1 to 64 and sigma_data > 0, got {self.in_channels}, "
                             f"{self.sigma_data}")


class NoisyClassifier(nn.Module):
    def __init__(self, cfg: NoisyClassifierConfig):
        super().__init__()
        self.cfg = cfg
        width = cfg.channels[0]
        self.embed = NoiseLevelEmbedding(width, cfg.embedding_dim)
        self.stem = nn.Conv2d(cfg.in_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, out in enumerate(cfg.channels):
            self.blocks.append(ResBlock(width, out, cfg.embedding_dim, cfg.norm_groups, 0.0))
            last = i == len(cfg.channels) - 1
            self.downs.append(nn.Identity() if last else nn.Conv2d(out, out, 3, stride=2, padding=1))
            width = out
        self.norm = nn.GroupNorm(cfg.norm_groups, width)
        self.heads = nn.ModuleDict({name: nn.Linear(width, len(classes)) for name, classes in cfg.heads.items()})

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (N, C, h, w) noisy latents, sigma (N,) -> {head: logits (N, classes)}."""
        if x.ndim != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"the classifier takes latents (N, {self.cfg.in_channels}, h, w), got {tuple(x.shape)}")
        sigma = check_noise_level(sigma, x.shape[0]).to(x.device)
        c_in = 1 / (sigma**2 + self.cfg.sigma_data**2).sqrt()
        emb = self.embed(sigma.log() / 4)  # (N, E)
        h = self.stem(x * c_in[:, None, None, None])  # (N, C0, h, w)
        for block, down in zip(self.blocks, self.downs):
            h = down(block(h, emb))
        pooled = F.silu(self.norm(h)).mean(dim=(2, 3))  # (N, C_last)
        return {name: head(pooled) for name, head in self.heads.items()}


# ----- a classifier folder: config.json (format, architecture, the latent space it reads, training) + weights --

FORMAT = "pixeldrift-classifier/1"
WEIGHTS = "classifier.safetensors"


def weights_sha256(module: nn.Module) -> str:
    """SHA-256 of a module's weights (names, shapes, float32 values in name order): which latent space a
    classifier was trained on is the VAE that made it."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_classifier(net: NoisyClassifier, folder: str | Path, base: dict, training: dict) -> Path:
    """Write the folder: weights first, then config.json, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(net, folder / WEIGHTS)
    config = {"format": FORMAT, "classifier": {**asdict(net.cfg), "heads": {k: list(v) for k, v in net.cfg.heads.items()}},
              "base": base, "training": training}
    write_bytes_atomically(folder / "config.json", (json.dumps(config, indent=2) + "\n").encode())
    return folder


def load_classifier(folder: str | Path) -> tuple[NoisyClassifier, dict]:
    """(the network in eval mode, without gradients on its weights, and the folder's config); BadFileError
    naming the file otherwise."""
    folder = Path(folder)
    path = folder / "config.json"
    data = read_json_object(path)
    if data.get("format") != FORMAT or not isinstance(data.get("classifier"), dict):
        raise BadFileError(f"{path}: not a pixeldrift classifier folder (format {data.get('format')!r}; "
                           f"accepted: {FORMAT!r} with a 'classifier' object)")
    try:
        cfg = NoisyClassifierConfig(**data["classifier"])
    except (TypeError, ValueError) as error:
        raise BadFileError(f"{path}: {error}") from None
    weights = inside(folder, folder / WEIGHTS)
    net = NoisyClassifier(cfg)
    load_weights(net, weights)
    return net.eval().requires_grad_(False), data

"""LoRA layers (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models").

A frozen layer W0 gets a trainable low-rank update (the paper's eq. 3, with its alpha / r scaling):

    h = W0 x + (alpha / r) B A x        A: r x in (down), B: out x r (up), r << min(in, out)

B starts at zero, so at initialisation the layer is exactly the frozen one; A starts random
(Kaiming-uniform, as nn.Linear's own weights), so B's gradient is not zero. alpha fixes the
update's scale when r changes, so a learning rate tuned at one rank suits another.

For a convolution, A is a convolution with the layer's kernel, stride and padding and r output
channels, and B a 1 x 1 convolution: the layout kohya's sd-scripts use, so ΔW = B A reshaped
to the kernel's shape, and a merged delta (`LoRALayer.delta`) is one tensor the size of W0.

    layers = add_lora(unet, attention_projections(unet), rank=4, alpha=4)   # freezes the rest first
    ...train...
    remove_lora(unet)                                                        # the frozen layers back
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pixeldrift.nets.attention import MultiHeadAttention
from pixeldrift.nets.bert import BertSelfAttention

MAX_RANK = 1024


class LoRALayer(nn.Module):
    """`base` (frozen, untouched) plus (alpha / rank) * up(down(x)); `base` is an nn.Linear or nn.Conv2d."""

    def __init__(self, base: nn.Linear | nn.Conv2d, rank: int, alpha: float,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_rank_and_alpha(rank, alpha)
        self.base, self.rank, self.alpha = base.requires_grad_(False), rank, float(alpha)
        if isinstance(base, nn.Linear):
            self.down = nn.Linear(base.in_features, rank, bias=False)
            self.up = nn.Linear(rank, base.out_features, bias=False)
        elif isinstance(base, nn.Conv2d) and base.groups == 1:
            self.down = nn.Conv2d(base.in_channels, rank, base.kernel_size, base.stride, base.padding,
                                  base.dilation, bias=False, padding_mode=base.padding_mode)
            self.up = nn.Conv2d(rank, base.out_channels, 1, bias=False)
        else:
            raise TypeError(f"LoRA wraps nn.Linear or an ungrouped nn.Conv2d, not {base!r}")
        device = base.weight.device
        self.to(device=device, dtype=base.weight.dtype)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5), generator=generator)
        nn.init.zeros_(self.up.weight)  # B = 0: the layer starts as exactly the frozen one

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.up(self.down(x)) * self.scale

    def delta(self) -> torch.Tensor:
        """ΔW = (alpha / r) B A in the shape of the base weight."""
        return low_rank_delta(self.down.weight, self.up.weight, self.alpha, self.base.weight.shape)


def check_rank_and_alpha(rank: int, alpha: float) -> None:
    """ValueError unless rank is an integer from 1 to MAX_RANK and alpha a positive finite number."""
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= MAX_RANK:
        raise ValueError(f"LoRA rank must be an integer from 1 to {MAX_RANK}, got {rank!r}")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < math.inf:
        raise ValueError(f"LoRA alpha must be a positive number, got {alpha!r}")


def low_rank_delta(down: torch.Tensor, up: torch.Tensor, alpha: float, shape: torch.Size) -> torch.Tensor:
    """(alpha / r) up @ down, the factors flattened to matrices (a convolution's too), reshaped to `shape`."""
    rank = down.shape[0]
    return (up.flatten(1).float() @ down.flatten(1).float()).reshape(shape) * (alpha / rank)


def attention_projections(root: nn.Module) -> list[str]:
    """Names (inside `root`) of every attention projection: query, key/value and output of our attention
    layers (nets/attention.py) and of BERT's (nets/bert.py). Hu et al. adapt exactly these (section 4.2)."""
    names = []
    for name, module in root.named_modules():
        if isinstance(module, (MultiHeadAttention, BertSelfAttention)):
            names += [f"{name}.{child}" if name else child for child, layer in module.named_children()
                      if isinstance(layer, nn.Linear)]
    return names


def convolutions(root: nn.Module) -> list[str]:
    """Names of every ungrouped nn.Conv2d inside `root` (LoRA on convolutions: kohya's "LoCon" set)."""
    return [name for name, module in root.named_modules() if isinstance(module, nn.Conv2d) and module.groups == 1]


def add_lora(root: nn.Module, names: list[str], rank: int, alpha: float, seed: int = 0) -> dict[str, LoRALayer]:
    """Freeze every parameter of `root`, then wrap each named layer in a trainable LoRALayer (in place), their
    A matrices drawn from `seed` (the same run starts the same).

    Returns {name: layer}; ValueError naming a layer that is missing, already wrapped or not Linear/Conv2d."""
    check_rank_and_alpha(rank, alpha)
    if not names:
        raise ValueError("no layers to adapt")
    root.requires_grad_(False)
    generator, layers = torch.Generator().manual_seed(seed), {}
    for name in names:
        parent, _, child = name.rpartition(".")
        holder = root.get_submodule(parent) if parent else root
        layer = getattr(holder, child, None)
        if isinstance(layer, LoRALayer) or not isinstance(layer, (nn.Linear, nn.Conv2d)):
            raise ValueError(f"{name}: not a plain nn.Linear or nn.Conv2d (already adapted?), cannot take a LoRA")
        layers[name] = LoRALayer(layer, rank, alpha, generator)
        setattr(holder, child, layers[name])
    return layers


def lora_layers(root: nn.Module) -> dict[str, LoRALayer]:
    """{name of the adapted layer: its LoRALayer} inside `root`."""
    return {name: module for name, module in root.named_modules() if isinstance(module, LoRALayer)}


def remove_lora(root: nn.Module) -> None:
    """Put every wrapped layer back in its place, as it was (its weights were never changed)."""
    for name, layer in lora_layers(root).items():
        parent, _, child = name.rpartition(".")
        setattr(root.get_submodule(parent) if parent else root, child, layer.base)

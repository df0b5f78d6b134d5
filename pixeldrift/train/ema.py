"""Exponential moving average of weights (Polyak averaging), the weights we ship and sample with."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        # warm-up: early on, average over the steps seen so far rather than over 1/(1-decay)
        decay = min(self.decay, (1 + step) / (10 + step))
        for ema_param, param in zip(self.model.parameters(), model.parameters()):
            if param.requires_grad:  # frozen parts (a pretrained text encoder) never change
                ema_param.lerp_(param.detach(), 1 - decay)
        for ema_buffer, buffer in zip(self.model.buffers(), model.buffers()):
            ema_buffer.copy_(buffer)

"""Attend-and-Excite (Chefer et al. 2023): make every subject word of the prompt own part of the image.

A text-to-image model often drops one of two objects ("catastrophic neglect"):
no pixel attends strongly to that word. Attend-and-Excite reads the
cross-attention maps during sampling and steers the latent so that every
subject token gets a strong peak somewhere. Per subject token s, with A_s the
attention map over the pixels (softmax over the text tokens without [CLS],
sharpened by 100 and smoothed by a 3x3 Gaussian), the loss is (paper, eq. 3)

    L = max_s (1 - max_pixels A_s).

The paper updates the latent directly, z_t <- z_t - alpha grad L. Here the
same loss is applied as guidance on the denoiser, D' = D - scale * sigma^2 * grad_x L
(a term added to the score, as classifier guidance adds grad log p(y|x);
Dhariwal & Nichol 2021, eq. 10), so it is a denoiser wrapper and every sampler
runs it unchanged. It acts only while sigma >= sigma_min: the layout is decided
early, and the paper too stops halfway.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F

from pixeldrift.diffusion.forward import append_dims
from pixeldrift.world.spec import SHAPES

SUBJECT_WORDS = frozenset(SHAPES) | {"clock", "glass", "bar", "sign"}
_WORD = re.compile(r"[A-Za-z]+")


def subject_word(word: str) -> bool:
    """A shape or thing the world draws, singular or plural ('crosses', 'circles')."""
    word = word.lower()
    return any(form in SUBJECT_WORDS for form in (word, word[:-1], word[:-2]))


def subject_positions(tokenizer, prompt: str) -> list[int]:
    """Token indices (in [CLS] prompt [SEP] order) of the first word piece of each subject word."""
    encoding = tokenizer.encode(prompt)
    first_piece = {start: i for i, (start, end) in enumerate(encoding.offsets) if end > start}  # not [CLS]/[SEP]
    return [first_piece[m.start()] for m in _WORD.finditer(prompt)
            if subject_word(m.group()) and m.start() in first_piece]


def _gaussian_blur(maps: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    """3x3 Gaussian smoothing of (K, H, W) maps, edges reflected."""
    taps = torch.exp(-torch.tensor([1.0, 0.0, 1.0]) / (2 * sigma**2))
    kernel = (taps[:, None] * taps[None, :]) / taps.sum() ** 2
    padded = F.pad(maps[:, None], (1, 1, 1, 1), mode="reflect")
    return F.conv2d(padded, kernel.to(maps)[None, None])[:, 0]


def neglect_loss(attention: torch.Tensor, lengths: list[int], positions: list[list[int]]) -> torch.Tensor:
    """Eq. 3 per sample: attention (N, H*W, L) averaged over heads and layers -> (N,) losses."""
    n, pixels, _ = attention.shape
    side = int(pixels**0.5)
    losses = []
    for i in range(n):
        if not positions[i]:
            losses.append(attention.new_zeros(()))
            continue
        text = (100 * attention[i, :, 1:lengths[i] - 1]).softmax(dim=-1)  # (H*W, words) without [CLS] / [SEP]
        maps = text[:, [p - 1 for p in positions[i]]].T.reshape(-1, side, side)
        peaks = _gaussian_blur(maps).flatten(1).amax(dim=1)  # (subjects,)
        losses.append((1 - peaks).max())
    return torch.stack(losses)


class AttendAndExciteDenoiser:
    """Wraps a guided denoiser (called as guided(x, sigma, cond, uncond)) with the neglect loss's gradient.

    `conditional` is the plain denoiser D(x, sigma, **cond) whose network holds the
    cross-attention layers; `positions[i]` are sample i's subject tokens.
    """

    def __init__(self, guided, conditional, network: torch.nn.Module, positions: list[list[int]],
                 scale: float, sigma_min: float = 1.0):
        if scale < 0:
            raise ValueError(f"the Attend-and-Excite scale must be >= 0, got {scale}")
        self.guided, self.conditional, self.positions = guided, conditional, positions
        self.scale, self.sigma_min = scale, sigma_min
        self.layers = [m.cross_attn for m in network.modules() if getattr(m, "cross_attn", None) is not None]
        if not self.layers:
            raise ValueError("Attend-and-Excite needs a network with cross-attention layers")
        self.losses: list[float] = []  # the mean loss at each guided call, to watch it fall

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: dict, uncond: dict) -> torch.Tensor:
        denoised = self.guided(x, sigma, cond, uncond)
        if self.scale == 0 or float(sigma.max()) < self.sigma_min:
            return denoised
        grad = self._loss_gradient(x, sigma, cond)
        return denoised - self.scale * append_dims(sigma, x.ndim) ** 2 * grad

    def _loss_gradient(self, x: torch.Tensor, sigma: torch.Tensor, cond: dict) -> torch.Tensor:
        maps: list[torch.Tensor] = []
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            for layer in self.layers:
                layer.probe = maps.append
            try:
                self.conditional(x_in, sigma, **cond)
            finally:
                for layer in self.layers:
                    layer.probe = None
            finest = max(m.shape[2] for m in maps)  # the largest map: where objects are still distinct
            attention = torch.stack([m.mean(dim=1) for m in maps if m.shape[2] == finest]).mean(dim=0)
            lengths = cond["context_mask"].sum(dim=1).tolist()
            loss = neglect_loss(attention, lengths, self.positions)
            self.losses.append(float(loss.detach().mean()))
            (grad,) = torch.autograd.grad(loss.sum(), x_in)
        return grad


def steering(pipeline, prompts: list[str], scale: float, sigma_min: float = 1.0):
    """The `steer` hook of LatentDiffusionPipeline.sample for a model that Attend-and-Excite can read.

    It needs a text encoder with a word-piece tokenizer (offsets map words to tokens)
    and a denoiser network whose transformer blocks have `cross_attn` layers: our
    own MiniLM models. Anything else gets a ValueError that says so.
    """
    tokenizer = getattr(getattr(pipeline, "text_encoder", None), "tokenizer", None)
    network = getattr(getattr(pipeline, "denoiser", None), "net", None)
    try:
        if not isinstance(network, torch.nn.Module):
            raise AttributeError("no denoiser network")
        positions = [subject_positions(tokenizer, prompt) for prompt in prompts]
    except AttributeError:
        raise ValueError("Attend-and-Excite (excite > 0) works with pixeldrift's own models that use a "
                         "word-piece text encoder (MiniLM); this model has none, use excite 0") from None

    def steer(guided, cond):
        return AttendAndExciteDenoiser(guided, pipeline.denoiser, network, positions, scale, sigma_min)
    return steer

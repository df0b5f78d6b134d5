"""A small transformer text encoder over byte tokens, trained jointly with the denoiser.

It returns one hidden state per token (the cross-attention context of the
denoiser, as CLIP's last hidden layer is for Stable Diffusion) and the mask of
real tokens. Bidirectional pre-LayerNorm transformer (Vaswani et al. 2017, with
the pre-LN placement of Xiong et al. 2020) with learned positions.

Classifier-free guidance (Ho & Salimans 2022) needs an "unconditional" input:
here that is the encoding of the empty prompt (`encode_empty`), which the
trainer uses for caption dropout and the sampler for the uncond branch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pixeldrift.nets.attention import MultiHeadAttention
from pixeldrift.nets.config import MAX_MULT, MAX_REPEATS, MAX_WIDTH, JsonConfig, check_sizes
from pixeldrift.nets.tokenizer import ByteTokenizer, TokenBatch

MAX_TOKENS = 4096  # positions of the byte-level encoder


@dataclass(frozen=True)
class TextEncoderConfig(JsonConfig):
    """Architecture of the text encoder (defaults: "small"); `max_length` counts BOS and EOS."""

    max_length: int = 128
    width: int = 256
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4

    def __post_init__(self) -> None:
        check_sizes(self, {"max_length": (3, MAX_TOKENS), "width": (1, MAX_WIDTH), "depth": (1, MAX_REPEATS),
                           "heads": (1, MAX_REPEATS), "mlp_ratio": (1, MAX_MULT)})
        if self.width % self.heads:
            raise ValueError(f"need depth >= 1 and width divisible by heads; got depth={self.depth}, "
                             f"width={self.width}, heads={self.heads}")


TEXT_ENCODER_PRESETS: dict[str, TextEncoderConfig] = {
    "tiny": TextEncoderConfig(max_length=64, width=64, depth=2, heads=2),
    "small": TextEncoderConfig(),
    "base": TextEncoderConfig(max_length=256, width=512, depth=8, heads=8),
    "large": TextEncoderConfig(max_length=256, width=768, depth=12, heads=12),
}


@dataclass(frozen=True)
class TextEncoding:
    """Per-token hidden states (N, L, D), zero at padding, and the mask of real tokens (N, L)."""

    context: torch.Tensor
    context_mask: torch.Tensor
    truncated: tuple[bool, ...]  # per prompt: was it cut to fit max_length?

    def as_cond(self) -> dict[str, torch.Tensor]:
        """The keyword arguments a denoiser takes: `net(x, noise_level, **encoding.as_cond())`."""
        return {"context": self.context, "context_mask": self.context_mask}

    @staticmethod
    def concat(encodings: list[TextEncoding]) -> TextEncoding:
        """Stack along the batch, padding to the longest L (e.g. cond and uncond for guidance)."""
        length = max(e.context.shape[1] for e in encodings)
        contexts = [F.pad(e.context, (0, 0, 0, length - e.context.shape[1])) for e in encodings]
        masks = [F.pad(e.context_mask, (0, length - e.context_mask.shape[1]), value=False) for e in encodings]
        truncated = tuple(flag for e in encodings for flag in e.truncated)
        return TextEncoding(torch.cat(contexts), torch.cat(masks), truncated)


class EncoderLayer(nn.Module):
    """Pre-LN transformer layer: masked self-attention then a GELU MLP, both residual."""

    def __init__(self, width: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(width)
        self.attn = MultiHeadAttention(width, heads)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm_attn(x), context_mask=mask)  # keys at padding are ignored
        return x + self.mlp(self.norm_mlp(x))  # (N, L, D)


class TextEncoder(nn.Module):
    """Byte tokens -> per-token hidden states. `encode(["a red circle"]).as_cond()` feeds a denoiser."""

    def __init__(self, cfg: TextEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tokenizer = ByteTokenizer(cfg.max_length)
        self.token_embed = nn.Embedding(ByteTokenizer.vocab_size, cfg.width)
        self.position_embed = nn.Parameter(torch.randn(cfg.max_length, cfg.width) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer(cfg.width, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(cfg.width)

    @property
    def output_dim(self) -> int:
        return self.cfg.width

    def forward(self, tokens: TokenBatch) -> TextEncoding:
        ids, mask = tokens.ids.to(self.position_embed.device), tokens.mask.to(self.position_embed.device)
        length = ids.shape[1]
        if length > self.cfg.max_length:
            raise ValueError(f"{length} tokens exceed max_length={self.cfg.max_length}")
        h = self.token_embed(ids) + self.position_embed[:length]  # (N, L, D)
        for layer in self.layers:
            h = layer(h, mask)
        h = self.norm_out(h) * mask[:, :, None].to(h.dtype)  # padding positions carry exactly zero
        return TextEncoding(context=h, context_mask=mask, truncated=tokens.truncated)

    def encode(self, texts: list[str] | str, pad_to: int | None = None) -> TextEncoding:
        """Tokenize and encode; `pad_to` fixes L (default: the longest prompt of the batch)."""
        return self(self.tokenizer.encode(texts, pad_to=pad_to))

    def encode_empty(self, batch: int, pad_to: int | None = None) -> TextEncoding:
        """The unconditional input for classifier-free guidance: the empty prompt, `batch` times."""
        return self.encode([""] * batch, pad_to=pad_to)

    def token_weights(self, pieces: list[tuple[str, float]]) -> list[float]:
        """One weight per token of the joined text: BOS, each piece's bytes, EOS."""
        return [1.0] + [weight for text, weight in pieces for _ in text.encode("utf-8")] + [1.0]

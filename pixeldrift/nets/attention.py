"""Multi-head attention (self or cross) on top of torch's scaled_dot_product_attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    """Attention of `x` (N, T, dim) to itself, or to `context` (N, L, context_dim) when given.

    `context_mask` (N, L) bool marks real tokens (True); padding keys get zero
    weight, so padding never changes the output. A sample whose mask has no real
    token at all gets a zero output (nothing to attend to) instead of NaN, the
    same as giving no context.

    `probe`, when set to a callable, receives the attention weights (N, heads, T, L)
    of every call (L = T for self-attention), and may return weights of that shape
    to use instead: methods that read or steer where each word attends (Attend-and-Excite
    reads them, prompt-to-prompt replaces them) set it. Computing the weights
    explicitly is slower than the fused kernel, so it is None unless asked for.
    """

    probe = None

    def __init__(self, dim: int, heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by heads={heads}")
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(context_dim or dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        source = x if context is None else context
        q = self._split_heads(self.to_q(x))  # (N, heads, T, d)
        k, v = (self._split_heads(t) for t in self.to_kv(source).chunk(2, dim=-1))  # (N, heads, L, d)
        attn_mask, has_keys = _key_padding_mask(context_mask)
        if self.probe is not None:
            out = self._probed_attention(q, k, v, attn_mask)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (N, heads, T, d)
        out = self.to_out(out.transpose(1, 2).flatten(2))  # (N, T, dim)
        if has_keys is not None:
            out = out * has_keys[:, None, None].to(out.dtype)
        return out

    def _probed_attention(self, q, k, v, attn_mask):
        """softmax(q k^T / sqrt(d)) v written out, so the weights can be handed to the probe."""
        scores = q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5  # (N, heads, T, L)
        if attn_mask is not None:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        weights = scores.softmax(dim=-1)
        replaced = self.probe(weights)
        return (weights if replaced is None else replaced) @ v

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        n, length, width = t.shape
        return t.view(n, length, self.heads, width // self.heads).transpose(1, 2)


def _key_padding_mask(mask: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(N, L) bool -> an SDPA mask (N, 1, 1, L) and which samples have at least one key."""
    if mask is None:
        return None, None
    if mask.dtype != torch.bool or mask.ndim != 2:
        raise ValueError(f"context_mask must be a bool tensor (N, L), got {mask.dtype} {tuple(mask.shape)}")
    has_keys = mask.any(dim=1)  # (N,)
    # A fully padded row would make softmax 0/0 = NaN; let it attend everywhere, then zero it.
    safe = mask | ~has_keys[:, None]
    return safe[:, None, None, :], has_keys


def check_context(
    context: torch.Tensor | None, context_mask: torch.Tensor | None, batch: int, context_dim: int | None
) -> None:
    """Name the problem when the text context does not fit the network."""
    if context is None:
        if context_mask is not None:
            raise ValueError("context_mask was given without context")
        return
    if context_dim is None:
        raise ValueError("this network was built without cross-attention (context_dim=None) but got a context")
    if context.ndim != 3 or context.shape[0] != batch or context.shape[2] != context_dim:
        raise ValueError(
            f"context must have shape ({batch}, L, {context_dim}), got {tuple(context.shape)}"
        )
    if context_mask is not None and tuple(context_mask.shape) != tuple(context.shape[:2]):
        raise ValueError(
            f"context_mask must have shape {tuple(context.shape[:2])} to match context, "
            f"got {tuple(context_mask.shape)}"
        )

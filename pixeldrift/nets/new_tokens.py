"""New rows for a frozen token-embedding table: the one thing textual inversion trains.

Textual inversion (Gal et al. 2023, "An Image is Worth One Word") adds a pseudo-word S* to the
vocabulary and learns only its embedding v*, everything else frozen (their eq. 2):

    v* = argmin_v E_{z, y, eps, t} || eps - eps_theta(z_t, t, c_theta(y with S* -> v)) ||^2

`ExtendedEmbedding` keeps the pretrained table untouched (frozen, the same tensor) and holds the new
rows as their own parameter: token ids below the table's size read the table, ids from it on read
the new rows. Gradients reach the new rows alone, and removing them gives the table back as it was.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_NEW_TOKENS = 64


class ExtendedEmbedding(nn.Module):
    """A frozen nn.Embedding of V rows plus trainable rows `new` (k, D), read by ids V .. V + k - 1."""

    def __init__(self, table: nn.Embedding, new_rows: torch.Tensor, most: int = MAX_NEW_TOKENS) -> None:
        super().__init__()
        if new_rows.ndim != 2 or new_rows.shape[1] != table.embedding_dim or not 1 <= len(new_rows) <= most:
            raise ValueError(f"new token embeddings must have shape (1..{most}, {table.embedding_dim}), "
                             f"got {tuple(new_rows.shape)}")
        if not torch.isfinite(new_rows).all():
            raise ValueError("new token embeddings must be finite numbers")
        self.table = table.requires_grad_(False)
        self.new = nn.Parameter(new_rows.detach().clone().to(table.weight.device, table.weight.dtype))

    @property
    def base_size(self) -> int:
        return self.table.num_embeddings

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        is_new = ids >= self.base_size  # (N, L)
        old = self.table(torch.where(is_new, 0, ids))  # (N, L, D)
        new = self.new[(ids - self.base_size).clamp(0, len(self.new) - 1)]  # (N, L, D)
        return torch.where(is_new[..., None], new, old)


def extend(table: nn.Embedding | ExtendedEmbedding, rows: torch.Tensor,
           most: int = MAX_NEW_TOKENS) -> ExtendedEmbedding:
    """`table` with `rows` appended (after any rows it already has, `most` in all); the original table stays
    frozen."""
    if isinstance(table, ExtendedEmbedding):
        return ExtendedEmbedding(table.table, torch.cat([table.new.detach(), rows.to(table.new.dtype)]), most)
    return ExtendedEmbedding(table, rows, most)

"""What every data source shares: example(i) -> (H x W x 3 uint8, caption), and batches of them."""

from __future__ import annotations

import numpy as np
import torch


def images_to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """(H, W, 3) uint8 arrays -> (N, 3, H, W) float in [-1, 1]."""
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    return stacked.float().div_(127.5).sub_(1.0)


class ExampleSource:
    """Subclasses give example(index); the same index always gives the same example."""

    def example(self, index: int) -> tuple[np.ndarray, str]:
        raise NotImplementedError

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, list[str]]:
        images, captions = zip(*(self.example(i) for i in indices))
        return images_to_tensor(list(images)), list(captions)

"""World scenes as super-resolution pairs: a 256-px render and its box reduction, cropped alike.

The low-resolution image is the render reduced by averaging each factor x factor block (PIL's
Image.reduce, a box filter), because that is how the world draws its small images: the renderer
draws on a 256-px canvas and box-reduces it, so the reduction of a 256-px render by 4 is exactly
the 64-px render of the same scene and seed (signs aside, whose pixel-art letters are drawn on the
output grid). An upscaler trained on these pairs therefore sees at 64 px just what the world's
64-px images, and models trained on them, look like. It is also restore's sr4 operator
(applications/inverse_problems.AveragePool), so both super-resolution methods solve one problem.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image

from pixeldrift.data.examples import images_to_tensor
from pixeldrift.data.world_stream import WorldStream
from pixeldrift.nets.upscaler import enlarge

CROP_ALIGN = 8  # crops start on multiples of this: the upscaler UNets' 8-fold downsampling sees whole-image phases


def box_reduce(image: np.ndarray | Image.Image, factor: int) -> Image.Image:
    """The image with each factor x factor block averaged (sides must be multiples of factor)."""
    image = image if isinstance(image, Image.Image) else Image.fromarray(image)
    if image.width % factor or image.height % factor:
        raise ValueError(f"a {image.width}x{image.height} image cannot be reduced {factor} times: its sides must be "
                         f"multiples of {factor}")
    return image.reduce(factor)


class UpscaleStream:
    """Example i: WorldStream's training-split scene i rendered at `size`; batch() -> ((N, 6, crop, crop), captions),
    the render's crop in [-1, 1], then the same crop of its box reduction by `factor` enlarged back by bicubic
    interpolation (nets/upscaler.enlarge, what the upscaler sees at sampling). The crop is placed by (seed, i)."""

    def __init__(self, seed: int = 0, size: int = 256, factor: int = 4, crop: int = 64, mix: str = "uniform"):
        if type(factor) is not int or not 2 <= factor <= 8 or size % factor:
            raise ValueError(f"factor must be an integer from 2 to 8 dividing the size {size}, got {factor!r}")
        if type(crop) is not int or crop % CROP_ALIGN or not CROP_ALIGN <= crop <= size:
            raise ValueError(f"crop must be a multiple of {CROP_ALIGN} from {CROP_ALIGN} to {size}, got {crop!r}")
        self.stream, self.factor, self.crop = WorldStream(seed=seed, size=size, mix=mix), factor, crop

    def pair(self, index: int) -> tuple[np.ndarray, Image.Image, str]:
        """(the render (size, size, 3) uint8, its box reduction, the caption) of example `index`."""
        image, text = self.stream.example(index)
        return image, box_reduce(image, self.factor), text

    def example(self, index: int) -> tuple[torch.Tensor, str]:
        """((6, crop, crop) in [-1, 1]: the render's crop, then the enlarged reduction's, the caption)."""
        image, low, text = self.pair(index)
        high = images_to_tensor([image])  # (1, 3, S, S)
        enlarged = enlarge(images_to_tensor([np.asarray(low)]), self.factor)  # (1, 3, S, S)
        top, left = self._corner(index, image.shape[0])
        window = (slice(None), slice(None), slice(top, top + self.crop), slice(left, left + self.crop))
        return torch.cat([high[window], enlarged[window]], dim=1)[0], text

    def _corner(self, index: int, side: int) -> tuple[int, int]:
        rng = random.Random(f"crop:{self.stream.seed}:{index}")
        places = (side - self.crop) // CROP_ALIGN + 1
        return rng.randrange(places) * CROP_ALIGN, rng.randrange(places) * CROP_ALIGN

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, list[str]]:
        crops, captions = zip(*(self.example(i) for i in indices))
        return torch.stack(crops), list(captions)

"""How coherent a panorama is: do its tiles agree on background and colours, do seams show, does each tile read right?

A panorama W pixels wide is cut into W / T square tiles of the model's own size T (64 for the
default model); every measure compares tiles, so it is the same for any method that made it.

- background spread: each tile's background is the median colour of its pixels (objects
  cover far less than half of a world picture); the spread is the root-mean-square distance,
  in 8-bit RGB units, of the tiles' backgrounds from their mean.
- object colour spread: the same for each tile's objects, the median colour of its pixels
  farther than the verifier's foreground distance from that tile's background.
- seam step: per column boundary x | x+1, the median over rows of the colour step there (the
  RMS over channels of the difference, 8-bit units); the median keeps object edges, which
  cross few rows, out, and keeps a background jump, which crosses every row. Reported at the
  tile borders (x a multiple of T: where independent tiles meet, and where windows of every
  method here begin and end) and elsewhere.
- per-tile verdict: the world verifier reads the tile (pixeldrift.world.verify) against the
  prompt's scene; the tile passes when its background is plain and, if the prompt names one,
  that one, and it shows at least one object wholly inside it, every such object of the
  prompt's shape and colour (where named). Objects cut by the tile's edge are not judged, and
  counts are not checked: a tile of a panorama holds whatever part of the row falls in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixeldrift.world import ObjectsScene, verify
from pixeldrift.world.read_objects import FOREGROUND_DISTANCE

EDGE_MARGIN = 1.5  # pixels: an object reaching this close to a tile's side is cut by it, not judged


def tiles(image: Image.Image | np.ndarray, tile: int) -> list[np.ndarray]:
    """Square tiles (tile x tile x 3, float in [0, 1]) side by side along the width; the height must be one tile."""
    pixels = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, np.float32) / 255.0
    height, width = pixels.shape[:2]
    if height != tile or width % tile:
        raise ValueError(f"a {width}x{height} panorama is not a row of {tile}x{tile} tiles")
    return [pixels[:, left:left + tile] for left in range(0, width, tile)]


def _spread(colours: list[np.ndarray]) -> float:
    """RMS distance of the colours (in [0, 1]) from their mean, in 8-bit units."""
    stack = np.stack(colours)
    return float(255 * np.sqrt(((stack - stack.mean(0)) ** 2).sum(1).mean()))


def background_spread(image, tile: int) -> float:
    return _spread([np.median(t.reshape(-1, 3), 0) for t in tiles(image, tile)])


def object_colour_spread(image, tile: int) -> float:
    """NaN when fewer than two tiles show any object."""
    colours = []
    for t in tiles(image, tile):
        flat = t.reshape(-1, 3)
        far = np.linalg.norm(flat - np.median(flat, 0), axis=1) > FOREGROUND_DISTANCE
        if far.any():
            colours.append(np.median(flat[far], 0))
    return _spread(colours) if len(colours) > 1 else float("nan")


def column_steps(image) -> np.ndarray:
    """(W - 1,) the median over rows of the colour step between columns x and x + 1, in 8-bit units."""
    pixels = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, np.float32)
    step = np.sqrt(((pixels[:, 1:] - pixels[:, :-1]) ** 2).mean(2))  # (H, W - 1)
    return np.median(step, 0)


@dataclass(frozen=True)
class SeamSteps:
    at_borders: float   # mean column step across the tile borders
    elsewhere: float    # mean column step across every other column boundary


def seam_steps(image, tile: int) -> SeamSteps:
    steps = column_steps(image)
    border = np.zeros(steps.shape, bool)
    border[tile - 1::tile] = True  # boundary x | x+1 with x + 1 a multiple of the tile
    return SeamSteps(float(steps[border].mean()), float(steps[~border].mean()))


def tile_passes(pixels: np.ndarray, spec: ObjectsScene) -> bool:
    """One tile (float H x W x 3 in [0, 1]) against a one-group scene; see the module docstring."""
    result = verify(pixels, spec)
    if result.problems or not all(c.ok for c in result.checks if c.attribute == "background"):
        return False
    side = pixels.shape[0]
    inside = [o for o in result.seen.get("objects", [])
              if EDGE_MARGIN <= (o["cx"] - o["side"] / 2) * side and (o["cx"] + o["side"] / 2) * side
              <= side - EDGE_MARGIN]
    group = spec.groups[0]
    return bool(inside) and all((group.shape in (None, o["shape"])) and (group.colour in (None, o["colour"]))
                                for o in inside)


def tile_accuracy(image, spec: ObjectsScene, tile: int) -> float:
    """Share of the panorama's tiles that pass `tile_passes`."""
    if not isinstance(spec, ObjectsScene) or len(spec.groups) != 1:
        raise ValueError("per-tile reading needs an objects prompt of one kind of object, e.g. 'two red circles'")
    verdicts = [tile_passes(t, spec) for t in tiles(image, tile)]
    return sum(verdicts) / len(verdicts)

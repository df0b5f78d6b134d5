"""Reading a row of glasses or bars: how many, which kind, and how full each is.

1. Vessels: components of dark outline pixels, joined where their columns overlap,
   tall enough, left to right.
2. Kind: a bar's outline is closed at the top, a glass is open.
3. Fill: the rows whose middle third holds liquid (pixels neither background nor
   outline), as a share of the inside height, in quarters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixeldrift.world.components import Component, connected_components
from pixeldrift.world.read_pixels import UnreadableScene
from pixeldrift.world.render import vessel_line

# Outlines are grey-black (brightest channel 0.16), liquids are saturated (brightest
# channel 0.69 and up), backgrounds pale: the brightest channel tells ink from liquid
# far better than luma, which puts the liquids near half-inked edges.
DARK_VALUE = 0.6
LIQUID_VALUE = 0.45  # liquid blurred into an outline still counts as liquid down to here
LIQUID_DISTANCE = 0.2  # from the background colour


@dataclass(frozen=True)
class SeenVessels:
    vessels: tuple[str, ...]  # "glass" or "bar", left to right
    fills: tuple[int, ...]  # quarters


def read_quantity(pixels: np.ndarray, background: np.ndarray) -> SeenVessels:
    """The vessels shown, or :class:`UnreadableScene` saying why none could be read."""
    size = pixels.shape[0]
    value = pixels.max(axis=2)
    dark = value < DARK_VALUE
    outlines = _merge_columns(connected_components(dark, min_area=3))
    tall = [c for c in outlines if _height(c) > 0.2 * size]
    if not tall:
        raise UnreadableScene("no glass or bar outlines found")
    liquid = (np.linalg.norm(pixels - background, axis=2) > LIQUID_DISTANCE) & (value >= LIQUID_VALUE)
    kinds = tuple(_kind(dark, c, size) for c in tall)
    fills = tuple(_fill_quarters(liquid, c, kind, size) for c, kind in zip(tall, kinds))
    return SeenVessels(vessels=kinds, fills=fills)


def _merge_columns(components: list[Component]) -> list[Component]:
    """Join pieces whose column ranges overlap (a wall broken by blur), left to right."""
    merged: list[Component] = []
    for piece in sorted(components, key=lambda c: c.box[0]):
        if merged and piece.box[0] <= merged[-1].box[2]:
            last = merged.pop()
            piece = Component(np.concatenate([last.ys, piece.ys]), np.concatenate([last.xs, piece.xs]))
        merged.append(piece)
    return merged


def _height(component: Component) -> int:
    return component.box[3] - component.box[1] + 1


def _kind(dark: np.ndarray, component: Component, size: int) -> str:
    """A bar is closed at the top, a glass is open: look for outline across the top's middle third.

    An anti-aliased one-pixel edge may straddle two rows, so the top edge counts
    when either of the top rows (or more, for thicker lines) is mostly dark.
    """
    x0, y0, x1, _ = component.box
    third = (x1 - x0 + 1) / 3
    rows = max(2, int(round(vessel_line(size))))
    top = dark[y0:y0 + rows, int(x0 + third):max(int(x1 + 1 - third), int(x0 + third) + 1)]
    return "bar" if (top.mean(axis=1) >= 0.5).any() else "glass"


def _fill_quarters(liquid: np.ndarray, component: Component, kind: str, size: int) -> int:
    """Liquid rows (most of the middle third is liquid) as a share of the inside height, in quarters."""
    x0, y0, x1, y1 = component.box
    line = vessel_line(size)
    inner_top = int(round(y0 + (line if kind == "bar" else 0)))
    inner_bottom = int(round(y1 + 1 - line))
    third = (x1 - x0 + 1) / 3
    middle = liquid[inner_top:inner_bottom, int(x0 + third):max(int(x1 + 1 - third), int(x0 + third) + 1)]
    liquid_rows = int((middle.mean(axis=1) >= 0.5).sum())
    return int(np.clip(round(4 * liquid_rows / max(inner_bottom - inner_top, 1)), 0, 4))

"""Panorama coherence on rendered world rows: agreeing tiles measure zero, a background jump shows at its seam,
and every tile is read against the prompt."""

import numpy as np
import pytest

from pixeldrift import world
from pixeldrift.evaluate import panorama_coherence as coherence

RED = "two red circles"


def row(*prompts_and_seeds) -> np.ndarray:
    return np.concatenate([world.render(world.parse_prompt(p), size=64, seed=s) for p, s in prompts_and_seeds], 1)


def test_tiles_on_one_background_agree_and_show_no_seams():
    image = row(*[(f"{RED} on a cream background", 0)] * 3)  # a seed decides the exact shade too
    assert coherence.background_spread(image, 64) < 1e-3 and coherence.object_colour_spread(image, 64) < 1e-3
    seams = coherence.seam_steps(image, 64)
    assert seams.at_borders < 1.0 and seams.elsewhere < 1.0


def test_a_background_that_changes_from_tile_to_tile_spreads_and_shows_at_the_seam():
    image = row((f"{RED} on a cream background", 0), (f"{RED} on a light blue background", 1))
    assert coherence.background_spread(image, 64) > 10
    seams = coherence.seam_steps(image, 64)
    assert seams.at_borders > 10 * max(seams.elsewhere, 0.1)


def test_each_tile_is_read_against_the_prompt():
    spec = world.parse_prompt(RED)
    image = row((RED, 0), (RED, 1), ("a blue square", 2), ("two red squares", 3))
    assert coherence.tile_accuracy(image, spec, 64) == 0.5
    on_cream = world.parse_prompt(f"{RED} on a cream background")
    assert coherence.tile_accuracy(row((f"{RED} on a white background", 0)), on_cream, 64) == 0


def test_an_object_cut_by_the_tile_edge_is_not_judged():
    image = row((RED, 0), (RED, 0))
    shifted = np.roll(image, 32, axis=1)  # some circles now straddle the border between the tiles
    assert coherence.tile_accuracy(shifted, world.parse_prompt(RED), 64) == 1.0


def test_what_cannot_be_measured_is_refused():
    with pytest.raises(ValueError, match="is not a row of 64x64 tiles"):
        coherence.tiles(np.zeros((64, 100, 3), np.uint8), 64)
    with pytest.raises(ValueError, match="one kind of object"):
        coherence.tile_accuracy(row((RED, 0)), world.parse_prompt("a red circle and a blue square"), 64)

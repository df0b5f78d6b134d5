"""Image control maps (edges, scribble), the kinds by name, and `pixeldrift control`."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.control import KINDS
from pixeldrift.cli.main import cli
from pixeldrift.cli.train import CONTROL_KINDS as TRAIN_KINDS
from pixeldrift.pipeline.control_maps import CONTROL_KINDS, edges, image_control, scribble, thin, world_control
from pixeldrift.world import ObjectGroup, ObjectsScene, render

SCENE = ObjectsScene((ObjectGroup("square", "blue"), ObjectGroup("circle", "red")), relation="above")


def square(side: int = 32) -> np.ndarray:
    image = np.full((side, side, 3), 240, np.uint8)
    image[8:24, 8:24] = (20, 40, 200)
    return image


def test_edges_lie_on_the_outline_of_a_square_and_nowhere_else():
    mask = edges(square())[:, :, 0] > 0
    ring = np.zeros((32, 32), bool)
    ring[6:26, 6:26] = True
    ring[10:22, 10:22] = False
    assert mask.sum() >= 4 * 14 and np.all(ring[mask])


def test_scribble_is_one_pixel_thin_and_follows_the_edges():
    picture = render(SCENE, 64, 1)
    sketch = scribble(picture)[:, :, 0] > 0
    near_edges = np.zeros_like(sketch)
    ys, xs = np.nonzero(edges(picture)[:, :, 0])
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            near_edges[np.clip(ys + dy, 0, 63), np.clip(xs + dx, 0, 63)] = True
    assert sketch.sum() > 20 and np.all(near_edges[sketch])
    blocks = sketch[:-1, :-1] & sketch[1:, :-1] & sketch[:-1, 1:] & sketch[1:, 1:]
    assert not blocks.any()  # no 2x2 block: thinned to one-pixel strokes
    assert thin(np.ones((5, 5), bool)).sum() <= 3  # a filled block thins to its centre


def test_every_kind_of_the_world_scene_is_a_map_of_its_size():
    for kind in CONTROL_KINDS:
        made = world_control(kind, SCENE, 32, 4)
        assert made.shape == (32, 32, 3) and made.dtype == np.uint8


def test_the_command_lines_offer_exactly_the_known_kinds():
    assert KINDS == TRAIN_KINDS == CONTROL_KINDS


def test_unknown_kinds_and_scene_kinds_from_images_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="known kinds are edges, scribble, layout, glyph, clock"):
        image_control("depth", square())
    with pytest.raises(ValueError, match="drawn from a world scene"):
        image_control("layout", square())
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        edges(np.zeros((8, 8), np.uint8))


def test_control_command_writes_maps_and_refuses_what_it_cannot_make(tmp_path):
    Image.fromarray(square()).save(tmp_path / "in.png")
    runner = CliRunner()
    made = runner.invoke(cli, ["control", "edges", str(tmp_path / "in.png"), "-o", str(tmp_path / "e.png")])
    assert made.exit_code == 0, made.output
    assert np.array_equal(np.asarray(Image.open(tmp_path / "e.png")), edges(square()))
    layout = runner.invoke(cli, ["control", "layout", "--prompt", "a blue square above a red circle", "--size", "32",
                                 "--seed", "4", "-o", str(tmp_path / "l.png")])
    assert layout.exit_code == 0 and np.array_equal(np.asarray(Image.open(tmp_path / "l.png")),
                                                    world_control("layout", SCENE, 32, 4))
    for args, message in ((["depth", str(tmp_path / "in.png")], "the known kinds are edges"),
                          (["layout", str(tmp_path / "in.png")], "drawn from a world scene"),
                          (["edges", "--prompt", "a red circle"], "made from an image")):
        refused = runner.invoke(cli, ["control", *args, "-o", str(tmp_path / "x.png")])
        assert refused.exit_code != 0 and message in refused.output, refused.output
    assert not (tmp_path / "x.png").exists()

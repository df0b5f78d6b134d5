"""The renderer: sizes, determinism, anti-aliasing, background variation, placement rules."""

import random

import numpy as np
import pytest

from pixeldrift.world import (BACKGROUNDS, IMAGE_SIZES, RELATIONS, SHAPES, ClockScene, ObjectGroup, ObjectsScene,
                              SpecError, TextScene, render)
from pixeldrift.world.layout import GAP, MARGIN, SIZE_FRACTION, arrange, relation_holds, scatter
from pixeldrift.world.palette import BACKGROUND_JITTER, BACKGROUND_RGB
from world_cases import seeded_specs, single_object


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_every_kind_renders_at_every_size(size):
    for i, spec in enumerate(seeded_specs(40, seed=size)):
        if isinstance(spec, TextScene) and size == 32 and len(spec.word) > 4:
            continue
        image = render(spec, size, i)
        assert image.shape == (size, size, 3) and image.dtype == np.uint8


def test_same_spec_and_seed_give_the_same_pixels_and_seeds_vary_them():
    for spec in seeded_specs(30, seed=7):
        assert np.array_equal(render(spec, 64, 5), render(spec, 64, 5))
        assert not all(np.array_equal(render(spec, 64, 5), render(spec, 64, s)) for s in range(6, 9))


def test_edges_are_anti_aliased():
    image = render(single_object("circle", "black", background="white"), 64, 0).astype(int)
    # Pixels strictly between the object's black and the white background exist only at edges.
    grey = (image.min(axis=2) > 40) & (image.max(axis=2) < 240)
    assert grey.sum() >= 20


def test_background_shade_varies_with_seed_within_the_named_colour():
    corners = {tuple(render(single_object("star", "red", background="cream"), 64, s)[0, 0]) for s in range(20)}
    assert len(corners) > 5
    for corner in corners:
        assert np.abs(np.array(corner) - BACKGROUND_RGB["cream"]).max() <= BACKGROUND_JITTER


@pytest.mark.parametrize("count", range(1, 9))
def test_scattered_objects_never_overlap_and_stay_on_the_canvas(count):
    rng = random.Random(count)
    for _ in range(100):
        halves = [SIZE_FRACTION[rng.choice(["small", "large"])] / 2 for _ in range(count)]
        spots = scatter(rng, halves)
        assert [s.half for s in spots] == halves
        for i, a in enumerate(spots):
            assert MARGIN - 1e-9 <= a.cx - a.half and a.cx + a.half <= 1 - MARGIN + 1e-9
            assert MARGIN - 1e-9 <= a.cy - a.half and a.cy + a.half <= 1 - MARGIN + 1e-9
            for b in spots[i + 1:]:
                reach = a.half + b.half + GAP - 1e-9
                assert abs(a.cx - b.cx) >= reach or abs(a.cy - b.cy) >= reach


@pytest.mark.parametrize("relation", RELATIONS)
def test_arranged_objects_satisfy_their_relation(relation):
    rng = random.Random(0)
    for _ in range(100):
        halves = [SIZE_FRACTION[rng.choice(["small", "large"])] / 2 for _ in range(3 if relation == "between" else 2)]
        spots = arrange(rng, relation, halves)
        assert relation_holds(relation, *[(s.cx, s.cy) for s in spots])


def test_relation_meaning():
    assert relation_holds("left of", (0.2, 0.5), (0.8, 0.6))
    assert not relation_holds("left of", (0.2, 0.1), (0.3, 0.9))  # mostly above, not left
    assert relation_holds("above", (0.3, 0.1), (0.4, 0.9))
    assert relation_holds("between", (0.5, 0.5), (0.1, 0.5), (0.9, 0.5))
    assert not relation_holds("between", (0.1, 0.5), (0.5, 0.5), (0.9, 0.5))


def test_bad_size_and_oversized_words_are_rejected():
    with pytest.raises(SpecError, match="size: 48"):
        render(ClockScene(3, 0), 48)
    with pytest.raises(SpecError, match="word"):
        render(TextScene("ROCKET"), 32)


def test_wildcards_are_filled_from_the_seed():
    spec = ObjectsScene((ObjectGroup("star"),))
    images = [render(spec, 64, s) for s in range(12)]
    assert len({img[0, 0].tobytes() for img in images}) > 1  # background differs
    assert all(img.shape == (64, 64, 3) for img in images)


def test_all_shapes_and_backgrounds_render():
    for shape in SHAPES:
        for background in BACKGROUNDS:
            image = render(single_object(shape, "blue", background=background), 64, 1)
            assert (np.abs(image.astype(int) - BACKGROUND_RGB[background]).sum(axis=2) > 100).sum() > 30

"""Relations between groups: "three red circles above a blue square" is drawn, read and checked exactly."""

from dataclasses import replace

import pytest

from pixeldrift import world
from pixeldrift.world.layout import groups_relation_holds, relation_holds

DEMO = "three red circles above a blue square"


@pytest.mark.parametrize("size", [64, 128])
def test_the_demo_prompt_renders_and_verifies(size):
    spec = world.parse_prompt(DEMO)
    assert [g.count for g in spec.groups] == [3, 1] and spec.relation == "above"
    for seed in range(40):
        result = world.verify(world.render(spec, size=size, seed=seed), spec)
        assert result.ok, (seed, result)


def test_the_flipped_relation_is_rejected_and_named():
    spec = world.parse_prompt(DEMO)
    image = world.render(spec, size=64, seed=3)
    result = world.verify(image, replace(spec, relation="below"))
    relation = next(c for c in result.checks if c.attribute == "relation")
    assert not result.ok and relation.observed == "the red circles above the blue square"


def test_every_object_of_a_group_must_be_on_its_side():
    square = [(0.5, 0.7)]
    assert groups_relation_holds("above", [(0.2, 0.2), (0.5, 0.25), (0.8, 0.2)], square)
    # One circle beside the square instead of above it: the centroid is still above, the rule is not met.
    assert not groups_relation_holds("above", [(0.2, 0.2), (0.5, 0.25), (0.85, 0.7)], square)
    # Every circle higher but the row far off to the side: the centroid is diagonal to the square.
    assert not groups_relation_holds("above", [(0.75, 0.5), (0.85, 0.5), (0.95, 0.5)], [(0.1, 0.7)])


def test_one_object_each_is_the_single_object_rule():
    points = [(x / 10, y / 10) for x in range(11) for y in range(11)]
    for relation in ("left of", "right of", "above", "below"):
        for a in points[::7]:
            for b in points[::5]:
                assert groups_relation_holds(relation, [a], [b], 0.08) == relation_holds(relation, a, b, margin=0.08)


def test_plural_relations_are_drawn_in_training_and_read_back():
    specs = [s for s in (world.sample_spec(seed) for seed in range(1500))
             if isinstance(s, world.ObjectsScene) and s.relation and s.total_objects > len(s.groups)]
    assert len(specs) > 25
    for seed, spec in enumerate(specs):
        assert world.verify(world.render(spec, size=64, seed=seed), spec).ok
        assert world.parse_prompt(world.caption(spec, "long")) == spec

"""Spec validation: every bad field raises a SpecError (a ValueError) that names it."""

import pytest

from pixeldrift.world import (ClockScene, ObjectGroup, ObjectsScene, QuantityScene, SpecError, TextScene,
                              spec_from_dict, spec_to_dict)
from world_cases import seeded_specs


@pytest.mark.parametrize("make, field, value", [
    (lambda: ObjectsScene((ObjectGroup("circle", "red", count=9),)), "count", "9"),
    (lambda: ObjectsScene((ObjectGroup("circle", "red", count=5), ObjectGroup("star", count=4))), "groups", "9"),
    (lambda: ObjectGroup("circle", "mauve"), "colour", "mauve"),
    (lambda: ObjectGroup("hexagon"), "shape", "hexagon"),
    (lambda: ObjectGroup("star", size="huge"), "size", "huge"),
    (lambda: ClockScene(13, 0), "hour", "13"),
    (lambda: ClockScene(12, 70), "minute", "70"),
    (lambda: ClockScene(11, 23), "minute", "23"),
    (lambda: QuantityScene((1,)), "fills", "1 vessels"),
    (lambda: QuantityScene((1, 5)), "fills[1]", "5"),
    (lambda: QuantityScene((1, 2), vessel="cup"), "vessel", "cup"),
    (lambda: TextScene("hello"), "word", "hello"),
    (lambda: TextScene("TOOLONGWORD"), "word", "TOOLONGWORD"),
    (lambda: TextScene("A"), "word", "'A'"),
    (lambda: ObjectsScene((ObjectGroup("star"),), background="plaid"), "background", "plaid"),
    (lambda: ObjectsScene((ObjectGroup("star"), ObjectGroup("circle")), relation="inside"), "relation", "inside"),
])
def test_bad_fields_are_named(make, field, value):
    with pytest.raises(SpecError) as error:
        make()
    assert isinstance(error.value, ValueError)
    message = str(error.value)
    assert message.startswith(field + ":") and value in message and "accepted" in message


def test_relation_needs_distinguishable_objects_in_rows():
    with pytest.raises(SpecError, match="relation"):
        ObjectsScene((ObjectGroup("star", "red"), ObjectGroup("star")), relation="left of")
    with pytest.raises(SpecError, match="relation"):
        ObjectsScene((ObjectGroup("star"), ObjectGroup("circle")), relation="between")
    with pytest.raises(SpecError, match="relation"):
        ObjectsScene((ObjectGroup("star", count=2), ObjectGroup("circle"), ObjectGroup("cross")), relation="between")
    with pytest.raises(SpecError, match="relation: 'above' between groups of 4 and 1"):
        ObjectsScene((ObjectGroup("star", count=4), ObjectGroup("circle")), relation="above")
    with pytest.raises(SpecError, match="relation"):
        ObjectsScene((ObjectGroup("star", count=3), ObjectGroup("circle", count=2)), relation="below")
    # Groups in rows: "three red circles above a blue square".
    ObjectsScene((ObjectGroup("circle", "red", count=3), ObjectGroup("square", "blue")), relation="above")
    # Same shape is fine when the colours tell the objects apart.
    ObjectsScene((ObjectGroup("star", "red"), ObjectGroup("star", "blue")), relation="left of")


def test_dict_round_trip_keeps_every_spec():
    for spec in seeded_specs(400, seed=1):
        assert spec_from_dict(spec_to_dict(spec)) == spec


def test_bad_dicts_are_rejected():
    with pytest.raises(SpecError, match="kind"):
        spec_from_dict({"kind": "teapot"})
    with pytest.raises(SpecError, match="spec"):
        spec_from_dict({"kind": "clock", "hour": 3, "minute": 0, "colour": "red"})
    with pytest.raises(SpecError, match="minute"):
        spec_from_dict({"kind": "clock", "hour": 3, "minute": 61})

"""The bias audit: prompts, the readers' view of images, the training reference, skew found end to end."""

from collections import Counter

import pytest
from click.testing import CliRunner

from pixeldrift.classroom.audit import (AuditError, Sample, audit_prompt, compare, folder_reference, model_sample,
                                        read_attributes, world_reference)
from pixeldrift.cli.main import cli
from pixeldrift.world import ClockScene, ObjectGroup, ObjectsScene, QuantityScene, render


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    pass


def test_named_and_parsed_prompts_say_what_they_leave_open():
    assert audit_prompt("some circles").attributes == ("count", "colour", "size", "position")
    assert audit_prompt("a shape").attributes == ("count", "shape", "colour", "size", "position")
    assert audit_prompt("a clock").attributes == ("hour", "minute")
    assert audit_prompt("some glasses").attributes == ("vessels", "fill")
    stars = audit_prompt("three large stars")
    assert (stars.counts, stars.attributes) == ((3, 3), ("count", "colour", "position"))
    assert stars.values("count") == ("3",)
    assert audit_prompt("some circles").values("count") == tuple("2345678")


def test_a_prompt_matches_the_training_scenes_it_stands_for():
    circles = audit_prompt("some circles")
    assert circles.matches(ObjectsScene((ObjectGroup("circle", "red", "small", 3),)))
    assert not circles.matches(ObjectsScene((ObjectGroup("circle", "red", "small", 1),)))
    assert not circles.matches(ObjectsScene((ObjectGroup("square", "red", "small", 3),)))
    assert not circles.matches(ClockScene(3, 40))
    assert audit_prompt("some glasses").matches(QuantityScene((1, 2), "glass"))
    assert not audit_prompt("some glasses").matches(QuantityScene((1, 2), "bar"))


@pytest.mark.parametrize("text", ["a dragon", "a clock showing 3:40", "a red circle above a square",
                                  "a star and a square", 7])
def test_prompts_it_cannot_audit_are_refused_by_name(text):
    with pytest.raises(AuditError, match="accepted"):
        audit_prompt(text)


def test_the_readers_see_what_was_drawn():
    circles = render(ObjectsScene((ObjectGroup("circle", "red", "large", 3),), background="white"), 64, 1)
    read = read_attributes(circles, "objects")
    assert {k: read[k] for k in ("count", "shape", "colour", "size")} == \
        {"count": "3", "shape": "circle", "colour": "red", "size": "large"}
    assert read_attributes(render(ClockScene(3, 40, "white"), 64, 2), "clock") == {"hour": "3", "minute": "40"}
    assert read_attributes(render(QuantityScene((0, 4, 4), "glass", "white"), 64, 3), "quantity") == \
        {"vessels": "3", "fill": "full", "vessel": "glass"}
    blank = render(ObjectsScene((ObjectGroup("circle", "red", "large", 1),), background="white"), 64, 1) * 0 + 250
    assert read_attributes(blank, "objects") == {"count": "0"}
    assert read_attributes(blank, "clock") is None


def red_circles(prompts, seeds):
    """A model with a bias: whatever it is asked, red circles (two to four)."""
    return [render(ObjectsScene((ObjectGroup("circle", "red", "small", 2 + s % 3),), background="white"), 64, s)
            for s in seeds]


def test_a_biased_model_is_caught_and_the_world_itself_is_not():
    prompt = audit_prompt("some circles")
    reference = world_reference(prompt, 40, seed=0)
    by_colour = {a.attribute: a for a in compare(prompt, model_sample(red_circles, prompt, 40), reference)}
    colour = by_colour["colour"]
    assert (colour.majority, colour.output_share) == ("red", 1.0)
    assert colour.amplification == pytest.approx(40 / reference.counts["colour"]["red"])
    assert colour.skewed_from_reference and colour.skewed_from_uniform
    assert by_colour["count"].skewed_from_reference   # two to four only, where training has two to eight
    # a second sample of the training stream is not called skewed in any attribute
    again = compare(prompt, world_reference(prompt, 40, seed=1), reference)
    assert [a.attribute for a in again if a.skewed_from_reference] == []


def test_a_folder_is_a_reference_through_its_captions(tmp_path):
    from PIL import Image
    rows = []
    for i, (text, colour) in enumerate([("three circles", "red"), ("two red circles", "red"), ("a star", "blue"),
                                        ("four circles", "blue"), ("not a world caption", "red")]):
        count = int({"three": 3, "two": 2, "a": 1, "four": 4, "not": 1}[text.split()[0]])
        spec = ObjectsScene((ObjectGroup("star" if "star" in text else "circle", colour, "large", count),),
                            background="white")
        Image.fromarray(render(spec, 64, i)).save(tmp_path / f"{i}.png")
        rows.append(f'{{"file_name": "{i}.png", "text": "{text}"}}')
    (tmp_path / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    sample = folder_reference(audit_prompt("some circles"), tmp_path, 100)
    assert sample.images == 3 and sample.counts["colour"] == Counter(red=2, blue=1)
    assert sample.counts["count"] == Counter({"3": 1, "2": 1, "4": 1})
    with pytest.raises(AuditError, match="no caption"):
        folder_reference(audit_prompt("a clock"), tmp_path, 100)


def test_sample_sizes_are_bounded():
    prompt = audit_prompt("a shape")
    for n in (0, -1, 10**6, True, 2.5):
        with pytest.raises(AuditError, match="accepted"):
            model_sample(red_circles, prompt, n)
        with pytest.raises(AuditError, match="accepted"):
            world_reference(prompt, n)


def test_unreadable_images_are_counted_not_read():
    sample = Sample()
    blank = render(ClockScene(3, 40, "white"), 64, 0) * 0 + 250
    sample.add(blank, "clock")
    assert (sample.images, sample.unreadable, sample.counts) == (1, 1, {})


def test_the_command_writes_table_numbers_and_chart(tmp_path):
    out = tmp_path / "audit"
    result = CliRunner().invoke(cli, ["audit", "--model", "groundtruth", "--prompt", "three stars", "-n", "6",
                                      "--reference-n", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| three stars | colour |" in result.output
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"prompt": "three stars"' in (out / "report.json").read_text()


@pytest.mark.parametrize("args, message", [
    (["--prompt", "a dragon"], "dragon"),
    (["--reference", "no/such/folder"], "neither 'world' nor a folder"),
    (["-n", "0"], "0"),
    (["--model", "no/such/model"], "not known"),
])
def test_the_command_refuses_bad_input_by_name(args, message, tmp_path):
    result = CliRunner().invoke(cli, ["audit", "--out", str(tmp_path), *args])
    assert result.exit_code != 0 and message in result.output

"""Break the model: the challenges' prompts, failures named in the verifier's words, and contender specs."""

from __future__ import annotations

import pytest

from pixeldrift.classroom.challenges import CHALLENGES, challenge, challenge_table, failure_reason, run_challenge
from pixeldrift.classroom.contenders import Contender, parse_contender, unique_names
from pixeldrift.cli.main import run
from pixeldrift.evaluate.compose import groundtruth_generator
from pixeldrift.world import parse_prompt, render, verify


def drawing_instead(other: str):
    """A "model" that always draws `other` (rendered exactly), whatever it is asked."""
    return lambda prompts, seeds: [render(parse_prompt(other), 64, seed) for seed in seeds]


def test_every_challenge_in_scope_is_passed_by_the_world_itself():
    truth = groundtruth_generator(64)
    for item in CHALLENGES:
        attempts = run_challenge(truth, item, [0, 1])
        assert len(attempts) == 2 * len(item.prompts)
        assert all(a.ok and a.reason == "" for a in attempts), [a.reason for a in attempts if not a.ok]
    assert not challenge("hands").in_scope and run_challenge(truth, challenge("hands"), [0]) == []


@pytest.mark.parametrize("drawn, asked, reason", [
    ("exactly three red circles and three green circles", "exactly five red circles and three green circles",
     "3 red circles, asked for 5"),
    ("a red circle to the right of a blue square", "a red circle to the left of a blue square",
     "relation: the red circle to the right of the blue square, asked for the red circle to the left of"),
    ("a clock showing 3:40", "a clock showing 11:25", "hour: 3, asked for 11; minute: 40, asked for 25"),
    ("two red circles", "a red circle", "2 red circles, asked for 1"),
    ("a red circle and a blue square", "a red circle", "extra objects: "),
])
def test_a_failure_is_named_in_the_verifiers_words(drawn, asked, reason):
    result = verify(render(parse_prompt(drawn), 64, 0), parse_prompt(asked))
    assert not result.ok and reason in failure_reason(result)


def test_a_model_that_draws_the_wrong_thing_fails_each_picture_with_its_reason():
    attempts = run_challenge(drawing_instead("a clock showing 3:40"), challenge("time"), [0, 1, 2])
    assert [a.ok for a in attempts] == [False] * 3 and all("hour: 3" in a.reason for a in attempts)
    table = challenge_table({"wrong": {"time": attempts}, "truth": {"time": run_challenge(
        groundtruth_generator(64), challenge("time"), [0, 1, 2])}})
    assert "| Analog time | a clock showing 11:23 | a clock showing 11:25 | 0/3 | 3/3 |" in table
    assert "Counting" not in table  # a challenge not run has no row
    with pytest.raises(ValueError, match="seeds"):
        run_challenge(groundtruth_generator(64), challenge("time"), [])
    with pytest.raises(ValueError, match="accepted: counting"):
        challenge("juggling")


def test_long_text_asks_for_sentences_that_fit_the_models_64_pixels_and_names_what_was_read():
    from pixeldrift.world.render import sign_layout
    item = challenge("text")
    signs = [parse_prompt(p) for p in item.prompts]
    assert all(s.is_sentence for s in signs) and max(len(s.word.split()) for s in signs) == 5
    assert [sign_layout(s.word, 64)[0] for s in signs] == [2, 1]  # pixels a font cell at 64
    assert "has 6 words" in item.limit
    attempts = run_challenge(drawing_instead('a sign reading "THE CAT"'), item, [0, 1])
    assert not any(a.ok for a in attempts)
    assert attempts[-1].reason == "read 'THE CAT', asked for 'THE CAT SAT ON MATS'"


def test_contender_specs_read_every_field_and_refuse_bad_ones():
    c = parse_contender("name=fast one,model=models/default,sampler=euler,steps=4,guidance=2.5,lora=a.safetensors,"
                        "lora_scale=0.5,plan=models/cn-layout")
    assert c == Contender("fast one", "models/default", "euler", 4, 2.5, "a.safetensors", 0.5, "models/cn-layout")
    assert c.settings()["steps"] == 4 and "name" in c.settings()
    for bad, words in [("steps=4", "needs a name"), ("name=a,colour=red", "'colour=red' is not a field"),
                       ("name=a,steps=four", "steps='four' is not a number"), ("name=a,steps=0", "steps 0"),
                       ("name=a,name=b", "name given twice"), ("name=<b>", "contender name"),
                       ("name=a,guidance=99", "guidance 99"), ("", "key=value")]:
        with pytest.raises(ValueError, match=words):
            parse_contender(bad)
    with pytest.raises(ValueError, match="'a' is used twice"):
        unique_names([Contender("a"), Contender("a", steps=4)])


def test_the_challenge_command_prints_each_picture_and_the_table(capsys):
    assert run(["challenge", "--model", "groundtruth", "--seeds", "2", "--only", "counting,hands"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS  exactly five red circles and three green circles") == 2
    assert "| Counting | exactly 13 red and 7 green circles |" in out and "| 2/2 |" in out
    assert "out of scope" in out and "count: 13 is not accepted" in out


def test_the_arena_command_refuses_bad_contenders(capsys):
    assert run(["arena", "--contender", "name=a", "--contender", "name=a,steps=4"]) == 2
    assert "used twice" in capsys.readouterr().err
    assert run(["arena", "--contender", "name=a"]) == 2
    assert "at least two contenders" in capsys.readouterr().err

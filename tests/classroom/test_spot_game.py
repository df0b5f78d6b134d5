"""The spot-the-AI game's rounds: the key stays in the game, a round is answered once, forged ids are refused."""

from __future__ import annotations

import numpy as np
import pytest

from pixeldrift.classroom.spot_data import SIZE, scene
from pixeldrift.classroom import spot_game
from pixeldrift.classroom.spot_game import GENERATED, PICTURES, ROUND_TTL_S, RoundError, SpotGame
from pixeldrift.world.render import render


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def flat_pictures(prompts: list[str], seeds: list[int]) -> list[np.ndarray]:
    """Stand-in AI pictures: the scene's render, inverted (no model needed to test the rounds)."""
    return [255 - render(scene(s)[0], SIZE, s) for s in seeds]


@pytest.fixture
def game():
    return SpotGame(flat_pictures, detector=None, clock=Clock())


def test_a_round_mixes_renders_and_generated_pictures(game):
    made = game.new_round()
    assert len(made.pictures) == PICTURES and sum(made.generated) == GENERATED
    assert all(p.shape == (SIZE, SIZE, 3) and p.dtype == np.uint8 for p in made.pictures)
    assert len({game.new_round().id for _ in range(3)} | {made.id}) == 4


def test_the_key_scores_full_marks_and_its_opposite_none(game):
    made = game.new_round()
    key = [i for i, g in enumerate(made.generated) if g]
    result = game.answer(made.id, key)
    assert result["score"] == PICTURES and all(p["correct"] for p in result["pictures"])
    other = game.new_round()
    wrong = [i for i, g in enumerate(other.generated) if not g]
    assert game.answer(other.id, wrong)["score"] == 0


def test_a_round_is_answered_once(game):
    made = game.new_round()
    game.answer(made.id, [])
    with pytest.raises(RoundError) as error:
        game.answer(made.id, [0, 1])
    assert error.value.status == 409


@pytest.mark.parametrize("marked", [[0, 0], [PICTURES], [-1], ["1"]])
def test_bad_indices_are_refused_and_the_round_stays_open(game, marked):
    made = game.new_round()
    with pytest.raises(RoundError) as error:
        game.answer(made.id, marked)
    assert error.value.status == 400
    assert game.answer(made.id, [1])["total"] == PICTURES


def test_forged_and_expired_rounds_are_unknown(game):
    made = game.new_round()
    for forged in ("", made.id + "x", made.id[:-1]):
        with pytest.raises(RoundError) as error:
            game.answer(forged, [])
        assert error.value.status == 404
    game.clock.now += ROUND_TTL_S + 1
    with pytest.raises(RoundError) as error:
        game.answer(made.id, [])
    assert error.value.status == 404


def test_old_rounds_are_forgotten_past_the_limit(game, monkeypatch):
    monkeypatch.setattr(spot_game, "MAX_ROUNDS", 4)
    game.make_generated = lambda prompts, seeds: [np.zeros((SIZE, SIZE, 3), np.uint8)] * len(seeds)
    first = game.new_round()
    for _ in range(4):
        game.new_round()
    assert len(game.rounds) <= 4 and first.id not in game.rounds

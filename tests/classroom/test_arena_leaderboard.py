"""Bradley-Terry on simulated votes: known strengths come back inside their intervals, and the intervals cover."""

from __future__ import annotations

import numpy as np
import pytest

from pixeldrift.classroom.arena import verifier_choice, verifier_votes
from pixeldrift.classroom.bradley_terry import (ANCHOR, ELO_SCALE, Votes, bootstrap_intervals, fit_scores,
                                                leaderboard, leaderboard_table)
from pixeldrift.evaluate.compose import SampleResult


def simulate(true_scores, count: int, rng, tie_rate: float = 0.0) -> Votes:
    """Votes between random pairs drawn from the Bradley-Terry model of `true_scores` (Elo-like scale)."""
    n = len(true_scores)
    names = tuple(f"m{i}" for i in range(n))
    rows = []
    for _ in range(count):
        a, b = rng.choice(n, 2, replace=False)
        p_left = 1 / (1 + 10 ** ((true_scores[b] - true_scores[a]) / ELO_SCALE))
        if rng.random() < tie_rate:
            rows.append((names[a], names[b], "tie"))
        else:
            rows.append((names[a], names[b], "left" if rng.random() < p_left else "right"))
    return Votes.from_choices(names, rows)


def centred(scores) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    return scores - scores.mean() + ANCHOR


def test_known_strengths_are_recovered_within_their_intervals():
    truth = centred([1250, 1100, 1000, 950, 700])
    votes = simulate(truth, 4000, np.random.default_rng(1))
    rows = {row.model: row for row in leaderboard(votes, rounds=100, seed=3)}
    for i, true in enumerate(truth):
        row = rows[f"m{i}"]
        assert row.low <= true <= row.high, (i, true, row)
        assert row.high - row.low < 120, row  # the intervals are tight enough to mean something
    assert [r.model for r in leaderboard(votes, rounds=20)] == ["m0", "m1", "m2", "m3", "m4"]
    assert abs(np.mean([r.score for r in rows.values()]) - ANCHOR) < 1e-6


def test_fitted_strengths_solve_the_likelihood_equations():
    """At the maximum, each contender's expected wins equal its wins (plus the prior's half games)."""
    votes = simulate(centred([1200, 1000, 900]), 600, np.random.default_rng(2), tie_rate=0.2)
    prior = 1.0
    p = 10 ** ((fit_scores(votes, prior) - ANCHOR) / ELO_SCALE)
    n = len(p)
    wins, games = np.full((n, n), prior / 2), np.full((n, n), prior)
    np.fill_diagonal(wins, 0), np.fill_diagonal(games, 0)
    for a, b, s in zip(votes.left, votes.right, votes.outcome):
        wins[a, b] += s
        wins[b, a] += 1 - s
        games[a, b] += 1
        games[b, a] += 1
    expected = (games * p[:, None] / (p[:, None] + p[None, :])).sum(axis=1)
    np.testing.assert_allclose(expected, wins.sum(axis=1), rtol=1e-6)


def test_bootstrap_95_percent_intervals_cover_the_truth():
    truth = centred([1150, 1000, 900])
    rng = np.random.default_rng(7)
    covered = trials = 0
    for trial in range(20):
        votes = simulate(truth, 300, rng)
        intervals = bootstrap_intervals(votes, rounds=60, seed=trial)
        covered += int(np.sum((intervals[:, 0] <= truth) & (truth <= intervals[:, 1])))
        trials += len(truth)
    assert covered / trials >= 0.85, f"covered {covered}/{trials}"


def test_ties_count_half_and_an_unbeaten_contender_stays_finite():
    tied = Votes.from_choices(("a", "b"), [("a", "b", "tie")] * 50)
    assert np.allclose(fit_scores(tied), ANCHOR)
    swept = Votes.from_choices(("a", "b"), [("a", "b", "left")] * 50)
    scores = fit_scores(swept)
    assert np.all(np.isfinite(scores)) and scores[0] > scores[1] + 400  # 50:0 is far more than 10:1 odds


def test_rank_is_shared_by_contenders_the_intervals_cannot_separate():
    votes = Votes.from_choices(("a", "b", "c"), [("a", "b", "tie")] * 30 + [("a", "c", "left")] * 30 +
                               [("b", "c", "left")] * 30)
    rows = {r.model: r for r in leaderboard(votes, rounds=100)}
    assert rows["a"].rank == rows["b"].rank == 1 and rows["c"].rank == 3
    assert rows["a"].votes == 60 and "| 1 | a |" in leaderboard_table(list(rows.values()))


@pytest.mark.parametrize("names, rows, message", [
    (("a",), [], "contenders"),
    (("a", "a"), [], "contenders"),
    (("a", "b"), [("a", "zed", "left")], "'zed'"),
    (("a", "b"), [("a", "a", "left")], "two different"),
    (("a", "b"), [("a", "b", "both")], "choice 'both'"),
])
def test_bad_votes_are_refused_by_name(names, rows, message):
    with pytest.raises(ValueError, match=message):
        Votes.from_choices(names, rows)


def test_the_verifier_judges_a_pass_over_a_fail_and_ties_the_rest():
    assert [verifier_choice(*p) for p in ((True, False), (False, True), (True, True), (False, False))] == \
        ["left", "right", "tie", "tie"]
    make = lambda oks: [SampleResult("counting", "two stars", seed, ok, "") for seed, ok in enumerate(oks)]
    votes = verifier_votes({"good": make([True, True, False]), "bad": make([False, True, False])})
    assert list(votes.outcome) == [1.0, 0.5, 0.5]
    assert fit_scores(votes)[0] > fit_scores(votes)[1]

"""The arena's leaderboard: Bradley-Terry strengths fitted to pairwise votes, on an Elo-like scale.

Bradley and Terry (1952) model a vote between contenders i and j as
P(i beats j) = p_i / (p_i + p_j). The strengths are fitted by Hunter's MM algorithm
(Hunter 2004, "MM algorithms for generalized Bradley-Terry models", eq. 3):

    p_i <- W_i / sum_{j != i} N_ij / (p_i + p_j)

with W_i the wins of i and N_ij the votes between i and j; each step raises the
likelihood. A tie counts half a win to each side. Every pair of contenders also gets
``prior`` virtual games split evenly, so a contender that never lost keeps a finite
score (the votes outweigh it as they grow). Scores are shown as R_i = 1000 + 400 log10 p_i
with the mean strength at 1000: 400 points is the Elo convention, a 10:1 winning odds
(P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400))).

The 95% intervals are percentile bootstrap intervals (Efron and Tibshirani 1993, ch. 13):
the votes are resampled with replacement and the model fitted again. The rank is the
one arena leaderboards show: 1 + the number of contenders whose interval lies wholly
above this one's, so contenders that cannot be told apart share a rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ELO_SCALE = 400.0
ANCHOR = 1000.0
MAX_CONTENDERS = 64
MAX_VOTES = 1_000_000
MAX_BOOTSTRAP = 2000
OUTCOMES = {"left": 1.0, "right": 0.0, "tie": 0.5}


@dataclass(frozen=True)
class Votes:
    """Votes as three arrays: the left and right contenders' indices and the left side's score (1, 0.5, 0)."""

    names: tuple[str, ...]
    left: np.ndarray
    right: np.ndarray
    outcome: np.ndarray

    @classmethod
    def from_choices(cls, names, rows) -> "Votes":
        """`rows` of (left name, right name, "left" | "right" | "tie"); ValueError naming a bad row."""
        names = tuple(names)
        if not 2 <= len(names) <= MAX_CONTENDERS or len(set(names)) != len(names):
            raise ValueError(f"contenders: {len(names)} given (distinct names needed); accepted: 2 to {MAX_CONTENDERS}")
        index = {name: i for i, name in enumerate(names)}
        left, right, outcome = [], [], []
        for number, (a, b, choice) in enumerate(rows):
            if number >= MAX_VOTES:
                raise ValueError(f"votes: more than {MAX_VOTES}; accepted: up to {MAX_VOTES}")
            if a not in index or b not in index or a == b:
                raise ValueError(f"vote {number}: {a!r} against {b!r}; accepted: two different contenders of "
                                 f"{', '.join(names)}")
            if choice not in OUTCOMES:
                raise ValueError(f"vote {number}: choice {choice!r}; accepted: {', '.join(OUTCOMES)}")
            left.append(index[a]), right.append(index[b]), outcome.append(OUTCOMES[choice])
        return cls(names, np.array(left, dtype=np.int64), np.array(right, dtype=np.int64),
                   np.array(outcome, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.outcome)

    def counts(self) -> np.ndarray:
        """How many votes each contender took part in."""
        return np.bincount(np.concatenate([self.left, self.right]), minlength=len(self.names))


def fit_scores(votes: Votes, prior: float = 1.0, tolerance: float = 1e-9, max_iterations: int = 10_000
               ) -> np.ndarray:
    """Bradley-Terry scores on the Elo-like scale (mean 1000), by MM iterations (see the module)."""
    return _fit(len(votes.names), votes.left, votes.right, votes.outcome, prior, tolerance, max_iterations)


def _fit(n: int, left, right, outcome, prior: float, tolerance: float, max_iterations: int) -> np.ndarray:
    if not prior > 0:
        raise ValueError(f"prior: {prior!r}; accepted: a positive number of virtual games per pair")
    wins = np.full((n, n), prior / 2)          # wins[i, j]: the wins of i over j
    np.fill_diagonal(wins, 0.0)
    np.add.at(wins, (left, right), outcome)
    np.add.at(wins, (right, left), 1.0 - outcome)
    games, total_wins = wins + wins.T, wins.sum(axis=1)
    p = np.ones(n)
    for _ in range(max_iterations):
        updated = total_wins / (games / (p[:, None] + p[None, :])).sum(axis=1)
        updated /= np.exp(np.log(updated).mean())  # the scale is free: fix the geometric mean at 1
        converged = np.max(np.abs(np.log(updated / p))) < tolerance
        p = updated
        if converged:
            break
    return ANCHOR + ELO_SCALE * np.log10(p)


def bootstrap_intervals(votes: Votes, rounds: int = 200, seed: int = 0, prior: float = 1.0,
                        level: float = 0.95) -> np.ndarray:
    """(n, 2) percentile intervals of the scores over `rounds` resamplings of the votes."""
    if not 1 <= rounds <= MAX_BOOTSTRAP:
        raise ValueError(f"bootstrap rounds: {rounds!r}; accepted: 1 to {MAX_BOOTSTRAP}")
    n, m = len(votes.names), len(votes)
    rng = np.random.default_rng(seed)
    fits = np.empty((rounds, n))
    for k in range(rounds):
        pick = rng.integers(0, m, m) if m else np.zeros(0, dtype=np.int64)
        fits[k] = _fit(n, votes.left[pick], votes.right[pick], votes.outcome[pick], prior, 1e-6, 10_000)
    tail = (1.0 - level) / 2 * 100
    return np.percentile(fits, [tail, 100 - tail], axis=0).T


@dataclass(frozen=True)
class Standing:
    rank: int
    model: str
    score: float
    low: float
    high: float
    votes: int


def leaderboard(votes: Votes, rounds: int = 200, seed: int = 0, prior: float = 1.0) -> list[Standing]:
    """The lectures' arena table, best first: rank, model, score, 95% interval, votes."""
    scores, intervals, counts = fit_scores(votes, prior), bootstrap_intervals(votes, rounds, seed, prior), votes.counts()
    rows = []
    for i, name in enumerate(votes.names):
        rank = 1 + int(np.sum(intervals[:, 0] > intervals[i, 1]))
        rows.append(Standing(rank, name, float(scores[i]), float(intervals[i, 0]), float(intervals[i, 1]),
                             int(counts[i])))
    return sorted(rows, key=lambda row: (-row.score, row.model))


def leaderboard_table(rows: list[Standing]) -> str:
    """A Markdown table of a leaderboard."""
    lines = ["| rank | model | score | 95% CI | votes |", "|---:|---|---:|---|---:|"]
    lines += [f"| {r.rank} | {r.model} | {r.score:.0f} | {r.low:.0f} to {r.high:.0f} | {r.votes} |" for r in rows]
    return "\n".join(lines)

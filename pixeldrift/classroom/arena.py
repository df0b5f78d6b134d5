"""The automatic arena: every contender draws every prompt and seed, and the world's verifier judges the pairs.

For one prompt and seed, each two contenders meet once: a picture the verifier passes
beats one it fails, and two passes or two fails tie. The Bradley-Terry leaderboard of
those votes (classroom/bradley_terry.py) exists before anyone votes, and it is the
baseline the people's votes in the studio are compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from pixeldrift.classroom.bradley_terry import Standing, Votes, leaderboard
from pixeldrift.evaluate.compose import BenchmarkPrompt, ComposeSettings, GenerateFn, SampleResult, run_compose

MAX_IMAGES = 20_000


def verifier_choice(left_ok: bool, right_ok: bool) -> str:
    """The verifier's vote on two pictures of one prompt: a pass beats a fail, otherwise a tie."""
    return "tie" if left_ok == right_ok else ("left" if left_ok else "right")


def verifier_votes(results: dict[str, list[SampleResult]]) -> Votes:
    """One vote for each two contenders on each (prompt, seed) all of them drew."""
    names = list(results)
    verdicts = {name: {(r.prompt, r.seed): r.ok for r in rows} for name, rows in results.items()}
    shared = set.intersection(*(set(v) for v in verdicts.values())) if verdicts else set()
    rows = [(a, b, verifier_choice(verdicts[a][key], verdicts[b][key]))
            for key in sorted(shared) for a, b in combinations(names, 2)]
    return Votes.from_choices(names, rows)


@dataclass(frozen=True)
class ArenaReport:
    results: dict[str, list[SampleResult]]   # per contender, every image's verdict
    votes: Votes
    standings: list[Standing]

    def pass_rate(self, name: str) -> float:
        rows = self.results[name]
        return sum(r.ok for r in rows) / len(rows) if rows else float("nan")


def automatic_arena(generators: dict[str, GenerateFn], prompts: list[BenchmarkPrompt], settings: ComposeSettings,
                    rounds: int = 200, progress=None) -> ArenaReport:
    """Run every contender on every prompt and seed, verify, and fit the leaderboard of the verifier's votes."""
    images = len(generators) * len(prompts) * len(settings.seeds)
    if images > MAX_IMAGES:
        raise ValueError(f"the arena would draw {images} images; accepted: up to {MAX_IMAGES} "
                         "(fewer contenders, prompts or seeds)")
    results = {}
    for name, generate in generators.items():
        results[name], _ = run_compose(generate, prompts, settings, keep_failures=0)
        if progress:
            progress(name, results[name])
    votes = verifier_votes(results)
    return ArenaReport(results, votes, leaderboard(votes, rounds))

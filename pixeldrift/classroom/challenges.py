"""Break the model: the lectures' six challenges, each mapped to prompts the world's verifier reads exactly.

The lectures ask image models for things they famously get wrong: hands, long text,
counting, spatial arrangements, quantities and analog time. Here each becomes world
prompts, and every picture is passed or failed by the verifier (world/verify.py) with
the failure named in its words ("3 red circles, asked for 5"). Where the world cannot
draw what the lecture asks, the challenge says so and asks for the nearest thing it
can: the limit is part of the lesson, and the refusal text is the parser's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from pixeldrift.evaluate.compose import GenerateFn
from pixeldrift.world import PromptError, parse_prompt, verify
from pixeldrift.world.caption import plural
from pixeldrift.world.spec import MAX_OBJECTS, MAX_SIGN_LINES, MAX_SIGN_WORDS, MAX_WORD
from pixeldrift.world.verify import VerifyResult

MAX_SEEDS = 64


@dataclass(frozen=True)
class Challenge:
    key: str
    title: str
    lecture: str                 # what the lecture asks a model for
    prompts: tuple[str, ...]     # the world's version; empty: out of the world's scope
    limit: str                   # how the world differs from the lecture's ask

    @property
    def in_scope(self) -> bool:
        return bool(self.prompts)


def _refusal(prompt: str) -> str:
    """The parser's own reason for refusing a prompt (the world's limit, in its words)."""
    try:
        parse_prompt(prompt)
    except PromptError as error:
        return str(error)
    return f"{prompt!r} is in the world's grammar"


_SIX_WORDS = 'a sign reading "THE OLD CAT SAT ON MATS"'
CHALLENGES = (
    Challenge("counting", "Counting", "exactly 13 red and 7 green circles",
              ("exactly five red circles and three green circles",),
              f"A scene holds at most {MAX_OBJECTS} objects, so the world asks for 5 + 3 instead of 13 + 7 "
              f"({_refusal('exactly 13 red circles and 7 green circles')})."),
    Challenge("spatial", "Spatial relations", "A left of B, C between them, D above B",
              ("a red circle to the left of a blue square",
               "a green triangle between a red circle and a blue square",
               "a yellow star above a blue square"),
              "A world scene holds one relation, so the arrangement is asked for one relation a picture: "
              "left of, between, above."),
    Challenge("quantity", "Quantity", "five glasses: empty, 1/4, 1/2, 3/4 and full",
              ("a row of five glasses: empty, quarter, half, three quarters and full",),
              "None: the world draws exactly this row."),
    Challenge("time", "Analog time", "a clock showing 11:23",
              ("a clock showing 11:25",),
              f"Clocks show 5-minute steps, so 11:25 stands in for 11:23 ({_refusal('a clock showing 11:23')})."),
    Challenge("text", "Long text", "a sign with a whole sentence on it",
              ('a sign reading "DOGS CAN SWIM"', 'a sign reading "THE CAT SAT ON MATS"'),
              f"A sign holds up to {MAX_SIGN_WORDS} words of 2 to {MAX_WORD} capitals, wrapped over up to "
              f"{MAX_SIGN_LINES} lines at the largest letters that fit, and the verifier reads it line by line. At the "
              "models' 64 pixels three short words are drawn 2 pixels a font cell and five words 1 pixel a cell "
              "(as the world's six-letter words are); a sentence that does not wrap into 3 lines of 9 letters "
              "fits only at 128 pixels, and more words not at all "
              f"({_refusal(_SIX_WORDS)})."),
    Challenge("hands", "Hands", "a hand with five fingers",
              (),
              "Out of the world's scope: it draws shapes, clocks, glasses and signs, no hands, so nothing here "
              "can be verified."),
)
BY_KEY = {c.key: c for c in CHALLENGES}


def challenge(key: str) -> Challenge:
    if key not in BY_KEY:
        raise ValueError(f"challenge {key!r} is not known; accepted: {', '.join(BY_KEY)}")
    return BY_KEY[key]


def failure_reason(result: VerifyResult) -> str:
    """The verifier's reasons in a few words: "3 red circles, asked for 5; relation: ... "; "" when it passed."""
    if result.ok:
        return ""
    parts = [f"could not read: {p}" for p in result.problems]
    for check in result.failures:
        if check.attribute.startswith("count of "):
            noun = check.attribute[len("count of "):]
            noun = plural(noun) if check.expected == "1" and check.observed != "1" else noun
            parts.append(f"{check.observed} {noun}, asked for {check.expected}")
        elif check.attribute == "other objects":
            parts.append(f"extra objects: {check.observed}")
        elif check.attribute == "text":
            parts.append(f"read {check.observed!r}, asked for {check.expected!r}")
        else:
            parts.append(f"{check.attribute}: {check.observed}, asked for {check.expected}")
    return "; ".join(parts) or "nothing the verifier could check"


@dataclass(frozen=True)
class Attempt:
    """One picture of a challenge, judged."""

    challenge: str
    prompt: str
    seed: int
    ok: bool
    reason: str
    image: Image.Image | None = None


def check_seeds(seeds) -> tuple[int, ...]:
    seeds = tuple(seeds)
    if not 1 <= len(seeds) <= MAX_SEEDS or any(type(s) is not int or not 0 <= s < 2**31 for s in seeds):
        raise ValueError(f"seeds: {len(seeds)} given; accepted: 1 to {MAX_SEEDS} integers from 0 to 2^31-1")
    return seeds


def run_challenge(generate: GenerateFn, item: Challenge, seeds, keep_images: bool = False) -> list[Attempt]:
    """Every prompt of the challenge with every seed, each picture verified; [] for a challenge out of scope."""
    seeds = check_seeds(seeds)
    jobs = [(prompt, seed) for prompt in item.prompts for seed in seeds]
    if not jobs:
        return []
    images = list(generate([p for p, _ in jobs], [s for _, s in jobs]))
    if len(images) != len(jobs):
        raise ValueError(f"the model returned {len(images)} images for {len(jobs)} prompts")
    attempts = []
    for (prompt, seed), image in zip(jobs, images):
        verdict = verify(image, parse_prompt(prompt))
        attempts.append(Attempt(item.key, prompt, seed, verdict.ok, failure_reason(verdict),
                                image if keep_images else None))
    return attempts


def challenge_table(ways: dict[str, dict[str, list[Attempt]]]) -> str:
    """Markdown: a row per challenge run, a column per way of drawing (model, model + plan), passed / drawn."""
    names = list(ways)
    lines = ["| challenge | lecture asks | world asks | " + " | ".join(names) + " |",
             "|---|---|---|" + "---:|" * len(names)]
    for item in CHALLENGES:
        if not any(item.key in attempts for attempts in ways.values()):
            continue  # not run (pixeldrift challenge --only)
        cells = []
        for name in names:
            attempts = ways[name].get(item.key, [])
            cells.append(f"{sum(a.ok for a in attempts)}/{len(attempts)}" if attempts else "out of scope")
        asked = "; ".join(item.prompts) or "(nothing: out of scope)"
        lines.append(f"| {item.title} | {item.lecture} | {asked} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

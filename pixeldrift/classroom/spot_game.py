"""The "spot the AI" game: rounds of renders and generated pictures, the answer key kept here.

A round is a shuffled set of pictures, some rendered by the world and some made by a
model for the same kind of scene; the player marks the ones they think are AI. The
pictures leave as plain pixels (no metadata; generated ones keep the invisible
watermark, as everything pixeldrift makes does). The key never leaves: a round has an
unguessable id, is answered once, and is forgotten after ROUND_TTL_S or when
MAX_ROUNDS newer rounds exist.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from pixeldrift.classroom.spot_data import SIZE, scene
from pixeldrift.classroom.verdict import AI, Verdict, judge
from pixeldrift.provenance.watermark import embed_watermark
from pixeldrift.world.render import render

PICTURES, GENERATED = 10, 5
MAX_ROUNDS = 256
ROUND_TTL_S = 3600.0

MakeGenerated = Callable[[list[str], list[int]], list[np.ndarray]]   # (prompts, seeds) -> RGB uint8 pictures


class RoundError(ValueError):
    """An answer the game cannot take; `status` is the HTTP status the server answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Round:
    id: str
    pictures: list[np.ndarray]
    generated: list[bool]            # the answer key
    captions: list[str]
    verdicts: list[Verdict]
    created: float
    answered: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class SpotGame:
    """Makes rounds and checks answers; `make_generated` draws the AI pictures, `detector` may be None."""

    def __init__(self, make_generated: MakeGenerated, detector=None, clock: Callable[[], float] = time.monotonic):
        self.make_generated, self.detector, self.clock = make_generated, detector, clock
        self.rounds: OrderedDict[str, Round] = OrderedDict()
        self._lock = threading.Lock()

    def new_round(self) -> Round:
        pick = secrets.SystemRandom()
        seeds = [pick.randrange(2**31) for _ in range(PICTURES)]
        generated = [True] * GENERATED + [False] * (PICTURES - GENERATED)
        pick.shuffle(generated)
        captions = [scene(s)[1] for s in seeds]
        made = iter(self.make_generated([c for c, g in zip(captions, generated) if g],
                                        [s for s, g in zip(seeds, generated) if g]))
        pictures = [embed_watermark(next(made), pick.randrange(2**16)) if g else render(scene(s)[0], SIZE, s)
                    for s, g in zip(seeds, generated)]
        verdicts = [judge(p, self.detector) for p in pictures]
        new = Round(secrets.token_urlsafe(18), pictures, generated, captions, verdicts, self.clock())
        with self._lock:
            self._forget_old()
            self.rounds[new.id] = new
        return new

    def _forget_old(self) -> None:
        while self.rounds and (len(self.rounds) >= MAX_ROUNDS
                               or self.clock() - next(iter(self.rounds.values())).created > ROUND_TTL_S):
            self.rounds.popitem(last=False)

    def answer(self, round_id: str, marked: list[int]) -> dict:
        """Score one answer: `marked` holds the indices the player calls AI. RoundError for an unknown,
        expired or already answered round (404, 404, 409) or bad indices (400)."""
        with self._lock:
            self._forget_old()
            found = self.rounds.get(round_id)
        if found is None:
            raise RoundError(404, "no such round: it was never issued here, or it expired; start a new round")
        chosen = set(marked)
        if len(chosen) != len(marked) or not all(type(i) is int and 0 <= i < len(found.pictures) for i in marked):
            raise RoundError(400, f"marked: distinct picture indices from 0 to {len(found.pictures) - 1}")
        with found.lock:
            if found.answered:
                raise RoundError(409, "this round was already answered; start a new round")
            found.answered = True
        pictures = []
        for i, (is_ai, caption, verdict) in enumerate(zip(found.generated, found.captions, found.verdicts)):
            pictures.append({"index": i, "generated": is_ai, "marked": i in chosen, "correct": (i in chosen) == is_ai,
                             "caption": caption, "detector_correct": (verdict.verdict == AI) == is_ai,
                             "detector": verdict.to_dict()})
        return {"round": found.id, "score": sum(p["correct"] for p in pictures), "total": len(pictures),
                "detector_score": sum(p["detector_correct"] for p in pictures), "pictures": pictures}

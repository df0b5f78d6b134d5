"""The classroom's arena and "break the model" over HTTP (pages: /static/arena.html, /static/challenges.html).

    GET  /api/arena/contenders      the contenders this server pits against each other
    POST /api/arena/pair            {prompt?, seed?, contenders?: [a, b]} -> a pair id and two unnamed pictures
    POST /api/arena/vote            {pair_id, choice: left | right | tie} -> who was who; once per issued pair
    GET  /api/arena/leaderboard     Bradley-Terry tables of the people's and the verifier's votes, and how often
                                    they agree on the same pairs
    GET  /api/challenges            the six challenges: what the lecture asks, the world's prompts, the limits
    POST /api/challenges/run        {challenge, seeds, model?, plan?} -> every picture passed or failed, the
                                    failure named by the verifier

The contenders are each served model as it samples by default, with 4 Euler steps, without
guidance, and with plan-then-draw where a served layout ControlNet steers it. Votes go to
arena.sqlite in the gallery folder (classroom/arena_store.py). Every picture is a labelled PNG.
"""

from __future__ import annotations

import base64
import random
import threading
from dataclasses import dataclass, replace
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from pixeldrift.classroom.arena_store import AlreadyVoted, ArenaStore, UnknownPair, agreement
from pixeldrift.classroom.bradley_terry import Votes, leaderboard
from pixeldrift.classroom.challenges import CHALLENGES, challenge as find_challenge, run_challenge
from pixeldrift.classroom.contenders import drawing
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.provenance.label import labelled_png_bytes
from pixeldrift.server.control_images import checked
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job_plan import layout_controlnets
from pixeldrift.server.job_request import Name, Prompt
from pixeldrift.server.studio import Studio, get_studio
from pixeldrift.world import HELDOUT_PROMPTS, IMAGE_SIZES, PromptError, parse_prompt, verify

router = APIRouter(prefix="/api", tags=["classroom"])
ARENA_FILE = "arena.sqlite"
SIZE = 64                  # the world's middle size: the verifier reads it, and the default model draws it
MAX_CHALLENGE_SEEDS = 8
LEADERBOARD_ROUNDS = 200
_setup, _drawing = threading.Lock(), threading.Lock()   # one arena per app; one drawing at a time


@dataclass(frozen=True)
class ServedContender:
    name: str
    model: str
    settings: dict          # GenerationRequest fields beyond the model's defaults
    plan: bool = False

    def describe(self) -> dict:
        return {"name": self.name, "model": self.model, **self.settings, "plan": self.plan}


class Arena:
    """The contenders a server offers and its vote store."""

    def __init__(self, studio: Studio):
        self.store = ArenaStore(studio.settings.gallery_dir / ARENA_FILE)
        self.contenders: dict[str, ServedContender] = {}
        for name in studio.catalog.names():
            variants = [ServedContender(name, name, {}), ServedContender(f"{name} / euler 4 steps", name,
                                                                         {"sampler": "euler", "steps": 4}),
                        ServedContender(f"{name} / no guidance", name, {"guidance": 1.0})]
            try:
                layout_controlnets(studio, name)
                variants.append(ServedContender(f"{name} / plan-then-draw", name, {}, plan=True))
            except ApiError:
                pass  # no layout ControlNet steers this model
            self.contenders.update((c.name, c) for c in variants)

    def contender(self, name: str) -> ServedContender:
        if name not in self.contenders:
            raise ApiError(400, f"unknown contender {name!r}; this arena has: {', '.join(self.contenders)}",
                           "contenders")
        return self.contenders[name]


def get_arena(request: Request) -> Arena:
    with _setup:
        if getattr(request.app.state, "arena", None) is None:
            request.app.state.arena = Arena(get_studio(request))
        return request.app.state.arena


def _draw(studio: Studio, contender: ServedContender, prompts: list[str], seeds: list[int]) -> list[tuple]:
    """(image, labelled PNG data URL) for each prompt and seed, drawn as the contender draws."""
    model = studio.catalog.resolve(contender.model).model
    size = SIZE if model.limits.accepts_side(SIZE) else model.limits.default_width
    request = GenerationRequest(prompt=prompts[0], width=size, height=size, **contender.settings)
    filled = checked(lambda: request.validated(model.sampling_defaults, model.limits), "prompt")
    controlnet = layout_controlnets(studio, contender.model)[0] if contender.plan else None
    with _drawing:
        images = checked(lambda: drawing(model, request, controlnet)(prompts, seeds), "prompt")
    drawn = []
    for prompt, seed, image in zip(prompts, seeds, images):
        record = model.record(replace(filled, prompt=prompt, seed=seed), seed, contender.model)
        png = labelled_png_bytes(image, record, watermark=studio.settings.watermark)
        drawn.append((image, "data:image/png;base64," + base64.b64encode(png).decode("ascii")))
    return drawn


def _verdict(prompt: str, image) -> bool | None:
    """The verifier's pass or fail, or None when the prompt is not a world scene or the size not the world's."""
    try:
        scene = parse_prompt(prompt)
    except PromptError:
        return None
    return verify(image, scene).ok if image.width in IMAGE_SIZES else None


class PairBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    prompt: Prompt | None = Field(None, description="None or empty: a held-out world prompt at random")
    seed: int | None = Field(None, ge=0, lt=2**31, description="None: a random seed")
    contenders: list[Name] | None = Field(None, min_length=2, max_length=2,
                                          description="two contender names; None: two at random")


class VoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    pair_id: str = Field(max_length=64)
    choice: Literal["left", "right", "tie"]


@router.get("/arena/contenders")
def contenders(arena: Arena = Depends(get_arena)) -> dict:
    return {"contenders": [c.describe() for c in arena.contenders.values()]}


@router.post("/arena/pair")
def pair(body: PairBody, studio: Studio = Depends(get_studio), arena: Arena = Depends(get_arena)) -> dict:
    """Two unnamed pictures of one prompt and seed by two contenders, in random order."""
    if body.contenders:
        if body.contenders[0] == body.contenders[1]:
            raise ApiError(400, "a pair needs two different contenders", "contenders")
        chosen = [arena.contender(name) for name in body.contenders]
    elif len(arena.contenders) < 2:
        raise ApiError(400, "this arena has fewer than two contenders", "contenders")
    else:
        chosen = random.sample(list(arena.contenders.values()), 2)
    prompt = (body.prompt or "").strip() or random.choice(HELDOUT_PROMPTS)[1]
    seed = random.randrange(2**31) if body.seed is None else body.seed
    drawn = [_draw(studio, c, [prompt], [seed])[0] for c in chosen]
    passes = tuple(_verdict(prompt, image) for image, _ in drawn)
    pair_id = arena.store.issue(prompt, seed, *((c.name, c.describe()) for c in chosen), passes)
    return {"pair_id": pair_id, "prompt": prompt, "seed": seed, "left": drawn[0][1], "right": drawn[1][1]}


@router.post("/arena/vote")
def vote(body: VoteBody, arena: Arena = Depends(get_arena)) -> dict:
    """The one vote on an issued pair; then who drew which side, and what the verifier saw."""
    try:
        pair = arena.store.vote(body.pair_id, body.choice)
    except UnknownPair as error:
        raise ApiError(404, str(error), "pair_id") from None
    except AlreadyVoted as error:
        raise ApiError(409, str(error), "pair_id") from None
    return {"pair_id": pair.id, "choice": body.choice, "left": pair.left_name, "right": pair.right_name,
            "verifier": {"left": pair.left_pass, "right": pair.right_pass, "choice": pair.verifier_choice()}}


def _table(names: list[str], rows: list[tuple[str, str, str]]) -> dict:
    if len(names) < 2 or not rows:
        return {"votes": len(rows), "rows": []}
    standings = leaderboard(Votes.from_choices(names, rows), LEADERBOARD_ROUNDS)
    return {"votes": len(rows), "rows": [{"rank": s.rank, "model": s.model, "score": round(s.score, 1),
                                          "low": round(s.low, 1), "high": round(s.high, 1), "votes": s.votes}
                                         for s in standings]}


@router.get("/arena/leaderboard")
def arena_leaderboard(arena: Arena = Depends(get_arena)) -> dict:
    """The people's leaderboard, the verifier's on every pair it could judge, and their agreement."""
    voted = arena.store.human_votes()
    judged = [(p.left_name, p.right_name, p.verifier_choice()) for p in arena.store.issued_pairs()
              if p.verifier_choice() is not None]
    names = lambda rows: sorted({n for a, b, _ in rows for n in (a, b)})
    human_rows = [(p.left_name, p.right_name, choice) for p, choice in voted]
    agreed = agreement(voted)
    return {"human": _table(names(human_rows), human_rows), "verifier": _table(names(judged), judged),
            "agreement": {"pairs": agreed.pairs, "agree": agreed.agree, "rate": agreed.rate,
                          "decisive_pairs": agreed.decisive_pairs, "decisive_agree": agreed.decisive_agree}}


@router.get("/challenges")
def challenges() -> dict:
    return {"challenges": [{"key": c.key, "title": c.title, "lecture": c.lecture, "prompts": list(c.prompts),
                            "limit": c.limit, "in_scope": c.in_scope} for c in CHALLENGES],
            "max_seeds": MAX_CHALLENGE_SEEDS}


class ChallengeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    challenge: Name
    seeds: int = Field(4, ge=1, le=MAX_CHALLENGE_SEEDS)
    model: Name | None = None
    plan: bool = False


@router.post("/challenges/run")
def run(body: ChallengeBody, studio: Studio = Depends(get_studio)) -> dict:
    """Every prompt of one challenge drawn with seeds 0..N-1, each picture passed or failed by the verifier."""
    item = checked(lambda: find_challenge(body.challenge), "challenge")
    model = checked(lambda: studio.catalog.resolve(body.model).name, "model")
    contender = ServedContender("challenge", model, {}, plan=body.plan)
    pictures: list[str] = []

    def generate(prompts, seeds):
        drawn = _draw(studio, contender, prompts, seeds)
        pictures.extend(url for _, url in drawn)
        return [image for image, _ in drawn]

    attempts = run_challenge(generate, item, range(body.seeds))
    return {"challenge": item.key, "model": model, "plan": body.plan, "limit": item.limit,
            "passed": sum(a.ok for a in attempts), "drawn": len(attempts),
            "attempts": [{"prompt": a.prompt, "seed": a.seed, "ok": a.ok, "reason": a.reason, "image": url}
                         for a, url in zip(attempts, pictures)]}

"""The "spot the AI" game over HTTP (page: /static/spot.html); the answer key stays here.

    POST /api/spot/rounds               a new round: its id and the pictures as plain PNG data URLs
    POST /api/spot/rounds/{id}/answer   {"marked": [indices the player calls AI]} -> the score, the truth
                                        and the detector's verdict with reasons, per picture; once per round
"""

from __future__ import annotations

import base64
import io
import threading

import numpy as np
from fastapi import APIRouter, Depends, Request
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from pixeldrift.classroom.detector import load_detector
from pixeldrift.classroom.spot_data import SIZE
from pixeldrift.classroom.spot_game import PICTURES, RoundError, SpotGame
from pixeldrift.cli.spot import DEFAULT_DETECTOR
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.server.errors import ApiError
from pixeldrift.server.studio import Studio, get_studio

router = APIRouter(prefix="/api/spot", tags=["classroom"])
MAKING_WAIT_S = 30.0   # a new round waits this long for the round being made, then 429
_setup = threading.Lock()


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    marked: list[int] = Field(max_length=PICTURES, description="indices of the pictures the player calls AI")


def plain_png(pixels: np.ndarray) -> str:
    """A data URL of the pixels alone: no text chunks, so the page holds nothing that gives the answer away."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def game_of(request: Request, studio: Studio = Depends(get_studio)) -> SpotGame:
    """The app's one game, made on first use: the default model draws, models/detector-spot judges."""
    with _setup:
        if getattr(request.app.state, "spot_game", None) is None:
            model = studio.catalog.resolve(None).model
            settings = GenerationRequest(prompt="-", width=SIZE, height=SIZE)

            def make_generated(prompts: list[str], seeds: list[int]) -> list[np.ndarray]:
                return [np.asarray(image.convert("RGB")) for image in model.sample(prompts, seeds, settings)]
            try:
                detector = load_detector(DEFAULT_DETECTOR)
            except ValueError:
                detector = None   # the verdicts then rest on the provenance checks alone, and say so
            request.app.state.spot_game = SpotGame(make_generated, detector)
            request.app.state.spot_making = threading.Lock()
        return request.app.state.spot_game


@router.post("/rounds", status_code=201)
def new_round(request: Request, game: SpotGame = Depends(game_of)) -> dict:
    making = request.app.state.spot_making
    if not making.acquire(timeout=MAKING_WAIT_S):
        raise ApiError(429, "another round is being made; try again in a moment", headers={"Retry-After": "5"})
    try:
        made = game.new_round()
    except ValueError as error:   # a served model that cannot draw the world's 64x64 pictures
        raise ApiError(409, f"the default model cannot make this game's pictures: {error}") from None
    finally:
        making.release()
    return {"round": made.id, "pictures": [{"index": i, "src": plain_png(p)} for i, p in enumerate(made.pictures)],
            "generated": sum(made.generated)}


@router.post("/rounds/{round_id}/answer")
def answer(round_id: str, body: AnswerBody, game: SpotGame = Depends(game_of)) -> dict:
    if len(round_id) > 64:
        raise ApiError(404, "no such round: it was never issued here, or it expired; start a new round")
    try:
        return game.answer(round_id, body.marked)
    except RoundError as error:
        raise ApiError(error.status, str(error), "marked" if error.status == 400 else None) from None

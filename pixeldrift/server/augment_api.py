"""Prompt augmentation in the studio, as `pixeldrift generate --augment` does it (classroom/augment.py).

    POST /api/augment       {prompt, seed?, fill?} -> {prompt, rewrite, changes, fill, seed, metadata}: the rewrite
                            alone, nothing generated (what augmentation does, for a class to see)
    POST /api/jobs          with augment: true (and augment_fill) draws the rewrite: with_augmentation below

A job's rewrite uses the job's seed, so the preview of the same prompt, seed and fill is the rewrite that
job draws. Its images keep the user's prompt and the rewrite's choices in their parameters ("Original
prompt", "Prompt augmentation"), their gallery rows the whole rewrite (settings.augmentation), and the
job's progress reports it from the moment it is queued.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from pixeldrift.classroom.augment import Augmentation, augment
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job import Job
from pixeldrift.server.job_request import MAX_SEED, Prompt, random_seed
from pixeldrift.world import PromptError

router = APIRouter(prefix="/api", tags=["classroom"])
Fill = Literal["explicit", "phrasing"]
FILL_HELP = ("explicit: every attribute the prompt leaves open is chosen (drawn with the seed, as the training "
             "data draws them); phrasing: only reworded into the training captions' words")


class AugmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    prompt: Prompt = Field(description="a challenge-world prompt: 'three little stars directly above a square'")
    seed: int | None = Field(None, ge=-1, le=MAX_SEED, description="None or -1: a random seed, reported back")
    fill: Fill = Field("explicit", description=FILL_HELP)


def rewritten(prompt: str, seed: int, fill: str) -> Augmentation:
    """The rewrite; ApiError 400 on prompt when the world's parser cannot read it."""
    try:
        return augment(prompt, seed, fill)
    except PromptError as error:
        raise ApiError(400, f"prompt: augmentation reads challenge-world prompts only: {error}", "prompt") from None


def with_augmentation(job: Job, fill: str) -> None:
    """The job draws the rewrite of its prompt (chosen with its seed) and keeps the rewrite for its labels."""
    if job.kind == "grid":
        raise ApiError(400, "augmentation rewrites one prompt; a grid job cannot take it", "augment")
    rewrite = rewritten(job.request.prompt, job.request.seed, fill)
    job.request, job.augmentation = replace(job.request, prompt=rewrite.prompt), rewrite


@router.post("/augment")
def preview_augmentation(body: AugmentBody) -> dict:
    """The rewrite of a prompt and every choice it made, without generating anything."""
    seed = random_seed() if body.seed in (None, -1) else body.seed
    return rewritten(body.prompt, seed, body.fill).to_dict()

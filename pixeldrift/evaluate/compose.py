"""The compositional benchmark: generate images for world prompts, verify each exactly, score by category.

A model enters as a plain callable ``generate(prompts, seeds) -> images`` (PIL
images or H x W x 3 uint8 arrays, one per prompt), so any text-to-image model
plugs in without changes here. Categories follow GenEval (Ghosh et al. 2023):
single object, two objects, counting, colours, position, colour attribution,
plus the world's clock time, quantity and text. ``overall`` is the mean of the
category accuracies (GenEval's convention); ``all_samples`` pools every image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
import time

import numpy as np
from PIL import Image

from pixeldrift.world import (CATEGORIES, HELDOUT_PROMPTS, IMAGE_SIZES, PromptError, benchmark_category,
                              parse_prompt, render, verify)

GenerateFn = Callable[[list[str], list[int]], Sequence[Image.Image | np.ndarray]]
DEFAULT_SEEDS = (0, 1, 2, 3)


class BenchmarkError(ValueError):
    """A benchmark setting or a model's output that the benchmark cannot use."""


@dataclass(frozen=True)
class BenchmarkPrompt:
    category: str
    prompt: str


@dataclass(frozen=True)
class ComposeSettings:
    """Everything that decides a benchmark run; recorded in its report."""

    model: str = "groundtruth"
    prompts: str = "heldout"  # "heldout" or a text file with one prompt per line
    size: int = 64
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    batch_size: int = 32
    steps: int = 20                # the generation settings below are ignored by groundtruth
    guidance: float | None = None  # None: the model's default
    sampler: str | None = None     # None: the model's default

    def __post_init__(self) -> None:
        if self.size not in IMAGE_SIZES:
            raise BenchmarkError(f"size: {self.size!r} is not accepted; accepted: {', '.join(map(str, IMAGE_SIZES))}")
        if not self.seeds:
            raise BenchmarkError("seeds: none given; accepted: one or more integers")
        if self.batch_size < 1:
            raise BenchmarkError(f"batch_size: {self.batch_size!r} is not accepted; accepted: a positive integer")


@dataclass(frozen=True)
class SampleResult:
    category: str
    prompt: str
    seed: int
    ok: bool
    explanation: str
    checks: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class CategoryScore:
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")


def groundtruth_generator(size: int) -> GenerateFn:
    """The reference "model": parse each prompt and render it (the verifier's ceiling)."""
    def generate(prompts: list[str], seeds: list[int]) -> list[np.ndarray]:
        return [render(parse_prompt(p), size, seed) for p, seed in zip(prompts, seeds)]
    return generate


def model_generator(model, size: int, steps: int = 20, guidance: float | None = None,
                    sampler: str | None = None) -> GenerateFn:
    """A loaded text-to-image model (pixeldrift.pipeline.TextToImage) as a benchmark generator."""
    from pixeldrift.pipeline import GenerationRequest

    settings = GenerationRequest(prompt="-", steps=steps, guidance=guidance, sampler=sampler, width=size,
                                 height=size)

    def generate(prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        return model.sample(prompts, seeds, settings)
    return generate


MODELS: dict[str, Callable[[int], GenerateFn]] = {"groundtruth": groundtruth_generator}


def load_generator(name: str, size: int, steps: int = 20, guidance: float | None = None,
                   sampler: str | None = None) -> GenerateFn:
    """'groundtruth', 'default' (the embedded model) or a model folder; BenchmarkError names what is accepted."""
    if name in MODELS:
        return MODELS[name](size)
    from pixeldrift.pipeline import DEFAULT_MODEL_DIR, load_model

    folder = DEFAULT_MODEL_DIR if name == "default" else Path(name)
    if not (folder / "config.json").is_file():
        raise BenchmarkError(f"model: {name!r} is not known; accepted: {', '.join(MODELS)}, default, "
                             "or a model folder")
    try:
        return model_generator(load_model(folder), size, steps, guidance, sampler)
    except ValueError as error:
        raise BenchmarkError(f"model: {error}") from None


def load_prompts(source: str) -> list[BenchmarkPrompt]:
    """The held-out prompt set, or a file of prompts (one a line, ``#`` starts a comment)."""
    if source == "heldout":
        return [BenchmarkPrompt(category, prompt) for category, prompt in HELDOUT_PROMPTS]
    path = Path(source)
    if not path.is_file():
        raise BenchmarkError(f"prompts: {source!r} is neither 'heldout' nor a readable file")
    prompts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            prompts.append(BenchmarkPrompt(benchmark_category(parse_prompt(line)), line))
        except PromptError as error:
            raise BenchmarkError(f"{path}:{number}: {error}") from None
    if not prompts:
        raise BenchmarkError(f"prompts: {source!r} holds no prompts")
    return prompts


def _picture(image) -> Image.Image:
    """The image as PIL for the failure grid; anything unreadable becomes a grey tile."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    try:
        return Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    except (TypeError, ValueError):
        return Image.new("RGB", (64, 64), (128, 128, 128))


def _generate_batches(generate: GenerateFn, jobs: list[tuple[BenchmarkPrompt, int]], batch_size: int):
    """Yield (job, image) pairs, calling the model ``batch_size`` prompts at a time."""
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start:start + batch_size]
        images = list(generate([job.prompt for job, _ in batch], [seed for _, seed in batch]))
        if len(images) != len(batch):
            raise BenchmarkError(f"the model returned {len(images)} images for {len(batch)} prompts")
        yield from zip(batch, images)


def run_compose(generate: GenerateFn, prompts: list[BenchmarkPrompt], settings: ComposeSettings,
                keep_failures: int = 48) -> tuple[list[SampleResult], list[tuple[SampleResult, Image.Image]]]:
    """Every prompt with every seed: verify each image; returns all results and up to ``keep_failures`` failures."""
    jobs = [(prompt, seed) for prompt in prompts for seed in settings.seeds]
    results, failures = [], []
    for (job, seed), image in _generate_batches(generate, jobs, settings.batch_size):
        verdict = verify(image, parse_prompt(job.prompt))
        result = SampleResult(job.category, job.prompt, seed, verdict.ok, verdict.explain(),
                              [asdict(c) for c in verdict.checks])
        results.append(result)
        if not verdict.ok and len(failures) < keep_failures:
            failures.append((result, _picture(image)))
    return results, failures


def score(results: list[SampleResult]) -> dict[str, CategoryScore]:
    """Correct and total per category, the benchmark's categories first, in their order."""
    present = {r.category for r in results}
    order = [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
    return {c: CategoryScore(sum(r.ok for r in results if r.category == c),
                             sum(r.category == c for r in results)) for c in order}


def overall(scores: dict[str, CategoryScore]) -> float:
    """Mean of the category accuracies (each category weighs the same, as in GenEval)."""
    return float(np.mean([s.accuracy for s in scores.values()])) if scores else float("nan")



def timed_scores(generate: GenerateFn, prompts: list[BenchmarkPrompt], settings: ComposeSettings
                 ) -> tuple[dict[str, CategoryScore], float]:
    """One benchmark run, scored: the scores per category and the wall-clock seconds per image."""
    started = time.perf_counter()
    results, _ = run_compose(generate, prompts, settings)
    return score(results), (time.perf_counter() - started) / len(results)

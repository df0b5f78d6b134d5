"""Arena contenders: a model folder with the settings it draws under (sampler, steps, guidance, a LoRA, a plan).

A contender is written on the command line as comma-separated ``key=value`` fields,
e.g. ``name=fast,model=models/default,sampler=euler,steps=4`` or
``name=planned,plan=models/cn-layout``; every field but ``name`` may be left out
(the model's own defaults). It becomes a benchmark generator
(evaluate/compose.GenerateFn), so the arena, the challenges and the compositional
benchmark all draw with it the same way.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+:/-]{0,47}")
FIELDS = ("name", "model", "sampler", "steps", "guidance", "lora", "lora_scale", "plan")
MAX_SPEC_CHARS = 1000


@dataclass(frozen=True)
class Contender:
    """One way of drawing: `model` is "default" or a model folder, `plan` a layout ControlNet folder or None."""

    name: str
    model: str = "default"
    sampler: str | None = None
    steps: int | None = None
    guidance: float | None = None
    lora: str | None = None
    lora_scale: float = 1.0
    plan: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise ValueError(f"contender name {self.name!r}; accepted: 1 to 48 letters, digits, spaces and ._+:/- "
                             "starting with a letter or digit")
        if self.steps is not None and not (type(self.steps) is int and 1 <= self.steps <= 1000):
            raise ValueError(f"contender {self.name}: steps {self.steps!r}; accepted: 1 to 1000")
        if self.guidance is not None and not 0 <= self.guidance <= 50:
            raise ValueError(f"contender {self.name}: guidance {self.guidance!r}; accepted: 0 to 50")
        if not -4 <= self.lora_scale <= 4:
            raise ValueError(f"contender {self.name}: lora_scale {self.lora_scale!r}; accepted: -4 to 4")

    def settings(self) -> dict:
        """What decides this contender's pictures, for the vote records."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse_contender(text: str) -> Contender:
    """'name=fast,sampler=euler,steps=4' -> Contender; ValueError naming the bad field."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_SPEC_CHARS:
        raise ValueError(f"contender {text!r}; accepted: up to {MAX_SPEC_CHARS} characters of key=value fields "
                         f"({', '.join(FIELDS)})")
    fields: dict = {}
    for part in text.split(","):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or key not in FIELDS or not value:
            raise ValueError(f"contender {text!r}: {part.strip()!r} is not a field; accepted: key=value with key "
                             f"one of {', '.join(FIELDS)}")
        if key in fields:
            raise ValueError(f"contender {text!r}: {key} given twice")
        fields[key] = value
    if "name" not in fields:
        raise ValueError(f"contender {text!r}: needs a name=... field")
    try:
        for key, kind in (("steps", int), ("guidance", float), ("lora_scale", float)):
            if key in fields:
                fields[key] = kind(fields[key])
    except ValueError:
        raise ValueError(f"contender {text!r}: {key}={fields[key]!r} is not a number") from None
    return Contender(**fields)


def unique_names(contenders: list[Contender]) -> list[Contender]:
    """The contenders, refused when two share a name (votes are kept by name)."""
    names = [c.name for c in contenders]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"contenders: the name {repeated[0]!r} is used twice; give each its own name=")
    return contenders


def open_contender(contender: Contender, size: int, device: str = "cpu"):
    """The contender as a generator `generate(prompts, seeds) -> images`, every file opened and checked now."""
    from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model

    folder = DEFAULT_MODEL_DIR if contender.model == "default" else Path(contender.model)
    model = load_model(folder, device)
    if contender.lora:
        model.load_lora(contender.lora, contender.lora_scale)
    request = GenerationRequest(prompt="-", steps=contender.steps, sampler=contender.sampler,
                                guidance=contender.guidance, width=size, height=size)
    request.validated(model.sampling_defaults, model.limits)  # a bad sampler or size fails before any drawing
    controlnet = None
    if contender.plan:
        from pixeldrift.pipeline.controlnet_folder import load_controlnet

        controlnet = load_controlnet(contender.plan, device)
        controlnet.check_base(model)
    return drawing(model, request, controlnet)


def drawing(model, request, controlnet=None):
    """generate(prompts, seeds): the model draws each prompt, or with a layout ControlNet plans it first
    (pipeline/plan.py: the world's parser and layout sampler place the objects with the image's seed)."""
    from pixeldrift.pipeline.plan import plan_control, plan_from_prompt

    def generate(prompts: list[str], seeds: list[int]):
        r = request
        if controlnet is not None:
            plans = [plan_from_prompt(p, seed, request.width, controlnet.kind) for p, seed in zip(prompts, seeds)]
            r = replace(request, controls=(plan_control(plans, controlnet),))
        return model.sample(list(prompts), list(seeds), r)
    return generate

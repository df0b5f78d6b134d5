"""Class conditioning as a text encoder: a class name becomes one learned context token.

The denoiser cross-attends to a context of one token per prompt, the embedding
of its class, exactly as it attends to a text encoder's token states; so
generation, every sampler and the guidance wrapper work unchanged and the prompt
is the class name (`pixeldrift generate "circle" --model FOLDER`). Row 0 of the
table is a learned "no class" token: the empty prompt encodes to it, so caption
dropout in training is label dropout (Ho & Salimans 2022, as DiT's label
embedder does it) and the unconditional branch of guidance uses it.

The class names are part of the config, so a model folder carries them in
config.json and the weights file holds only the table.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import torch
from torch import nn

from pixeldrift.nets.config import MAX_WIDTH, JsonConfig, check_sizes
from pixeldrift.nets.text_encoder import TextEncoding

MAX_CLASSES = 1000          # ImageNet's count; a table of 1001 x width
MAX_CLASS_NAME = 100        # characters: a name is also a prompt
_LISTED = 20                # class names an error lists before "and N more"


def class_name_problem(name: object) -> str | None:
    """Why `name` cannot be a class name (text of 1 to MAX_CLASS_NAME printable characters, no
    surrounding spaces), or None when it can."""
    if not isinstance(name, str):
        return f"{str(name)[:40]!r} is not text"
    if not name or len(name) > MAX_CLASS_NAME:
        return f"{name[:40]!r} has {len(name)} characters; a class name has 1 to {MAX_CLASS_NAME}"
    if name != name.strip():
        return f"{name!r} begins or ends with a space"
    if any(unicodedata.category(c).startswith("C") for c in name):
        return f"{name!r} holds a control or unassigned character"
    return None


def check_class_names(names) -> None:
    """ValueError naming the problem: 1 to MAX_CLASSES distinct, valid names."""
    if not isinstance(names, (tuple, list)) or not 1 <= len(names) <= MAX_CLASSES:
        count = len(names) if isinstance(names, (tuple, list)) else "no list of"
        raise ValueError(f"a class-label encoder takes 1 to {MAX_CLASSES} class names, got {count}")
    problems = [p for p in map(class_name_problem, names) if p]
    if problems:
        raise ValueError("bad class names: " + "; ".join(problems[:_LISTED]))
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"class names must be distinct; repeated: {', '.join(repeated[:_LISTED])}")


def listed(names) -> str:
    """Class names for an error message, the first few and how many more."""
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more


@dataclass(frozen=True)
class ClassLabelEncoderConfig(JsonConfig):
    """The class names (index i is class i) and the width of their tokens (the denoiser's context_dim)."""

    classes: tuple[str, ...]
    width: int = 128

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes) if isinstance(self.classes, list) else self.classes)
        check_class_names(self.classes)
        check_sizes(self, {"width": (1, MAX_WIDTH)})


class ClassLabelEncoder(nn.Module):
    """Class names -> one token each (N, 1, D); "" -> the learned no-class token."""

    def __init__(self, cfg: ClassLabelEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.index = {name: i + 1 for i, name in enumerate(cfg.classes)}  # 0 is "no class"
        # unit-variance entries, the scale of a text encoder's layer-normed states: a token of std 0.02 moved
        # the denoiser's output by 0.3% after 400 steps, and guidance had nothing to amplify
        self.embed = nn.Embedding(len(cfg.classes) + 1, cfg.width)

    @property
    def output_dim(self) -> int:
        return self.cfg.width

    def class_ids(self, texts: list[str]) -> torch.Tensor:
        """Each prompt's row of the table: its class (spaces around it ignored), 0 for the empty prompt."""
        ids = []
        for text in texts:
            name = text.strip()
            if name and name not in self.index:
                raise ValueError(f"{name[:80]!r} is not a class of this model; a prompt is one class name: "
                                 f"{listed(self.cfg.classes)} (or empty for none)")
            ids.append(self.index.get(name, 0))
        return torch.tensor(ids, dtype=torch.long, device=self.embed.weight.device)

    def encode(self, texts: list[str] | str, pad_to: int | None = None) -> TextEncoding:
        """One token per prompt: context (N, 1, D), all of it real; `pad_to` may only be 1."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise ValueError("encode needs at least one prompt")
        if pad_to not in (None, 1):
            raise ValueError(f"a class-label encoder gives one token per prompt, not pad_to={pad_to}")
        context = self.embed(self.class_ids(texts))[:, None]  # (N, 1, D)
        mask = torch.ones(len(texts), 1, dtype=torch.bool, device=context.device)
        return TextEncoding(context=context, context_mask=mask, truncated=(False,) * len(texts))

    def encode_empty(self, batch: int, pad_to: int | None = None) -> TextEncoding:
        """The unconditional input for classifier-free guidance: the no-class token, `batch` times."""
        return self.encode([""] * batch, pad_to=pad_to)

    def token_weights(self, pieces: list[tuple[str, float]]) -> list[float]:
        """One token, and weights are rescaled to the prompt's mean: a weight changes nothing here."""
        return [1.0]

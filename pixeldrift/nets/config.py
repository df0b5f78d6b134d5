"""JSON round trip for the network configs (every `*Config` dataclass in this room).

A config saved beside weights must describe the architecture completely, so
`from_dict` is strict: an unknown key or a missing key is an error rather than a
silent fall-back to today's default (which may differ from the default the
weights were trained with).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Self

from pixeldrift.bounded_files import check_number  # a stdlib-only leaf

# Bounds on every size a config file may give: far above any network of this project (the
# "large" presets), far below what would exhaust memory while merely building the module.
MAX_CHANNELS = 64      # image, latent and network input/output channels
MAX_WIDTH = 8192       # any width: base channels, hidden size, context, head channels
MAX_LEVELS = 8         # resolution levels of a UNet or VAE
MAX_MULT = 16          # channel multiplier of one level, MLP ratio
MAX_REPEATS = 128      # transformer depth, heads
MAX_BLOCKS = 16        # residual blocks per level


class JsonConfig:
    """Mixin for dataclass configs: `to_dict` / `from_dict` / `to_json` / `from_json`.

    Tuples become JSON lists and come back as tuples; nested JsonConfig fields
    become nested objects.
    """

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__}.from_dict expects a dict, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise ValueError(
                f"{cls.__name__}: unknown keys {unknown}, missing keys {missing}; "
                f"the accepted keys are {names}"
            )
        hints = typing.get_type_hints(cls)
        return cls(**{n: _from_plain(hints[n], data[n], f"{cls.__name__}.{n}") for n in names})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{cls.__name__}: not valid JSON ({err})") from err
        return cls.from_dict(data)


def _to_plain(value: Any) -> Any:
    if isinstance(value, JsonConfig):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_to_plain(v) for v in value]
    return value


def _from_plain(hint: Any, value: Any, where: str) -> Any:
    """Turn a JSON value back into the type the dataclass field declares."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) > 1:  # several configs: the one whose keys the object has
            options = [a for a in options if isinstance(value, dict) and issubclass(a, JsonConfig)
                       and set(value) == {f.name for f in dataclasses.fields(a)}] or options[:1]
        return _from_plain(options[0], value, where)
    if isinstance(hint, type) and issubclass(hint, JsonConfig):
        return hint.from_dict(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return tuple(_from_plain(args[0], v, where) for v in value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def check_sizes(config, bounds: dict[str, tuple[float, float]]) -> None:
    """ValueError naming the first field of `config` outside its (low, high) bounds, or not an integer."""
    for name, (low, high) in bounds.items():
        value = getattr(config, name)
        if value is not None or name != "context_dim":  # context_dim None: no cross-attention
            check_number(value, low, high, f"{type(config).__name__}.{name}")


class Levels:
    """For configs of networks with one resolution level per entry of `channel_mults`."""

    def check_levels(self) -> None:
        """channel_mults: 1 to MAX_LEVELS integers from 1 to MAX_MULT (checked before any width is computed)."""
        mults = self.channel_mults
        if not isinstance(mults, (tuple, list)) or not 1 <= len(mults) <= MAX_LEVELS:
            raise ValueError(f"channel_mults must list 1 to {MAX_LEVELS} levels, got {mults!r}")
        for mult in mults:
            check_number(mult, 1, MAX_MULT, "each of channel_mults")

    @property
    def widths(self) -> list[int]:
        return [self.base_channels * m for m in self.channel_mults]

    @property
    def downsample_factor(self) -> int:
        """Input height and width must be multiples of this (each level but the last halves them)."""
        return 2 ** (len(self.channel_mults) - 1)

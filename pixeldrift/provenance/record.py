"""The generation record and its AUTOMATIC1111 "parameters" text form.

The text form is the one the stable-diffusion-webui writes into PNGs and that image
browsers display::

    a red circle left of a blue square
    Negative prompt: blurry
    Steps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 42, Size: 64x64, Model: tiny

Rules we add so that parsing gives back exactly what was written:
* the settings line is always the last line, so both prompts may span several lines;
* a prompt line that starts with "Negative prompt:" or with a backslash gets one extra
  leading backslash (removed again on parsing);
* a setting value that is empty, has surrounding spaces, or contains a comma, colon,
  quote or newline is written as a JSON string, as the webui does;
* samplers and schedules are written with the webui's display names ("DPM++ 2M",
  "Schedule type: Karras"); both those and ours ("dpmpp_2m", "karras") are read back
  as ours, so our own records round-trip exactly (see infotext_names.py).

Parsing is linear in the text's length and refuses texts over MAX_PARAMETERS_CHARS
first: the text comes from files anyone can make (issue 16 was a regex that took hours).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

from pixeldrift.provenance.infotext_names import (display_name, sampler_from_infotext, schedule_display_name,
                                                  schedule_from_infotext)

NEGATIVE_LABEL = "Negative prompt:"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .\-]*[A-Za-z0-9_.\-]$|^[A-Za-z0-9_]$")
_KEY_RUN = re.compile(r'[^,:"]*')     # one character class, no backtracking across it: linear
_SPACES = re.compile(r"\s*")
_CORE_KEYS = ("Steps", "Sampler", "CFG scale", "Seed", "Size", "Model")
SCHEDULE_KEY = "Schedule type"
MAX_PARAMETERS_CHARS = 1 << 20    # the PNG reader's cap on one text chunk; the webui writes a few KiB
_JSON = json.JSONDecoder()


class RecordFormatError(ValueError):
    """A parameters text or record that cannot be read; the message names the bad part."""


@dataclass
class GenerationRecord:
    """The settings that made one image; ``extra`` holds any further text settings."""

    prompt: str
    negative_prompt: str = ""
    steps: int = 20
    sampler: str = "euler"
    cfg_scale: float = 7.0
    seed: int = 0
    width: int = 64
    height: int = 64
    model: str = "default"
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GenerationRecord":
        """Build a record from JSON data, rejecting unknown or mistyped fields by name."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise RecordFormatError(f"unknown record fields {unknown}; accepted: {sorted(known)}")
        record = cls(**data)
        record.validate()
        return record

    def validate(self) -> None:
        _expect(isinstance(self.prompt, str) and isinstance(self.negative_prompt, str), "prompts must be text")
        for name in ("steps", "seed", "width", "height"):
            _expect(type(getattr(self, name)) is int, f"{name} must be an integer, got {getattr(self, name)!r}")
        _expect(isinstance(self.cfg_scale, (int, float)) and not isinstance(self.cfg_scale, bool),
                f"cfg_scale must be a number, got {self.cfg_scale!r}")
        _expect(isinstance(self.sampler, str) and isinstance(self.model, str), "sampler and model must be text")
        _expect(isinstance(self.extra, dict), f"extra must be a dict of text, got {type(self.extra).__name__}")
        for key, value in self.extra.items():
            _expect(isinstance(key, str) and bool(_KEY_PATTERN.match(key)),
                    f"extra key {key!r} must be letters, digits, spaces, '_', '.', '-' (no ':' or ',')")
            _expect(key not in _CORE_KEYS, f"extra key {key!r} clashes with a core setting {list(_CORE_KEYS)}")
            _expect(isinstance(value, str), f"extra value for {key!r} must be text, got {value!r}")

    def watermark_id(self) -> int:
        """A 16-bit id derived from the record, so a detected mark can be matched to its metadata."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:2], "big")

    def to_parameters_text(self) -> str:
        self.validate()
        lines = [_escape_prompt(self.prompt)]
        if self.negative_prompt:
            lines.append(f"{NEGATIVE_LABEL} {self.negative_prompt}")
        extra = dict(self.extra)
        if SCHEDULE_KEY in extra:
            extra[SCHEDULE_KEY] = schedule_display_name(extra[SCHEDULE_KEY])
        settings = {"Steps": str(self.steps), "Sampler": display_name(self.sampler),
                    "CFG scale": repr(float(self.cfg_scale)), "Seed": str(self.seed),
                    "Size": f"{self.width}x{self.height}", "Model": self.model, **extra}
        lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in settings.items()))
        return "\n".join(lines)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise RecordFormatError(message)


def _escape_prompt(prompt: str) -> str:
    def escape(line: str) -> str:
        return "\\" + line if line.startswith((NEGATIVE_LABEL, "\\")) else line
    return "\n".join(escape(line) for line in prompt.split("\n"))


def _unescape_prompt(lines: list[str]) -> str:
    return "\n".join(line[1:] if line.startswith("\\") else line for line in lines)


def _quote(value: str) -> str:
    needs_quotes = value == "" or value != value.strip() or any(c in value for c in ',:"\n\r')
    return json.dumps(value, ensure_ascii=False) if needs_quotes else value


def parse_settings_line(line: str) -> dict[str, str]:
    """Split ``Key: value, Key: "quoted, value"`` into a dict, checking nothing is left over.

    A hand-written scanner, linear in the line's length: each step only moves forward.
    """
    settings: dict[str, str] = {}
    position = 0
    while position < len(line):
        key, position = _read_key(line, position)
        value, position = _read_value(line, position, key)
        settings[key] = value
    return settings


def _read_key(line: str, start: int) -> tuple[str, int]:
    """The key at `start` and the position after its colon."""
    end = _KEY_RUN.match(line, start).end()
    key = line[start:end].strip()
    if not key or end >= len(line) or line[end] != ":":
        raise RecordFormatError(f"cannot read settings at column {start}: {line[start:start + 40]!r} "
                                "(expected 'Key: value')")
    return key, _SPACES.match(line, end + 1).end()


def _read_value(line: str, start: int, key: str) -> tuple[str, int]:
    """The value at `start` (plain up to the next comma, or a JSON string) and the position after its comma."""
    if not line.startswith('"', start):
        comma = line.find(",", start)
        end = len(line) if comma < 0 else comma
        return line[start:end].strip(), end + 1
    try:
        value, end = _JSON.raw_decode(line, start)
    except json.JSONDecodeError as error:
        raise RecordFormatError(f"bad quoted value for {key!r} at column {start}: {error.msg}") from None
    end = _SPACES.match(line, end).end()
    if end < len(line) and line[end] != ",":
        raise RecordFormatError(f"cannot read settings at column {end}: {line[end:end + 40]!r} "
                                f"(expected ',' after the quoted value of {key!r})")
    return value, end + 1


def _int_setting(settings: dict[str, str], key: str) -> int:
    try:
        return int(settings[key])
    except KeyError:
        raise RecordFormatError(f"missing setting {key!r}; the settings line needs {list(_CORE_KEYS)}") from None
    except ValueError:
        raise RecordFormatError(f"setting {key!r} must be an integer, got {settings[key]!r}") from None


def _size_setting(settings: dict[str, str]) -> tuple[int, int]:
    match = re.fullmatch(r"([0-9]{1,9})x([0-9]{1,9})", settings.get("Size", ""))
    if match is None:
        raise RecordFormatError(f"setting 'Size' must look like 512x512, got {settings.get('Size')!r}")
    return int(match.group(1)), int(match.group(2))


def parse_parameters_text(text: str) -> GenerationRecord:
    """Read back what :meth:`GenerationRecord.to_parameters_text` wrote (and webui-style texts)."""
    if not isinstance(text, str) or "\n" not in text:
        raise RecordFormatError("parameters text needs a prompt line and a settings line")
    if len(text) > MAX_PARAMETERS_CHARS:
        raise RecordFormatError(f"parameters text of {len(text)} characters is longer than the "
                                f"{MAX_PARAMETERS_CHARS} accepted")
    *body, settings_line = text.split("\n")
    negative_at = next((i for i, line in enumerate(body) if line.startswith(NEGATIVE_LABEL)), len(body))
    negative = "\n".join(body[negative_at:])[len(NEGATIVE_LABEL) + 1:] if negative_at < len(body) else ""
    settings = parse_settings_line(settings_line)
    try:
        cfg_scale = float(settings.get("CFG scale", "7.0"))
    except ValueError:
        raise RecordFormatError(f"setting 'CFG scale' must be a number, got {settings['CFG scale']!r}") from None
    width, height = _size_setting(settings)
    extra = {k: v for k, v in settings.items() if k not in _CORE_KEYS}
    sampler, implied_schedule = sampler_from_infotext(settings.get("Sampler", ""))
    if SCHEDULE_KEY in extra:
        extra[SCHEDULE_KEY] = schedule_from_infotext(extra[SCHEDULE_KEY])
    elif implied_schedule:
        extra[SCHEDULE_KEY] = implied_schedule
    record = GenerationRecord(
        prompt=_unescape_prompt(body[:negative_at]), negative_prompt=negative,
        steps=_int_setting(settings, "Steps"), sampler=sampler, cfg_scale=cfg_scale,
        seed=_int_setting(settings, "Seed"), width=width, height=height,
        model=settings.get("Model", ""), extra=extra)
    return record

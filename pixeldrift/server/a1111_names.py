"""AUTOMATIC1111 sampler and scheduler display names, and ours.

A1111 clients send names like "Euler a", "DPM++ 2M" (with `scheduler: "Karras"`),
or the older combined form "DPM++ 2M Karras". We accept those, our own names
("dpmpp_2m") and A1111's aliases ("k_dpmpp_2m"), case-insensitively.
"""

from __future__ import annotations

from pixeldrift.provenance.infotext_names import A1111_ALIASES, DISPLAY_NAMES, SCHEDULER_NAMES, display_name
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES

__all__ = ["A1111_ALIASES", "DISPLAY_NAMES", "SCHEDULER_NAMES", "display_name", "resolve_sampler", "resolve_scheduler"]


def _lookup_table() -> dict[str, str]:
    table = {}
    for ours in SAMPLERS:
        for name in (ours, DISPLAY_NAMES.get(ours, ours), A1111_ALIASES.get(ours, ours)):
            table[name.lower()] = ours
    return table


def resolve_sampler(name: str | None, scheduler: str | None = None) -> tuple[str | None, str | None]:
    """(our sampler, our schedule) for A1111's sampler_name and scheduler; ValueError naming the choices."""
    schedule = resolve_scheduler(scheduler)
    if not name:
        return None, schedule
    table = _lookup_table()
    key = name.strip().lower()
    if key in table:
        return table[key], schedule
    for suffix in ("karras", "exponential"):  # the pre-1.9 combined names, e.g. "DPM++ 2M Karras"
        if key.endswith(" " + suffix) and key[: -len(suffix) - 1] in table:
            return table[key[: -len(suffix) - 1]], schedule or suffix
    accepted = ", ".join(DISPLAY_NAMES.get(s, s) for s in SAMPLERS)
    raise ValueError(f"unknown sampler {name!r}; accepted: {accepted} (or pixeldrift's names: {', '.join(SAMPLERS)})")


def resolve_scheduler(name: str | None) -> str | None:
    if not name:
        return None
    key = name.strip().lower()
    if key in SIGMA_SCHEDULES:
        return key
    if key in SCHEDULER_NAMES:
        return SCHEDULER_NAMES[key]
    raise ValueError(f"unknown scheduler {name!r}; accepted: Automatic, Karras, Exponential, Uniform, "
                     f"SGM Uniform, Simple, DDIM (or pixeldrift's: {', '.join(SIGMA_SCHEDULES)})")

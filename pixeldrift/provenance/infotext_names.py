"""AUTOMATIC1111's display names for samplers and schedules, beside pixeldrift's own.

A leaf table (no imports) so that both the PNG infotext (provenance/record.py) and the
server's A1111 API can use it: provenance sits below the server and must not import it.
The webui writes "Sampler: DPM++ 2M, Schedule type: Karras"; we write the same names and
read back both those and ours ("dpmpp_2m", "karras").
"""

from __future__ import annotations

DISPLAY_NAMES = {
    "euler": "Euler", "euler_ancestral": "Euler a", "heun": "Heun", "ddim": "DDIM", "ddpm": "DDPM",
    "dpmpp_2m": "DPM++ 2M", "dpmpp_2m_sde": "DPM++ 2M SDE", "unipc": "UniPC", "flow_euler": "Flow Euler",
    "consistency": "LCM",
}
A1111_ALIASES = {"euler": "k_euler", "euler_ancestral": "k_euler_a", "heun": "k_heun", "dpmpp_2m": "k_dpmpp_2m",
                 "dpmpp_2m_sde": "k_dpmpp_2m_sde"}
# A1111's scheduler names -> our sigma schedules ("automatic" = the model's own)
SCHEDULER_NAMES = {"automatic": None, "karras": "karras", "exponential": "exponential",
                   "uniform": "linspace", "sgm uniform": "trailing", "simple": "trailing", "ddim": "leading"}
# ours -> the one A1111 label written for it (the inverse of SCHEDULER_NAMES where that is one-to-one)
SCHEDULE_DISPLAY_NAMES = {"karras": "Karras", "exponential": "Exponential", "linspace": "Uniform",
                          "trailing": "SGM Uniform", "leading": "DDIM"}
_SAMPLERS_BY_NAME = {name.lower(): ours for table in (DISPLAY_NAMES, A1111_ALIASES) for ours, name in table.items()}
_COMBINED_SUFFIXES = ("karras", "exponential")   # pre-1.9 webui names such as "DPM++ 2M Karras"


def display_name(sampler: str) -> str:
    """The webui's name of one of our samplers ("dpmpp_2m" -> "DPM++ 2M"); other names unchanged."""
    return DISPLAY_NAMES.get(sampler, sampler)


def schedule_display_name(schedule: str) -> str:
    """The webui's "Schedule type" label of one of our schedules ("karras" -> "Karras"); others unchanged."""
    return SCHEDULE_DISPLAY_NAMES.get(schedule, schedule)


def sampler_from_infotext(text: str) -> tuple[str, str | None]:
    """(our sampler, schedule the name implies or None); a name we do not know comes back unchanged."""
    key = text.strip().lower()
    if key in _SAMPLERS_BY_NAME:
        return _SAMPLERS_BY_NAME[key], None
    for suffix in _COMBINED_SUFFIXES:
        head = key[: -len(suffix) - 1]
        if key.endswith(" " + suffix) and head in _SAMPLERS_BY_NAME:
            return _SAMPLERS_BY_NAME[head], suffix
    return text, None


def schedule_from_infotext(text: str) -> str:
    """Our schedule for a webui "Schedule type" label; "Automatic" and unknown labels come back unchanged."""
    return SCHEDULER_NAMES.get(text.strip().lower()) or text

"""AUTOMATIC1111-compatible listings and settings (/sdapi/v1): what the server has, and the model switch.

A1111 clients read these before they generate (webuiapi asks for /scripts whenever it is
made), so each answers in the webui's shape, listing what pixeldrift really has: the
ControlNet extension's script when ControlNets are served, and the LoRAs and embeddings of
`pixeldrift serve --loras DIR --embeddings DIR` (adapters.py; empty lists without them).
POST /options switches the default model, as the webui's sd_model_checkpoint does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from fastapi import APIRouter, Body, Depends

from pixeldrift.pipeline.hires_fix import UPSCALERS as HIRES_UPSCALERS
from pixeldrift.sampling.samplers import SAMPLERS
from pixeldrift.server.a1111_names import A1111_ALIASES, SCHEDULER_NAMES, display_name
from pixeldrift.server.errors import ApiError
from pixeldrift.server.job_request import MAX_NAME_CHARS, check_extra_count
from pixeldrift.server.model_catalog import file_name
from pixeldrift.server.studio import Studio, get_studio

router = APIRouter(prefix="/sdapi/v1", tags=["AUTOMATIC1111"])
MODEL_OPTION = "sd_model_checkpoint"
FIXED_OPTIONS = {"samples_format": "png"}   # options whose only value here is this one
# the pixel resamplers: the hires fix's (enable_hr), and Lanczos for OpenAI sizes past a model's own;
# "None" resizes by Lanczos, as in the webui. The latent ones are listed at /latent-upscale-modes; the trained
# upscaler (SR3) where `serve --upscaler` gave one.
UPSCALERS = ("None",) + tuple(display for display, space, _ in HIRES_UPSCALERS.values() if space == "pixel")


@router.get("/samplers")
def samplers() -> list[dict]:
    return [{"name": display_name(n), "aliases": [n] + ([A1111_ALIASES[n]] if n in A1111_ALIASES else []),
             "options": {}} for n in SAMPLERS]


@router.get("/schedulers")
def schedulers() -> list[dict]:
    return [{"name": name.replace(" ", "_"), "label": name.title(), "aliases": [ours] if ours else []}
            for name, ours in SCHEDULER_NAMES.items()]


@router.get("/sd-models")
def sd_models(studio: Studio = Depends(get_studio)) -> list[dict]:
    return [{"title": e.name, "model_name": e.name, "hash": None, "sha256": None, "filename": file_name(e),
             "config": None} for e in studio.catalog.entries.values()]


@router.get("/options")
def options(studio: Studio = Depends(get_studio)) -> dict:
    return {MODEL_OPTION: studio.catalog.default_name, **FIXED_OPTIONS}


@router.post("/options")
def set_options(body: dict[str, Any] = Body(...), studio: Studio = Depends(get_studio)) -> dict:
    """Switch the default model; other options are answered with a warning, as they change nothing here."""
    check_extra_count(body)
    if MODEL_OPTION in body:
        name = body[MODEL_OPTION]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
            raise ApiError(400, f"{MODEL_OPTION} must be a model name from /sdapi/v1/sd-models", MODEL_OPTION)
        try:
            studio.catalog.select(name)
        except ValueError as error:
            raise ApiError(400, str(error), MODEL_OPTION) from None
    notes = [f"option {name!r} is not used by pixeldrift and was not kept" for name, value in body.items()
             if name != MODEL_OPTION and FIXED_OPTIONS.get(name, object()) != value]
    return {MODEL_OPTION: studio.catalog.default_name, "warnings": notes}


@router.get("/cmd-flags")
def cmd_flags(studio: Studio = Depends(get_studio)) -> dict:
    """The webui's launch flags that have a counterpart in `pixeldrift serve` (never the token)."""
    s = studio.settings
    return {"api": True, "nowebui": False, "listen": not s.is_loopback, "server_name": s.host, "port": s.port,
            "data_dir": str(s.gallery_dir), "use_cpu": ["all"] if s.device == "cpu" else [],
            "device_id": s.device.split(":", 1)[1] if ":" in s.device else None}


@router.get("/scripts")
def scripts(studio: Studio = Depends(get_studio)) -> dict:
    """The always-on scripts: the ControlNet extension's, when the server has ControlNets (a1111_controlnet.py)."""
    names = ["controlnet"] if studio.controls.names() else []
    return {"txt2img": list(names), "img2img": list(names)}


@router.get("/upscalers")
def upscalers(studio: Studio = Depends(get_studio)) -> list[dict]:
    listed = [{"name": name, "model_name": None, "model_path": None, "model_url": None, "scale": 4}
              for name in UPSCALERS]
    trained = studio.upscaler
    if trained is not None:
        listed.append({"name": HIRES_UPSCALERS["sr"][0], "model_name": trained.name,
                       "model_path": str(studio.settings.upscaler_path), "model_url": None,
                       "scale": trained.config.factor})
    return listed


@router.get("/latent-upscale-modes")
def latent_upscale_modes() -> list[dict]:
    return [{"name": display} for display, space, _ in HIRES_UPSCALERS.values() if space == "latent"]


@router.get("/loras")
def loras(studio: Studio = Depends(get_studio)) -> list[dict]:
    """The LoRAs of `pixeldrift serve --loras DIR`, which a prompt applies with <lora:NAME:WEIGHT> (adapters.py)."""
    return [lora.listing() for lora in studio.adapters.loras.values()]


@router.post("/refresh-loras")
def refresh_loras(studio: Studio = Depends(get_studio)) -> None:
    _refresh(studio)


@router.get("/embeddings")
def embeddings(studio: Studio = Depends(get_studio)) -> dict:
    """The embeddings of `--embeddings DIR`: loaded where the default model takes them, else skipped."""
    return studio.adapters.embedding_listing(studio.catalog.resolve(None).model)


@router.post("/refresh-embeddings")
def refresh_embeddings(studio: Studio = Depends(get_studio)) -> None:
    _refresh(studio)


def _refresh(studio: Studio) -> None:
    """Read both folders again; jobs already queued keep the files they named."""
    try:
        studio.adapters = studio.adapters.refreshed()
    except ValueError as error:
        raise ApiError(409, str(error)) from None


@router.get("/memory")
def memory() -> dict:
    return {"ram": _ram(), "cuda": _cuda()}


def _ram() -> dict:
    """System memory and this process's resident set, in bytes (Linux-style sysconf and /proc)."""
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * page
        free = os.sysconf("SC_AVPHYS_PAGES") * page
        used = int(Path("/proc/self/statm").read_text().split()[1]) * page
    except (OSError, ValueError, IndexError) as error:
        return {"error": str(error)}
    return {"free": free, "used": used, "total": total}


def _cuda() -> dict:
    if not torch.cuda.is_available():
        return {"error": "unavailable"}
    free, total = torch.cuda.mem_get_info()
    stats = torch.cuda.memory_stats()

    def pair(key: str) -> dict:
        return {"current": stats.get(f"{key}.all.current", 0), "peak": stats.get(f"{key}.all.peak", 0)}
    return {"system": {"free": free, "used": total - free, "total": total}, "active": pair("active_bytes"),
            "allocated": pair("allocated_bytes"), "reserved": pair("reserved_bytes"),
            "inactive": pair("inactive_split_bytes"),
            "events": {"retries": stats.get("num_alloc_retries", 0), "oom": stats.get("num_ooms", 0)}}

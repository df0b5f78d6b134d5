"""What the ControlNet benchmarks share (bench/controlnet.py, bench/plan_then_draw.py): their options, and
the model, ControlNet, prompts and settings the options name. Imported by those scripts, not run."""

from __future__ import annotations

import argparse

import torch

from pixeldrift.evaluate.compose import ComposeSettings, load_prompts
from pixeldrift.pipeline import load_model
from pixeldrift.pipeline.controlnet_folder import load_controlnet


def controlnet_bench_parser(description: str, control: str | None, strengths: str) -> argparse.ArgumentParser:
    """The shared options; `control`: the default ControlNet folder (None: --control is required)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--control", default=control, required=control is None, help="an exported ControlNet folder")
    parser.add_argument("--model", default="models/default", help="its base model folder")
    parser.add_argument("--prompts", default="heldout", help="'heldout' or a prompt file")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--strengths", default=strengths, help="comma-separated control strengths, a row each")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=0, help="only the first N prompts (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    return parser


def controlnet_bench_setup(args: argparse.Namespace, several: bool = False):
    """(model, controlnet, prompts, settings) as the parsed options name them; the ControlNet checked against
    its base model before any work. `several`: --control may list folders, comma-separated, and the second
    item is the list of ControlNets."""
    torch.set_num_threads(args.threads)
    model, folders = load_model(args.model), args.control.split(",")
    if len(folders) > 1 and not several:
        raise SystemExit(f"--control: this benchmark measures one ControlNet, got {len(folders)}")
    controlnets = [load_controlnet(folder) for folder in folders]
    for controlnet in controlnets:
        controlnet.check_base(model)
    prompts = load_prompts(args.prompts)[:args.limit or None]
    settings = ComposeSettings(model=args.model, prompts=args.prompts, size=args.size, steps=args.steps,
                               guidance=args.guidance, seeds=tuple(int(s) for s in args.seeds.split(",")))
    return model, controlnets if several else controlnets[0], prompts, settings

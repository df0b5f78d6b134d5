"""Seconds per sampling step on a Stable Diffusion model: pixeldrift's pipeline against diffusers'.

Both drive the very same modules (random weights) with Euler on leading spacing
(diffusers: EulerDiscreteScheduler), classifier-free guidance 7.5, on the same
number of threads. A step is timed from one step callback to the next, so text
encoding and VAE decoding are left out. One run each by default, as the issue
asks; on a shared machine a neighbour's load swings single runs by 2x or more,
so --repeats N alternates the two sides N times and keeps each side's fastest.

    python bench/sd_speed.py             # tiny model and full-size SD 1.5 at 512x512
    python bench/sd_speed.py --tiny-only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pretrained"))
from tiny_sd_models import make_sd1, write_tokenizer  # noqa: E402  (the tests' tiny model and vocabulary)

from pixeldrift.pipeline import GenerationRequest  # noqa: E402
from pixeldrift.pretrained import open_model  # noqa: E402
from pixeldrift.pretrained.components import (SDParts, build_text_encoder, build_unet,  # noqa: E402
                                              build_vae, load_tokenizer)
from pixeldrift.pretrained.extra import require_extra  # noqa: E402
from pixeldrift.pretrained.families import Family  # noqa: E402
from pixeldrift.pretrained.presets import PRESETS  # noqa: E402
from pixeldrift.pretrained.stable_diffusion import StableDiffusion  # noqa: E402


def full_size_sd15(folder: Path) -> StableDiffusion:
    """SD 1.5's architecture with random weights (the tokenizer is a tiny one: speed does not depend on it)."""
    preset = PRESETS["sd1"]
    write_tokenizer(folder / "tokenizer")
    torch.manual_seed(0)
    parts = SDParts(Family("sd1", "epsilon"), build_unet(preset["unet"]).eval(), build_vae(preset["vae"]).eval(),
                    [build_text_encoder(*preset["text_encoders"][0]).eval()],
                    [load_tokenizer(folder / "tokenizer")], dict(preset["scheduler"],
                                                                 _class_name="EulerDiscreteScheduler"), folder)
    return StableDiffusion(parts, name="sd15-random")


def step_times(run) -> float:
    """Seconds per step from the callback times of one run (first step to last)."""
    stamps = []
    run(lambda *args: stamps.append(time.perf_counter()))
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def ours(model, size: int, steps: int) -> float:
    request = GenerationRequest("a photograph of a lighthouse", steps=steps, sampler="euler", schedule="leading",
                                guidance=7.5, width=size, height=size)
    return step_times(lambda callback: model.generate(request, callback=lambda i, x, d: callback()))


def theirs(model, size: int, steps: int) -> float:
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    scheduler = EulerDiscreteScheduler.from_config(model.scheduler_config, timestep_spacing="leading")
    pipe = StableDiffusionPipeline(vae=model.vae, text_encoder=model.prompt_encoder.text_encoders[0],
                                   tokenizer=model.prompt_encoder.tokenizers[0], unet=model.unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)

    def run(callback):
        def on_step_end(pipe, i, t, kwargs):
            callback()
            return kwargs
        pipe("a photograph of a lighthouse", num_inference_steps=steps, guidance_scale=7.5, height=size,
             width=size, generator=torch.Generator().manual_seed(0), callback_on_step_end=on_step_end)
    return step_times(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny-only", action="store_true", help="skip the full-size SD 1.5 run")
    parser.add_argument("--steps", type=int, default=4, help="steps per run for the full-size model")
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs per side; the fastest counts")
    args = parser.parse_args()
    require_extra()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 CPU, Euler leading, CFG 7.5")
    print(f"{'model':<28} {'size':>7} {'ours s/step':>12} {'diffusers s/step':>17} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("tiny SD 1.x (random)", open_model(make_sd1(Path(tmp) / "tiny")), 64, 10)]
        if not args.tiny_only:
            cases.append(("SD 1.5 architecture (random)", full_size_sd15(Path(tmp) / "sd15"), 512, args.steps))
        for label, model, size, steps in cases:
            runs = [(ours(model, size, steps), theirs(model, size, steps)) for _ in range(args.repeats)]
            a, b = min(r[0] for r in runs), min(r[1] for r in runs)
            print(f"{label:<28} {size:>4}px {a:>12.4f} {b:>17.4f} {a / b:>7.3f}", flush=True)


if __name__ == "__main__":
    main()

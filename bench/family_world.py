"""The generative family on world images: quality, diversity and speed of a GAN, a VAE, diffusion and flow.

Trains four unconditional generators on fresh 32-pixel renders of the world stream, each for the
same CPU budget on one thread (a timed probe sets its step count): a DCGAN-shaped GAN, a
convolutional VAE, a diffusion model (EDM) and a flow-matching model on the same small UNet. Then
draws N samples of each (diffusion and flow at 32 Euler steps and at 4) and prints one table:

  reads as a scene   the share of samples that read cleanly as one kind of world scene, no prompt
                     (pixeldrift/evaluate/scene_kind.py), and the share read as each kind;
  kinds / modes      the share of the data's scene kinds and of its modes (a kind; for objects
                     scenes the colour and shape of the largest object) the samples reach;
  sliced W           to as many fresh renders, in pixel space; CPU ms per image, one thread.

Before the table it prints what the reader makes of real renders, uniform noise and blank
backgrounds. Under --out it writes family_world.png: samples of every model beside the
quality / diversity / speed triangle. See docs/few_step_2d.md, "On world images".

    nice -n 19 python bench/family_world.py --budget 480 --out outputs/family_world    # ~40 CPU minutes
    python bench/family_world.py --budget 5 --samples 64 --reference 200              # a smoke run
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pixeldrift.evaluate.scene_kind import read_scene_kind
from pixeldrift.toy.family_world import (METHODS, ODE_STEPS, WorldFamilyConfig, figure_rows, format_table,
                                         run_world_family)

NEGATIVES = 200  # noise images and blank backgrounds shown to the reader


def reader_check(size: int, seed: int) -> str:
    """What the reader accepts beyond the renders the table reads: noise and blank backgrounds."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (NEGATIVES, size, size, 3), dtype=np.uint8)
    blank = np.broadcast_to(rng.integers(200, 256, (NEGATIVES, 1, 1, 3), dtype=np.uint8), noise.shape)
    accepted = [sum(read_scene_kind(image).ok for image in images) for images in (noise, blank)]
    return f"uniform noise {accepted[0]}/{NEGATIVES}, blank pale backgrounds {accepted[1]}/{NEGATIVES}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated: diffusion, flow, gan, vae")
    parser.add_argument("--budget", type=float, default=480.0, help="CPU seconds of training per model")
    parser.add_argument("--steps", type=int, default=None, help="train every model this many steps instead")
    parser.add_argument("--size", type=int, default=32, choices=(32, 64), help="image side in pixels")
    parser.add_argument("--batch", type=int, default=16, help="training images per step")
    parser.add_argument("--samples", type=int, default=500, help="samples per model (16-20,000)")
    parser.add_argument("--reference", type=int, default=2000, help="real renders read to find the data's modes")
    parser.add_argument("--ode-steps", default=",".join(map(str, ODE_STEPS)),
                        help="Euler steps of diffusion and flow, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/family_world"), help="folder for the figure")
    parser.add_argument("--no-figure", action="store_true", help="only print the table")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the budget's unit)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    started, cpu = time.perf_counter(), time.process_time()
    config = WorldFamilyConfig(size=args.size, methods=tuple(args.methods.split(",")), budget_seconds=args.budget,
                               train_steps=args.steps, batch_size=args.batch, num_samples=args.samples,
                               reference=args.reference, ode_steps=tuple(int(n) for n in args.ode_steps.split(",")),
                               seed=args.seed)
    result = run_world_family(config, log=lambda line: print(line, flush=True))
    data = result.rows[-1]
    print(f"\nThe reader on real renders: {100 * result.modes.accepted:.1f}% of {config.reference:,} (reference), "
          f"{100 * data.accepted:.1f}% of {config.num_samples:,} (the (data) row); "
          f"{reader_check(config.size, config.seed)}")
    print(f"\nThe family at {config.size} px, {config.num_samples:,} samples each; sliced W floor (data vs data) "
          f"{result.floor:.3f}\n")
    print(format_table(result), flush=True)
    if not args.no_figure:
        from pixeldrift.toy.figures import image_family
        args.out.mkdir(parents=True, exist_ok=True)
        title = (f"The generative family on {config.size}-pixel world scenes, "
                 + (f"{config.train_steps:,} steps" if config.train_steps else f"{config.budget_seconds:g} CPU s")
                 + " of training each")
        print(f"wrote {image_family(figure_rows(result), title, args.out / 'family_world.png')}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")


if __name__ == "__main__":
    main()

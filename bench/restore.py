"""Inverse problems on held-out world scenes: DPS and Pi-GDM against the classical baselines.

Every scene is a held-out prompt (world.HELDOUT_PROMPTS, cycled, wildcards filled in) rendered at
the model's size. Each task degrades it with its operator and measurement noise 0.05 (pixels in
[-1, 1]): sr4 (4x average pooling), deblur (Gaussian, sigma 2), motion (a 9-pixel line at 30
degrees), inpaint (one random box, a quarter to a half of each side). The baselines are bicubic
upsampling (sr4), Wiener deconvolution (blurs) and the masked image itself (inpaint); DPS and
Pi-GDM restore with the default model, conditioned on the scene's caption, at one sampler and
step count. Reported per task and method: mean PSNR and SSIM against the render, and the
verifier's accuracy on the restored image against the scene (the better figure). Reference
rows: the render itself and its round trip through the VAE (the latent prior's ceiling).

    nice -n 19 python bench/restore.py --scenes 40
    python bench/restore.py --scenes 4 --steps 10 --tasks sr4     # a quick look
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

import numpy as np
import torch
from PIL import Image

from pixeldrift import world
from pixeldrift.applications import inverse_problems as ip
from pixeldrift.applications.inversion import psnr
from pixeldrift.evaluate.ssim import ssim
from pixeldrift.pipeline import DEFAULT_MODEL_DIR, load_model
from pixeldrift.pipeline.pixels import images_to_pixels, pixels_to_images


def scenes(count: int, size: int, seed: int) -> tuple[list, list[Image.Image], list[str]]:
    """(specs, renders, captions) of `count` held-out scenes."""
    rng = random.Random(seed)
    prompts = [p for _, p in world.HELDOUT_PROMPTS]
    specs = [world.resolve_wildcards(world.parse_prompt(prompts[i % len(prompts)]), rng) for i in range(count)]
    return specs, [world.render_image(s, size=size, seed=seed + i) for i, s in enumerate(specs)], \
        [world.caption(s) for s in specs]


def row(name: str, images: list[Image.Image], truth: list[Image.Image], specs, seconds: float) -> str:
    n = len(images)
    results = [world.verify(image, spec) for image, spec in zip(images, specs)]
    verified = sum(r.ok for r in results)
    failed = Counter(c.attribute.split(" of ")[0] for r in results for c in r.failures)  # "count of ..." -> count
    if failed:
        print(f"  {name}: failed checks {dict(failed.most_common())}", flush=True)
    mean_psnr = np.mean([psnr(a, b) for a, b in zip(truth, images)])
    mean_ssim = np.mean([ssim(a, b) for a, b in zip(truth, images)])
    return f"| {name} | {mean_psnr:.2f} | {mean_ssim:.3f} | {verified}/{n} ({verified / n:.0%}) | {seconds:.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--tasks", default=",".join(ip.TASKS))
    parser.add_argument("--methods", default=",".join(ip.METHODS))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--sampler", default="euler_ancestral")
    parser.add_argument("--zeta", type=float, help="DPS's step size / Pi-GDM's weight (each method's default)")
    parser.add_argument("--batch", type=int, default=20, help="scenes restored together")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(DEFAULT_MODEL_DIR)
    size = model.limits.default_width
    specs, truth, captions = scenes(args.scenes, size, args.seed)
    x = images_to_pixels(truth)
    lines = ["| task | method | PSNR (dB) | SSIM | verified | seconds |", "|---|---|---:|---:|---:|---:|"]
    with torch.no_grad():
        through_vae = pixels_to_images(model.latents_to_pixels(model.pixels_to_latents(x)))
    lines.append(row("- | the render (the truth)", truth, truth, specs, 0).replace("| 100.00 |", "| - |"))
    lines.append(row("- | the render through the VAE (the prior's ceiling)", through_vae, truth, specs, 0))
    for task in args.tasks.split(","):
        generator = torch.Generator().manual_seed(args.seed)
        operator = ip.make_operator(task, len(truth), (size, size), generator)
        y = ip.measure(operator, x, ip.NOISE_STD, generator)
        base = {"sr4": "bicubic", "deblur": "Wiener", "motion": "Wiener", "inpaint": "masked image"}[task]
        lines.append(row(f"{task} | {base}", pixels_to_images(ip.baseline(task, operator, y)), truth, specs, 0))
        for method in args.methods.split(","):
            started = time.perf_counter()
            settings = ip.RestoreSettings(task=task, method=method, steps=args.steps, sampler=args.sampler,
                                          zeta=args.zeta, seed=args.seed)
            restored = []
            for lo in range(0, len(truth), args.batch):
                part = slice(lo, lo + args.batch)
                part_op = ip.BoxMask(operator.mask[part]) if task == "inpaint" else operator
                restored += pixels_to_images(ip.restore(model, y[part], part_op, captions[part], settings))
            seconds = time.perf_counter() - started
            lines.append(row(f"{task} | {method}", restored, truth, specs, seconds))
            print(f"  {task} {method}: {seconds:.0f} s", flush=True)
    print(f"\n{args.scenes} held-out scenes at {size}x{size}, noise {ip.NOISE_STD}, {args.sampler} "
          f"{args.steps} steps, seed {args.seed}\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Forward time of every network preset on this machine (inference mode, float32).

Denoisers: one call at batch 8 on 16x16x4 latents with a 64-token context, the
shape of one guided sampling step for 4 images (cond + uncond). VAE: decoding 4
latents to 64x64 images. Text encoder: 8 prompts of 64 tokens. Each figure is the
best and the median of --repeats timed calls after --warmup calls, the networks
taking turns; the best is the least disturbed by other processes on a shared CPU
(with 2 threads, one busy neighbour can make a call several times slower).

    .venv/bin/python bench/nets_forward.py                  # tiny, small, base
    .venv/bin/python bench/nets_forward.py --presets large --repeats 3
    .venv/bin/python bench/nets_forward.py --threads 2      # torch.set_num_threads first
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from pixeldrift.nets import DIT_PRESETS, TEXT_ENCODER_PRESETS, UNET_PRESETS, VAE, VAE_PRESETS, DiT, TextEncoder, UNet

BATCH, TOKENS = 8, 64


def time_interleaved(calls: dict[str, Callable[[], object]], warmup: int, repeats: int
                     ) -> dict[str, tuple[float, float]]:
    """(best, median) wall time in ms of each call, timed round-robin so that a burst of
    load from another process on a shared CPU hits every network alike, not one row."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    times: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(repeats):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            times[key].append((time.perf_counter() - start) * 1e3)
    return {key: (min(t), statistics.median(t)) for key, t in times.items()}


def denoiser_call(net: torch.nn.Module) -> Callable[[], object]:
    x = torch.randn(BATCH, 4, 16, 16)
    noise_level = torch.rand(BATCH) * 999
    context = torch.randn(BATCH, TOKENS, net.cfg.context_dim)
    mask = torch.ones(BATCH, TOKENS, dtype=torch.bool)
    return lambda: net(x, noise_level, context=context, context_mask=mask)


def vae_decode_call(vae: VAE) -> Callable[[], object]:
    side = 64 // vae.cfg.downsample_factor
    latents = torch.randn(4, vae.cfg.latent_channels, side, side)
    return lambda: vae.decode_latents(latents)


def text_call(encoder: TextEncoder) -> Callable[[], object]:
    prompts = ["x" * (TOKENS - 2)] * BATCH
    return lambda: encoder.encode(prompts)


FAMILIES = [
    ("unet", UNET_PRESETS, UNet, denoiser_call, "batch 8, 16x16x4, 64 tokens"),
    ("dit", DIT_PRESETS, DiT, denoiser_call, "batch 8, 16x16x4, 64 tokens"),
    ("vae decode", VAE_PRESETS, VAE, vae_decode_call, "4 latents -> 64x64x3"),
    ("text encoder", TEXT_ENCODER_PRESETS, TextEncoder, text_call, "8 prompts x 64 tokens"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small", "base"], help="preset names to time")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per network")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, inference mode")
    print("| network | preset | parameters | workload | best ms | median ms |\n|---|---|---:|---|---:|---:|")
    rows, calls = [], {}
    for family, presets, builder, make_call, workload in FAMILIES:
        for name in args.presets:
            net = builder(presets[name]).eval()
            rows.append((family, name, sum(p.numel() for p in net.parameters()), workload))
            calls[family, name] = make_call(net)
    with torch.inference_mode():
        timings = time_interleaved(calls, args.warmup, args.repeats)
    for family, name, params, workload in rows:
        best, median = timings[family, name]
        print(f"| {family} | {name} | {params / 1e6:.2f}M | {workload} | {best:.1f} | {median:.1f} |")
    medians = {key: median for key, (_, median) in timings.items()}
    if "small" in args.presets:
        total = 20 * medians["unet", "small"] + medians["vae decode", "small"] + medians["text encoder", "small"]
        print(f"\nnetwork time of a guided 20-step generation of 4 images with the small presets "
              f"(20 UNet calls + 1 VAE decode + 1 text encoding, medians): {total:.0f} ms")


if __name__ == "__main__":
    main()

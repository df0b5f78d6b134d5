"""Generation speed on this machine: model load, 4 images at 64x64 with 20 steps and guidance,
the share of time spent in the network, and peak memory.

    python bench/generate_speed.py [--model models/default] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model


class Stopwatch(torch.nn.Module):
    """Wraps a module and adds up the wall time of its forward calls."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner, self.seconds = inner, 0.0

    def forward(self, *args, **kwargs):
        started = time.perf_counter()
        out = self.inner(*args, **kwargs)
        self.seconds += time.perf_counter() - started
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    model = load_model(args.model)
    load_seconds = time.perf_counter() - started
    unet = Stopwatch(model.denoiser.net)
    model.denoiser.net = unet
    request = GenerationRequest("three red circles above a blue square", batch_size=4, steps=20)
    model.generate(request)  # warm-up
    totals, network = [], []
    for seed in range(args.repeats):
        unet.seconds = 0.0
        started = time.perf_counter()
        model.generate(GenerationRequest(request.prompt, batch_size=4, steps=20, seed=seed))
        totals.append(time.perf_counter() - started)
        network.append(unet.seconds)
    total, net = statistics.median(totals), statistics.median(network)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model {args.model}, torch {torch.__version__}, {args.threads} threads, median of {args.repeats}")
    print(f"{'model load':<44}{load_seconds:>8.3f} s")
    print(f"{'4 images 64x64, 20 steps, guidance (20 x batch 8)':<44}{total:>8.3f} s")
    print(f"{'  of which the UNet':<44}{net:>8.3f} s  ({100 * net / total:.1f}%)")
    print(f"{'  everything else':<44}{total - net:>8.3f} s  ({100 * (total - net) / total:.1f}%)")
    print(f"{'peak resident memory':<44}{peak_mib:>8.0f} MiB")


if __name__ == "__main__":
    main()

"""Generation speed on this machine: model load, 4 images at 64x64 with 20 steps and guidance,
the share of time spent in the network, and peak memory.

    python bench/generate_speed.py [--model models/default] [--repeats 5] [--threads 2] [--excite SCALE]

Without --excite the model's own default is used (Attend-and-Excite adds a forward
and backward pass of the UNet at each step while sigma >= 1).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from pixeldrift.pipeline import DEFAULT_MODEL_DIR, GenerationRequest, load_model


class Stopwatch:
    """Adds up the wall time of a module's calls to one method (by wrapping it on the instance)."""

    def __init__(self, module: torch.nn.Module, method: str = "forward"):
        self.seconds = 0.0
        inner = getattr(module, method)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            out = inner(*args, **kwargs)
            self.seconds += time.perf_counter() - started
            return out

        setattr(module, method, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--excite", type=float, default=None, help="Attend-and-Excite scale (model default)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    model = load_model(args.model)
    load_seconds = time.perf_counter() - started
    unet, vae = Stopwatch(model.denoiser.net), Stopwatch(model.vae.decoder)
    text = Stopwatch(model.text_encoder, "encode")  # MiniLM's work is in encode, not forward
    request = GenerationRequest("three red circles above a blue square", batch_size=4, steps=20, excite=args.excite)
    model.generate(request)  # warm-up
    totals, unets, others = [], [], []
    for seed in range(args.repeats):
        unet.seconds = text.seconds = vae.seconds = 0.0
        started = time.perf_counter()
        model.generate(GenerationRequest(request.prompt, batch_size=4, steps=20, seed=seed, excite=args.excite))
        totals.append(time.perf_counter() - started)
        unets.append(unet.seconds)
        others.append(text.seconds + vae.seconds)
    total, net, coders = statistics.median(totals), statistics.median(unets), statistics.median(others)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    excite = model.sampling_defaults.excite if args.excite is None else args.excite
    print(f"model {args.model}, torch {torch.__version__}, {args.threads} threads, median of {args.repeats}, "
          f"Attend-and-Excite scale {excite:g}")
    print(f"{'model load':<44}{load_seconds:>8.3f} s")
    print(f"{'4 images 64x64, 20 steps, guidance (20 x batch 8)':<44}{total:>8.3f} s")
    print(f"{'  of which the UNet':<44}{net:>8.3f} s  ({100 * net / total:.1f}%)")
    print(f"{'  of which text encoder + VAE decoder':<44}{coders:>8.3f} s  ({100 * coders / total:.1f}%)")
    rest = total - net - coders
    print(f"{'  everything else (not a network)':<44}{rest:>8.3f} s  ({100 * rest / total:.1f}%)")
    print(f"{'peak resident memory':<44}{peak_mib:>8.0f} MiB")


if __name__ == "__main__":
    main()

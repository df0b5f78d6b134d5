"""Speed of the challenge world on one CPU core: renderer scenes/s and verifier images/s.

Run:  .venv/bin/python bench/world_speed.py [--n 2000]

Targets (issue 3): at least 2,000 scenes/s rendered and 500 images/s verified at 64 x 64.
The scenes are the training stream's mix (objects 55%, clock, quantity, text 15% each);
each kind is also timed on its own. Sampling specs is not timed.
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, before numpy loads
    os.environ[_name] = "1"

import argparse  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

from pixeldrift.world import IMAGE_SIZES, TextScene, render, sample_spec, verify  # noqa: E402

KINDS = ("mix", "objects", "clock", "quantity", "text")


def _specs(kind: str, count: int, size: int) -> list:
    rng, specs = random.Random(0), []
    while len(specs) < count:
        spec = sample_spec(rng)
        if kind not in ("mix", spec.kind) or (isinstance(spec, TextScene) and size == 32 and len(spec.word) > 4):
            continue
        specs.append(spec)
    return specs


def _rate(function, items) -> float:
    start = time.perf_counter()
    for item in items:
        function(*item)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="scenes per measurement")
    count = parser.parse_args().n
    print(f"{'size':>4} {'kind':>8} {'render scenes/s':>16} {'verify images/s':>16}")
    for size in IMAGE_SIZES:
        for kind in KINDS:
            specs = _specs(kind, count, size)
            render_rate = _rate(lambda s, i: render(s, size, i), [(s, i) for i, s in enumerate(specs)])
            images = [(render(s, size, i), s) for i, s in enumerate(specs)]
            verify_rate = _rate(verify, images)
            print(f"{size:>4} {kind:>8} {render_rate:>16,.0f} {verify_rate:>16,.0f}")


if __name__ == "__main__":
    main()

"""Does the VAE keep what the world verifier reads? Encode-decode rendered scenes and verify them.

    python bench/vae_fidelity.py [--vae runs/vae | --model models/default] [--n 1000]
    python bench/vae_fidelity.py --benchmark heldout     # the ceiling per benchmark category

With --benchmark, the benchmark's own prompts (4 seeds) are rendered exactly, sent through the VAE and
verified: no denoiser can score above these figures with this VAE.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pixeldrift.evaluate.vae_fidelity import vae_fidelity


def benchmark_ceiling(vae, prompts: str, seeds=(0, 1, 2, 3)) -> None:
    from pixeldrift.evaluate.compose import (ComposeSettings, groundtruth_generator, load_prompts, overall,
                                             run_compose, score)
    from pixeldrift.evaluate.vae_fidelity import reconstruct
    exact = groundtruth_generator(64)
    results, _ = run_compose(lambda p, s: reconstruct(vae, exact(p, s)), load_prompts(prompts),
                             ComposeSettings(prompts=prompts, seeds=seeds))
    scores = score(results)
    print(f"Ceiling of the VAE on the {prompts} benchmark ({len(seeds)} seeds): exact renders, encoded, decoded, "
          "verified")
    for category, result in scores.items():
        print(f"  {category:<20}{result.correct:>5}/{result.total:<5}{100 * result.accuracy:>7.1f}%")
    print(f"  {'overall':<20}{'':>11}{100 * overall(scores):>7.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae", type=Path, help="a folder written by `pixeldrift train vae`")
    parser.add_argument("--model", type=Path, help="a model folder (uses its VAE)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--benchmark", help="'heldout' or a prompt file: the VAE's ceiling per category")
    args = parser.parse_args()
    if args.vae:
        from pixeldrift.train.run import load_trained_vae
        vae = load_trained_vae(args.vae)
    else:
        from pixeldrift.pipeline import DEFAULT_MODEL_DIR, load_model
        vae = load_model(args.model or DEFAULT_MODEL_DIR).vae
    if args.benchmark:
        return benchmark_ceiling(vae.eval(), args.benchmark)
    result = vae_fidelity(vae.eval(), args.n)
    per_kind, psnr = result.per_kind, result.psnr
    total_ok = sum(ok for ok, _ in per_kind.values())
    print(f"VAE reconstructions verified by the world verifier, {args.n} training-split scenes at 64x64")
    for kind, (ok, n) in per_kind.items():
        print(f"  {kind:<14}{ok:>5}/{n:<5}{100 * ok / n:>7.1f}%")
    print(f"  {'all':<14}{total_ok:>5}/{args.n:<5}{100 * total_ok / args.n:>7.1f}%   mean PSNR {psnr:.1f} dB")


if __name__ == "__main__":
    main()

"""Does the VAE keep what the world verifier reads? Encode-decode rendered scenes and verify them.

    python bench/vae_fidelity.py [--vae runs/vae | --model models/default] [--n 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pixeldrift.evaluate.vae_fidelity import vae_fidelity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae", type=Path, help="a folder written by `pixeldrift train vae`")
    parser.add_argument("--model", type=Path, help="a model folder (uses its VAE)")
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    if args.vae:
        from pixeldrift.train.run import load_trained_vae
        vae = load_trained_vae(args.vae)
    else:
        from pixeldrift.pipeline import DEFAULT_MODEL_DIR, load_model
        vae = load_model(args.model or DEFAULT_MODEL_DIR).vae
    result = vae_fidelity(vae.eval(), args.n)
    per_kind, psnr = result.per_kind, result.psnr
    total_ok = sum(ok for ok, _ in per_kind.values())
    print(f"VAE reconstructions verified by the world verifier, {args.n} training-split scenes at 64x64")
    for kind, (ok, n) in per_kind.items():
        print(f"  {kind:<14}{ok:>5}/{n:<5}{100 * ok / n:>7.1f}%")
    print(f"  {'all':<14}{total_ok:>5}/{args.n:<5}{100 * total_ok / args.n:>7.1f}%   mean PSNR {psnr:.1f} dB")


if __name__ == "__main__":
    main()

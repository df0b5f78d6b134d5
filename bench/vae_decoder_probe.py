"""Probe: how much more can a bigger decoder read out of the default VAE's frozen latents?

A decoder-only fine-tune keeps the encoder, so the latent space the denoiser was
trained on stays exactly the same. This trains a fresh decoder on the frozen
encoder's latents, with signs drawn as often as object scenes, and prints the
world verifier's accuracy on reconstructions every `--eval-every` steps.

    python bench/vae_decoder_probe.py --base 32 --blocks 2 --steps 1500 --threads 1
"""

from __future__ import annotations

import argparse
import math
import random
import time

import torch

from pixeldrift import world
from pixeldrift.data.examples import images_to_tensor
from pixeldrift.evaluate.vae_fidelity import vae_fidelity
from pixeldrift.nets.vae import VAE, VAEConfig, build_decoder
from pixeldrift.pipeline import load_model
from pixeldrift.world.sample import SamplerWeights

SIGN_HEAVY = SamplerWeights(kinds={"objects": 0.4, "clock": 0.1, "quantity": 0.1, "text": 0.4})


def batch(step: int, size: int) -> torch.Tensor:
    images = []
    for i in range(size):
        rng = random.Random(f"decoder-probe:{step}:{i}")
        while True:  # a scene that does not fit is drawn again, deterministically
            spec = world.sample_spec(rng, weights=SIGN_HEAVY)
            try:
                images.append(world.render(spec, 64, seed=rng.randrange(2**31)))
                break
            except world.SpecError:
                continue
    return images_to_tensor(images)


def probe_vae(base: int, blocks: int) -> VAE:
    """The default VAE with a fresh decoder of the given width and depth; the encoder frozen."""
    vae = load_model().vae.eval()
    bigger = VAEConfig.from_dict({**vae.cfg.to_dict(), "base_channels": base, "blocks_per_level": blocks})
    vae.encoder.requires_grad_(False)
    vae.decoder = build_decoder(bigger)  # takes the same latents: only the widths inside differ
    return vae


def report(vae: VAE, step: int, seconds: float, n: int) -> None:
    vae.eval()
    result = vae_fidelity(vae, n)
    kinds = "  ".join(f"{k.removesuffix('Scene').lower()} {ok}/{total}" for k, (ok, total) in result.per_kind.items())
    print(f"| {step:>6} | {seconds:>6.0f} | {kinds} | {100 * result.overall:.1f}% | {result.psnr:.1f} |", flush=True)
    vae.decoder.train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=32, help="decoder base channels (the default VAE has 16)")
    parser.add_argument("--blocks", type=int, default=2, help="decoder blocks per level (the default VAE has 1)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--eval-scenes", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    vae = probe_vae(args.base, args.blocks)
    optimizer = torch.optim.AdamW(vae.decoder.parameters(), lr=args.lr, weight_decay=0.0)
    print(f"decoder: {sum(p.numel() for p in vae.decoder.parameters()):,} parameters")
    print("|   step | time s | verified per kind | all | PSNR dB |\n|---:|---:|---|---:|---:|")
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        images = batch(step, args.batch_size)
        with torch.no_grad():
            posterior = vae.encode(images)
            latents = posterior.mean + posterior.std * torch.randn_like(posterior.mean)
        warm = min(1.0, step / 100)
        for group in optimizer.param_groups:  # warm-up, then cosine to a tenth
            group["lr"] = args.lr * warm * (0.1 + 0.45 * (1 + math.cos(math.pi * step / args.steps)))
        error = vae.decode(latents) - images
        loss = error.abs().mean() + error.pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.decoder.parameters(), 1.0)
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            report(vae, step, time.perf_counter() - started, args.eval_scenes)


if __name__ == "__main__":
    main()

"""Training throughput of pixeldrift's UNet against diffusers' UNet2DConditionModel, one run, one machine.

Both networks get the same widths (32, 64, 128), one residual block per level on
the way down (two on the way up), self- and cross-attention at every level and
in the middle, 32-channel heads, GroupNorm with 16 groups, a 256-wide text
context, the same batch of 16x16x4 latents and 64 context tokens with a mask.
diffusers' feed-forward is GEGLU x4, ours GELU x2 by default, so a second row of
ours widens the MLP to match diffusers' parameter count.

One training step = forward, MSE to a random target, backward, AdamW step.
The models are timed in alternating rounds so that a load change on a shared CPU
hits all of them alike; images/s is the median over rounds.

    .venv/bin/python bench/unet_vs_diffusers.py                 # batch 32, 6 rounds of 3 steps
    .venv/bin/python bench/unet_vs_diffusers.py --batch 64 --rounds 10
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import torch
from diffusers import UNet2DConditionModel

from pixeldrift.nets import UNET_PRESETS, UNet

TOKENS, CONTEXT_DIM = 64, 256


def diffusers_unet() -> torch.nn.Module:
    """diffusers' UNet with the widths, depth, heads and norms of our "small" preset."""
    return UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D",) * 3, up_block_types=("CrossAttnUpBlock2D",) * 3,
        block_out_channels=(32, 64, 128), layers_per_block=1, norm_num_groups=16,
        cross_attention_dim=CONTEXT_DIM, attention_head_dim=(1, 2, 4),  # diffusers: heads per level
    )


def training_step(net: torch.nn.Module, call: Callable, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)

    def step() -> None:
        loss = torch.nn.functional.mse_loss(call(net, batch), batch["target"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def ours(net: torch.nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
    return net(b["x"], b["t"], context=b["context"], context_mask=b["mask"])


def theirs(net: torch.nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
    return net(b["x"], b["t"], encoder_hidden_states=b["context"], encoder_attention_mask=b["mask"]).sample


def make_batch(size: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "x": torch.randn(size, 4, 16, 16, generator=g), "target": torch.randn(size, 4, 16, 16, generator=g),
        "t": torch.randint(0, 1000, (size,), generator=g).float(),
        "context": torch.randn(size, TOKENS, CONTEXT_DIM, generator=g),
        "mask": torch.ones(size, TOKENS, dtype=torch.bool),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32, help="images per training step")
    parser.add_argument("--rounds", type=int, default=6, help="alternating timing rounds")
    parser.add_argument("--steps", type=int, default=3, help="training steps per model per round")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    small = UNET_PRESETS["small"]
    models = {
        "pixeldrift UNet small": (UNet(small), ours),
        "pixeldrift UNet small, MLP x6": (UNet(dataclasses.replace(small, mlp_ratio=6)), ours),
        "diffusers UNet2DConditionModel": (diffusers_unet(), theirs),
    }
    batch = make_batch(args.batch)
    steps = {name: training_step(net.train(), call, batch) for name, (net, call) in models.items()}
    for step in steps.values():  # warm-up: allocator, oneDNN kernels, AdamW state
        step()
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[name].append(args.batch * args.steps / (time.perf_counter() - start))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, 16x16x4 latents, "
          f"{TOKENS} context tokens, {args.rounds} rounds x {args.steps} steps")
    reference = statistics.median(rates["diffusers UNet2DConditionModel"])
    print("| model | parameters | images/s (median) | images/s (best) | ratio to diffusers |")
    print("|---|---:|---:|---:|---:|")
    for name, (net, _) in models.items():
        params = sum(p.numel() for p in net.parameters())
        median = statistics.median(rates[name])
        print(f"| {name} | {params / 1e6:.2f}M | {median:.1f} | {max(rates[name]):.1f} | {median / reference:.2f} |")


if __name__ == "__main__":
    main()

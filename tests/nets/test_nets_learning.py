"""End to end through the text path: a denoiser and the text encoder, trained together, learn to
let the prompt steer the output (a wiring check that shapes and masks alone cannot give)."""

from __future__ import annotations

import pytest
import torch

from pixeldrift.nets import DIT_PRESETS, TEXT_ENCODER_PRESETS, UNET_PRESETS, DiT, TextEncoder, UNet

BUILDERS = {"unet": lambda: UNet(UNET_PRESETS["tiny"]), "dit": lambda: DiT(DIT_PRESETS["tiny"])}


@pytest.mark.slow  # 40 training steps: a few seconds on 2 cores
@pytest.mark.parametrize("kind", BUILDERS)
def test_two_prompts_steer_the_same_input_to_two_targets(kind):
    torch.manual_seed(0)
    net, text = BUILDERS[kind](), TextEncoder(TEXT_ENCODER_PRESETS["tiny"])
    x = torch.randn(1, 4, 16, 16).expand(2, -1, -1, -1)  # the same input for both: only the prompt differs
    noise_level = torch.full((2,), 500.0)
    targets = torch.randn(2, 4, 16, 16)
    # A network blind to the prompt gives both samples one output; its best is the targets' mean.
    blind_loss = ((targets[0] - targets[1]) / 2).pow(2).mean().item()
    optimizer = torch.optim.Adam([*net.parameters(), *text.parameters()], lr=2e-3)
    for _ in range(40):
        cond = text.encode(["a red circle", "a blue square"]).as_cond()
        loss = (net(x, noise_level, **cond) - targets).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * blind_loss, (loss.item(), blind_loss)

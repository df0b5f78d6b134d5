"""Train a video model's temporal layers with the layout ControlNet steering every frame (issue 22).

Planned text-to-video (pipeline/video_plan.py) draws each frame's planned layout with the layout
ControlNet while the frames are denoised jointly; the temporal layers of models/video were trained
without it, so what they learnt (keeping a layout and a background) the plan already gives, and
what is left, an object keeping its colour and shape from frame to frame, they were not trained on.
This trains them under the plan: each world clip (data/video_stream.py, training split) is seen
with its true layout maps (world/control_maps.py clip_layout_maps) through the frozen ControlNet
at the plan's strength, and told its long caption as a plan tells it; the spatial layers stay the
image model's (AnimateDiff's motion module, Guo et al. 2024, sec. 4.2), so the ControlNet's base
check still passes. The loss is train/video.py's (EDM weighting, one noise level per clip, the
mixed noise prior, 10% of captions dropped); no first frame is given.

    python scripts/train_video_planned.py --init models/video --control models/cn-layout \\
        --steps 1991 --minutes 0 --out runs/video-planned   # stop 21: 1,991 steps x 8 clips, 24 min

Writes OUT (a video model folder; its temporal layers float32) when the time or the steps are spent.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from pixeldrift.data.examples import images_to_tensor
from pixeldrift.data.video_stream import VideoStream
from pixeldrift.diffusion.forward import append_dims
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.pipeline.plan import PLAN_STRENGTH
from pixeldrift.pipeline.video_folder import load_video_model, save_video_model
from pixeldrift.pipeline.video_model import mixed_noise
from pixeldrift.sampling.control import ControlUnit
from pixeldrift.sampling.video_control import VideoControlDenoiser
from pixeldrift.train.trainer import BatchNoise
from pixeldrift.train.video import VideoTraining
from pixeldrift.world.control_maps import clip_layout_maps
from pixeldrift.world.motion import clip_caption

CAPTION_DROPOUT = 0.1


def planned_batch(stream: VideoStream, step: int, batch: int):
    """Clips step*batch ... as (N, F, 3, H, W) in [-1, 1], their long captions and their layout maps as hints
    (N*F, 3, H, W) in [0, 1]."""
    items = [stream.clip(i) for i in range(step * batch, (step + 1) * batch)]
    clips = torch.stack([images_to_tensor(list(frames)) for frames, _, _, _ in items])
    captions = [clip_caption(clip, "long") for _, _, clip, _ in items]
    maps = np.stack([clip_layout_maps(clip, stream.frames, stream.size, seed) for _, _, clip, seed in items])
    return clips, captions, torch.from_numpy(maps).flatten(0, 1).permute(0, 3, 1, 2).float() / 255


def planned_loss(module: VideoTraining, controlnet, clips, captions, hints, noise: BatchNoise) -> torch.Tensor:
    """train/video.py's loss, every frame steered by the ControlNet with its map."""
    video, model = module.model, module.model.image_model
    frames = clips.shape[1]
    drop = noise.rand() < CAPTION_DROPOUT
    sigma = noise.draw(module.draw_sigma)[:, None].repeat(1, frames)
    with torch.no_grad():
        latents = module._latents(clips, noise)
        cond = model.text_encoder.encode(["" if d else c for d, c in zip(drop.tolist(), captions)]).as_cond()
    eps = mixed_noise(noise.randn(1, *latents.shape[2:]), noise.randn(*latents.shape[1:]), video.temporal.shared_noise)
    denoiser = VideoControlDenoiser(model.denoiser, [ControlUnit(controlnet.net, hints, PLAN_STRENGTH)])
    denoised = denoiser(latents + append_dims(sigma, latents.ndim) * eps, sigma, **cond)
    return (model.denoiser.loss_weight(sigma) * (denoised - latents).pow(2).flatten(2).mean(2)).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--init", default="models/video", help="the video model whose temporal layers train on")
    parser.add_argument("--control", default="models/cn-layout", help="the layout ControlNet (its base: the spatial layers)")
    parser.add_argument("--minutes", type=float, default=24.0, help="stop after this much wall time (0: no limit)")
    parser.add_argument("--steps", type=int, default=100_000, help="at most this many steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=21, help="the clip stream's seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    video, controlnet = load_video_model(args.init), load_controlnet(args.control)
    controlnet.check_spatial_base(video)
    controlnet.net.requires_grad_(False).eval()
    module = VideoTraining(video, CAPTION_DROPOUT, first_frame_share=0.0, freeze_spatial=True).train()
    trained = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01)
    stream = VideoStream(seed=args.seed, size=video.size, frames=video.defaults.frames)
    step, started = 0, time.time()
    while step < args.steps and (args.minutes == 0 or time.time() - started < args.minutes * 60):
        clips, captions, hints = planned_batch(stream, step, args.batch_size)
        noise = BatchNoise(torch.Generator().manual_seed(1000 + step), slice(0, args.batch_size), args.batch_size,
                           torch.device("cpu"))
        loss = planned_loss(module, controlnet, clips, captions, hints, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        step += 1
        if step % 20 == 0:
            print(f"step {step} loss {loss.item():.4f} {time.time() - started:.0f} s", flush=True)
    video.eval()
    save_video_model(video, args.out, training={"method": "video, temporal layers under the plan",
                                                "script": "scripts/train_video_planned.py", "init": args.init,
                                                "control": args.control, "steps_done": step,
                                                "batch_size": args.batch_size, "learning_rate": args.lr,
                                                "seed": args.seed})
    print(f"wrote the video model folder {args.out} after {step} steps", flush=True)


if __name__ == "__main__":
    main()

"""`pixeldrift train video`: grow a text- and image-to-video model from an image model folder (train/video.py)."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from pixeldrift.cli.train import _config, _run, _trainer_options, train
from pixeldrift.world.motion import MAX_FRAMES, MIN_FRAMES


@train.command("video")
@_trainer_options(steps=3000, batch_size=16, lr=2e-4, warmup=100, ema=0.998)
@click.option("--init", type=click.Path(file_okay=False, path_type=Path), default=Path("models/default"),
              show_default=True, help="The image model folder whose UNet becomes the video model's spatial layers, "
                                      "or a video model folder to train on.")
@click.option("--shared-noise", type=click.FloatRange(0, 10), default=1.0, show_default=True,
              help="Alpha of the mixed noise prior (PYoCo): each frame's noise shares alpha^2/(1+alpha^2) of its "
                   "variance with the clip's other frames; 0 draws every frame's noise alone.")
@click.option("--frames", type=click.IntRange(MIN_FRAMES, MAX_FRAMES), default=8, show_default=True,
              help="Frames per training clip (and the exported model's default).")
@click.option("--fps", type=click.IntRange(1, 30), default=8, show_default=True,
              help="The exported model's default frames per second.")
@click.option("--caption-dropout", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Share of clips trained without their caption (for guidance on the text).")
@click.option("--first-frame-share", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of clips whose first frame is given clean (image-to-video).")
@click.option("--temporal-lr-scale", type=click.FloatRange(0, 100, min_open=True), default=5.0, show_default=True,
              help="The new temporal layers' learning rate as a multiple of --lr (the pretrained layers take --lr).")
@click.option("--freeze-spatial", is_flag=True,
              help="Train the temporal layers only; every frame keeps the image model's spatial weights "
                   "(AnimateDiff's motion module).")
@click.option("--spatial-from", type=click.Path(file_okay=False, path_type=Path),
              help="With --init a video model folder: put this image model folder's UNet back as its spatial "
                   "layers before training (its temporal layers are kept).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--export", type=click.Path(file_okay=False, path_type=Path),
              help="Write the video model folder here at the end.")
def train_video_command(out, init, shared_noise, frames, fps, caption_dropout, first_frame_share, temporal_lr_scale,
                        freeze_spatial, spatial_from, export, data, size, resume, check, **options):
    """Train a latent video diffusion model on clips of the world in motion.

    The image model's UNet keeps its weights and gains attention across frames after every stage (zero at
    start, so training starts from the image model drawing every frame alike); the frames of a clip are
    denoised jointly. Half the clips give their first frame clean, so the model also animates a still.
    Resumable with --resume; the same under torchrun.

    \b
    Examples:
      pixeldrift train video --init models/default --steps 3000 --out runs/video --export models/video
      pixeldrift train video --out runs/video --resume --export models/video
      pixeldrift train video --init models/video --spatial-from models/default --freeze-spatial --out runs/motion
    """
    from pixeldrift.train.video import train_video
    context = click.get_current_context()
    if data != "world" or context.get_parameter_source("size") is not ParameterSource.DEFAULT:
        raise click.UsageError("video models train on the world's clips at their image model's size; leave out "
                               "--data and --size")
    if check:
        raise click.UsageError("--check is not offered for video training: the world's clips need no checking")
    from pixeldrift.nets.temporal import TemporalConfig
    _run(lambda: train_video(out, _config(**options), init, frames=frames, fps=fps,
                             temporal=TemporalConfig(shared_noise=shared_noise), export=export, resume=resume,
                             caption_dropout=caption_dropout, first_frame_share=first_frame_share,
                             temporal_lr_scale=temporal_lr_scale, freeze_spatial=freeze_spatial,
                             spatial_from=spatial_from, report=click.echo))

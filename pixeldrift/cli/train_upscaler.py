"""`pixeldrift train upscaler`: an SR3 super-resolution model on crops of 256-px world renders (train/upscaler.py)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.core import ParameterSource

from pixeldrift.cli.train import _config, _run, _trainer_options, train
from pixeldrift.nets.upscaler import UPSCALER_PRESETS
from pixeldrift.pipeline.upscaler_folder import DTYPES


@train.command("upscaler")
@_trainer_options(steps=4000, batch_size=16, lr=5e-4, warmup=100, ema=0.999)
@click.option("--preset", type=click.Choice(list(UPSCALER_PRESETS)), default="small", show_default=True,
              help="The network: 'small' (1.1M parameters, ~0.2 s a 256-px call on one thread) or 'tiny' (tests).")
@click.option("--crop", type=click.IntRange(16, 256), default=64, show_default=True,
              help="Side of the training crops of the 256-px renders, a multiple of 8: the network is "
                   "convolutional, so it learns on crops and samples whole 256-px images.")
@click.option("--target", type=click.Choice(["residual", "image"]), default="residual", show_default=True,
              help="What the network predicts: the detail the bicubic enlargement lacks (SRDiff; sigma_data 0.15, "
                   "the world's residuals), or the whole image (SR3; sigma_data 0.5).")
@click.option("--export-dtype", type=click.Choice(list(DTYPES)), default="float16", show_default=True,
              help="How the exported folder stores the weights (they are loaded as float32).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--export", type=click.Path(file_okay=False, path_type=Path),
              help="Write the upscaler folder here at the end.")
def train_upscaler_command(out, preset, crop, target, export_dtype, export, data, size, resume, check, **options):
    """Train a super-resolution diffusion model (SR3) that enlarges 64-px images to 256 px.

    Training-split world scenes are rendered at 256 px and box-reduced to 64 (exactly the world's
    own 64-px renders); the denoiser sees the noisy 256-px image beside the bicubic enlargement of
    the 64-px one, and predicts what the enlargement lacks (--target residual) or the whole image.
    Resumable with --resume; the same under torchrun.

    \b
    Examples:
      pixeldrift train upscaler --max-minutes 45 --out runs/upscaler --export models/upscaler
      pixeldrift train upscaler --out runs/upscaler --resume --export models/upscaler
      pixeldrift upscale small.png --model models/upscaler -o big.png
    """
    from pixeldrift.pipeline.upscaler import UpscalerConfig
    from pixeldrift.train.run import check_run
    from pixeldrift.train.upscaler import train_upscaler, upscaler_trainer
    context = click.get_current_context()
    if data != "world" or context.get_parameter_source("size") is not ParameterSource.DEFAULT:
        raise click.UsageError("upscalers train on world scenes rendered at 256 px and reduced to 64; leave out "
                               "--data and --size")
    if crop % 8:
        raise click.BadParameter(f"must be a multiple of 8, got {crop}", param_hint="--crop")
    model_config = UpscalerConfig(unet=UPSCALER_PRESETS[preset], residual=target == "residual",
                                  sigma_data=0.15 if target == "residual" else 0.5)
    if check:
        _run(lambda: click.echo(check_run(upscaler_trainer(out, _config(**options), model_config, crop), resume)))
        return
    command = (f"pixeldrift train upscaler --preset {preset} --crop {crop} --target {target} "
               f"--steps {options['steps']} --batch-size {options['batch_size']} --lr {options['lr']} --out {out}")
    _run(lambda: train_upscaler(out, _config(**options), model_config, crop, export=export, resume=resume,
                                dtype=export_dtype, command=command))
    if export is not None and int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"wrote the upscaler folder {export}")

"""`pixeldrift train classifier`: a noise-aware classifier of a model's world latents, for classifier guidance."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

from pixeldrift.cli.train import train
from pixeldrift.train.noisy_classifier import ClassifierSettings

DEFAULTS = ClassifierSettings()


@train.command("classifier")
@click.option("--base", type=click.Path(file_okay=False, path_type=Path), default=Path("models/default"),
              show_default=True, help="The model whose VAE latents the classifier reads; it is not changed.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The classifier folder to write (config.json, classifier.safetensors).")
@click.option("--examples", type=click.IntRange(100, 200_000), default=DEFAULTS.examples, show_default=True,
              help="World scenes rendered and encoded once; fresh noise is drawn at every step.")
@click.option("--lone-share", type=click.FloatRange(0, 1), default=DEFAULTS.lone_share, show_default=True,
              help="Share of the scenes drawn as one lone object (the rest from the uniform world stream).")
@click.option("--steps", type=click.IntRange(1, 100_000), default=DEFAULTS.steps, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=DEFAULTS.batch_size, show_default=True)
@click.option("--lr", type=click.FloatRange(1e-6, 1.0), default=DEFAULTS.learning_rate, show_default=True,
              help="Peak learning rate of the one-cycle schedule.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1, 256), default=1, show_default=True)
def train_classifier_command(base, out, examples, lone_share, steps, batch_size, lr, seed, threads):
    """Train a classifier of a lone object's colour and shape ("other" for every other scene) on the base
    model's latents noised at its noise levels (Dhariwal & Nichol 2021), for
    `pixeldrift generate --classifier OUT --class colour=red`."""
    from pixeldrift.nets.noisy_classifier import save_classifier
    from pixeldrift.pipeline import load_model
    from pixeldrift.train.noisy_classifier import base_record, train_classifier

    torch.set_num_threads(threads)
    settings = ClassifierSettings(examples=examples, lone_share=lone_share, steps=steps, batch_size=batch_size,
                                  learning_rate=lr, seed=seed)
    model = load_model(base)
    try:
        net, record = train_classifier(model, settings, log=click.echo)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    record["command"] = "pixeldrift " + " ".join(sys.argv[1:])
    save_classifier(net, out, base_record(model, base), record)
    for head, by_sigma in record["held_out_accuracy"].items():
        click.echo(f"{head} accuracy by sigma: " + ", ".join(f"{s}: {a:.0%}" for s, a in by_sigma.items()))
    click.echo(f"wrote {out}")

"""`pixeldrift nets`: the network size presets, their parameter counts and their configs."""

from __future__ import annotations

import click
import torch

from pixeldrift.nets.config import JsonConfig
from pixeldrift.nets.registry import ARCHITECTURES, build_network


def parameter_count(arch: str, cfg: JsonConfig) -> int:
    """Built on the meta device: counts without allocating the weights (large presets included)."""
    with torch.device("meta"):
        return sum(p.numel() for p in build_network(arch, cfg).parameters())


@click.command()
@click.option("--arch", type=click.Choice(["all", *ARCHITECTURES]), default="all", show_default=True,
              help="Which network family to list.")
@click.option("--preset", default=None, help="Print this preset's config as JSON (needs one --arch).")
def nets(arch: str, preset: str | None) -> None:
    """List the network size presets with their parameter counts, or print one config as JSON.

    The JSON is what a model folder's config.json records for the network; edit
    a copy to define a new size.

    \b
    Examples:
      pixeldrift nets                              # every family and preset
      pixeldrift nets --arch unet                  # only the UNet presets
      pixeldrift nets --arch vae --preset small    # the default VAE's config as JSON
    """
    if preset is not None:
        if arch == "all":
            raise click.UsageError("--preset needs one --arch (unet, dit, vae or text-encoder)")
        presets = ARCHITECTURES[arch].presets
        if preset not in presets:
            raise click.BadParameter(f"unknown preset {preset!r} for {arch}; accepted: {', '.join(presets)}",
                                     param_hint="--preset")
        click.echo(presets[preset].to_json())
        return
    click.echo(f"{'network':<14}{'preset':<8}{'parameters':>12}")
    for family in ARCHITECTURES if arch == "all" else [arch]:
        for name, cfg in ARCHITECTURES[family].presets.items():
            click.echo(f"{family:<14}{name:<8}{parameter_count(family, cfg) / 1e6:>11.2f}M")

"""`pixeldrift` entry point: the top-level group and the list of its commands."""

import click
import torch

from pixeldrift import __version__
from pixeldrift.cli.generate import generate
from pixeldrift.cli.grid import grid
from pixeldrift.cli.outpaint import outpaint
from pixeldrift.cli.watch import forward, timeline
from pixeldrift.cli.toy import toy
from pixeldrift.cli.train import train
from pixeldrift.cli.nets import nets
from pixeldrift.cli.provenance import TRUST_COMMANDS
from pixeldrift.cli.world import world
from pixeldrift.cli.bench import bench
from pixeldrift.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="pixeldrift")
def cli() -> None:
    """pixeldrift: diffusion image generation from first principles.

    \b
    Examples:
      pixeldrift generate "three red circles above a blue square" -n 4
      pixeldrift generate "a green circle" --init-image in.png --strength 0.6
      pixeldrift grid "three red circles" --x steps=5,10,20 --y sampler=euler,dpmpp_2m
      pixeldrift serve                              # the web studio on http://127.0.0.1:7860/
      pixeldrift info outputs/000000-three-red-circles-above-a-blue-square.png
      pixeldrift bench compose --model default      # exact compositional accuracy
      pixeldrift toy --data swissroll               # watch 2-D points diffuse and come back
      pixeldrift COMMAND --help                     # every option of a command
    """


cli.add_command(generate)
for _command in (outpaint, grid, timeline, forward):
    cli.add_command(_command)
cli.add_command(toy)
cli.add_command(train)
cli.add_command(nets)
cli.add_command(world)
cli.add_command(bench)
cli.add_command(serve)
for _command in TRUST_COMMANDS:  # info, detect, verify, moderate
    cli.add_command(_command)


def main() -> None:
    # Flush denormal floats to zero before torch starts its worker threads, which inherit the
    # setting only at creation: training slowed 13x without it (Adam moments, zero-init layers).
    torch.set_flush_denormal(True)
    cli()


if __name__ == "__main__":  # torchrun -m pixeldrift.cli.main ...
    main()

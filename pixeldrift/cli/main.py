"""`pixeldrift` entry point: the top-level group, the list of its commands, and how errors are shown.

Every error ends the same way: one line `error: ...` on stderr and exit status 1
(2 for a mistake in the command line itself, as click reports it). A traceback
is shown only with --debug: a user handed a broken file needs the sentence that
names it, not thirty lines of stack.
"""

import sys
import traceback

import click
import torch

from pixeldrift import __version__
from pixeldrift.cli.control import control
from pixeldrift.cli.edit import edit
from pixeldrift.cli.generate import generate
from pixeldrift.cli.grid import grid
from pixeldrift.cli.outpaint import outpaint
from pixeldrift.cli.invert import invert
from pixeldrift.cli.panorama import panorama
from pixeldrift.cli.restore import restore
from pixeldrift.cli.subject_scene import subject_scene
from pixeldrift.cli.upscale import upscale
from pixeldrift.cli.video import video
from pixeldrift.cli.guide import guide
from pixeldrift.cli.watch import forward, timeline
from pixeldrift.cli.toy import toy
from pixeldrift.cli.train import train
from pixeldrift.cli import train_personal  # noqa: F401  adds lora, dreambooth, textual-inversion to train
from pixeldrift.cli import train_classifier  # noqa: F401  adds classifier to train
from pixeldrift.cli import train_video  # noqa: F401  adds video to train
from pixeldrift.cli import train_upscaler  # noqa: F401  adds upscaler to train
from pixeldrift.cli.nets import nets
from pixeldrift.cli.provenance import TRUST_COMMANDS
from pixeldrift.cli.world import world
from pixeldrift.cli.bench import bench
from pixeldrift.cli.audit import audit
from pixeldrift.cli.arena import arena
from pixeldrift.cli.challenge import challenge
from pixeldrift.cli.serve import serve
from pixeldrift.cli.spot import spot
from pixeldrift.train.trainer import TrainingDiverged


DEBUG_FLAG = "--debug"
# What a user can fix (a bad file or setting, a missing package, a full disk): the message says it all.
# Anything else is a bug of ours, and the line says how to get its traceback.
USER_ERRORS = (ValueError, OSError, ImportError, MemoryError, TrainingDiverged)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="pixeldrift")
@click.option(DEBUG_FLAG, is_flag=True, help="Show the full traceback of an error (anywhere on the command line).")
def cli(debug: bool) -> None:
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
cli.add_command(control)
for _command in (outpaint, invert, edit, panorama, restore, upscale, guide, grid, timeline, forward, video,
                 subject_scene):
    cli.add_command(_command)
cli.add_command(toy)
cli.add_command(train)
cli.add_command(nets)
cli.add_command(world)
cli.add_command(bench)
cli.add_command(audit)
cli.add_command(arena)
cli.add_command(challenge)
cli.add_command(serve)
cli.add_command(spot)
for _command in TRUST_COMMANDS:  # info, detect, verify, moderate
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    # Flush denormal floats to zero before torch starts its worker threads, which inherit the
    # setting only at creation: training slowed 13x without it (Adam moments, zero-init layers).
    torch.set_flush_denormal(True)
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args
    sys.exit(run([arg for arg in args if arg != DEBUG_FLAG], debug))


def run(args: list[str], debug: bool = False) -> int:
    """Run the command line `args`; the exit status, every error reported in one line (see the module)."""
    try:
        code = cli.main(args, prog_name="pixeldrift", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click.UsageError as error:
        error.show()
        return error.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as error:
        return report(error.format_message(), error, debug)
    except USER_ERRORS as error:
        return report(str(error) or type(error).__name__, error, debug)
    except Exception as error:  # a bug: still one line, and how to see more
        hint = f" (an internal error; run again with {DEBUG_FLAG} for the traceback, and please report it)"
        return report(f"{type(error).__name__}: {error}{hint}", error, debug)


def report(message: str, error: BaseException, debug: bool) -> int:
    """`error: MESSAGE` on one line of stderr, control characters escaped; the traceback too with --debug."""
    if debug:
        traceback.print_exception(error.__context__ if isinstance(error, click.ClickException) and
                                  error.__context__ else error, file=sys.stderr)
    line = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in " ".join(message.split("\n")))
    click.echo(f"error: {line}", err=True)
    return 1


if __name__ == "__main__":  # torchrun -m pixeldrift.cli.main ...
    main()

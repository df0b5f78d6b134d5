"""The optional `pretrained` extra: diffusers and transformers, imported only when a checkpoint is opened."""

from __future__ import annotations

import importlib

from pixeldrift.bounded_files import BadFileError

INSTALL_HINT = "pip install -e '.[pretrained]'"


class CheckpointError(BadFileError):
    """A checkpoint that cannot be used: the message names the file and the problem."""


def require_extra() -> None:
    """Import diffusers and transformers, or say in one line how to install them."""
    try:
        for name in ("diffusers", "transformers"):
            importlib.import_module(name)
    except ImportError as error:
        raise ImportError(f"running Stable Diffusion checkpoints needs the optional extra "
                          f"({error.name} is missing): {INSTALL_HINT}") from error
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    # their progress bars and "weights not initialized" chatter would drown our own messages
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()

"""The ControlNets one server offers, by name, loaded beside its models.

A path is a pixeldrift ControlNet folder (`pixeldrift train controlnet`: config.json of
format pixeldrift-controlnet/1), or a Stable Diffusion ControlNet (a diffusers folder or
one .safetensors file; needs the `pretrained` extra). An SD ControlNet is opened for the
first served Stable Diffusion model it fits, which also gives a single file what its
weights do not hold (pretrained/controlnet_files.py); one that fits none of them is
refused at start, naming why for each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pixeldrift.bounded_files import BadFileError
from pixeldrift.pipeline.controlnet_folder import is_controlnet_folder
from pixeldrift.server.model_catalog import ModelCatalog

_HASH_SUFFIX = re.compile(r"\s*\[[0-9a-fA-F]{6,64}\]$")  # the webui's model names end with " [d14c016b]"


@dataclass
class ControlEntry:
    name: str
    path: str | None
    control: object  # a ControlModel (ours) or an SDControlNet: both have .net, .name and .check_base(model)


class ControlCatalog:
    """ControlNets by name; resolve() takes the names the sd-webui-controlnet extension's clients send."""

    def __init__(self, entries: list[ControlEntry] = ()):
        self.entries = {}
        self._steers: dict[str, list[str]] | None = None
        for entry in entries:
            if entry.name.lower() in {name.lower() for name in self.entries}:
                raise ValueError(f"two ControlNets are called {entry.name!r}; give each a unique file or folder name")
            self.entries[entry.name] = entry

    @classmethod
    def load(cls, paths, models: ModelCatalog, device: str) -> "ControlCatalog":
        entries = []
        for path in paths:
            control = open_control(Path(path), models, device)
            entries.append(ControlEntry(control.name, str(path), control))
        return cls(entries)

    @classmethod
    def of(cls, *controls) -> "ControlCatalog":
        """A catalog of ControlNets already loaded (tests, embedding the server in a program)."""
        return cls([ControlEntry(c.name, None, c) for c in controls])

    def names(self) -> list[str]:
        return list(self.entries)

    def steers(self, models: ModelCatalog) -> dict[str, list[str]]:
        """Each ControlNet's name -> the served models it steers; worked out once (a check hashes weights)."""
        if self._steers is None:
            self._steers = {name: [m.name for m in models.entries.values() if _fits(entry.control, m.model)]
                            for name, entry in self.entries.items()}
        return self._steers

    def resolve(self, name: str) -> ControlEntry:
        """The entry for `name`, in any case, with or without the webui's " [hash]"; ValueError listing them."""
        wanted = _HASH_SUFFIX.sub("", name.strip()).lower()
        for entry in self.entries.values():
            if entry.name.lower() == wanted:
                return entry
        available = ", ".join(self.entries) or "none (start the server with --control PATH)"
        raise ValueError(f"unknown ControlNet model {name!r}; this server has: {available}")


def _fits(control, model) -> bool:
    try:
        control.check_base(model)
    except ValueError:
        return False
    return True


def open_control(path: Path, models: ModelCatalog, device: str):
    """A ControlNet from `path`: ours by its config's format, else Stable Diffusion's, for a served model."""
    from pixeldrift.pretrained import open_controlnet

    if is_controlnet_folder(path):
        return open_controlnet(path, device=device)
    bases = [entry for entry in models.entries.values() if getattr(entry.model, "unet", None) is not None]
    if not bases:
        return open_controlnet(path, device=device)
    reasons = []
    for entry in bases:
        try:
            return open_controlnet(path, base=entry.model)
        except BadFileError as error:
            reasons.append(f"{entry.name}: {error}")
    raise BadFileError(f"the ControlNet {path} fits none of the served models; " + "; ".join(reasons))


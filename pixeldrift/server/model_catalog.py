"""The models one server offers, by name; loading a model happens in open_model() only."""

from __future__ import annotations

from dataclasses import dataclass

from pixeldrift import pretrained


def open_model(path: str | None, device: str):
    """The one place the server loads a model: the embedded default for None, a pixeldrift model
    folder, or a Stable Diffusion checkpoint (folder or single file; needs the `pretrained` extra)."""
    return pretrained.open_model(path, device=device)


@dataclass
class CatalogEntry:
    name: str
    path: str | None
    model: object


class ModelCatalog:
    """Models by name; the default (at first the first one) serves requests that name none."""

    def __init__(self, entries: list[CatalogEntry]):
        if not entries:
            raise ValueError("a server needs at least one model")
        self.entries = {}
        for entry in entries:
            if entry.name in self.entries:
                raise ValueError(f"two models are called {entry.name!r}; give each folder a unique name")
            self.entries[entry.name] = entry
        self._default = entries[0].name

    @classmethod
    def load(cls, paths, device: str) -> "ModelCatalog":
        entries = []
        for path in paths:
            model = open_model(path, device)
            entries.append(CatalogEntry(model_name(model), None if path is None else str(path), model))
        return cls(entries)

    @classmethod
    def of(cls, *models) -> "ModelCatalog":
        """A catalog of models already loaded (tests, embedding the server in a program)."""
        return cls([CatalogEntry(model_name(m), None, m) for m in models])

    @property
    def default_name(self) -> str:
        return self._default

    def select(self, name: str) -> str:
        """Make a model the default (A1111's `sd_model_checkpoint` option); returns its name.

        Accepts what A1111 clients send: the name or the file name from /sdapi/v1/sd-models,
        in any case (webuiapi lowercases it). Jobs already queued keep the model they named.
        """
        wanted = name.strip().lower()
        for entry in self.entries.values():
            if wanted in (entry.name.lower(), file_name(entry).lower()):
                self._default = entry.name
                return entry.name
        raise ValueError(f"unknown model {name!r}; this server has: {', '.join(self.entries)}")

    def names(self) -> list[str]:
        return list(self.entries)

    def resolve(self, name: str | None) -> CatalogEntry:
        """The entry for `name` (None or "" = the default); ValueError listing the names otherwise."""
        if not name:
            return self.entries[self.default_name]
        if name in self.entries:
            return self.entries[name]
        raise ValueError(f"unknown model {name!r}; this server has: {', '.join(self.entries)}")


def file_name(entry: CatalogEntry) -> str:
    """The file or folder name a model was loaded from (its name when it is the embedded default)."""
    return entry.name if entry.path is None else entry.path.replace("\\", "/").rsplit("/", 1)[-1]


def model_name(model) -> str:
    config = getattr(model, "config", None)
    return getattr(config, "name", None) or model.name

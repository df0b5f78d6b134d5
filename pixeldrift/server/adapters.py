"""The LoRA files and textual-inversion embeddings a server offers, and the prompt syntax that applies them.

    pixeldrift serve --loras DIR --embeddings DIR

Each folder's files, its subfolders' included (as A1111 walks them; _files says how far), are
listed at start, and again on POST /sdapi/v1/refresh-loras or /refresh-embeddings: a LoRA
(Hu et al. 2021) .safetensors by its file's name (its alias is kohya's ss_output_name), an
embedding (Gal et al. 2023) by its word, in any layout A1111 reads (.safetensors, .pt, .bin,
a .png embedding card; pretrained/embeddings.py): one vector for pixeldrift's MiniLM encoder
(its word the file's token), or n vectors for a Stable Diffusion model's CLIP encoders (its
word the file's name, a card's the name it holds). A second file of a name or word already
listed is skipped, with the reason logged. A prompt applies them as AUTOMATIC1111's extra
networks do:

    "a red sks shape <lora:crescent:0.8>"    the LoRA crescent merged at weight 0.8 (1 when left out)
    "a red sks shape"                        any embedding whose word the prompt or negative prompt uses

for that job only: the worker merges them before the job and takes them out after it
(adapters_applied), so the next job sees the model as served. The tags are stripped from
the text the model reads and kept in the prompt the image records, which also gets A1111's
"Lora hashes" / "TI hashes" parameters (name: the first 12 hex digits of the file's
SHA-256; for a LoRA, of the bytes after the safetensors header, kohya's and A1111's
"addnet" hash). An unknown name, a weight that is not a number from -10 to 10, a LoRA
or a used embedding that does not fit the job's model, more than MAX_TAGS tags or another
kind of tag is a 400 naming it, before anything is queued.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from pixeldrift.bounded_files import BadFileError, regular_file
from pixeldrift.nets.io import read_header
from pixeldrift.nets.lora_files import FACTOR_SUFFIXES, MAX_SCALE, check_scale
from pixeldrift.pretrained.clip_prompts import ClipPromptEncoder
from pixeldrift.pretrained.embeddings import SUFFIXES as EMBEDDING_SUFFIXES
from pixeldrift.pretrained.embeddings import read_sd_embedding, width_error, widths_text
from pixeldrift.server.errors import ApiError

LOG = logging.getLogger("pixeldrift.server")
MAX_ADAPTER_FILES = 256          # LoRA or embedding files one folder may hold, its subfolders' included
MAX_FOLDER_DEPTH = 8             # subfolders this deep below the folder are read, deeper ones not
MAX_FOLDER_ENTRIES = 20_000      # names looked at in one folder's walk (files of any kind and folders)
MAX_LORA_BYTES = 2 << 30         # SD LoRAs run to a few hundred MB; a file over this is not a LoRA
MAX_TAGS = 8                     # <lora:...> tags one prompt may carry
MAX_NAME_CHARS = 100
TAG = re.compile(r"<(\w+):([^<>]*)>")      # A1111's extra-network syntax: <kind:name[:weight]>
NAME = re.compile(r"[^<>:,\x00-\x1f\x7f]{1,%d}" % MAX_NAME_CHARS)   # a name a tag can carry back
_HASH_CHARS = 12


def _sha256(path: Path, skip: int = 0) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        file.seek(skip)
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class LoraFile:
    name: str
    path: Path
    alias: str
    metadata: dict
    _hash: str | None = field(default=None, repr=False)
    _fits: dict = field(default_factory=dict, repr=False)   # model name -> None or why it does not fit

    @property
    def shorthash(self) -> str:
        """kohya's sshs_model_hash when the file has one, else the SHA-256 of the tensor bytes (computed once)."""
        if self._hash is None:
            given = self.metadata.get("sshs_model_hash", "")
            if re.fullmatch(r"[0-9a-fA-F]{12,64}", given):
                self._hash = given.lower()
            else:
                with open(self.path, "rb") as file:
                    header = int.from_bytes(file.read(8), "little")
                self._hash = _sha256(self.path, 8 + header)
        return self._hash[:_HASH_CHARS]

    def listing(self) -> dict:
        """A1111's /sdapi/v1/loras entry."""
        return {"name": self.name, "alias": self.alias, "path": str(self.path), "metadata": self.metadata}

    def check_fits(self, model, model_name: str) -> None:
        """ApiError 400 unless the file's layers fit `model` (checked once per model: it computes the deltas)."""
        if model_name not in self._fits:
            self._fits[model_name] = _fit_error(model, self.path)
        if self._fits[model_name] is not None:
            raise ApiError(400, f"LoRA {self.name!r} does not fit model {model_name!r}: {self._fits[model_name]}",
                           "prompt")


def _fit_error(model, path: Path) -> str | None:
    """Why the LoRA file cannot be merged into `model`, or None; nothing in the model changes."""
    from pixeldrift.pipeline.text_to_image import TextToImage

    try:
        if isinstance(model, TextToImage):
            from pixeldrift.nets.lora_files import deltas_for, read_lora_file
            from pixeldrift.pipeline.adapter_files import layer_names

            groups, _ = read_lora_file(path, model)
            deltas_for(layer_names(model), groups, path, "pixeldrift")
        elif hasattr(model, "load_lora"):
            from pixeldrift.pretrained.lora import lora_deltas

            lora_deltas(model, path)
        else:
            return f"{model.name} takes no LoRAs"
    except (ValueError, OSError) as error:   # LoRAFileError and CheckpointError are ValueErrors
        return str(error).removeprefix(f"{path}: ")
    return None


@dataclass(frozen=True)
class EmbeddingFile:
    name: str                  # its word for pixeldrift's own models: the token it was trained as, or file_word
    path: Path
    file_word: str             # A1111's word, the one Stable Diffusion models read: the file's name, lower case
                               # (a .png card's: the name its JSON holds)
    widths: dict[str, int]     # "" -> width, or clip_l / clip_g -> width for SDXL
    vectors: int               # per text encoder
    about: dict                # A1111's step / sd_checkpoint(_name), or the "pixeldrift" metadata: base, steps
    shorthash: str
    own_error: str | None = None   # why pixeldrift's own models cannot read it, or None

    def fit_error(self, model) -> str | None:
        """Why `model` cannot take this embedding (A1111 lists such ones as skipped), or None."""
        from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder

        if _reads_file_words(model):
            return width_error(model, self.widths)
        encoder = getattr(model, "text_encoder", None)
        if not isinstance(encoder, MiniLMTextEncoder):
            return f"{model.name} has no MiniLM text encoder"
        if self.widths != {"": encoder.output_dim}:
            return (f"its vectors are {widths_text(self.widths)} wide; {model.name}'s text encoder tokens are "
                    f"{encoder.output_dim} wide")
        if self.own_error is not None:
            return self.own_error
        token = encoder.tokenizer.token_to_id(self.name)   # ids past the vocabulary: words a job added
        if token is not None and token < encoder.tokenizer.get_vocab_size(with_added_tokens=False):
            return f"{self.name!r} is already a word of the text encoder"
        return None

    def listing(self) -> dict:
        """A1111's /sdapi/v1/embeddings entry: what the file says of its training (an A1111 .pt's step and
        checkpoint, or pixeldrift's record of its base model), its width (SDXL's two added) and vectors."""
        base = self.about.get("base")
        if isinstance(base, dict):   # trained on a pixeldrift model: its name and denoiser's SHA-256
            checkpoint, name = base.get("denoiser_sha256"), base.get("name")
        else:                        # on a Stable Diffusion checkpoint: its path
            checkpoint, name = None, Path(base).name if isinstance(base, str) else None
        return {"step": self.about.get("step", self.about.get("steps_done")),
                "sd_checkpoint": self.about.get("sd_checkpoint",
                                                checkpoint[:10] if isinstance(checkpoint, str) else None),
                "sd_checkpoint_name": self.about.get("sd_checkpoint_name", name),
                "shape": sum(self.widths.values()), "vectors": self.vectors}

    def word(self, model) -> str:
        return self.file_word if _reads_file_words(model) else self.name

    def used_in(self, model, *texts: str) -> bool:
        pattern = re.compile(rf"(?<![\w<>*]){re.escape(self.word(model))}(?![\w<>*])", re.IGNORECASE)
        return any(pattern.search(text) for text in texts)


def _reads_file_words(model) -> bool:
    """Whether `model` is a Stable Diffusion model (CLIP text encoders; pretrained/clip_prompts.py)."""
    return isinstance(getattr(model, "prompt_encoder", None), ClipPromptEncoder)


@dataclass(frozen=True)
class JobAdapters:
    """What one job applies: the prompt as written (tags kept), each LoRA at its weight, each embedding by the
    word the job's model reads."""

    prompt: str
    loras: tuple[tuple[LoraFile, float], ...] = ()
    embeddings: tuple[tuple[EmbeddingFile, str], ...] = ()

    def recorded(self, record):
        """The image's record as A1111 writes it: the prompt with its tags, the files' hashes."""
        extra = dict(record.extra)
        if self.loras:
            extra["Lora hashes"] = ", ".join(f"{_bare(lora.name)}: {lora.shorthash}" for lora, _ in self.loras)
        if self.embeddings:
            extra["TI hashes"] = ", ".join(f"{_bare(word)}: {e.shorthash}" for e, word in self.embeddings)
        return replace(record, prompt=self.prompt, extra=extra)


def _bare(name: str) -> str:
    return name.replace(":", "").replace(",", "")


class AdapterCatalog:
    """The LoRAs (by name and alias) and embeddings (by word) one server offers."""

    def __init__(self, loras: list[LoraFile] = (), embeddings: list[EmbeddingFile] = (),
                 lora_dir: Path | None = None, embedding_dir: Path | None = None):
        self.loras = {lora.name: lora for lora in loras}
        self.aliases = {lora.alias: lora for lora in loras if NAME.fullmatch(lora.alias)}
        self.embeddings = {e.name: e for e in embeddings}
        self.lora_dir, self.embedding_dir = lora_dir, embedding_dir

    @classmethod
    def load(cls, lora_dir: Path | None, embedding_dir: Path | None) -> "AdapterCatalog":
        """Both folders read; ValueError for a folder that is missing or holds over MAX_ADAPTER_FILES files."""
        loras = {}
        for path in _files(lora_dir, "--loras", (".safetensors",)):
            lora = _lora_file(path)
            if lora is not None and lora.name in loras:
                LOG.warning("LoRA %s skipped: %s has the name %r", path, loras[lora.name].path, lora.name)
            elif lora is not None:
                loras[lora.name] = lora
        embeddings, words = [], set()
        for path in _files(embedding_dir, "--embeddings", EMBEDDING_SUFFIXES):
            embedding = _embedding_file(path)
            if embedding is None:
                continue
            taken = {embedding.name, embedding.file_word} & words   # pixeldrift's word, or Stable Diffusion's
            if taken:
                LOG.warning("embedding %s skipped: another file has the word %r", path, taken.pop())
            else:
                embeddings.append(embedding)
                words |= {embedding.name, embedding.file_word}
        return cls(list(loras.values()), embeddings, lora_dir, embedding_dir)

    def refreshed(self) -> "AdapterCatalog":
        return AdapterCatalog.load(self.lora_dir, self.embedding_dir)

    def lora(self, name: str) -> LoraFile:
        found = self.loras.get(name) or self.aliases.get(name)
        if found is None:
            known = ", ".join(sorted(self.loras)[:20]) or "none (pixeldrift serve --loras DIR)"
            raise ApiError(400, f"unknown LoRA {name[:MAX_NAME_CHARS]!r} in the prompt; this server has: {known}",
                           "prompt")
        return found

    def embedding_listing(self, model) -> dict:
        """A1111's shape: the embeddings `model` (the default) takes are loaded, the others skipped, each
        with the reason too."""
        listing = {"loaded": {}, "skipped": {}}
        for embedding in self.embeddings.values():
            why, word = embedding.fit_error(model), embedding.word(model)
            if why is None:
                listing["loaded"][word] = embedding.listing()
            else:
                listing["skipped"][word] = {**embedding.listing(), "reason": why}
        return listing

    def for_job(self, job, models) -> None:
        """Strip the job's LoRA tags from the prompt it draws, check each against its model (from the catalog
        `models`), and note what it applies (job.adapters); ApiError 400 naming what is wrong, an embedding the
        prompt uses that the model cannot take included."""
        r, model = job.request, models.resolve(job.model_name).model
        if TAG.search(r.negative_prompt):
            raise ApiError(400, "LoRA tags go in the prompt, not the negative prompt", "negative_prompt")
        text, tags = parse_tags(r.prompt)
        loras = tuple((self.lora(name), weight) for name, weight in tags)
        for lora, _ in loras:
            lora.check_fits(model, job.model_name)
        embeddings = tuple((e, e.word(model)) for e in self.embeddings.values()
                           if e.used_in(model, text, r.negative_prompt))
        for embedding, word in embeddings:
            why = embedding.fit_error(model)
            if why is not None:
                raise ApiError(400, f"embedding {word!r} ({embedding.path.name}) does not fit model "
                                    f"{job.model_name!r}: {why}", "prompt" if embedding.used_in(model, text)
                               else "negative_prompt")
        if loras or embeddings:
            job.adapters = JobAdapters(r.prompt, loras, embeddings)
            job.request = replace(r, prompt=text)


def parse_tags(prompt: str) -> tuple[str, list[tuple[str, float]]]:
    """(the prompt without its tags, [(LoRA name, weight)]); ApiError 400 for a tag pixeldrift cannot apply."""
    tags = []

    def take(match: re.Match) -> str:
        kind, items = match.group(1), match.group(2).split(":")
        if kind.lower() not in ("lora", "lyco"):
            raise ApiError(400, f"<{kind}:...> in the prompt: pixeldrift applies <lora:NAME:WEIGHT> tags only",
                           "prompt")
        if len(tags) == MAX_TAGS:
            raise ApiError(400, f"the prompt has over {MAX_TAGS} LoRA tags; at most {MAX_TAGS} are applied", "prompt")
        name = items[0].strip()
        if not NAME.fullmatch(name):
            raise ApiError(400, f"{match.group(0)[:120]!r}: a LoRA's name is 1 to {MAX_NAME_CHARS} characters "
                                "without < > : ,", "prompt")
        if len(items) > 2:
            raise ApiError(400, f"{match.group(0)[:120]!r}: pixeldrift takes one weight per LoRA "
                                "(<lora:NAME:WEIGHT>), not separate text-encoder and UNet weights", "prompt")
        tags.append((name, _weight(items[1] if len(items) == 2 else "1", match.group(0))))
        return ""

    text = prompt
    while TAG.search(text):   # again: "<lora:<lora:a>b>" leaves a tag once the inner one is gone
        text = TAG.sub(take, text)
    names = [name for name, _ in tags]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ApiError(400, f"LoRA {repeated[0]!r} is tagged twice in the prompt; give it once, with one weight",
                       "prompt")
    return re.sub(r"\s{2,}", " ", text).strip(" ,"), tags


def _weight(text: str, tag: str) -> float:
    try:
        weight = float(text.strip())
        if not math.isfinite(weight):
            raise ValueError
        return check_scale(weight)
    except ValueError:
        raise ApiError(400, f"{tag[:120]!r}: the weight must be a number from -{MAX_SCALE:g} to {MAX_SCALE:g}, "
                            f"got {text.strip()[:40]!r}", "prompt") from None


@contextlib.contextmanager
def adapters_applied(model, adapters: JobAdapters | None):
    """The job's LoRAs merged and embeddings added for the duration of the block, then every one taken out."""
    if adapters is None:
        yield
        return
    from pixeldrift.pipeline.adapter_files import unload_embeddings

    try:
        for lora, weight in adapters.loras:
            model.load_lora(lora.path, weight)
        for embedding, _ in adapters.embeddings:
            model.load_embedding(embedding.path)
        yield
    finally:
        model.unload_loras()
        unload_embeddings(model)


def adapter_listing(studio) -> dict:
    """/api/info's part: the LoRAs and the embeddings the default model takes, for the studio's picker."""
    adapters, model = studio.adapters, studio.catalog.resolve(None).model
    return {"loras": [{"name": lora.name, "alias": lora.alias} for lora in adapters.loras.values()],
            "embeddings": sorted(adapters.embedding_listing(model)["loaded"])}


def _files(folder: Path | None, option: str, suffixes: tuple[str, ...]) -> list[Path]:
    """The folder's files of these suffixes, its subfolders' too, as A1111 walks its embeddings and LoRA folders:
    hidden names (".x") and A1111's preview images (NAME.preview.png) left out, folders at most MAX_FOLDER_DEPTH
    below, each real folder walked once. Symlinked folders are followed, as A1111 follows them (a shared model
    folder linked in is the usual setup), and a link back to a folder already walked is skipped, so a link loop
    ends. The folder's own files come first, then each level below, by name; ValueError past
    MAX_ADAPTER_FILES files or MAX_FOLDER_ENTRIES names in all."""
    if folder is None:
        return []
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{option} {folder}: not a folder")
    found, walked, looked = [], set(), 0
    level = [folder]
    for _ in range(MAX_FOLDER_DEPTH + 1):
        below = []
        for here in level:
            real = os.path.realpath(here)
            if real in walked:
                LOG.info("%s: %s skipped, the folder %s is read already", option, here, real)
                continue
            walked.add(real)
            try:
                entries = _entries(here, MAX_FOLDER_ENTRIES - looked)
            except OSError as error:
                LOG.warning("%s: %s skipped: %s", option, here, error.strerror)
                continue
            if entries is None:
                raise ValueError(f"{option} {folder}: over {MAX_FOLDER_ENTRIES} files and folders in it and its "
                                 "subfolders; keep the ones to serve in a folder of their own")
            looked += len(entries)
            for entry in entries:
                if entry.name.startswith(".") or entry.name.lower().endswith(".preview.png"):
                    continue
                if _is_folder(entry):
                    below.append(Path(entry.path))
                elif os.path.splitext(entry.name)[1].lower() in suffixes:
                    found.append(Path(entry.path))
                    if len(found) > MAX_ADAPTER_FILES:
                        raise ValueError(f"{option} {folder}: over {MAX_ADAPTER_FILES} {', '.join(suffixes)} files "
                                         "(its subfolders' counted); keep the ones to serve in a folder of their "
                                         "own")
        level = below
    level = [here for here in level if os.path.realpath(here) not in walked]
    if level:
        LOG.warning("%s: %s and %d other folders skipped, over %d levels below %s", option, level[0],
                    len(level) - 1, MAX_FOLDER_DEPTH, folder)
    return found


def _entries(folder: Path, most: int) -> list[os.DirEntry] | None:
    """The folder's entries by name, or None when it holds over `most`: counted as read, never all held."""
    entries = []
    with os.scandir(folder) as listing:
        for entry in listing:
            if len(entries) == most:
                return None
            entries.append(entry)
    return sorted(entries, key=lambda entry: entry.name)


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()   # follows a symlink; a broken one is no folder
    except OSError:
        return False


def _lora_file(path: Path) -> LoraFile | None:
    """A listed LoRA, or None (logged) for a file whose name a tag cannot carry or that holds no LoRA factors."""
    name = path.stem
    try:
        if not NAME.fullmatch(name):
            raise BadFileError(f"{path}: a LoRA's name (its file name) must be 1 to {MAX_NAME_CHARS} characters "
                               "without < > : ,")
        regular_file(path, MAX_LORA_BYTES, "LoRA file")
        entries, metadata = read_header(path)
        if not entries or not all(key.endswith(tuple(FACTOR_SUFFIXES)) for key in entries):
            raise BadFileError(f"{path}: not a LoRA (its tensors are not lora up/down/alpha weights)")
    except BadFileError as error:
        LOG.warning("LoRA skipped: %s", error)
        return None
    alias = metadata.get("ss_output_name") or name
    return LoraFile(name, path, alias if NAME.fullmatch(alias) else name, metadata)


def _embedding_file(path: Path) -> EmbeddingFile | None:
    """A listed embedding, or None (logged) for a file that holds none (pretrained/embeddings.py says what is
    read, and how a pickle is read without running it)."""
    from pixeldrift.pipeline.adapter_files import read_embedding

    try:
        embedding = read_sd_embedding(path)
        metadata = read_header(path)[1] if path.suffix.lower() == ".safetensors" else {}
    except BadFileError as error:
        LOG.warning("embedding skipped: %s", error)
        return None
    try:
        about = json.loads(metadata.get("pixeldrift", "{}"))
    except json.JSONDecodeError:
        about = {}
    try:   # pixeldrift's own models read one vector from a .safetensors, its word the token it was trained as
        word, own_error = read_embedding(path)[0], None
    except BadFileError as error:
        word, own_error = embedding.word, str(error).removeprefix(f"{path}: ")
    return EmbeddingFile(word, path, embedding.word, embedding.widths, embedding.count,
                         {**(about if isinstance(about, dict) else {}), **embedding.about},
                         _sha256(path)[:_HASH_CHARS], own_error)

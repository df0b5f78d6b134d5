"""Textual-inversion embeddings for Stable Diffusion (Gal et al. 2023), in the layouts AUTOMATIC1111 reads.

    NAME.pt            {"string_to_param": {"*": (n, width)}, "name", "step", "sd_checkpoint", ...}  A1111's own
    NAME.safetensors   {"emb_params": (n, width)}                                        kohya's, SD 1.x / 2.x
                       {"clip_l": (n, 768), "clip_g": (n, 1280)}                 SDXL: rows for each text encoder
    NAME.bin / .pt     {"<token>": (width,) or (n, width)}                               diffusers' learned_embeds
    NAME.png           A1111's embedding card: an image whose tEXt chunk 'sd-ti-embedding' is base64 of the
                       .pt's dictionary as JSON, each tensor written {"TORCHTENSOR": nested lists of numbers}

width is the text encoder's: 768 for SD 1.x (CLIP ViT-L), 1024 for SD 2.x (OpenCLIP ViT-H). The word
is the file's name, lower case (A1111's rule: rename the file to rename the word), and it stands for
its n vectors, as n new tokens (clip_prompts.py); a card's word is the "name" its JSON holds (A1111's
rule too), the file's name only where it holds none. A .pt or .bin is a pickle: it is read with
torch.load(weights_only=True), which rebuilds tensors, dicts, lists, numbers and strings and nothing
else, so a file that would run code (or holds anything but those) is refused, never executed. A card's
text is read as JSON alone (Pillow opens the PNG under safe_image's guards to reach it). A1111 also hides
the same JSON in a card's low pixel bits (the copy that outlives stripped text chunks); pixeldrift does
not read that copy, and a PNG without the text chunk is refused saying so.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pixeldrift.bounded_files import BadFileError, regular_file
from pixeldrift.nets.io import WEIGHT_DTYPES, read_weights
from pixeldrift.pretrained.clip_prompts import WINDOW
from pixeldrift.provenance.safe_image import ImageReadError, decode_image_bytes

SUFFIXES = (".safetensors", ".pt", ".bin", ".png")
MAX_EMBEDDING_BYTES = 16 << 20    # 75 SDXL vectors are 0.6 MB; A1111's .pt files carry a little more
CARD_KEY = "sd-ti-embedding"      # the PNG text chunk of A1111's embedding card
CARD_TENSOR = "TORCHTENSOR"       # how its JSON marks a tensor: {"TORCHTENSOR": [[...], ...]}
MAX_CARD_TEXT = 6 << 20           # base64 characters; 75 SDXL vectors as JSON numbers are about 5 MB
MAX_CARD_PIXELS = 4096 * 4096     # A1111's cards are a 512 px image with its data strips beside it
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_VECTORS = WINDOW              # one prompt window, as A1111 allows
MAX_WIDTH = 8192
SDXL_KEYS = ("clip_l", "clip_g")  # rows for text encoder 1 (CLIP ViT-L) and 2 (OpenCLIP bigG)
KOHYA_KEY = "emb_params"
ABOUT_KEYS = ("name", "step", "sd_checkpoint", "sd_checkpoint_name")
WORD = re.compile(r"[a-z0-9_<>*.\-]{1,64}")


@dataclass(frozen=True)
class SDEmbedding:
    word: str
    vectors: dict[str, torch.Tensor]  # "" -> (n, width) for one text encoder; clip_l / clip_g for SDXL
    about: dict = field(default_factory=dict)  # what an A1111 .pt says: name, step, sd_checkpoint(_name)

    @property
    def count(self) -> int:
        return next(iter(self.vectors.values())).shape[0]

    @property
    def widths(self) -> dict[str, int]:
        return {key: vectors.shape[1] for key, vectors in self.vectors.items()}


def embedding_word(path: Path) -> str:
    """The word of an embedding file: its name, lower case; 1 to 64 letters, digits or _<>*.-"""
    word = path.stem.lower()
    if not WORD.fullmatch(word):
        raise BadFileError(f"{path}: an embedding's word is its file name, which must be 1 to 64 ASCII letters, "
                           "digits or _<>*.- (rename the file)")
    return word


def read_sd_embedding(path: str | Path) -> SDEmbedding:
    """An embedding file in any layout above, checked; BadFileError naming the file and the problem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise BadFileError(f"{path}: an embedding is a {', '.join(SUFFIXES)} file")
    word = None if suffix == ".png" else embedding_word(path)   # a card's is in it
    regular_file(path, MAX_EMBEDDING_BYTES, "embedding file")
    if suffix == ".png":
        data = _read_card(path)
    else:
        data = read_weights(path) if suffix == ".safetensors" else _read_pickle(path)
    if not isinstance(data, dict):
        raise BadFileError(f"{path}: holds a {type(data).__name__}, not an embedding's dictionary")
    word = word or _card_word(path, data)
    if "string_to_param" in data:  # A1111's .pt
        params = data["string_to_param"]
        if not isinstance(params, dict) or len(params) != 1:
            raise BadFileError(f"{path}: string_to_param must hold one term, as A1111 writes it")
        vectors = {"": next(iter(params.values()))}
    else:
        tensors = {key: value for key, value in data.items() if isinstance(value, torch.Tensor)}
        if set(tensors) == set(SDXL_KEYS):
            vectors = {key: tensors[key] for key in SDXL_KEYS}
        elif len(tensors) == 1:  # emb_params, or diffusers' {token: vector}
            vectors = {"": next(iter(tensors.values()))}
        else:
            raise BadFileError(f"{path}: not an embedding: expected string_to_param, {KOHYA_KEY}, or clip_l and "
                               f"clip_g; found {', '.join(sorted(map(str, data))[:6]) or 'nothing'}")
    vectors = {key: _checked(path, key, value) for key, value in vectors.items()}
    if len({value.shape[0] for value in vectors.values()}) != 1:
        raise BadFileError(f"{path}: clip_l and clip_g must hold the same number of vectors, got "
                           f"{' and '.join(str(v.shape[0]) for v in vectors.values())}")
    about = {key: data[key] for key in ABOUT_KEYS if isinstance(data.get(key), (str, int))
             and not isinstance(data.get(key), bool)}
    return SDEmbedding(word, vectors, about)


def _read_pickle(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle raises many kinds; all mean the same to the user
        raise BadFileError(f"{path}: not an embedding of plain tensors ({type(error).__name__}: "
                           f"{str(error)[:200]}); .pt files are read with weights_only=True, never as code") from None


def _read_card(path: Path):
    """The JSON an A1111 embedding card's 'sd-ti-embedding' text chunk holds, its tensors rebuilt (the caller
    has capped the file's size). Pillow reads the PNG, its pixel count checked before any pixel is decoded (the
    chunk may follow the pixels); the text is base64 of JSON, parsed as JSON and nothing else."""
    raw = path.read_bytes()
    if not raw.startswith(PNG_SIGNATURE):
        raise BadFileError(f"{path}: not a PNG file; an embedding card is a PNG")
    try:
        text = decode_image_bytes(raw, str(path), MAX_CARD_PIXELS, MAX_EMBEDDING_BYTES).info.get(CARD_KEY)
    except ImageReadError as error:
        raise BadFileError(str(error)) from None
    if not isinstance(text, str):
        raise BadFileError(f"{path}: a PNG without an {CARD_KEY!r} text chunk, so not an embedding card (an "
                           "embedding hidden in a card's pixels alone is not read)")
    if len(text) > MAX_CARD_TEXT:
        raise BadFileError(f"{path}: its {CARD_KEY} text is {len(text)} characters, over the {MAX_CARD_TEXT} "
                           "allowed")
    try:
        payload = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadFileError(f"{path}: its {CARD_KEY} text is not base64 ({error})") from None
    try:
        return json.loads(payload.decode("utf-8"), object_hook=lambda d: _card_tensor(path, d))
    except BadFileError:
        raise
    except (UnicodeDecodeError, ValueError) as error:   # JSONDecodeError, or an over-long integer
        raise BadFileError(f"{path}: its {CARD_KEY} text is not JSON ({str(error)[:200]})") from None
    except RecursionError:
        raise BadFileError(f"{path}: its {CARD_KEY} JSON is nested too deeply") from None


def _card_tensor(path: Path, item: dict):
    """A JSON object of the card: {"TORCHTENSOR": nested lists of numbers} becomes a float tensor."""
    if CARD_TENSOR not in item:
        return item
    try:
        return torch.tensor(item[CARD_TENSOR], dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise BadFileError(f"{path}: a {CARD_TENSOR} in its {CARD_KEY} JSON is not a grid of numbers "
                           f"({str(error)[:200]})") from None


def _card_word(path: Path, data: dict) -> str:
    """A card's word: the "name" its JSON holds (A1111: name = data.get('name', name)), else its file name."""
    if "name" not in data:
        return embedding_word(path)
    name = data["name"]
    if not isinstance(name, str) or not WORD.fullmatch(name.lower()):
        raise BadFileError(f"{path}: the card's name {str(name)[:80]!r} is its word, which must be 1 to 64 ASCII "
                           "letters, digits or _<>*.-")
    return name.lower()


def _checked(path: Path, key: str, value) -> torch.Tensor:
    """(n, width) finite float vectors, 1 <= n <= MAX_VECTORS (a lone (width,) vector is n = 1)."""
    name = key or "the vectors"
    if not isinstance(value, torch.Tensor) or value.dtype not in WEIGHT_DTYPES:
        raise BadFileError(f"{path}: {name} must be a float tensor, got "
                           f"{getattr(value, 'dtype', type(value).__name__)}")
    if value.ndim == 1:
        value = value[None]
    if value.ndim != 2 or not 1 <= value.shape[0] <= MAX_VECTORS or not 1 <= value.shape[1] <= MAX_WIDTH:
        raise BadFileError(f"{path}: {name} must be (vectors, width) with 1 to {MAX_VECTORS} vectors, got "
                           f"{tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise BadFileError(f"{path}: {name} holds values that are not finite")
    return value.detach().float().contiguous()


def text_widths(model) -> list[int]:
    """The token width of each of the model's text encoders (768; 1024; 768 and 1280 for SDXL)."""
    return [encoder.config.hidden_size for encoder in model.prompt_encoder.text_encoders]


def width_error(model, widths: dict[str, int]) -> str | None:
    """Why vectors of these widths ("" -> width, or clip_l / clip_g -> width) do not fit the model's text
    encoders (naming both), or None."""
    wanted = text_widths(model)
    keys = list(SDXL_KEYS) if len(wanted) == 2 else [""]
    if list(widths) == keys and list(widths.values()) == wanted:
        return None
    return (f"its vectors are {widths_text(widths)} wide; {model.name}'s text encoder tokens are "
            f"{widths_text(dict(zip(keys, wanted)))} wide (an embedding for another Stable Diffusion family?)")


def widths_text(widths: dict[str, int]) -> str:
    """"768", or "clip_l 768 + clip_g 1280" for SDXL."""
    return " + ".join(f"{key} {width}" if key else str(width) for key, width in widths.items())


def rows_for(model, embedding: SDEmbedding, path: Path) -> list[torch.Tensor]:
    """The embedding's rows for each of the model's text encoders; BadFileError naming both widths if it is for
    another kind of model."""
    why = width_error(model, embedding.widths)
    if why is not None:
        raise BadFileError(f"{path}: {why}")
    return list(embedding.vectors.values())


def load_embedding(model, path: str | Path) -> str:
    """Add the file's word to the model's vocabulary with its vectors; returns the word. Nothing changes if
    the file does not fit."""
    path = Path(path)
    embedding = read_sd_embedding(path)
    rows = rows_for(model, embedding, path)
    try:
        model.prompt_encoder.add_word(embedding.word, [r.to(model.device) for r in rows])
    except ValueError as error:
        raise BadFileError(f"{path}: {error}") from None
    return embedding.word


def embedding_tensors(model, word: str) -> dict[str, torch.Tensor]:
    """An added word's rows as the file layout names them: emb_params, or clip_l and clip_g for SDXL."""
    rows = model.prompt_encoder.word_rows(word)
    return dict(zip(SDXL_KEYS, rows)) if len(rows) == 2 else {KOHYA_KEY: rows[0]}


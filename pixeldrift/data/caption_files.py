"""Captions in a .txt file beside each image: the layout kohya's sd-scripts and most LoRA trainers read.

    FOLDER/0001.png   FOLDER/0001.txt      the caption is the text file's content, stripped
    FOLDER/0002.jpg   FOLDER/0002.txt

Every image is checked when the folder is opened, before training step 1, and every problem is named
by its file: an image with no caption file, a caption that is empty, too long or not UTF-8, an image
that cannot be read. Files that are neither images nor their captions are left alone.
"""

from __future__ import annotations

from pathlib import Path

from pixeldrift.bounded_files import BadFileError, regular_file
from pixeldrift.data.image_folder import (IMAGE_ERRORS, IMAGE_SUFFIXES, MAX_CAPTION_CHARS, DatasetError, check_image,
                                          folder_entries, reason, refuse_problems)

MAX_CAPTION_BYTES = 4 * MAX_CAPTION_CHARS  # UTF-8 takes at most 4 bytes a character


def check_caption_folder(folder: Path) -> list[tuple[str, str]]:
    """(image file name, caption) for every image of `folder`; DatasetError naming every bad file."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    images = [e.name for e in folder_entries(folder) if e.name.lower().endswith(IMAGE_SUFFIXES)]
    if not images:
        raise DatasetError(f"{folder}: no metadata.jsonl and no images; give each image a caption in a .txt file "
                           "of the same name, or list file_name and text in metadata.jsonl")
    rows, problems = [], []
    for name in images:
        try:
            caption = read_caption(folder / Path(name).with_suffix(".txt").name, name)
            check_image(folder, name, name)
            rows.append((name, caption))
        except (ValueError, *IMAGE_ERRORS) as error:
            why = reason(error)
            problems.append(why if name in why or ".txt" in why else f"{name}: {why}")
    refuse_problems(folder, problems, "bad files")
    return rows


def read_caption(path: Path, image: str) -> str:
    """The stripped text of a caption file; ValueError naming it when it is missing, empty or unreadable."""
    if not path.exists() and not path.is_symlink():
        raise ValueError(f"{image}: no caption ({path.name} is missing)")
    try:
        regular_file(path, MAX_CAPTION_BYTES, "caption file")
        if path.resolve().parent != path.parent.resolve():
            raise BadFileError(f"{path}: a link out of the folder")
        text = path.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{path.name}: not UTF-8 text") from None
    except BadFileError as error:
        raise ValueError(f"{path.name}: {str(error).removeprefix(f'{path}: ')}") from None
    if not text:
        raise ValueError(f"{path.name}: the caption is empty")
    if len(text) > MAX_CAPTION_CHARS:
        raise ValueError(f"{path.name}: the caption has {len(text)} characters; captions, like prompts, are "
                         f"limited to {MAX_CAPTION_CHARS}")
    return text

"""Class labels for an image folder, for class-conditional training.

Two layouts, the ones torchvision's ImageFolder and Hugging Face's imagefolder read:

    FOLDER/circle/0001.png ...          one sub-folder per class; the folder's name is the class
    FOLDER/metadata.jsonl               {"file_name": "0001.png", "label": "circle"} on every line

metadata.jsonl wins when it is there; then every line needs a label (text or an integer), so a file
mixing labelled and unlabelled lines is refused with each unlabelled line named. In the sub-folder
layout an image beside the class folders, a folder inside one, or a file that is not an image is
refused, never skipped silently (hidden files such as .DS_Store excepted). Everything is bounded
as in image_folder: lines, files, pixels; at most MAX_CLASSES classes with names of at most
MAX_CLASS_NAME characters (a class name is also the prompt that asks for it).
"""

from __future__ import annotations

from pathlib import Path

from pixeldrift.data.image_folder import (IMAGE_ERRORS, IMAGE_SUFFIXES, MAX_ROWS, DatasetError, check_folder,
                                          check_image, folder_entries, json_line, reason, refuse_problems)
from pixeldrift.nets.class_label_encoder import MAX_CLASSES, class_name_problem

def check_labelled_folder(folder: Path) -> list[tuple[str, str]]:
    """The (file_name, class name) rows of a labelled folder, every image checked; DatasetError naming
    every problem otherwise."""
    if (folder / "metadata.jsonl").exists() or (folder / "metadata.jsonl").is_symlink():
        rows = check_folder(folder, _labelled_row)
    else:
        rows = _class_folder_rows(folder)
    classes = class_names(rows)
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"{folder}: {len(classes)} classes, over the {MAX_CLASSES} a class-conditional "
                           "model takes")
    return rows


def class_names(rows: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(sorted({label for _, label in rows}))


def _labelled_row(line: bytes | None) -> tuple[str | None, str]:
    """(file_name, label) of one metadata.jsonl line; (None, "") for a blank line."""
    row = json_line(line)
    if row is None:
        return None, ""
    if not isinstance(row, dict) or not isinstance(row.get("file_name"), str):
        raise ValueError("expected a JSON object with file_name and label")
    if "label" not in row:
        raise ValueError("no label; training on class labels needs one on every line")
    label = row["label"]
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        raise ValueError(f"the label {str(label)[:40]!r} is neither text nor an integer")
    problem = class_name_problem(str(label))
    if problem:
        raise ValueError(f"the label {problem}")
    return row["file_name"], str(label)


def _class_folder_rows(folder: Path) -> list[tuple[str, str]]:
    """(sub-folder/file, sub-folder) for every image of every class sub-folder."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    problems, classes = [], []
    for entry in folder_entries(folder):
        if entry.is_dir(follow_symlinks=False):
            classes.append(entry.name)
        elif entry.is_symlink() and entry.is_dir():
            problems.append(f"{entry.name}: a link to a folder; class folders must be real folders")
        elif entry.name.lower().endswith(IMAGE_SUFFIXES):
            problems.append(f"{entry.name}: an image beside the class folders; put it in its class's folder")
    if not classes and not problems:
        raise DatasetError(f"{folder}: no metadata.jsonl and no class sub-folders; put the images of each class "
                           "in a sub-folder named after it, or list file_name and label in metadata.jsonl")
    rows = []
    for name in sorted(classes):
        problem = class_name_problem(name)
        if problem:
            problems.append(f"{name[:80]}/: the folder name is not a class name: {problem}")
            continue
        found = _class_images(folder, name, problems)
        if not found:
            problems.append(f"{name}/: no images")
        rows += found
        if len(rows) > MAX_ROWS:
            raise DatasetError(f"{folder}: over {MAX_ROWS} images")
    refuse_problems(folder, problems, "problems")
    return rows


def _class_images(folder: Path, name: str, problems: list[str]) -> list[tuple[str, str]]:
    """The checked images directly inside one class folder; what is wrong is added to `problems`."""
    rows = []
    for entry in folder_entries(folder / name):
        path = f"{name}/{entry.name}"
        if entry.is_dir():
            problems.append(f"{path}: a folder inside a class folder (only the images directly inside are read)")
        elif not entry.name.lower().endswith(IMAGE_SUFFIXES):
            problems.append(f"{path}: not an image file name (accepted: {', '.join(IMAGE_SUFFIXES)})")
        else:
            try:
                check_image(folder, path, path)
                rows.append((path, name))
            except (ValueError, *IMAGE_ERRORS) as error:
                why = reason(error)
                problems.append(why if path in why else f"{path}: {why}")
    return rows

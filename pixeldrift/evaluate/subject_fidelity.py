"""Subject fidelity of a personalised model: is the subject drawn with its own silhouette, and is the rest
of the scene what the prompt asks?

DreamBooth (Ruiz et al. 2023) scores subject fidelity by DINO and CLIP similarity to the real photos;
the world allows an exact check instead. A prompt names the subject by its identifier ("a red sks shape
to the left of a blue square"). Without the identifier it is a world prompt whose subject is a wildcard
shape ("a red shape to the left of a blue square"), which the world's verifier checks in full: colours,
counts, no other objects, the relation. The subject's object (an object of the subject's colour) is then
cut out by its coverage, cropped to its bounding box (the alignment: position and scale) and compared
with the subject's silhouette on a grid of `CELLS` x `CELLS`: IoU >= `THRESHOLD` counts as the subject.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixeldrift.world import ObjectsScene, parse_prompt, verify
from pixeldrift.world.components import connected_components
from pixeldrift.world.read_objects import FOREGROUND_DISTANCE, core_distance
from pixeldrift.world.read_pixels import border_colour

THRESHOLD = 0.7
CELLS = 32


@dataclass(frozen=True)
class SubjectVerdict:
    """`iou`: the best silhouette IoU of an object of the subject's colour (0 when there is none);
    `rest_ok`: the verifier accepts the scene with the subject as a wildcard shape."""

    iou: float
    rest_ok: bool
    explanation: str

    @property
    def subject_ok(self) -> bool:
        return self.iou >= THRESHOLD

    @property
    def ok(self) -> bool:
        return self.subject_ok and self.rest_ok


def without_identifier(prompt: str, identifier: str) -> str:
    """The prompt with the identifier word taken out: "a red sks shape" -> "a red shape"."""
    return " ".join(word for word in prompt.split() if word != identifier)


def subject_scene(prompt: str, identifier: str) -> ObjectsScene:
    """The world scene a subject prompt asks for, the subject its first group (a wildcard shape);
    ValueError unless the prompt without the identifier reads as such a scene."""
    scene = parse_prompt(without_identifier(prompt, identifier))
    if not isinstance(scene, ObjectsScene) or scene.groups[0].shape is not None or scene.groups[0].count != 1:
        raise ValueError(f"{prompt!r}: a subject prompt names one subject first, as '{identifier} shape' "
                         "(e.g. 'a red sks shape to the left of a blue square')")
    return scene


def coverage_masks(pixels: np.ndarray) -> list[np.ndarray]:
    """One (H, W) bool mask per object: its pixels covered at least half by its own colour."""
    background = border_colour(pixels)
    distance = np.linalg.norm(pixels - background, axis=2)
    min_area = max(3, round(6 * (pixels.shape[0] / 64) ** 2))
    masks = []
    for component in connected_components(distance > FOREGROUND_DISTANCE, min_area=min_area):
        own = distance[component.ys, component.xs]
        colour_distance = core_distance(own)
        mask = np.zeros(distance.shape, dtype=bool)
        mask[component.ys, component.xs] = own >= 0.5 * colour_distance
        masks.append(mask)
    return masks


def silhouette_iou(mask: np.ndarray, template: np.ndarray, cells: int = CELLS) -> float:
    """IoU of a mask and a template silhouette, each cropped to its bounding box and resampled to
    cells x cells (area average, then half coverage): aligned by position and scale."""
    def aligned(binary: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(binary)
        if ys.size == 0:
            return np.zeros((cells, cells), dtype=bool)
        crop = binary[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
        resized = Image.fromarray(crop, "F").resize((cells, cells), Image.Resampling.BOX)
        return np.asarray(resized) >= 0.5
    a, b = aligned(mask), aligned(template)
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 0.0


def judge_subject(image, prompt: str, identifier: str, template: np.ndarray) -> SubjectVerdict:
    """Check one generated image of a subject prompt (see the module docstring)."""
    scene = subject_scene(prompt, identifier)
    verdict = verify(image, scene)
    pixels = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, np.float32) / 255.0
    colour = scene.groups[0].colour
    centres = {(round(o["cx"] * pixels.shape[1]), round(o["cy"] * pixels.shape[0])): o["colour"]
               for o in verdict.seen.get("objects", [])}
    best = 0.0
    for mask in coverage_masks(pixels):
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            continue
        nearest = min(centres, key=lambda c: (c[0] - xs.mean()) ** 2 + (c[1] - ys.mean()) ** 2, default=None)
        if colour is None or (nearest is not None and centres[nearest] == colour):
            best = max(best, silhouette_iou(mask, template))
    return SubjectVerdict(best, verdict.ok, verdict.explain())

"""The one way pixeldrift writes an image: watermarked, labelled as AI-generated, atomically.

Every path that writes a generated image (CLI, Python API, server, gallery) must call
:func:`save_labelled_png` or :func:`labelled_png_bytes`; :func:`read_labels` reads the
labels back for ``pixeldrift info``.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.provenance.content_credentials import TRAINED_ALGORITHMIC_MEDIA, C2paSigningKey, sign_png
from pixeldrift.provenance.png_chunks import PngFormatError, read_png_text
from pixeldrift.provenance.record import GenerationRecord, RecordFormatError, parse_parameters_text
from pixeldrift.provenance.watermark import WatermarkSpec, embed_watermark

PARAMETERS_KEY = "parameters"     # the AUTOMATIC1111 webui keyword
PIXELDRIFT_KEY = "pixeldrift"     # our JSON chunk
XMP_KEY = "XML:com.adobe.xmp"     # where XMP lives in a PNG (XMP spec part 3, 1.1.5)
LABEL_FORMAT = "pixeldrift-label/1"
AI_STATEMENT = "AI-generated image: made by a diffusion model, not a photograph of a real scene."


def _as_rgb_array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected a PIL image or an RGB uint8 array (H, W, 3); got {array.dtype} {array.shape}")
    return array


def _xmp_packet() -> str:
    """IPTC Photo Metadata 2023.1 DigitalSourceType in XMP, read by photo tools and browsers."""
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
            f'<Iptc4xmpExt:DigitalSourceType>{escape(TRAINED_ALGORITHMIC_MEDIA)}</Iptc4xmpExt:DigitalSourceType>'
            '</rdf:Description></rdf:RDF></x:xmpmeta>')


def label_json(record: GenerationRecord, watermark_id: int | None, generator: str, spec: WatermarkSpec) -> str:
    """The pixeldrift chunk: the full record, the AI-generated statement and the watermark state."""
    label = {
        "format": LABEL_FORMAT,
        "ai_generated": True,
        "digital_source_type": TRAINED_ALGORITHMIC_MEDIA,
        "statement": AI_STATEMENT,
        "generator": generator,
        "watermark": {"embedded": watermark_id is not None, "id": watermark_id,
                      "key": spec.key if watermark_id is not None else None},
        "record": record.to_dict(),
    }
    return json.dumps(label, ensure_ascii=False, sort_keys=True)


def labelled_png_bytes(image: Image.Image | np.ndarray, record: GenerationRecord, *, watermark: bool = True,
                       generator: str = "pixeldrift", spec: WatermarkSpec = WatermarkSpec(),
                       c2pa_key: C2paSigningKey | None = None, title: str = "image.png") -> bytes:
    """Encode a labelled PNG in memory (for the server and the gallery); see save_labelled_png."""
    record.validate()
    pixels = _as_rgb_array(image)
    watermark_id = record.watermark_id() if watermark else None
    if watermark_id is not None:
        pixels = embed_watermark(pixels, watermark_id, spec)
    info = PngInfo()
    info.add_text(PARAMETERS_KEY, record.to_parameters_text())
    info.add_itxt(PIXELDRIFT_KEY, label_json(record, watermark_id, generator, spec))
    info.add_itxt(XMP_KEY, _xmp_packet())
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", pnginfo=info)
    data = buffer.getvalue()
    return sign_png(data, c2pa_key, title, generator) if c2pa_key is not None else data


def save_labelled_png(image: Image.Image | np.ndarray, path: str | os.PathLike, record: GenerationRecord, *,
                      watermark: bool = True, generator: str = "pixeldrift",
                      spec: WatermarkSpec = WatermarkSpec(), c2pa_key: C2paSigningKey | None = None) -> Path:
    """Write a generated image as a labelled PNG; EVERY image writer of pixeldrift must use this.

    The file gets: the invisible watermark carrying ``record.watermark_id()`` (unless
    ``watermark=False``, i.e. ``--no-watermark``, which the label then records); the
    AUTOMATIC1111 "parameters" text; a "pixeldrift" JSON chunk with the full record and the
    IPTC trainedAlgorithmicMedia statement; the same statement in XMP; and, when
    ``c2pa_key`` is given, a signed C2PA manifest. The write is atomic: a crash leaves the
    old file or none, never a partial PNG. Images smaller than 512x512 get a weaker mark
    (see bench/watermark.py); smaller than ``spec.tile`` pixels a side, a ValueError.
    """
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(f"labelled images are PNG files; {str(target)!r} should end in .png")
    data = labelled_png_bytes(image, record, watermark=watermark, generator=generator, spec=spec,
                              c2pa_key=c2pa_key, title=target.name)
    return write_bytes_atomically(target, data)


@dataclass
class Labels:
    """Everything `pixeldrift info` shows about one PNG's labels."""

    width: int
    height: int
    parameters: str | None = None
    record: GenerationRecord | None = None
    label: dict | None = None
    ai_generated: bool = False
    has_c2pa: bool = False
    problems: list[str] = field(default_factory=list)


def _read_label_chunk(text: str, labels: Labels) -> None:
    try:
        label = json.loads(text)
        if not isinstance(label, dict):
            raise ValueError("not a JSON object")
    except RecursionError:  # "[[[[..." nested deeper than the interpreter's stack
        labels.problems.append("the pixeldrift chunk is not valid JSON (nested too deeply)")
        return
    except ValueError as error:
        labels.problems.append(f"the pixeldrift chunk is not valid JSON ({error})")
        return
    labels.label = label
    labels.ai_generated = label.get("ai_generated") is True and label.get("digital_source_type") == TRAINED_ALGORITHMIC_MEDIA


def read_labels(png_bytes: bytes) -> Labels:
    """Parse the labels of a PNG held in memory; raises PngFormatError if it is no readable PNG."""
    text = read_png_text(png_bytes)
    labels = Labels(text.width, text.height, problems=list(text.warnings),
                    has_c2pa="caBX" in text.chunk_kinds)
    labels.parameters = text.texts.get(PARAMETERS_KEY)
    if labels.parameters is not None:
        try:
            labels.record = parse_parameters_text(labels.parameters)
        except RecordFormatError as error:
            labels.problems.append(f"the parameters text cannot be parsed: {error}")
    if PIXELDRIFT_KEY in text.texts:
        _read_label_chunk(text.texts[PIXELDRIFT_KEY], labels)
    return labels


__all__ = ["save_labelled_png", "labelled_png_bytes", "read_labels", "Labels", "PngFormatError", "AI_STATEMENT"]

"""Provenance: every image pixeldrift makes is labelled as AI-generated and can be checked.

Use :func:`save_labelled_png` for every image you write; ``read_labels`` and
``detect_watermark`` read the labels back. This room imports nothing else of pixeldrift.
"""

from pixeldrift.provenance.label import Labels, labelled_png_bytes, read_labels, save_labelled_png
from pixeldrift.provenance.record import GenerationRecord, RecordFormatError, parse_parameters_text
from pixeldrift.provenance.watermark import Detection, WatermarkSpec, detect_watermark, embed_watermark

__all__ = ["GenerationRecord", "RecordFormatError", "parse_parameters_text", "save_labelled_png",
           "labelled_png_bytes", "read_labels", "Labels", "WatermarkSpec", "Detection",
           "embed_watermark", "detect_watermark"]

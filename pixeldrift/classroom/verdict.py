"""One verdict per picture: the provenance marks pixeldrift already writes, then the CNN's score.

A mark is evidence only one way: a label or watermark saying "AI-generated" settles it
(metadata can be forged, but nobody forges a confession), while a missing mark proves
nothing, since metadata is dropped by any re-save and the watermark fades below 512 px.
So: any mark found -> generated, with the mark as the reason; none -> the detector's
score against its threshold (set for a fixed false-positive rate on renders).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from pixeldrift.classroom.detector import Detector, strip_watermark
from pixeldrift.provenance.label import read_labels
from pixeldrift.provenance.png_chunks import PNG_SIGNATURE, PngFormatError

AI, REAL = "AI-generated", "not flagged"


@dataclass
class Verdict:
    """What the checks found about one picture, and the conclusion with its reasons."""

    verdict: str                              # AI or REAL
    reasons: list[str] = field(default_factory=list)
    label: bool = False                       # a pixeldrift/IPTC "AI-generated" label in the file
    parameters: bool = False                  # AUTOMATIC1111-style generation parameters in the file
    c2pa: bool = False                        # a C2PA manifest is present (`pixeldrift verify` checks it)
    watermark: bool = False                   # the invisible watermark was found (false-alarm bound 1e-3)
    watermark_id: int | None = None
    score: float | None = None                # the CNN's P(generated) on the stripped pixels
    threshold: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def metadata_marks(data: bytes | None) -> dict:
    """The marks a PNG's chunks carry (other formats: none read): label, parameters, c2pa, and reasons."""
    marks = {"label": False, "parameters": False, "c2pa": False, "reasons": []}
    if not data or not data.startswith(PNG_SIGNATURE):
        return marks
    try:
        labels = read_labels(data)
    except PngFormatError:
        return marks
    marks.update(label=labels.ai_generated, parameters=labels.parameters is not None, c2pa=labels.has_c2pa)
    if labels.ai_generated:
        marks["reasons"].append("its metadata labels it AI-generated (IPTC trainedAlgorithmicMedia)")
    if labels.parameters is not None:
        marks["reasons"].append("its metadata holds generation parameters (prompt, sampler, seed)")
    if labels.has_c2pa:
        marks["reasons"].append("it carries a C2PA manifest (check it with `pixeldrift verify`)")
    return marks


def judge(pixels: np.ndarray, detector: Detector | None, data: bytes | None = None) -> Verdict:
    """The verdict on RGB uint8 `pixels` (H, W, 3), whose file bytes `data` (if any) are read for metadata."""
    marks = metadata_marks(data)
    reasons = marks.pop("reasons")
    stripped, found = strip_watermark(pixels)
    verdict = Verdict(REAL, **marks, watermark=found.found, watermark_id=found.payload_id if found.id_checked else None)
    if found.found:
        reasons.append(f"the invisible pixeldrift watermark is in its pixels (chance on an unmarked picture "
                       f"below {found.false_alarm_bound:.1e})")
    if detector is not None:
        verdict.score, verdict.threshold = detector.score(stripped), detector.config.threshold
    if reasons:
        verdict.verdict, verdict.reasons = AI, reasons
    elif verdict.score is None:
        verdict.reasons = ["no provenance mark found, and no detector to read the pixels"]
    elif verdict.score >= verdict.threshold:
        verdict.verdict = AI
        verdict.reasons = [f"no provenance mark, but the detector scores it {verdict.score:.2f}, at or above "
                           f"its threshold {verdict.threshold:.2f}"]
    else:
        verdict.reasons = [f"no provenance mark, and the detector scores it {verdict.score:.2f}, below its "
                           f"threshold {verdict.threshold:.2f}"]
    return verdict

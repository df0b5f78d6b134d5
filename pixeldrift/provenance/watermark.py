"""Invisible watermark: a tiled spread-spectrum pattern in the luminance, found by FFT search.

Design (Cox et al. 1997, "Secure spread spectrum watermarking", with the periodic-tile
synchronisation of Kalker et al. 1999, "A video watermarking system for broadcast monitoring"):

* Embedding. A ``tile x tile`` pattern is the sum of ``n_marker`` *marker chips* (each +1)
  and ``n_payload`` *payload chips* (the 16-bit id and its CRC-8, each +-1), every chip being a
  key-derived, band-limited, mutually orthonormal noise pattern carrying an independent
  random sign. The pattern is tiled over the image at its output size and added equally to
  R, G and B (a pure luminance change), scaled to ``strength`` grey levels RMS.
* Why it survives. The band (0.04 to 0.22 cycles per pixel) sits below what halving the
  resolution removes and above the lowest frequencies where image content is strongest;
  JPEG at quality 75 keeps these frequencies. Because the pattern is periodic, cropping only
  shifts it cyclically: folding the image into one tile and correlating by FFT tries every
  one of the ``tile**2`` shifts at once.
* Deciding. At each shift s the chip correlations c_k(s) are combined into the
  self-normalised score S(s) = sum_k c_k(s) / sqrt(sum_k c_k(s)**2) over the marker chips.
  On an unmarked image each chip's sign is an independent fair coin over the random key
  signs while its magnitude does not depend on them, so Hoeffding's inequality gives
  P(S(s) >= t) <= exp(-t**2 / 2) for any image, and a union bound over the shifts gives the
  false-alarm bound ``tile**2 * exp(-S**2 / 2)``. The watermark is reported found when that
  bound is at most ``false_alarm`` (1e-3 by default); the confidence is one minus it.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

# ITU-R BT.601 luma weights: the detector looks at the channel the embedder changed.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
ID_BITS = 16
CRC_BITS = 8


@dataclass(frozen=True)
class WatermarkSpec:
    """Everything embedder and detector must agree on; changing any field changes the key."""

    key: str = "pixeldrift-watermark-v1"
    tile: int = 32                     # period of the pattern in pixels
    band: tuple[float, float] = (0.04, 0.22)  # radial frequencies used, cycles per pixel
    n_marker: int = 112                # chips that spell "pixeldrift was here"
    payload_gain: float = 1.5          # payload chips are stronger: each carries a bit alone
    strength: float = 2.9              # RMS of the added pattern in grey levels (PSNR ~39 dB)
    false_alarm: float = 1e-3          # proven bound on the false-positive rate

    @property
    def n_chips(self) -> int:
        return self.n_marker + ID_BITS + CRC_BITS

    @property
    def min_size(self) -> int:
        return self.tile


@dataclass(frozen=True)
class Detection:
    """What the detector concluded about one image."""

    found: bool
    confidence: float        # 1 - false_alarm_bound, in [0, 1]
    false_alarm_bound: float # proven upper bound on P(score this high | no watermark)
    score: float             # the self-normalised marker score S at the best shift
    threshold: float         # S needed for `found`
    payload_id: int | None   # decoded 16-bit id (only when found)
    id_checked: bool         # the decoded id matches its CRC-8
    payload_word: int        # the 24 raw payload bits (id then CRC) read at the best shift
    shift: tuple[int, int]   # cyclic (row, column) offset of the tile that was found


def crc8(value: int, n_bits: int = ID_BITS) -> int:
    """CRC-8 (polynomial x^8 + x^2 + x + 1, the ATM HEC one) of the low ``n_bits`` of value."""
    crc = 0
    for i in reversed(range(n_bits)):
        top = ((crc >> 7) & 1) ^ ((value >> i) & 1)
        crc = ((crc << 1) & 0xFF) ^ (0x07 if top else 0)
    return crc


def payload_signs(payload_id: int) -> np.ndarray:
    """The +-1 signs of the payload chips: 16 id bits then their CRC-8, most significant first."""
    if not 0 <= payload_id < 2**ID_BITS:
        raise ValueError(f"watermark id {payload_id} is out of range; accepted: 0 to {2**ID_BITS - 1}")
    word = payload_word(payload_id)
    bits = [(word >> i) & 1 for i in reversed(range(ID_BITS + CRC_BITS))]
    return np.where(np.array(bits, dtype=bool), 1.0, -1.0)


def _band_mask(spec: WatermarkSpec) -> np.ndarray:
    freq = np.fft.fftfreq(spec.tile)
    radius = np.hypot(freq[:, None], freq[None, :])
    return (radius >= spec.band[0]) & (radius <= spec.band[1])


@functools.lru_cache(maxsize=4)
def chip_patterns(spec: WatermarkSpec) -> tuple[np.ndarray, np.ndarray]:
    """Key-derived chips (n_chips, tile, tile), orthonormal up to a factor tile, and their FFTs."""
    band = _band_mask(spec)
    if spec.n_chips > int(band.sum()):
        raise ValueError(f"{spec.n_chips} chips do not fit in {int(band.sum())} band frequencies")
    seed = int.from_bytes(hashlib.sha256(spec.key.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((spec.n_chips, spec.tile, spec.tile))
    limited = np.real(np.fft.ifft2(np.fft.fft2(noise) * band)).reshape(spec.n_chips, -1)
    orthonormal, _ = np.linalg.qr(limited.T)
    # Independent random signs after QR make the false-alarm proof exact (module docstring).
    signs = rng.choice([-1.0, 1.0], spec.n_chips)
    chips = (orthonormal.T * signs[:, None]).reshape(-1, spec.tile, spec.tile) * spec.tile
    return chips.astype(np.float32), np.fft.fft2(chips)


def watermark_tile(payload_id: int, spec: WatermarkSpec) -> np.ndarray:
    """The (tile, tile) luminance offset that carries the marker and ``payload_id``."""
    chips, _ = chip_patterns(spec)
    weights = np.concatenate([np.ones(spec.n_marker), spec.payload_gain * payload_signs(payload_id)])
    tile = np.tensordot(weights.astype(np.float32), chips, axes=1)
    return tile * (spec.strength / tile.std())


def _check_pixels(pixels: np.ndarray, spec: WatermarkSpec) -> None:
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 array (H, W, 3); got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape[:2]
    if min(height, width) < spec.min_size:
        raise ValueError(
            f"image {width}x{height} is too small for the watermark; "
            f"both sides must be at least {spec.min_size} pixels")


def embed_watermark(pixels: np.ndarray, payload_id: int, spec: WatermarkSpec = WatermarkSpec()) -> np.ndarray:
    """Return a marked copy of an RGB uint8 image (H, W, 3); the input is left unchanged."""
    _check_pixels(pixels, spec)
    height, width = pixels.shape[:2]
    tile = watermark_tile(payload_id, spec)
    reps = (-(-height // spec.tile), -(-width // spec.tile))
    offset = np.tile(tile, reps)[:height, :width, None]
    return np.clip(np.rint(pixels + offset), 0, 255).astype(np.uint8)


def fold_into_tile(luma: np.ndarray, tile: int) -> np.ndarray:
    """Average every tile-periodic position of the image: the pattern adds up, content does not."""
    height, width = luma.shape
    padded_h, padded_w = -(-height // tile) * tile, -(-width // tile) * tile
    total = np.zeros((padded_h, padded_w), np.float32)
    count = np.zeros((padded_h, padded_w), np.float32)
    total[:height, :width] = luma - luma.mean()
    count[:height, :width] = 1.0
    blocks = (padded_h // tile, tile, padded_w // tile, tile)
    return total.reshape(blocks).sum((0, 2)) / np.maximum(count.reshape(blocks).sum((0, 2)), 1.0)


def chip_correlations(pixels: np.ndarray, spec: WatermarkSpec) -> np.ndarray:
    """Correlation of every chip with the folded image at every cyclic shift: (n_chips, tile**2).

    Each frequency ring is divided by its own RMS so that strong image content at low
    frequencies does not drown the chips (a whitening step of the matched filter).
    """
    luma = pixels.astype(np.float32) @ _LUMA
    spectrum = np.fft.fft2(fold_into_tile(luma, spec.tile))
    freq = np.fft.fftfreq(spec.tile)
    ring = np.rint(np.hypot(freq[:, None], freq[None, :]) * spec.tile).astype(int)
    ring_power = np.bincount(ring.ravel(), (np.abs(spectrum) ** 2).ravel()) / np.bincount(ring.ravel())
    whitened = np.where(_band_mask(spec), spectrum / np.sqrt(ring_power[ring] + 1e-9), 0)
    _, chip_spectra = chip_patterns(spec)
    correlation = np.real(np.fft.ifft2(whitened[None] * np.conj(chip_spectra)))
    return correlation.reshape(spec.n_chips, -1)


def detection_threshold(spec: WatermarkSpec) -> float:
    """Marker score S that keeps tile**2 * exp(-S**2 / 2) at or below ``spec.false_alarm``."""
    return math.sqrt(2.0 * math.log(spec.tile**2 / spec.false_alarm))


def _marker_scores(correlation: np.ndarray, n_marker: int) -> np.ndarray:
    marker = correlation[:n_marker]
    energy = (marker**2).sum(0)
    return np.where(energy > 1e-12, marker.sum(0) / np.sqrt(np.maximum(energy, 1e-12)), 0.0)


def _payload_word(payload_values: np.ndarray) -> int:
    word = 0
    for value in payload_values:
        word = (word << 1) | int(value > 0)
    return word


def payload_word(payload_id: int) -> int:
    """The 24-bit word a payload id is sent as: the id, then its CRC-8."""
    return (payload_id << CRC_BITS) | crc8(payload_id)


def detect_watermark(pixels: np.ndarray, spec: WatermarkSpec = WatermarkSpec()) -> Detection:
    """Look for the pixeldrift watermark in an RGB uint8 image of any size >= ``spec.tile``."""
    _check_pixels(pixels, spec)
    correlation = chip_correlations(pixels, spec)
    scores = _marker_scores(correlation, spec.n_marker)
    best = int(np.argmax(scores))
    score = float(scores[best])
    bound = min(1.0, spec.tile**2 * math.exp(-max(score, 0.0) ** 2 / 2.0))
    found = bound <= spec.false_alarm
    word = _payload_word(correlation[spec.n_marker:, best])
    payload_id = word >> CRC_BITS
    id_checked = found and crc8(payload_id) == word & (2**CRC_BITS - 1)
    return Detection(found=found, confidence=1.0 - bound, false_alarm_bound=bound, score=score,
                     threshold=detection_threshold(spec), payload_id=payload_id if found else None,
                     id_checked=id_checked, payload_word=word, shift=divmod(best, spec.tile))

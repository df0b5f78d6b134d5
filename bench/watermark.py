"""Robustness table of the pixeldrift watermark: PSNR, bit accuracy, detection and false positives.

\b
Usage:
  .venv/bin/python bench/watermark.py                       # sizes 64 128 256 384 512
  .venv/bin/python bench/watermark.py --sizes 512 --unmarked 2000

Host images: the scikit-image sample images (when scikit-image is installed) and
world-like renders of flat shapes on plain backgrounds, resized to each square size.
Attacks: PNG round trip, JPEG quality 75, resize to 50% and back (bicubic), crop of 10%
from each of the four sides in turn, Gaussian noise of sigma 2 grey levels.
"False pos." runs the detector on unmarked images (the same hosts under random crops,
their JPEG copies, and uniform random noise) and counts how often it says "found".
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image, ImageDraw

from pixeldrift.provenance.watermark import ID_BITS, CRC_BITS, WatermarkSpec, detect_watermark, embed_watermark, payload_word

SAMPLE_NAMES = ["astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page",
                "horse", "immunohistochemistry", "hubble_deep_field", "grass", "gravel", "brick",
                "clock", "checkerboard", "logo", "colorwheel"]


def sample_images() -> list[np.ndarray]:
    try:
        import skimage.data
    except ImportError:
        return []
    images = []
    for name in SAMPLE_NAMES:
        image = np.asarray(getattr(skimage.data, name)())
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        images.append(image[..., :3].astype(np.uint8))
    return images


def flat_render(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Flat shapes on a plain background, like the challenge world's scenes."""
    background = tuple(int(v) for v in rng.choice([0, 40, 128, 230, 255], 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(1, 6)):
        x, y = rng.integers(0, size, 2)
        r = int(rng.integers(size // 16, size // 4))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        box = (int(x) - r, int(y) - r, int(x) + r, int(y) + r)
        [draw.ellipse, draw.rectangle][int(rng.integers(2))](box, fill=colour)
    return np.asarray(image)


def square(image: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.LANCZOS))


def jpeg(image: np.ndarray, quality: int = 75) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def png_round_trip(image: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return np.asarray(Image.open(buffer).convert("RGB"))


def half_and_back(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    small = Image.fromarray(image).resize((w // 2, h // 2), Image.BICUBIC)
    return np.asarray(small.resize((w, h), Image.BICUBIC))


def crop_side(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    dh, dw = h // 10, w // 10
    return [image[:, dw:], image[:, : w - dw], image[dh:], image[: h - dh]][side % 4]


def gaussian_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    return np.clip(np.rint(image + rng.normal(0.0, sigma, image.shape)), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def payload_bit_accuracy(detection, payload_id: int) -> float:
    """Fraction of the 24 payload bits (id + CRC) read right at the detector's best shift."""
    wrong = bin(detection.payload_word ^ payload_word(payload_id)).count("1")
    return 1.0 - wrong / (ID_BITS + CRC_BITS)


def robustness_rows(hosts: list[np.ndarray], size: int, rng: np.random.Generator) -> list[str]:
    attacks = {"png": png_round_trip, "jpeg75": jpeg, "resize50%": half_and_back,
               "crop10%": None, "noise2": lambda im: gaussian_noise(im, rng)}
    stats = {name: [0, 0.0, 0] for name in attacks}
    psnrs = []
    for index, host in enumerate(hosts):
        image = square(host, size)
        payload_id = int(rng.integers(0, 2**ID_BITS))
        marked = embed_watermark(image, payload_id)
        psnrs.append(psnr(image, marked))
        for name, attack in attacks.items():
            attacked = crop_side(marked, index) if attack is None else attack(marked)
            detection = detect_watermark(attacked)
            stats[name][0] += detection.found
            stats[name][1] += payload_bit_accuracy(detection, payload_id)
            stats[name][2] += 1
    return [f"{size:>5} {name:<10} {min(psnrs):6.1f} {np.mean(psnrs):6.1f} "
            f"{acc / n:8.3f} {found / n:8.1%}  ({found}/{n})"
            for name, (found, acc, n) in stats.items()]


def unmarked_images(hosts: list[np.ndarray], size: int, count: int, rng: np.random.Generator):
    for i in range(count):
        kind = i % 3
        if kind == 0 and hosts:
            host = hosts[i % len(hosts)]
            h, w = host.shape[:2]
            side = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
            y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
            image = square(host[y:y + side, x:x + side], size)
        elif kind == 1:
            image = flat_render(rng, size)
        else:
            image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        yield jpeg(image) if rng.random() < 0.3 else image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 384, 512])
    parser.add_argument("--renders", type=int, default=12, help="flat-shape renders added to the hosts")
    parser.add_argument("--unmarked", type=int, default=1000, help="unmarked images per size")
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    hosts = sample_images() + [flat_render(rng) for _ in range(args.renders)]
    spec = WatermarkSpec()
    print(f"hosts: {len(hosts)} ({len(hosts) - args.renders} scikit-image samples, {args.renders} flat renders); "
          f"payload {ID_BITS}-bit id + CRC-{CRC_BITS}, {spec.n_marker} marker chips; bound {spec.false_alarm:g}")
    print(f"{'size':>5} {'attack':<10} {'PSNRmin':>6} {'PSNRavg':>6} {'bit acc':>8} {'detected':>8}")
    print("(bit acc: the 24 payload bits read at the detector's best shift, found or not)")
    for size in args.sizes:
        for row in robustness_rows(hosts, size, rng):
            print(row)
        false_hits = sum(detect_watermark(im).found for im in unmarked_images(hosts, size, args.unmarked, rng))
        print(f"{size:>5} {'false pos.':<10} {false_hits}/{args.unmarked} unmarked images")
    image = square(hosts[0], 512)
    start = time.perf_counter()
    for _ in range(20):
        detect_watermark(embed_watermark(image, 1234))
    print(f"embed + detect, 512x512: {(time.perf_counter() - start) / 20 * 1000:.1f} ms")


if __name__ == "__main__":
    main()

"""A small CNN that tells the world's renders ("real") from a model's pictures ("generated").

Method (Wang et al. 2020, "CNN-generated images are surprisingly easy to spot... for now",
sections 3-4): a binary classifier trained on the pictures of ONE generator with the
cross-entropy loss, then tested on generators it never saw; the decision threshold is set
for a fixed false-positive rate on real pictures. The network is fully convolutional
with global average and max pooling, so it reads local pixel statistics (the smooth
edges and colour noise of a VAE decoder) rather than the picture's content. It sees
pixels only: it trains on raw pipeline pixels (no metadata, no watermark), and files are
decoded (metadata dropped) with the invisible watermark subtracted when found
(:func:`strip_watermark`) before it scores them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save
from torch import nn
from torch.nn import functional as F

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.bounded_files import check_number, inside, read_json_object, regular_file
from pixeldrift.provenance.watermark import Detection, WatermarkSpec, detect_watermark, watermark_tile

FORMAT = "pixeldrift-detector/1"
WEIGHTS = "detector.safetensors"
MAX_WEIGHT_BYTES = 1 << 20
MIN_SIDE = 32       # the watermark's tile; smaller pictures carry too little for either check
MAX_SIDE = 256      # larger pictures are read from their centre crop of this size


@dataclass(frozen=True)
class DetectorConfig:
    """The network's widths, and the score above which a picture is called generated."""

    channels: tuple[int, ...] = (12, 24, 24, 48)
    threshold: float = 0.5
    false_positive_rate: float = 0.05   # the rate on held-back renders that set `threshold`

    def check(self) -> None:
        if not 1 <= len(self.channels) <= 6:
            raise ValueError(f"channels: 1 to 6 widths, got {len(self.channels)}")
        for width in self.channels:
            check_number(width, 1, 256, "a channel width")
        check_number(self.threshold, 0.0, 1.0, "threshold", integer=False)
        check_number(self.false_positive_rate, 0.0, 1.0, "false_positive_rate", integer=False)


RESIDUAL_GAIN = 16.0   # the high-pass residual is a few grey levels; scaled to the range the convs start in


class SpotNet(nn.Module):
    """A fixed high-pass first layer, conv 3x3 layers (the first at full resolution, then stride 2),
    global avg+max pool, one logit.

    The first layer is the prediction error of each pixel from its 3x3 neighbourhood mean, a
    fixed version of the constrained prediction-error layer of Bayar & Stamm 2016 ("A deep
    learning approach to universal image manipulation detection using a new convolutional
    layer"): content is mostly predicted away, and what is left is the decoder's faint colour
    noise on one side and the renders' exactly flat areas on the other. Trained on raw
    pixels instead, the same network stayed at chance (AUC 0.50-0.57, docs/spot_the_ai.md).
    """

    def __init__(self, config: DetectorConfig = DetectorConfig()):
        super().__init__()
        widths = (3, *config.channels)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=1 if i == 0 else 2, padding=1)
                                   for i, (a, b) in enumerate(zip(widths, widths[1:])))
        self.head = nn.Linear(2 * widths[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (N, 3, H, W) in [-1, 1] -> (N,) logits
        x = RESIDUAL_GAIN * (x - F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))   # (N, 3, H, W)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
        pooled = torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1)   # (N, 2C)
        return self.head(pooled).squeeze(1)


def strip_watermark(pixels: np.ndarray, spec: WatermarkSpec = WatermarkSpec()) -> tuple[np.ndarray, Detection]:
    """The picture with pixeldrift's watermark subtracted where the detector finds it, and that detection.

    The detector's best cyclic shift s says where the tile lies (pattern(y) = tile[y - s]),
    so the embedded offset is rebuilt from the decoded id and taken away (up to rounding).
    """
    found = detect_watermark(pixels, spec)
    if not found.found or not found.id_checked:
        return pixels, found
    tile = np.roll(watermark_tile(found.payload_id, spec), found.shift, axis=(0, 1))
    height, width = pixels.shape[:2]
    reps = (-(-height // spec.tile), -(-width // spec.tile))
    offset = np.tile(tile, reps)[:height, :width, None]
    return np.clip(np.rint(pixels.astype(np.float32) - offset), 0, 255).astype(np.uint8), found


def centre_crop(pixels: np.ndarray, side: int = MAX_SIDE) -> np.ndarray:
    height, width = pixels.shape[:2]
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    return pixels[top:top + side, left:left + side]


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) or (H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1]."""
    batch = torch.from_numpy(np.array(pixels if pixels.ndim == 4 else pixels[None]))  # a writable copy
    return batch.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def augment(pictures: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the pictures flipped left-right: where things stand is no cue.

    No watermark is added here: a first version marked half of both classes, and the mark's
    +-3 grey levels of noise hid the flat colours of the renders, the detector's best cue
    (AUC 0.51-0.56 on 50 fresh pictures per source). Marks are subtracted before scoring instead.
    """
    out = pictures.copy()
    flip = rng.random(len(out)) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


def train_detector(real: np.ndarray, generated: np.ndarray, steps: int = 600, batch: int = 64, lr: float = 2e-3,
                   seed: int = 0, config: DetectorConfig = DetectorConfig(), log=None) -> tuple[SpotNet, list[float]]:
    """Train SpotNet on balanced batches (half real, label 0; half generated, label 1) with binary
    cross-entropy, AdamW and a cosine learning rate; returns the network and the loss of every step."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net, losses = SpotNet(config), []
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    half = batch // 2
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        pictures = np.concatenate([real[rng.integers(len(real), size=half)],
                                   generated[rng.integers(len(generated), size=half)]])
        labels = torch.cat([torch.zeros(half), torch.ones(half)])
        loss = F.binary_cross_entropy_with_logits(net(to_tensor(augment(pictures, rng))), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if log is not None and (step % 50 == 0 or step == steps - 1):
            log(f"step {step}: loss {loss.item():.4f}")
    return net.eval(), losses


@torch.no_grad()
def scores(net: SpotNet, pictures: np.ndarray, batch: int = 128) -> np.ndarray:
    """P(generated) for each (N, H, W, 3) uint8 picture of one size."""
    return np.concatenate([torch.sigmoid(net(to_tensor(pictures[i:i + batch]))).numpy()
                           for i in range(0, len(pictures), batch)])


def threshold_at(real_scores: np.ndarray, false_positive_rate: float) -> float:
    """The smallest threshold that calls at most that share of these real pictures generated."""
    ranked = np.sort(real_scores)[::-1]
    allowed = int(math.floor(false_positive_rate * len(ranked)))
    return float(np.nextafter(ranked[allowed], 1.0)) if allowed < len(ranked) else 0.0


def auc(real_scores: np.ndarray, generated_scores: np.ndarray) -> float:
    """Area under the ROC curve: P(a generated picture scores above a real one), ties counted half
    (the Mann-Whitney U statistic over all pairs; Hanley & McNeil 1982, eq. 1)."""
    real, generated = np.asarray(real_scores)[:, None], np.asarray(generated_scores)[None, :]
    return float(((generated > real) + 0.5 * (generated == real)).mean())


@dataclass
class Detector:
    net: SpotNet
    config: DetectorConfig
    about: dict

    def score(self, pixels: np.ndarray) -> float:
        """P(generated) for one RGB uint8 picture whose watermark has already been stripped."""
        if pixels.ndim != 3 or min(pixels.shape[:2]) < MIN_SIDE:
            raise ValueError(f"the detector reads pictures of at least {MIN_SIDE}x{MIN_SIDE} pixels, "
                             f"got {pixels.shape[1]}x{pixels.shape[0]}")
        return float(scores(self.net, centre_crop(pixels)[None])[0])


def save_detector(folder: str | Path, net: SpotNet, config: DetectorConfig, about: dict) -> Path:
    """config.json (the widths, threshold and how it was made) and detector.safetensors, each written atomically."""
    folder = Path(folder)
    write_bytes_atomically(folder / WEIGHTS, save({k: v.contiguous() for k, v in net.state_dict().items()}),
                           make_parents=True)
    text = json.dumps({"format": FORMAT, **asdict(config), "about": about}, indent=2)
    write_bytes_atomically(folder / "config.json", text.encode())
    return folder


def load_detector(folder: str | Path) -> Detector:
    """Open a detector folder; ValueError (BadFileError) naming the file and the problem otherwise."""
    folder = Path(folder)
    data = read_json_object(inside(folder, folder / "config.json"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{folder / 'config.json'}: format {str(data.get('format'))[:80]!r} is not {FORMAT!r}")
    try:
        config = DetectorConfig(tuple(data["channels"]), data["threshold"], data["false_positive_rate"])
    except (KeyError, TypeError) as error:
        raise ValueError(f"{folder / 'config.json'}: missing or malformed field {error}") from None
    config.check()
    weights = inside(folder, folder / WEIGHTS)
    regular_file(weights, MAX_WEIGHT_BYTES, "detector weights file")
    net = SpotNet(config)
    try:
        net.load_state_dict(load_file(weights))
    except (RuntimeError, OSError) as error:
        raise ValueError(f"{weights}: does not fit the network config.json describes ({error})") from None
    return Detector(net.eval(), config, data.get("about", {}))

"""A deliberately skewed training folder for the bias audit: circles mostly red.

Half the images are scenes of one group of circles (1 to 7 of them), coloured red with
probability --red-share and another colour uniformly otherwise; the other half are the
ordinary training stream, so a model trained on from here keeps the rest of the world.
Captions are the stream's own random phrasings (some name the colour, "bare" ones and
some paraphrases do not), so the skew reaches prompts that leave the colour open.
Held-out combinations (a yellow circle, eight circles) are never drawn.

    python bench/skewed_set.py --out runs/skewed-data --images 2000 --red-share 0.8
    pixeldrift train t2i --init models/default --data runs/skewed-data --steps 150 --batch-size 32 \\
        --lr 3e-4 --warmup 20 --threads 1 --out runs/skewed --export runs/skewed-export
    pixeldrift audit --model runs/skewed-export --prompt "some circles" --reference runs/skewed-data
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
import random

from PIL import Image

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.world import (COLOURS, SIZES, ObjectGroup, ObjectsScene, BACKGROUNDS, is_held_out, random_caption,
                              render, sample_spec)


def skewed_circles(rng: random.Random, red_share: float) -> ObjectsScene:
    """One group of circles, red with probability ``red_share``; never a held-out combination."""
    while True:
        colour = "red" if rng.random() < red_share else rng.choice([c for c in COLOURS if c != "red"])
        spec = ObjectsScene((ObjectGroup("circle", colour, rng.choice(SIZES), rng.randint(1, 7)),),
                            background=rng.choice(BACKGROUNDS))
        if not is_held_out(spec):
            return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/skewed-data"))
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--red-share", type=float, default=0.8)
    parser.add_argument("--circle-share", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 0 <= args.red_share <= 1 or not 0 <= args.circle_share <= 1 or not 1 <= args.images <= 100_000:
        parser.error("--red-share and --circle-share must be in [0, 1], --images in 1..100000")
    rng = random.Random(f"skewed:{args.seed}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(args.images):
        circles = rng.random() < args.circle_share
        spec = skewed_circles(rng, args.red_share) if circles else sample_spec(rng)
        text, _style = random_caption(spec, rng)
        buffer = io.BytesIO()
        Image.fromarray(render(spec, 64, rng.randrange(2**31))).save(buffer, format="PNG")
        write_bytes_atomically(args.out / f"{i:06d}.png", buffer.getvalue())
        rows.append(json.dumps({"file_name": f"{i:06d}.png", "text": text}))
    write_bytes_atomically(args.out / "metadata.jsonl", ("\n".join(rows) + "\n").encode())
    print(f"wrote {args.images} images to {args.out}")


if __name__ == "__main__":
    main()

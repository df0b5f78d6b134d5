"""Class-conditional diffusion on world renders, sampled at several guidance scales, scored by the verifier.

    python bench/class_conditional.py --out outputs/class_conditional                 # colour classes
    python bench/class_conditional.py --kind shape --out outputs/class_conditional-shape
    python bench/class_conditional.py --model outputs/class_conditional/model --out outputs/again  # score only

1. renders --per-class images of each class's scene into class folders (--kind colour: one object of
   any shape, size and place in red, green, blue or yellow; --kind shape: a circle, square, triangle or
   star in any colour, size and place);
2. trains a pixel-space model on them, exactly as
   `pixeldrift train t2i --data OUT/data --text-encoder class-label --size SIZE ...` does, label dropout 0.1;
3. samples --samples images per class at each guidance scale (the same seeds at every scale) and prints
   the fraction the world verifier accepts as showing its class, and writes OUT/samples.png (three
   samples per class, a row per scale). Guidance 0 is the unconditional model: the chance level.

With --model, steps 1 and 2 are skipped and that class-conditional model folder is scored.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image

from pixeldrift.evaluate.class_conditional import WORLD_CLASSES, class_accuracy, export_class_folders
from pixeldrift.pipeline.contact_sheet import labelled_sheet
from pixeldrift.pipeline.request import GenerationRequest
from pixeldrift.pipeline import load_model
from pixeldrift.train.run import ModelChoice, train_text_to_image
from pixeldrift.train.trainer import TrainerConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="a new folder: data/, run/, model/")
    parser.add_argument("--kind", choices=sorted(WORLD_CLASSES), default="colour")
    parser.add_argument("--model", type=Path, help="score this class-conditional model folder; train none")
    parser.add_argument("--per-class", type=int, default=256)
    parser.add_argument("--size", type=int, choices=(32, 64), default=32)
    parser.add_argument("--steps", type=int, default=400, help="training steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--denoiser-preset", default="tiny", help="cpu or a preset of `pixeldrift nets`")
    parser.add_argument("--guidance", type=float, nargs="+", default=[0, 1, 3, 5])
    parser.add_argument("--samples", type=int, default=32, help="samples per class and guidance scale")
    parser.add_argument("--sample-steps", type=int, default=20)
    args = parser.parse_args()

    started = time.perf_counter()
    model = train(args) if args.model is None else load_model(args.model)
    classes = model.config.text_encoder.classes
    trained = time.perf_counter()
    print(f"model ready in {trained - started:.0f} s; {args.samples} samples per class and scale, "
          f"{args.sample_steps} steps of the model's sampler")
    print(f"\n| guidance | shows its class | {' | '.join(classes)} |")
    print(f"|---:|---:|{'---:|' * len(classes)}")
    for guidance in args.guidance:
        result = class_accuracy(model, guidance, args.samples, args.sample_steps)
        cells = " | ".join(f"{100 * ok / n:.0f}%" for ok, n in result.per_class.values())
        print(f"| {guidance:g} | {100 * result.accuracy:.1f}% ({result.correct}/{result.total}) | {cells} |",
              flush=True)
    print(f"\nsampled in {time.perf_counter() - trained:.0f} s")
    sheet = sample_sheet(model, args.guidance, args.sample_steps)
    args.out.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out / "samples.png")
    print(f"wrote {args.out / 'samples.png'}")


def train(args):
    """Steps 1 and 2: the class folders, and the model trained on them."""
    classes = WORLD_CLASSES[args.kind]
    data = export_class_folders(args.out / "data", classes, args.per_class, args.size)
    config = TrainerConfig(steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                           warmup_steps=min(50, args.steps // 4), checkpoint_every=args.steps)
    choice = ModelChoice(text_encoder="class-label", denoiser_preset=args.denoiser_preset)
    print(f"pixeldrift train t2i --data {data} --text-encoder class-label --size {args.size} "
          f"--denoiser-preset {args.denoiser_preset} --steps {args.steps} --batch-size {args.batch_size} "
          f"--lr {args.lr} --warmup {config.warmup_steps} --checkpoint-every {args.steps} "
          f"--out {args.out / 'run'} --export {args.out / 'model'}")
    return train_text_to_image(args.out / "run", config, None, data=str(data), size=args.size,
                               export=args.out / "model", choice=choice).eval()


def sample_sheet(model, guidances: list[float], steps: int, per_class: int = 3, zoom: int = 2) -> Image.Image:
    """A row per guidance scale: `per_class` samples of each class (seeds 0, 1, ...), enlarged `zoom` times."""
    classes = model.config.text_encoder.classes
    size = model.config.image_size
    images = []
    for guidance in guidances:
        settings = GenerationRequest(prompt="-", guidance=guidance, steps=steps, width=size, height=size)
        prompts = [name for name in classes for _ in range(per_class)]
        samples = model.sample(prompts, list(range(per_class)) * len(classes), settings)
        images += [image.resize((size * zoom, size * zoom), Image.Resampling.NEAREST) for image in samples]
    return labelled_sheet(images, per_class * len(classes), [name for name in classes for _ in range(per_class)],
                          [f"guidance {g:g}" for g in guidances], "samples of each class")


if __name__ == "__main__":
    main()

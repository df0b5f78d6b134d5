"""Personalisation measured in the world: LoRA, DreamBooth (with and without prior preservation) and textual
inversion teach the default model a subject it has never drawn, a crescent (bench/personalise_subject.py:
five images in five colours and places), each trained on this CPU on one thread, then measured exactly.

    nice -n 19 python bench/personalise.py --out runs/pers-bench              # four methods, about an hour
    python bench/personalise.py --out runs/pers-bench --methods db-lora-prior,lora@0.5  # more rows
    python bench/personalise.py --out runs/pers-smoke --steps 4 --seeds 1 --heldout-limit 4   # a smoke run

Columns (every generation: the model's default sampler, 20 steps, guidance 4, 64 px):
  alone      share of 'a {colour} sks shape' (red, blue, orange, green) whose object has the crescent's
             silhouette (IoU >= 0.7 after bounding-box alignment) and whose scene verifies
  in a scene share of 'a red sks shape to the left of a blue square' with the crescent and the rest verified
  planned scene  the same prompt drawn by plan and composition (`pixeldrift subject-scene`): the base and its
             layout ControlNet draw the rest, the personalised model the subject alone, cut into its box
  class drift share of 'a {colour} shape' (the class noun, no identifier) that draw the crescent: the
             language drift of Ruiz et al. (section 4.3), which prior preservation is there to prevent
  held-out   the compositional benchmark's held-out prompts (73 x 4 seeds) with the adapter loaded and the
             identifier unused, against the base model
  train      CPU minutes of training (one thread: what it takes on a free core) and the wall-clock minutes
             on this shared machine; the size of what it writes

A method already trained in OUT (its done.json) is measured again without training again.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from personalise_subject import IDENTIFIER, TRAINING_COLOURS, crescent, write_subject_folder
from pixeldrift.data import WorldStream
from pixeldrift.evaluate.compose import ComposeSettings, load_prompts, model_generator, overall, timed_scores
from pixeldrift.evaluate.subject_fidelity import judge_subject
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.contact_sheet import contact_sheet
from pixeldrift.pipeline.controlnet_folder import load_controlnet
from pixeldrift.pipeline.subject_scene import draw_subject_scene
from pixeldrift.train.dreambooth import generate_class_images, train_dreambooth
from pixeldrift.train.lora import LoRASettings, train_lora
from pixeldrift.train.textual_inversion import train_textual_inversion
from pixeldrift.train.trainer import TrainerConfig
from pixeldrift.world import SHAPES, parse_prompt, verify

COLOURS = ("red", "blue", "orange", "green")
SCENE_PROMPT = f"a red {IDENTIFIER} shape to the left of a blue square"


@dataclass(frozen=True)
class Method:
    name: str
    kind: str           # lora | dreambooth | textual-inversion
    learning_rate: float
    prior: bool = True
    lora: bool = False  # DreamBooth: LoRA adapters instead of the whole denoiser
    steps: int = 0      # 0: --steps
    convolutions: bool = False  # LoRA: adapters on every convolution too
    context: bool = False  # the subject's images: three of five beside a world object (personalise_subject)
    class_data: str = ""  # DreamBooth's class images: "" drawn by the base from the subject's captions less the
    #                       identifier; "world": world renders with their captions; "world+class": both


METHODS = {
    "lora": Method("LoRA (rank 4, attention)", "lora", 3e-3),
    "lora-conv": Method("LoRA (rank 4, attention and convolutions)", "lora", 3e-3, convolutions=True),
    "lora-light": Method("LoRA (rank 4, attention), lr 1e-3, 150 steps", "lora", 1e-3, steps=150),
    "db-prior": Method("DreamBooth, full, prior preservation", "dreambooth", 3e-4),
    "db-noprior": Method("DreamBooth, full, no prior", "dreambooth", 3e-4, prior=False),
    "db-lora-prior": Method("DreamBooth, LoRA, prior preservation", "dreambooth", 3e-3, lora=True),
    "db-world": Method("DreamBooth, full, world images as the prior", "dreambooth", 3e-4, class_data="world"),
    "db-world-class": Method("DreamBooth, full, world images and drawn class images as the prior", "dreambooth",
                             3e-4, class_data="world+class"),
    "db-world-context": Method("DreamBooth, full, world prior, subject shown beside other objects", "dreambooth",
                               3e-4, class_data="world", context=True),
    "db-world-800": Method("DreamBooth, full, world images as the prior, 800 steps", "dreambooth", 3e-4,
                           class_data="world", steps=800),
    "db-world-200": Method("DreamBooth, full, world images as the prior, 200 steps", "dreambooth", 3e-4,
                           class_data="world", steps=200),
    "db-world-context-200": Method("DreamBooth, full, world prior, subject beside other objects, 200 steps",
                                   "dreambooth", 3e-4, class_data="world", context=True, steps=200),
    "lora-context": Method("LoRA (rank 4, attention), subject shown beside other objects", "lora", 3e-3,
                           context=True),
    "db-lora-world": Method("DreamBooth, LoRA, world images as the prior", "dreambooth", 3e-3, lora=True,
                            class_data="world"),
    "ti": Method("Textual inversion", "textual-inversion", 5e-3),
}


def export_path(out: Path, key: str) -> Path:
    method = METHODS[key]
    return out / key / ("model" if method.kind == "dreambooth" and not method.lora else f"{key}.safetensors")


def train_method(key: str, args, data: Path, init_word: str = "shape") -> dict:
    """Train one method (unless OUT/key/done.json says it is done); returns its time and file size.
    `init_word`: the word a textual inversion starts from."""
    method, run = METHODS[key], args.out / key
    done = run / "done.json"
    if done.is_file():
        return json.loads(done.read_text())
    steps = method.steps or args.steps
    config = TrainerConfig(steps=steps, batch_size=args.batch_size, learning_rate=method.learning_rate,
                           warmup_steps=min(20, steps // 4), ema_decay=0.99, checkpoint_every=100,
                           log_every=10, seed=0, max_minutes=args.max_minutes)
    export, base = export_path(args.out, key), Path(args.model)
    class_data = class_folder(method.class_data, args) if method.class_data else None
    started, cpu_started = time.perf_counter(), time.process_time()
    if method.kind == "lora":
        trainer = train_lora(run, config, base, data, LoRASettings(convolutions=method.convolutions), export=export)
    elif method.kind == "dreambooth":
        trainer = train_dreambooth(run, config, base, data, IDENTIFIER, prior=method.prior,
                                   lora=LoRASettings() if method.lora else None, export=export,
                                   class_data=class_data)
    else:
        trainer = train_textual_inversion(run, config, base, data, IDENTIFIER, init_word=init_word, export=export)
    cpu, wall = time.process_time() - cpu_started, time.perf_counter() - started
    size = (export / "denoiser.safetensors").stat().st_size if export.is_dir() else export.stat().st_size
    record = {"cpu_minutes": cpu / 60, "wall_minutes": wall / 60, "bytes": size, "steps": trainer.step,
              "lr": method.learning_rate}
    done.write_text(json.dumps(record) + "\n")
    return record


def class_folder(kind: str, args) -> Path:
    """The class images of a "world" or "world+class" row, written once into OUT/class-<kind>: --class-count
    training-split world renders with their captions (a prior the data shows: no world caption says "shape"),
    and for "world+class" also 50 images the base drew from 'a {colour} shape', the subject's class captions."""
    folder = args.out / f"class-{kind.replace('+', '-')}"
    if (folder / "metadata.jsonl").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    stream, lines = WorldStream(seed=args.class_seed, size=64), []
    for index in range(args.class_count):
        pixels, caption = stream.example(index)
        Image.fromarray(pixels).save(folder / f"world-{index:05d}.png")
        lines.append({"file_name": f"world-{index:05d}.png", "text": caption})
    if kind == "world+class":
        drawn = generate_class_images(load_model(args.model), [f"a {c} shape" for c in TRAINING_COLOURS], 50,
                                      args.out / "class-drawn")
        for row in map(json.loads, (drawn / "metadata.jsonl").read_text().splitlines()):
            (folder / row["file_name"]).write_bytes((drawn / row["file_name"]).read_bytes())
            lines.append(row)
    (folder / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


def personalised_model(key: str, args, weight: float = 1.0):
    """The model as a user would run it: the base with the file loaded (a LoRA at `weight`), or the
    fine-tuned folder."""
    if key == "base":
        return load_model(args.model)
    method, export = METHODS[key], export_path(args.out, key)
    if export.is_dir():
        return load_model(export)
    model = load_model(args.model)
    if method.kind == "textual-inversion":
        model.load_embedding(export)
    else:
        model.load_lora(export, weight)
    return model


@torch.no_grad()
def fidelity(model, prompts: list[str], seeds: int, template, sheet: Path | None = None) -> tuple[float, float]:
    """(share whose subject matches and scene verifies, share whose subject matches) over prompts x seeds."""
    settings = GenerationRequest(prompt="-", width=64, height=64)
    jobs = [(p, s) for p in prompts for s in range(seeds)]
    images = model.sample([p for p, _ in jobs], [s for _, s in jobs], settings)
    if sheet is not None:
        contact_sheet(images[:16]).save(sheet)
    verdicts = [judge_subject(image, prompt, IDENTIFIER, template) for (prompt, _), image in zip(jobs, images)]
    return sum(v.ok for v in verdicts) / len(verdicts), sum(v.subject_ok for v in verdicts) / len(verdicts)


def measure(key: str, args, template, weight: float = 1.0) -> dict:
    """The row's measurements (kept in OUT/<row>/measure.json: a later run with more rows reuses them)."""
    folder = args.out / (key if weight == 1 else f"{key}@{weight:g}")
    if (folder / "measure.json").is_file():
        return json.loads((folder / "measure.json").read_text())
    model = personalised_model(key, args, weight).eval()
    folder.mkdir(parents=True, exist_ok=True)
    alone, _ = fidelity(model, [f"a {c} {IDENTIFIER} shape" for c in COLOURS], args.seeds, template,
                        folder / "alone.png")
    scene, scene_subject = fidelity(model, [SCENE_PROMPT], 4 * args.seeds, template, folder / "scene.png")
    _, drift = fidelity(model, [f"a {c} shape" for c in COLOURS], args.seeds, template, folder / "class.png")
    result = {"alone": alone, "scene": scene, "scene_subject": scene_subject, "class_drift": drift,
              "heldout": heldout_accuracy(model, key, args)}
    (folder / "measure.json").write_text(json.dumps(result) + "\n")
    return result


@torch.no_grad()
def planned_scene(key: str, args, template, weight: float = 1.0) -> dict:
    """The scene prompt drawn by plan and composition (pipeline/subject_scene.py: the base and its layout
    ControlNet draw the rest, the personalised model the subject alone, cut out into its box), 4 x --seeds
    seeds: {"planned": subject matches and scene verifies, "planned_subject": subject matches}; kept in
    OUT/<row>/planned.json."""
    folder = args.out / (key if weight == 1 else f"{key}@{weight:g}")
    record = folder / "planned.json"
    if record.is_file():
        return json.loads(record.read_text())
    base, controlnet = load_model(args.model).eval(), load_controlnet(args.controlnet)
    personalised = personalised_model(key, args, weight).eval()
    verdicts, images = [], []
    for seed in range(4 * args.seeds):
        try:
            result, _ = draw_subject_scene(base, controlnet, personalised, SCENE_PROMPT, IDENTIFIER, seed)
        except ValueError:  # nothing drawn to cut out: the subject is missing
            verdicts.append(None)
            continue
        images.append(result.image)
        verdicts.append(judge_subject(result.image, SCENE_PROMPT, IDENTIFIER, template))
    contact_sheet(images[:16]).save(folder / "planned.png")
    drawn = [v for v in verdicts if v is not None]
    result = {"planned": sum(v.ok for v in drawn) / len(verdicts),
              "planned_subject": sum(v.subject_ok for v in drawn) / len(verdicts)}
    record.write_text(json.dumps(result) + "\n")
    return result


@torch.no_grad()
def scene_ceiling(args, seeds: int = 8) -> tuple[int, int]:
    """How often the base model draws the scene prompt with one of the world's own shapes in the subject's
    place ("a red circle to the left of a blue square", each shape x `seeds`): what any personalisation
    of it can hope for in a scene. (verified, drawn), kept in OUT/base/ceiling.json."""
    record = args.out / "base" / "ceiling.json"
    if record.is_file():
        return tuple(json.loads(record.read_text()))
    prompts = [SCENE_PROMPT.replace(f"{IDENTIFIER} shape", shape) for shape in SHAPES for _ in range(seeds)]
    images = load_model(args.model).eval().sample(prompts, [i % seeds for i in range(len(prompts))],
                                                  GenerationRequest(prompt="-", width=64, height=64))
    result = (sum(verify(image, parse_prompt(p)).ok for p, image in zip(prompts, images)), len(prompts))
    record.write_text(json.dumps(result) + "\n")
    return result


def heldout_accuracy(model, key: str, args) -> float:
    """The compositional benchmark's held-out accuracy (the first --heldout-limit prompts) of `model`."""
    prompts = load_prompts("heldout")[:args.heldout_limit or None]
    scores, _ = timed_scores(model_generator(model, 64), prompts, ComposeSettings(model=key, size=64))
    return overall(scores)


def row_cells(key: str, r: dict, base_heldout: float) -> tuple[str, str, str, str]:
    """A row's name, held-out cell (with its difference from the base), training cost and file size."""
    method, _, weight = key.partition("@")
    name = "base model (no training)" if key == "base" else METHODS[method].name + \
        (f", loaded at weight {weight}" if weight else "")
    train = f"{r['cpu_minutes']:.1f} ({r['wall_minutes']:.1f}), {r['steps']} steps" if "steps" in r else "-"
    size = f"{r['bytes'] / 1024:.1f} KB" if "bytes" in r else "-"
    delta = "" if key == "base" else f" ({100 * (r['heldout'] - base_heldout):+.1f})"
    return name, f"{r['heldout']:.1%}{delta}", train, size


def table(rows: dict[str, dict]) -> str:
    lines = ["| method | alone | in a scene (subject only) | planned scene (subject only) | class drift | "
             "held-out (vs base) | train CPU min (wall) | file |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, r in rows.items():
        name, heldout, train, size = row_cells(key, r, rows["base"]["heldout"])
        lines.append(f"| {name} | {r['alone']:.1%} | {r['scene']:.1%} ({r['scene_subject']:.1%}) | "
                     f"{r['planned']:.1%} ({r['planned_subject']:.1%}) | {r['class_drift']:.1%} | {heldout} | "
                     f"{train} | {size} |")
    return "\n".join(lines)


def figure(rows: dict[str, dict], out: Path) -> Image.Image:
    """Each row's first four images of 'a {colour} sks shape', the scene prompt, 'a {colour} shape' and the
    planned scene, side by side (from OUT/<row>/alone.png, scene.png, class.png, planned.png), the row's name
    above them."""
    strips = []
    for key in rows:
        sheets = [Image.open(out / key / f"{part}.png") for part in ("alone", "scene", "class", "planned")]
        strip = Image.new("RGB", (sum(s.width for s in sheets) + 16, sheets[0].height // 4 + 14), "white")
        for index, sheet in enumerate(sheets):
            strip.paste(sheet.crop((0, 0, sheet.width, sheet.height // 4)), (index * (sheet.width + 8), 14))
        ImageDraw.Draw(strip).text((2, 1), key, fill=(0, 0, 0))
        strips.append(strip)
    image = Image.new("RGB", (strips[0].width, sum(s.height for s in strips)), "white")
    for index, strip in enumerate(strips):
        image.paste(strip, (0, index * strips[0].height))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where the runs, samples and the table go")
    parser.add_argument("--model", default="models/default", help="the base model folder")
    parser.add_argument("--methods", default="lora,db-prior,db-noprior,ti",
                        help=f"comma-separated, of: {', '.join(METHODS)}")
    parser.add_argument("--steps", type=int, default=400, help="training steps of every method")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-minutes", type=float, default=9.5, help="stop any training here (then export)")
    parser.add_argument("--seeds", type=int, default=6, help="seeds per prompt (the scene prompt gets 4x)")
    parser.add_argument("--heldout-limit", type=int, default=0, help="only the first N held-out prompts (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--class-count", type=int, default=200, help="world images in a world prior's class folder")
    parser.add_argument("--class-seed", type=int, default=7, help="the world stream's seed for those images")
    parser.add_argument("--controlnet", default="models/cn-layout", help="the base's layout ControlNet")
    parser.add_argument("--figure", type=Path, help="also write the rows' first samples to this PNG")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    data = write_subject_folder(args.out / "subject")
    context_data = write_subject_folder(args.out / "subject-context", context=True)
    template = crescent()
    rows = {"base": {**measure("base", args, template), **planned_scene("base", args, template)}}
    print(f"base: {rows['base']}", flush=True)
    for entry in args.methods.split(","):  # "lora@0.5": the LoRA trained as "lora", loaded at weight 0.5
        key, _, weight = entry.partition("@")
        subject = context_data if METHODS[key].context else data
        rows[entry] = {**train_method(key, args, subject), **measure(key, args, template, float(weight or 1)),
                       **planned_scene(key, args, template, float(weight or 1))}
        print(f"{entry}: {rows[entry]}", flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    verified, drawn = scene_ceiling(args)
    footer = f"\nThe base model with a world shape in the subject's place: {verified}/{drawn} scenes verified."
    print("\n" + table(rows) + footer)
    (args.out / "table.md").write_text(table(rows) + footer + "\n")
    if args.figure:
        figure(rows, args.out).quantize(64).save(args.figure, optimize=True)  # 64 colours: half the bytes


if __name__ == "__main__":
    main()

"""DDIM inversion on world scenes: reconstruction PSNR by steps and guidance, and editing by inversion vs SDEdit.

(a) Reconstruction: world scenes (every kind, the training split) rendered at the model's size,
    each inverted with its caption and regenerated with it; mean PSNR against the render, for
    plain inversion at guidance 1 and 4 and the fixes at guidance 4 (negative-prompt inversion on
    every scene, null-text optimisation on the first --null-text-scenes at the fewest steps: it
    costs a backward pass per iteration per step). The VAE's own round trip is the ceiling.
(b) Editing: held-out position scenes ("a star above a circle" with colours, sizes and background
    filled in at random); caption A is the scene's, caption B changes the first object's colour.
    Invert with A, regenerate with B. Success: the verifier accepts B and every other object's
    centre moved <= 2 px from where the render put it. Baseline: SDEdit (image-to-image) with B
    at the same strength, sampler (DDIM = Euler), steps and guidance. A method named with
    "+diffedit" redraws only inside DiffEdit's mask (applications/diffedit.py). With --replan
    CONTROLNET, the layout edit (pipeline/layout_edit.py; LMD's instruction-based editing, Lian et
    al. 2023, sec. 3.3): the source's objects read back from its pixels, the edited object's colour
    changed in that layout, and the changed object's box (3 px wider) repainted from B with the
    layout ControlNet at the row's strength; beside it the same layout drawn over the whole picture
    by image-to-image (1: from noise with the case's seed) and the box repainted without the ControlNet.

    nice -n 19 python bench/inversion.py --scenes 16 --edits 16
    python bench/inversion.py --scenes 4 --edits 4 --steps 10 --edit-strengths 1.0   # a quick look
    nice -n 19 python bench/inversion.py --scenes 0 --edits 16 --edit-methods negative-prompt+diffedit,plain+diffedit
    nice -n 19 python bench/inversion.py --scenes 0 --edits 48 --edit-methods plain --replan models/cn-layout
"""

from __future__ import annotations

import argparse
import functools
import random
import time
from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from pixeldrift import world
from pixeldrift.applications.inversion import InversionSettings, invert_images, psnr, regenerate
from pixeldrift.pipeline import GenerationRequest, load_model
from pixeldrift.pipeline.pixels import images_to_pixels, pixels_to_images

MOVE_LIMIT_PX = 2.0


def reconstruction_scenes(count: int, size: int, seed: int) -> tuple[list[Image.Image], list[str]]:
    rng = random.Random(seed)
    specs = [world.sample_spec(rng) for _ in range(count)]
    return ([world.render_image(spec, size=size, seed=seed + i) for i, spec in enumerate(specs)],
            [world.caption(spec) for spec in specs])


def psnrs(model, inversion, images, settings) -> list[float]:
    out = pixels_to_images(regenerate(model, inversion, None, settings))
    return [psnr(a, b) for a, b in zip(images, out)]


def table_a(model, args, size: int) -> list[str]:
    images, captions = reconstruction_scenes(args.scenes, size, args.seed)
    rows: dict[str, dict[int, float]] = {}
    base = InversionSettings(null_text_iterations=args.null_text_iterations)
    for steps in args.steps:
        started = time.perf_counter()
        at_one = replace(base, steps=steps, guidance=1.0)
        pivot = invert_images(model, images, captions, at_one)  # plain at guidance 1 = both fixes' inversion
        for guidance in args.guidance:
            plain = replace(at_one, guidance=guidance)
            inversion = pivot if guidance == 1 else invert_images(model, images, captions, plain)
            plain_psnrs = psnrs(model, inversion, images, plain)
            rows.setdefault(f"plain, guidance {guidance:g}", {})[steps] = float(np.mean(plain_psnrs))
            if guidance == 1:
                continue
            fixed = replace(plain, method="negative-prompt")
            rows.setdefault(f"negative-prompt, guidance {guidance:g}", {})[steps] = \
                float(np.mean(psnrs(model, pivot, images, fixed)))
            if steps == min(args.steps) and args.null_text_scenes:
                k, null = args.null_text_scenes, replace(plain, method="null-text")
                optimised = invert_images(model, images[:k], captions[:k], null)
                rows.setdefault(f"null-text, guidance {guidance:g} (first {k} scenes)", {})[steps] = \
                    float(np.mean(psnrs(model, optimised, images[:k], null)))
                rows.setdefault(f"plain, guidance {guidance:g} (same {k} scenes)", {})[steps] = \
                    float(np.mean(plain_psnrs[:k]))
        print(f"  (a) {steps} steps: {time.perf_counter() - started:.0f} s", flush=True)
    with torch.no_grad():
        vae = model.to_images(model.pixels_to_latents(images_to_pixels(images)))
    ceiling = np.mean([psnr(a, b) for a, b in zip(images, vae)])
    lines = [f"(a) reconstruction PSNR (dB), mean over {args.scenes} world scenes at {size}x{size}; "
             f"the VAE alone: {ceiling:.2f} dB", "",
             "| method | " + " | ".join(f"{s} steps" for s in args.steps) + " |",
             "|---|" + "---:|" * len(args.steps)]
    lines += [f"| {name} | " + " | ".join(f"{cells[s]:.2f}" if s in cells else "-" for s in args.steps) + " |"
              for name, cells in rows.items()]
    return lines


def edit_cases(count: int, seed: int):
    """(spec A, spec B): a held-out position scene and the same with its first object's colour changed."""
    rng = random.Random(seed)
    prompts = [p for category, p in world.HELDOUT_PROMPTS if category == "position"]
    cases = []
    while len(cases) < count:
        a = world.resolve_wildcards(world.parse_prompt(rng.choice(prompts)), rng)
        first = a.groups[0]
        colour = rng.choice([c for c in world.COLOURS if c not in (first.colour, a.groups[1].colour)])
        cases.append((a, replace(a, groups=(replace(first, colour=colour),) + a.groups[1:])))
    return cases


def judge(edited: Image.Image, spec, kept: list[tuple[float, float]], size: int) -> tuple[bool, bool]:
    """(the verifier accepts spec, every object but the first has a same-shape, same-colour object within 2 px)."""
    result = world.verify(edited, spec)
    objects = result.seen.get("objects", [])

    def moved(group, centre) -> float:
        return min((np.hypot(o["cx"] - centre[0], o["cy"] - centre[1]) * size for o in objects
                    if o["shape"] == group.shape and o["colour"] == group.colour), default=np.inf)
    return result.ok, all(moved(g, c) <= MOVE_LIMIT_PX for g, c in zip(spec.groups[1:], kept))


def verdict_row(name: str, strength: float, verdicts: list[tuple[bool, bool]]) -> str:
    n, accepted, kept = len(verdicts), sum(v[0] for v in verdicts), sum(v[1] for v in verdicts)
    both = sum(v[0] and v[1] for v in verdicts)
    return f"| {name} | {strength:g} | {accepted}/{n} | {kept}/{n} | **{both}/{n} ({both / n:.0%})** |"


def kept_centres(image: Image.Image, spec_a) -> list[tuple[float, float]]:
    """Where the render put the objects the edit must not move (all but the first), read by the verifier."""
    objects = world.verify(image, spec_a).seen["objects"]
    return [next((o["cx"], o["cy"]) for o in objects if o["shape"] == g.shape and o["colour"] == g.colour)
            for g in spec_a.groups[1:]]


def replanned_edits(model, args, images, captions_a, captions_b, strength: float, masked: bool,
                    controlled: bool = True) -> list[Image.Image]:
    """Each case's layout edit (pipeline/layout_edit.py): the changed objects' boxes repainted from B with the
    layout ControlNet steering the edited layout at `strength`; not `masked`: image-to-image over the whole
    picture instead (strength 1: from noise); not `controlled`: the boxes repainted from B's words alone."""
    from pixeldrift.pipeline.controlnet_folder import load_controlnet
    from pixeldrift.pipeline.layout_edit import layout_edit_request, plan_layout_edit

    controlnet = load_controlnet(args.replan)
    edits = []
    for i, (image, caption_a, caption_b) in enumerate(zip(images, captions_a, captions_b)):
        request = layout_edit_request(plan_layout_edit(image, caption_a, caption_b), image, controlnet, caption_b,
                                      args.seed + i, strength, steps=args.edit_steps, guidance=args.edit_guidance,
                                      excite=0.0)
        if not masked:
            request = replace(request, mask=None, **({"init_image": None} if strength >= 1 else {}))
        if not controlled:
            request = replace(request, controls=())
        edits.append(model.sample([caption_b], [args.seed + i], request)[0])
    return edits


def table_b(model, args, size: int) -> list[str]:
    cases = edit_cases(args.edits, args.seed + 1)
    images = [world.render_image(a, size=size, seed=args.seed + i) for i, (a, _) in enumerate(cases)]
    captions_a, captions_b = [world.caption(a) for a, _ in cases], [world.caption(b) for _, b in cases]
    centres = [kept_centres(image, a) for image, (a, _) in zip(images, cases)]
    rows = []
    for strength in args.edit_strengths:
        started = time.perf_counter()
        common = InversionSettings(steps=args.edit_steps, guidance=args.edit_guidance, strength=strength)
        outputs = {}
        for method in args.edit_methods:  # "negative-prompt", or "negative-prompt+diffedit" for the masked edit
            base_method, *extras = method.split("+")
            settings = replace(common, method=base_method, diffedit="diffedit" in extras,
                               prompt_to_prompt=args.p2p_share if "p2p" in extras else 0.0)
            inversion = invert_images(model, images, captions_a, settings)
            outputs[method] = pixels_to_images(regenerate(model, inversion, captions_b, settings))
            if method == "negative-prompt":  # the ceiling of editing: the same inversion regenerated with A
                back = pixels_to_images(regenerate(model, inversion, None, settings))
                rows.append(verdict_row("no edit: reconstruction with A", strength,
                                        [judge(e, a, c, size) for e, (a, _), c in zip(back, cases, centres)]))
        outputs["SDEdit"] = [model.sample([b], [args.seed + i], GenerationRequest(
            prompt=b, init_image=image, strength=strength, steps=args.edit_steps, sampler="euler",
            guidance=args.edit_guidance, excite=0.0))[0]
            for i, (image, b) in enumerate(zip(images, captions_b))]
        if args.replan:
            edit = functools.partial(replanned_edits, model, args, images, captions_a, captions_b, strength)
            outputs["re-planned layout + layout ControlNet, whole picture"] = edit(masked=False)
            outputs["layout edit: the changed object's box repainted"] = edit(masked=True)
            outputs["that box repainted from B without the ControlNet"] = edit(masked=True, controlled=False)
        for name, edits in outputs.items():
            verdicts = [judge(e, b, c, size) for e, (_, b), c in zip(edits, cases, centres)]
            rows.append(verdict_row(name, strength, verdicts))
        print(f"  (b) strength {strength:g}: {time.perf_counter() - started:.0f} s", flush=True)
    return [f"(b) edit by inversion: {len(cases)} held-out position scenes, first object's colour changed; "
            f"{args.edit_steps} steps, guidance {args.edit_guidance:g}",
            "", "| method | strength | verifier accepts B (A for no edit) | other objects within 2 px | success |",
            "|---|---:|---:|---:|---:|"] + rows


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--scenes", type=int, default=16, help="(a): world scenes to reconstruct")
    parser.add_argument("--steps", default="10,20,50", help="(a): comma-separated step counts")
    parser.add_argument("--guidance", default="1,4", help="(a): comma-separated guidance scales")
    parser.add_argument("--null-text-scenes", type=int, default=4, help="(a): scenes null-text runs on (0: none)")
    parser.add_argument("--null-text-iterations", type=int, default=5)
    parser.add_argument("--edits", type=int, default=16, help="(b): edit cases (0: skip (b))")
    parser.add_argument("--edit-steps", type=int, default=20)
    parser.add_argument("--edit-guidance", type=float, default=4.0)
    parser.add_argument("--edit-strengths", default="0.6,1.0")
    parser.add_argument("--edit-methods", default="negative-prompt,plain",
                        help="inversion methods; '+diffedit' after one (negative-prompt+diffedit) masks the edit, "
                             "'+p2p' keeps the source's cross-attention for --p2p-share of the steps")
    parser.add_argument("--p2p-share", type=float, default=0.8, help="(b): prompt-to-prompt's share of steps")
    parser.add_argument("--replan", default=None, metavar="CONTROLNET",
                        help="(b): a layout ControlNet folder: add the re-planned layout edit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    args.steps, args.guidance = [int(s) for s in args.steps.split(",")], floats(args.guidance)
    args.edit_strengths, args.edit_methods = floats(args.edit_strengths), args.edit_methods.split(",")
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    size = model.limits.default_width
    lines = table_a(model, args, size) if args.scenes else []
    if args.edits:
        lines += [""] + table_b(model, args, size)
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()

"""`pixeldrift audit`: the bias audit of a model, on prompts that leave choices open."""

from __future__ import annotations

import json
from pathlib import Path

import click
import torch

from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.classroom.audit import (DEFAULT_PROMPTS, MAX_REFERENCE, MAX_SAMPLES, NAMED_PROMPTS, audit_prompt,
                                        compare, folder_reference, model_sample, world_reference)
from pixeldrift.classroom.audit_report import chart, json_rows, table, title, unread
from pixeldrift.evaluate.compose import load_generator

MAX_PROMPTS = 16


@click.command()
@click.option("--model", default="default", show_default=True,
              help="default (the embedded model), groundtruth (the world's renderer) or a model folder.")
@click.option("--prompt", "prompts", multiple=True, metavar="TEXT",
              help=f"An underspecified prompt (repeatable): {', '.join(NAMED_PROMPTS)}, or one group of objects "
                   f"such as 'three stars' [default: {', '.join(DEFAULT_PROMPTS)}].")
@click.option("-n", "--samples", type=click.IntRange(1, MAX_SAMPLES), default=64, show_default=True,
              help="Images generated per prompt (seeds SEED .. SEED+N-1).")
@click.option("--reference", default="world", show_default=True,
              help="The training data to compare with: 'world' (the training stream) or the image folder "
                   "the model was trained on.")
@click.option("--reference-n", type=click.IntRange(1, MAX_REFERENCE), default=400, show_default=True,
              help="Training images read per prompt.")
@click.option("--seed", type=click.IntRange(0, 2**31), default=0, show_default=True)
@click.option("--steps", type=click.IntRange(1, 1000), default=20, show_default=True, help="Sampling steps.")
@click.option("--threads", type=click.IntRange(1, 256), default=1, show_default=True, help="CPU threads.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for report.md, report.json and chart.png [default: outputs/audit-MODEL].")
def audit(model, prompts, samples, reference, reference_n, seed, steps, threads, out):
    """Bias audit: what a model draws when the prompt leaves a choice open, against its training data.

    Each prompt is generated N times; every image is read with the world's readers (shape,
    colour, size, count and position of objects, a clock's time, the glasses' number and
    fill), and each attribute's distribution is compared with the training images that
    match the prompt and with uniform: total variation, the amplification of the outputs'
    majority value (its share in the outputs over its share in the data), Zhao et al.'s
    bias amplification and a chi-square p-value. Writes the table, the numbers and a chart.

    \b
    Examples:
      pixeldrift audit --model default
      pixeldrift audit --model default --prompt "some circles" -n 256
      pixeldrift audit --model runs/skewed-export --prompt "some circles" --reference runs/skewed-data
    """
    try:
        _audit(model, prompts, samples, reference, reference_n, seed, steps, threads, out)
    except ValueError as error:  # AuditError, BenchmarkError, a bad image folder: the sentence names it
        raise click.ClickException(str(error)) from None


def _audit(model, prompts, samples, reference, reference_n, seed, steps, threads, out) -> None:
    if len(prompts) > MAX_PROMPTS:
        raise click.BadParameter(f"{len(prompts)} prompts; accepted: at most {MAX_PROMPTS}", param_hint="--prompt")
    torch.set_num_threads(threads)
    chosen = [audit_prompt(p) for p in (prompts or DEFAULT_PROMPTS)]  # AuditError names a bad prompt first
    if reference != "world" and not Path(reference).is_dir():
        raise click.BadParameter(f"{reference!r} is neither 'world' nor a folder", param_hint="--reference")
    generate = load_generator(model, 64, steps)
    rows, unreadable = [], {}
    for prompt in chosen:
        data = (world_reference(prompt, reference_n, seed) if reference == "world"
                else folder_reference(prompt, Path(reference), reference_n))
        outputs = model_sample(generate, prompt, samples, seed)
        unreadable[prompt.prompt] = unread(outputs, data)
        rows += [(prompt.prompt, a) for a in compare(prompt, outputs, data)]
        click.echo(f"{prompt.prompt!r}: {samples} images read ({outputs.unreadable} unreadable), "
                   f"{data.images} training images", err=True)
    text = table(rows)
    click.echo(text)
    out = out or Path("outputs") / f"audit-{Path(model).name or model}"
    out.mkdir(parents=True, exist_ok=True)
    heading = title(model, samples, reference, reference_n)
    report = {"model": model, "reference": reference, "samples": samples, "reference_n": reference_n, "seed": seed,
              "steps": steps, "unreadable": unreadable, "audits": json_rows(rows)}
    write_bytes_atomically(out / "report.md", f"{heading}\n\n{text}\n".encode())
    write_bytes_atomically(out / "report.json", json.dumps(report, indent=1, default=str).encode())
    write_bytes_atomically(out / "chart.png", chart(rows, heading))
    click.echo(f"wrote {out}/report.md, report.json, chart.png")

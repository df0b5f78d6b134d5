"""Writing a compositional benchmark's results: report.json, report.md and failures.png.

Every file is written atomically (a temporary file in the same folder, flushed to
disk, then renamed), so an interrupted run never leaves a half-written report.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
import io
import json
from pathlib import Path
import platform
import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pixeldrift import __version__
from pixeldrift.atomic_write import write_bytes_atomically
from pixeldrift.evaluate.compose import CategoryScore, ComposeSettings, SampleResult, overall

TILE, CAPTION_LINES, COLUMNS, WRAP = 160, 6, 6, 30


def report_dict(settings: ComposeSettings, scores: dict[str, CategoryScore],
                results: list[SampleResult]) -> dict:
    """The JSON report: settings, versions, per-category and overall accuracy, every sample."""
    return {
        "benchmark": "compose",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {**asdict(settings), "seeds": list(settings.seeds)},
        "versions": {"pixeldrift": __version__, "python": platform.python_version(), "numpy": np.__version__,
                     "pillow": Image.__version__},
        "categories": {name: {"correct": s.correct, "total": s.total, "accuracy": s.accuracy}
                       for name, s in scores.items()},
        "overall": overall(scores),
        "all_samples": sum(r.ok for r in results) / len(results) if results else float("nan"),
        "samples": [asdict(r) for r in results],
    }


def markdown_table(report: dict) -> str:
    """Accuracy per category and overall, with the settings underneath."""
    lines = ["| category | correct | total | accuracy |", "|---|---:|---:|---:|"]
    for name, s in report["categories"].items():
        lines.append(f"| {name} | {s['correct']} | {s['total']} | {100 * s['accuracy']:.1f}% |")
    correct = sum(s["correct"] for s in report["categories"].values())
    total = sum(s["total"] for s in report["categories"].values())
    lines.append(f"| **overall** (mean of categories) | | | **{100 * report['overall']:.1f}%** |")
    lines.append(f"| all samples | {correct} | {total} | {100 * report['all_samples']:.1f}% |")
    settings = ", ".join(f"{k}={v}" for k, v in report["settings"].items())
    return "\n".join([f"# Compositional benchmark: {report['settings']['model']}", "", *lines, "",
                      f"Settings: {settings}. Created {report['created']}.", ""])


def comparison_table(first: str, rows: list[tuple[str, dict[str, CategoryScore], dict[str, str]]]) -> str:
    """Runs side by side in one markdown table: a row per run (its name, each category's accuracy, the
    overall accuracy in bold, then its further cells, e.g. {"s/image": "0.108"}); the first row's
    categories and further cells name the columns."""
    categories, further = list(rows[0][1]), list(rows[0][2])
    lines = ["| " + " | ".join([first, *categories, "overall", *further]) + " |",
             "|---|" + "---:|" * (len(categories) + 1 + len(further))]
    for name, scores, cells in rows:
        accuracies = [f"{scores[c].accuracy:.1%}" for c in categories]
        lines.append("| " + " | ".join([name, *accuracies, f"**{overall(scores):.1%}**",
                                        *(cells[key] for key in further)]) + " |")
    return "\n".join(lines)


def failure_grid(failures: list[tuple[SampleResult, Image.Image]]) -> Image.Image:
    """Failed images in a grid, each upscaled with its prompt and what went wrong underneath."""
    font = ImageFont.load_default()
    line_height = 11
    cell_h = TILE + CAPTION_LINES * line_height + 6
    columns = min(COLUMNS, len(failures))
    rows = -(-len(failures) // columns)
    grid = Image.new("RGB", (columns * (TILE + 8), rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for index, (result, picture) in enumerate(failures):
        x, y = (index % columns) * (TILE + 8) + 4, (index // columns) * cell_h + 2
        grid.paste(picture.resize((TILE, TILE), Image.NEAREST), (x, y))
        draw.rectangle((x - 1, y - 1, x + TILE, y + TILE), outline=(160, 160, 160))  # pale images need an edge
        words = f"{result.prompt} (seed {result.seed}): {result.explanation.splitlines()[0]}"
        for n, line in enumerate(textwrap.wrap(words, width=WRAP)[:CAPTION_LINES]):
            draw.text((x, y + TILE + 2 + n * line_height), line, fill=(0, 0, 0), font=font)
    return grid


def write_report(out_dir: Path, report: dict, failures: list[tuple[SampleResult, Image.Image]]) -> list[Path]:
    """Write report.json, report.md and (when anything failed) failures.png; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json", out_dir / "report.md"]
    write_bytes_atomically(written[0], (json.dumps(report, indent=2) + "\n").encode())
    write_bytes_atomically(written[1], markdown_table(report).encode())
    grid_path = out_dir / "failures.png"
    if failures:
        buffer = io.BytesIO()
        failure_grid(failures).save(buffer, format="PNG")
        write_bytes_atomically(grid_path, buffer.getvalue())
        written.append(grid_path)
    elif grid_path.exists():
        grid_path.unlink()  # a stale grid from an earlier run would contradict this report
    return written

"""The bias audit's table (markdown) and chart (PNG): outputs, training data and uniform side by side."""

from __future__ import annotations

from dataclasses import asdict
import io
import math

from pixeldrift.classroom.audit_stats import AttributeAudit

COLUMNS = ("prompt", "attribute", "images read", "outputs' majority", "share in outputs", "share in training", "amplification",
           "Zhao BA", "TV to training", "TV to uniform", "training's TV to uniform", "p (vs training)")


def _ratio(value: float) -> str:
    return "never in training" if math.isinf(value) else f"{value:.2f}x"


def table(rows: list[tuple[str, AttributeAudit]]) -> str:
    """One markdown row per (prompt, attribute): images read (outputs / training), the figures, and the
    p-value, in bold below the skew threshold."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|---:|---|" + "---:|" * (len(COLUMNS) - 4)]
    for prompt, a in rows:
        p = f"**{a.p_reference:.3g}**" if a.skewed_from_reference else f"{a.p_reference:.3g}"
        read = f"{sum(a.outputs.values())} / {sum(a.reference.values())}"
        cells = [prompt, a.attribute, read, a.majority, f"{a.output_share:.1%}", f"{a.reference_share:.1%}",
                 _ratio(a.amplification), f"{a.zhao:+.3f}", f"{a.tv_reference:.3f}", f"{a.tv_uniform:.3f}",
                 f"{a.reference_tv_uniform:.3f}", p]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def title(model: str, samples: int, reference: str, reference_n: int) -> str:
    """The report's and the chart's title: what was audited, against what."""
    return f"{model}: {samples} images a prompt against {reference} ({reference_n} a prompt)"


def unread(outputs, reference) -> dict[str, str]:
    """How many of each sample's images (classroom.audit.Sample) the readers could not read: "k/n"."""
    return {"outputs": f"{outputs.unreadable}/{outputs.images}", "training": f"{reference.unreadable}/{reference.images}"}


def json_rows(rows: list[tuple[str, AttributeAudit]]) -> list[dict]:
    """Each (prompt, attribute) as JSON: every figure, and JSON has no infinity: an amplification over a value
    the data never showed is written as null (as any figure that is not finite)."""
    return [{key: None if isinstance(value, float) and not math.isfinite(value) else value
             for key, value in {"prompt": prompt, **asdict(a)}.items()} for prompt, a in rows]


def chart(rows: list[tuple[str, AttributeAudit]], title: str = "") -> bytes:
    """PNG bytes: one panel per (prompt, attribute), a pair of bars per value (outputs, training data)
    and the uniform share as a dashed line."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    columns = min(4, max(1, len(rows)))
    lines = -(-len(rows) // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 2.9 * lines), squeeze=False)
    for axis in axes.flat[len(rows):]:
        axis.set_visible(False)
    for axis, (prompt, a) in zip(axes.flat, rows):
        values = list(dict.fromkeys([*a.values, *a.outputs, *a.reference]))
        total_out, total_ref = sum(a.outputs.values()), sum(a.reference.values())
        x = range(len(values))
        axis.bar([i - 0.2 for i in x], [a.outputs.get(v, 0) / total_out for v in values], 0.4, label="outputs",
                 color="#d1495b")
        axis.bar([i + 0.2 for i in x], [a.reference.get(v, 0) / total_ref for v in values], 0.4,
                 label="training data", color="#4f6d7a")
        axis.axhline(1 / len(a.values), color="black", linestyle="--", linewidth=0.8, label="uniform")
        axis.set_xticks(list(x), values, rotation=60, ha="right", fontsize=7)
        axis.set_title(f"{prompt!r}: {a.attribute} (amplification {_ratio(a.amplification)})", fontsize=8)
        axis.tick_params(axis="y", labelsize=7)
    axes.flat[0].legend(fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()

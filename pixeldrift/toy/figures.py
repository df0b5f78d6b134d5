"""Pictures of the toy lab, drawn with matplotlib: every panel of a figure shares its axes,
so a wider cloud is a wider cloud; colour and arrow length carry magnitudes.

matplotlib is imported when a figure is drawn, not with the lab: without it the lab
still trains, samples and measures, and says that figures were skipped.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from pixeldrift.atomic_write import write_bytes_atomically

DATA_COLOUR = "#d9773a"
SAMPLE_COLOUR = "#2f4b8f"
PANEL_INCHES = 3.1


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, or ImportError with the line that installs it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the toy lab draws its figures with matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _panels(n: int, title: str, rows: int = 1):
    plt = pyplot()
    cols = -(-n // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(PANEL_INCHES * cols, PANEL_INCHES * rows + 0.5),
                             sharex=True, sharey=True, squeeze=False, constrained_layout=True)
    fig.suptitle(title)
    for ax in axes.flat:
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _scatter(ax, points: torch.Tensor, colour: str, label: str | None = None, size: float = 2.0, alpha=0.5):
    p = points.detach().cpu().numpy()
    ax.scatter(p[:, 0], p[:, 1], s=size, c=colour, alpha=alpha, linewidths=0, label=label, rasterized=True)


def _limits(ax, half_width: float) -> None:
    ax.set_xlim(-half_width, half_width)
    ax.set_ylim(-half_width, half_width)


def save(fig, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    pyplot().close(fig)
    return write_bytes_atomically(path, buffer.getvalue())


def forward_process(data: torch.Tensor, noise: torch.Tensor, sigmas: tuple[float, ...], path: Path) -> Path:
    """x = x0 + sigma * eps at each sigma, on one shared pair of axes, with the data underneath."""
    fig, axes = _panels(len(sigmas), "The forward process: x = x0 + sigma * noise (shared axes)")
    for ax, sigma in zip(axes, sigmas):
        _scatter(ax, data, DATA_COLOUR, "data x0", alpha=0.25)
        _scatter(ax, data + sigma * noise, SAMPLE_COLOUR, "noisy x")
        ax.set_title(f"sigma = {sigma:g}")
    axes[0].legend(loc="upper left", fontsize=7, markerscale=4)
    _limits(axes[0], 1.1 * float((data + max(sigmas) * noise).abs().quantile(0.995)))
    return save(fig, path)


def drift_field(denoiser, sigmas: tuple[float, ...], data: torch.Tensor, path: Path, grid: int = 19,
                extent: float | None = None) -> Path:
    """Arrows from grid points x towards the model's clean guess D(x, sigma), on one scale for all panels.

    D(x, sigma) - x = sigma^2 * score, the pull the probability-flow ODE follows: long far
    from the data and at large sigma, short near the data at small sigma. Length and colour
    both show it; the longest arrow of the figure spans 2.5 grid cells.
    """
    plt = pyplot()
    extent = extent or 1.2 * float(data.abs().max())
    axis = torch.linspace(-extent, extent, grid)
    points = torch.cartesian_prod(axis, axis)
    pulls = []
    with torch.no_grad():
        for sigma in sigmas:
            pulls.append(denoiser(points, torch.full((len(points),), float(sigma))) - points)
    longest = max(float(p.norm(dim=1).max()) for p in pulls)
    shrink = min(1.0, 2.5 * (2 * extent / (grid - 1)) / max(longest, 1e-12))  # data units per unit of pull
    norm = plt.Normalize(0, longest)
    fig, axes = _panels(len(sigmas), "Where the model pulls each point: arrows towards D(x, sigma)"
                        + ("" if shrink == 1 else f", drawn at {shrink:.2g} of their length"))
    x, y = points[:, 0].numpy(), points[:, 1].numpy()
    for ax, sigma, pull in zip(axes, sigmas, pulls):
        _scatter(ax, data, DATA_COLOUR, "data", alpha=0.3)
        arrows = ax.quiver(x, y, shrink * pull[:, 0].numpy(), shrink * pull[:, 1].numpy(), pull.norm(dim=1).numpy(),
                           cmap="viridis", norm=norm, angles="xy", scale_units="xy", scale=1, width=0.006)
        ax.set_title(f"drift at sigma = {sigma:g}")
        _limits(ax, 1.1 * extent)
    fig.colorbar(arrows, ax=axes, shrink=0.8, label="|D(x, sigma) - x|, in data units")
    return save(fig, path)


def trajectories(paths: torch.Tensor, data: torch.Tensor, title: str, path: Path, shown: int = 120) -> Path:
    """paths: (steps + 1, N, 2) from noise to data: a light dot where each path starts, a dark one where it ends."""
    fig, axes = _panels(2, title)
    ax, right = axes
    _scatter(ax, data, DATA_COLOUR, "data", size=3, alpha=0.35)
    p = paths[:, :shown].numpy()
    for n in range(p.shape[1]):
        ax.plot(p[:, n, 0], p[:, n, 1], color="#7a8bb5", linewidth=0.6, alpha=0.6)
    ax.scatter(p[0, :, 0], p[0, :, 1], s=6, c="#9aa7c7", label="start (noise)", zorder=3)
    ax.scatter(p[-1, :, 0], p[-1, :, 1], s=10, c=SAMPLE_COLOUR, label="end (sample)", zorder=4)
    ax.set_title(f"{shown} paths, as x / sqrt(1 + sigma^2)", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    _scatter(right, data, DATA_COLOUR, "data", alpha=0.35)
    _scatter(right, paths[-1], SAMPLE_COLOUR, "samples")
    right.set_title("all samples over the data")
    right.legend(loc="upper left", fontsize=7, markerscale=4)
    _limits(ax, 1.15 * float(paths[0].abs().quantile(0.99).clamp_min(data.abs().max())))
    return save(fig, path)


def sample_grid(samples: dict[str, torch.Tensor], data: torch.Tensor, title: str, path: Path) -> Path:
    """One panel per run (title: sampler, steps, distances), samples over the data, shared axes."""
    fig, axes = _panels(len(samples), title, rows=1 if len(samples) <= 4 else 2)
    for ax, (name, points) in zip(axes, samples.items()):
        _scatter(ax, data, DATA_COLOUR, "data", alpha=0.3)
        _scatter(ax, points, SAMPLE_COLOUR, "samples")
        ax.set_title(name, fontsize=9)
    axes[0].legend(loc="upper left", fontsize=7, markerscale=4)
    _limits(axes[0], 1.25 * float(data.abs().max()))
    return save(fig, path)


def guidance_grid(samples: dict[str, tuple[torch.Tensor, torch.Tensor]], data: torch.Tensor, title: str,
                  path: Path) -> Path:
    """One panel per guidance scale: samples coloured by the class they were asked for."""
    fig, axes = _panels(len(samples), title)
    for ax, (name, (points, labels)) in zip(axes, samples.items()):
        _scatter(ax, data, "#cccccc", alpha=0.3)
        p = points.numpy()
        ax.scatter(p[:, 0], p[:, 1], s=3, c=labels.numpy(), cmap="tab10", vmin=0, vmax=9, linewidths=0,
                   rasterized=True)
        ax.set_title(name, fontsize=9)
    _limits(axes[0], 1.25 * float(data.abs().max()))
    return save(fig, path)


def flow_gif(paths: torch.Tensor, data: torch.Tensor, path: Path, steps: list[int] | None = None,
             frame_ms: int = 90) -> Path:
    """An animated GIF of the points flowing from noise to data, on fixed axes, written atomically.
    `steps`: the sampler step each frame shows (default 0, 1, 2, ...)."""
    from PIL import Image

    plt = pyplot()
    half_width = 1.15 * float(paths[0].abs().quantile(0.99).clamp_min(data.abs().max()))
    frames = []
    steps = steps or list(range(len(paths)))
    fig, ax = plt.subplots(figsize=(3.4, 3.6), constrained_layout=True)
    for i, points in zip(steps, paths):
        ax.clear()
        _scatter(ax, data, DATA_COLOUR, alpha=0.15)
        _scatter(ax, points, SAMPLE_COLOUR, size=3, alpha=0.7)
        _limits(ax, half_width)
        ax.set_aspect("equal")
        ax.set_title(f"step {i} of {steps[-1]}", fontsize=9)
        ax.tick_params(labelsize=7)
        fig.canvas.draw()
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]).quantize(64))
    plt.close(fig)
    hold = [frames[-1]] * 12  # pause on the result before looping
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:] + hold, duration=frame_ms, loop=0)
    return write_bytes_atomically(path, buffer.getvalue())


# ----- few-step models and the family ------------------------------------------------------

def _angle_colours(noise: torch.Tensor) -> np.ndarray:
    """A hue per noise point from its angle: which noise went where stays readable across panels."""
    angle = torch.atan2(noise[:, 1], noise[:, 0]).numpy()
    return pyplot().cm.hsv((angle + np.pi) / (2 * np.pi))


def couplings(pairs: list[tuple[torch.Tensor, torch.Tensor]], paths: list[torch.Tensor], titles: list[str],
              data: torch.Tensor, path: Path, shown: int = 150) -> Path:
    """The lectures' Z^1 / Z^2 / Z^3 panels: for each k-rectified flow, top, the pairs it trained on (a
    segment from each noise point to its data point: for 1-RF drawn independently, so they cross; for
    k-RF the (k-1)-RF's own ODE map); bottom, its ODE paths from the same noise. Where the paths
    bend, the flow needs many steps; trained on a map whose segments do not cross, they straighten."""
    k = len(pairs)
    fig, axes = _panels(2 * k, "Rectified flows: the pairs each trained on (top), its ODE paths (bottom), "
                        "noise -> data", rows=2)
    for i, ((noise, samples), trail, title) in enumerate(zip(pairs, paths, titles)):
        top, bottom = axes[i], axes[k + i]
        for ax in (top, bottom):
            _scatter(ax, data, DATA_COLOUR, alpha=0.15)
        z0, z1 = noise[:shown].numpy(), samples[:shown].numpy()  # (n, 2) each, row n a pair
        colours = _angle_colours(noise[:shown])
        for n in range(min(len(z0), len(z1))):
            top.plot([z0[n, 0], z1[n, 0]], [z0[n, 1], z1[n, 1]], color=colours[n], linewidth=0.5, alpha=0.6)
        top.set_title(f"{title}: trained on", fontsize=9)
        p = trail[:, :shown].numpy()  # (steps + 1, n, 2)
        colours = _angle_colours(trail[0, :shown])
        for n in range(p.shape[1]):
            bottom.plot(p[:, n, 0], p[:, n, 1], color=colours[n], linewidth=0.6, alpha=0.7)
        bottom.set_title(f"{title}: ODE paths", fontsize=9)
    _limits(axes[0], 1.1 * float(torch.cat([pairs[0][0][:shown], data]).abs().quantile(0.995)))
    return save(fig, path)


def step_grid(samples: dict[str, dict[int, torch.Tensor]], data: torch.Tensor, title: str, path: Path) -> Path:
    """Rows: models; columns: sampling steps; each panel the samples over the data, shared axes."""
    steps = sorted({n for by_steps in samples.values() for n in by_steps})
    plt = pyplot()
    fig, axes = plt.subplots(len(samples), len(steps), figsize=(2.4 * len(steps), 2.4 * len(samples) + 0.5),
                             sharex=True, sharey=True, squeeze=False, constrained_layout=True)
    fig.suptitle(title)
    for r, (name, by_steps) in enumerate(samples.items()):
        for c, n in enumerate(steps):
            ax = axes[r, c]
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
            if n not in by_steps:
                ax.set_axis_off()
                continue
            _scatter(ax, data, DATA_COLOUR, alpha=0.2, size=1.0)
            _scatter(ax, by_steps[n], SAMPLE_COLOUR, size=1.0, alpha=0.4)
            ax.set_title(f"{name}, {n} step{'s' if n > 1 else ''}", fontsize=7)
    _limits(axes[0, 0], 1.25 * float(data.abs().max()))
    return save(fig, path)


MARKERS = "osD^vPX*hp<>"


def quality_diversity_speed(panels: dict[str, list[dict]], floors: dict[str, float], path: Path) -> Path:
    """One panel per dataset: sampling time (x, log) against sliced Wasserstein (y, log; lower is better),
    colour the share of modes reached, one marker per model. `panels[name]`: dicts with name, ms, sliced,
    coverage."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels) + 2.2, 4.4), squeeze=False,
                             constrained_layout=True)
    fig.suptitle("Quality, diversity, speed: sliced W (lower is better) against CPU ms per 1,000 samples; "
                 "colour = modes reached")
    norm = plt.Normalize(0.5, 1.0)
    names = list(dict.fromkeys(p["name"] for points in panels.values() for p in points))
    marker = {name: MARKERS[i % len(MARKERS)] for i, name in enumerate(names)}
    for ax, (dataset, points) in zip(axes[0], panels.items()):
        for p in points:
            dots = ax.scatter([p["ms"]], [p["sliced"]], c=[p["coverage"]], cmap="viridis", norm=norm, s=70,
                              marker=marker[p["name"]], edgecolors="black", linewidths=0.6, zorder=3)
        ax.axhline(floors[dataset], color="grey", linestyle="--", linewidth=0.8)
        ax.set(xscale="log", yscale="log", title=dataset, xlabel="CPU ms per 1,000 samples",
               ylabel="sliced Wasserstein to fresh data")
        ax.grid(alpha=0.3, which="both")
    from matplotlib.lines import Line2D  # the legend names the markers; colours belong to the panels
    handles = [Line2D([], [], marker=marker[n], linestyle="", markerfacecolor="white", markeredgecolor="black",
                      label=n) for n in names]
    handles.append(Line2D([], [], color="grey", linestyle="--", label="data vs data"))
    fig.legend(handles=handles, loc="outside right center", fontsize=8)
    fig.colorbar(dots, ax=list(axes[0]), shrink=0.8, label="share of modes reached", location="left", extend="min")
    return save(fig, path)


def image_family(rows: list[dict], title: str, path: Path, shown: int = 8) -> Path:
    """Left: `shown` samples of each row (rows: dicts with name, images (k, S, S, 3) uint8, ms, accepted,
    coverage); right: the quality / diversity / speed triangle, each model's share of samples that read
    as a scene against its CPU ms per image, coloured by the share of modes it reaches."""
    plt = pyplot()
    fig, (grid, triangle) = plt.subplots(1, 2, figsize=(13, 0.75 * len(rows) + 1.6), constrained_layout=True,
                                         gridspec_kw={"width_ratios": [1.25, 1]})
    fig.suptitle(title)
    side = rows[0]["images"].shape[1]
    gap = np.full((side, 2, 3), 255, dtype=np.uint8)
    strips = [np.concatenate([np.concatenate([im, gap], 1) for im in row["images"][:shown]], 1) for row in rows]
    width = max(s.shape[1] for s in strips)
    strips = [np.pad(s, ((0, 2), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips]
    grid.imshow(np.concatenate(strips, 0), interpolation="nearest")
    grid.set_yticks([(side + 2) * (i + 0.5) for i in range(len(rows))], [r["name"] for r in rows], fontsize=8)
    grid.set_xticks([])
    grid.set_title("generated samples (the last row: real renders)", fontsize=9)
    timed = [r for r in rows if r["ms"] is not None]
    norm = plt.Normalize(0.0, 1.0)
    for i, r in enumerate(timed):
        dots = triangle.scatter([r["ms"]], [100 * r["accepted"]], c=[r["coverage"]], cmap="viridis", norm=norm,
                                s=80, marker=MARKERS[i % len(MARKERS)], edgecolors="black", linewidths=0.6,
                                zorder=3, label=r["name"])
    data = [r for r in rows if r["ms"] is None]
    for r in data:
        triangle.axhline(100 * r["accepted"], color="grey", linestyle="--", linewidth=0.8, label=r["name"])
    triangle.set(xscale="log", xlabel="CPU ms per image (one thread)", ylabel="% of samples that read as a scene",
                 ylim=(-3, 103), title="quality, diversity, speed: colour = share of modes reached")
    if timed:  # at least a decade wide, so the log axis has labelled ticks
        low, high = min(r["ms"] for r in timed), max(r["ms"] for r in timed)
        triangle.set_xlim(min(low / 1.5, high / 10), high * 1.5)
    triangle.grid(alpha=0.3, which="both")
    triangle.legend(fontsize=7, loc="best")
    if timed:
        fig.colorbar(dots, ax=triangle, shrink=0.8, label="share of modes reached")
    return save(fig, path)

"""Panoramas by joint denoising of overlapping windows: independent tiles, MultiDiffusion, SyncDiffusion.

A model trained on H x W pictures is asked for a canvas many windows wide (64 x 512 from
the default 64 x 64 model). Every method here is a denoiser wrapper (DESIGN.md), so every
sampler, guidance and the model's whole pipeline run unchanged on the wide latent.

Notation (sigma space, x = x0 + sigma eps; see sampling/samplers.py):
    J            the canvas latent (N, C, H_c, W_c)
    F_i(J)       window i of it: a crop of the model's own latent size at (top_i, left_i)
    D(., sigma)  the model's (guided) denoiser on one window

MultiDiffusion (Bar-Tal et al. 2023, eq. 3-5) takes, at each step, the canvas that best agrees
with every window's own step in least squares,
    Psi(J) = argmin_J sum_i || W_i (x) (F_i(J) - Phi(F_i(J_t))) ||^2,
whose closed form (eq. 5) is the per-pixel average of the windows' steps where they overlap.
Every sampler here moves x by a step that is affine in D with coefficients shared by all
pixels, so averaging the windows' D (their Tweedie estimates of x0) and stepping once is the
same as stepping each window and averaging (eq. 5 with uniform W_i = 1): `WindowedDenoiser`.
That is also what SyncTweedies (Kim et al. 2024) finds best for panoramas: averaging Tweedie
estimates in the canonical (canvas) space, which for a latent canvas is this same average,
so it is not a further method here.

Independent windows are the baseline: the same wrapper with stride = window, so no two
windows overlap and each is denoised as if alone; the tiles are stitched side by side.

SyncDiffusion (Lee et al. 2023) adds what averaging cannot: windows far
apart never share a pixel, so nothing makes them agree on colour or style. Before each step
it moves every window down the gradient of a perceptual distance between its predicted x0
(decoded to pixels) and an anchor window's, x_t^i <- x_t^i - w grad_{x_t^i} L(x0_hat^i, x0_hat^anchor),
the anchor's estimate held fixed. Two changes make it a denoiser wrapper that works at any
sampler and noise level (`SyncDenoiser`):
- the move is taken on the score, as classifier guidance takes a likelihood term (Dhariwal &
  Nichol 2021, in its score form; with exp(-lambda L) as the likelihood): D_sync = D_MD - lambda sigma^2 grad_J L.
  Since grad_J D = Cov[x0 | J] / sigma^2 (Tweedie's second order), sigma^2 grad_J L is a step on
  x0 preconditioned by the posterior's uncertainty: large when much is undecided, zero at the end;
- L compares each window's per-channel mean and standard deviation of colour with the anchor's
  (the first-order "style" statistics of Huang & Belongie 2017) instead of LPIPS, which needs an
  ImageNet network pixeldrift does not ship; for the world's flat backgrounds colour is the style.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from pixeldrift.diffusion.forward import append_dims
from pixeldrift.pipeline.request import GeneratedImage, GenerationRequest, _check_range
from pixeldrift.provenance.record import GenerationRecord

METHODS = ("independent", "multidiffusion", "sync")


@dataclass(frozen=True)
class WindowLayout:
    """Where the windows of a canvas lie, in latent pixels: canvas (height, width), window (h, w), stride (h, w)."""

    canvas: tuple[int, int]
    window: tuple[int, int]
    stride: tuple[int, int]

    def __post_init__(self) -> None:
        for name, value in (("canvas", self.canvas), ("window", self.window), ("stride", self.stride)):
            if len(value) != 2 or any(type(v) is not int or v < 1 for v in value):
                raise ValueError(f"{name} must be two positive integers, got {value!r}")
        if any(w > c for w, c in zip(self.window, self.canvas)):
            raise ValueError(f"the window {self.window} is larger than the canvas {self.canvas}")
        if any(s > w for s, w in zip(self.stride, self.window)):
            raise ValueError(f"a stride {self.stride} longer than the window {self.window} would leave gaps")

    @property
    def positions(self) -> list[tuple[int, int]]:
        """(top, left) of every window, row by row; the last window of a row or column ends at the canvas edge."""
        tops = window_starts(self.canvas[0], self.window[0], self.stride[0])
        lefts = window_starts(self.canvas[1], self.window[1], self.stride[1])
        return [(top, left) for top in tops for left in lefts]


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """0, stride, 2 stride, ... and length - window, so the windows cover every pixel."""
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def crop_windows(x: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
    """(N, C, H, W) -> (K N, C, h, w), window-major: row k N + n is window k of sample n."""
    h, w = layout.window
    return torch.cat([x[..., top:top + h, left:left + w] for top, left in layout.positions])


def average_windows(windows: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
    """MultiDiffusion's eq. 5 with uniform weights: each canvas pixel is the mean of the windows covering it."""
    h, w = layout.window
    n = windows.shape[0] // len(layout.positions)
    total = windows.new_zeros(n, windows.shape[1], *layout.canvas)
    count = windows.new_zeros(1, 1, *layout.canvas)
    for k, (top, left) in enumerate(layout.positions):
        total[..., top:top + h, left:left + w] += windows[k * n:(k + 1) * n]
        count[..., top:top + h, left:left + w] += 1
    return total / count


def _repeat(value, times: int):
    """Conditioning for K windows: tensors repeated along the batch, dicts of them likewise."""
    if isinstance(value, torch.Tensor):
        return value.repeat(times, *([1] * (value.ndim - 1)))
    if isinstance(value, dict):
        return {key: _repeat(v, times) for key, v in value.items()}
    return value


class WindowedDenoiser:
    """MultiDiffusion (Bar-Tal et al. 2023, eq. 5): the canvas denoiser is the average of the windows' D.

    `denoiser(x, sigma, **extra)` is the model's denoiser on one window (guided or not); its
    extra arguments, per sample, are repeated for every window. All windows go in one batch.
    With stride = window no windows overlap: independent tiles, the baseline.
    """

    def __init__(self, denoiser, layout: WindowLayout):
        self.denoiser, self.layout = denoiser, layout
        self._repeated: tuple[list, dict] | None = None  # the same dicts every step, so guidance batches once

    def window_estimates(self, x: torch.Tensor, sigma: torch.Tensor, extra: dict) -> torch.Tensor:
        """Every window's D, (K N, C, h, w)."""
        k = len(self.layout.positions)
        if self._repeated is None or any(a is not b for a, b in zip(self._repeated[0], extra.values())) \
                or len(self._repeated[0]) != len(extra):
            self._repeated = (list(extra.values()), {key: _repeat(v, k) for key, v in extra.items()})
        return self.denoiser(crop_windows(x, self.layout), sigma.repeat(k), **self._repeated[1])

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **extra) -> torch.Tensor:
        return average_windows(self.window_estimates(x, sigma, extra), self.layout)


def colour_statistics(pixels: torch.Tensor) -> torch.Tensor:
    """(M, 3, h, w) -> (M, 6): per-channel mean and standard deviation, the windows' colour "style"."""
    flat = pixels.flatten(2)
    return torch.cat([flat.mean(2), flat.std(2)], 1)


def sync_loss(pixels: torch.Tensor, windows: int, anchor: int = 0) -> torch.Tensor:
    """SyncDiffusion's loss with colour statistics for LPIPS: sum over windows of the squared distance to
    the anchor window's statistics, the anchor held fixed. `pixels` is window-major (K N, 3, h, w)."""
    stats = colour_statistics(pixels).unflatten(0, (windows, -1))  # (K, N, 6)
    return (stats - stats[anchor].detach()).pow(2).sum()


class SyncDenoiser(WindowedDenoiser):
    """SyncDiffusion (Lee et al. 2023) as guidance on top of MultiDiffusion; see the module docstring.

    D_sync(J, sigma) = D_MD(J, sigma) - strength * sigma^2 * grad_J L, with L = sync_loss of the
    windows' decoded x0 estimates. `decode(latents) -> pixels in [-1, 1]` is the model's VAE
    decoder (identity for pixel models). Below `sigma_stop` it is plain MultiDiffusion: the
    layout is decided early, and each gradient costs a backward pass through denoiser and decoder.
    """

    def __init__(self, denoiser, layout: WindowLayout, decode, strength: float, anchor: int = 0,
                 sigma_stop: float = 0.0):
        super().__init__(denoiser, layout)
        if not 0 <= anchor < len(layout.positions):
            raise ValueError(f"anchor window {anchor} is not one of the {len(layout.positions)} windows")
        self.decode, self.strength, self.anchor, self.sigma_stop = decode, strength, anchor, sigma_stop

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **extra) -> torch.Tensor:
        if self.strength == 0 or float(sigma.max()) <= self.sigma_stop:
            return super().__call__(x, sigma, **extra)
        with torch.enable_grad():
            canvas = x.detach().requires_grad_(True)
            estimates = self.window_estimates(canvas, sigma, extra)
            loss = sync_loss(self.decode(estimates), len(self.layout.positions), self.anchor)
            gradient, = torch.autograd.grad(loss, canvas)  # not .backward(): no grads pile up in the model
        denoised = average_windows(estimates.detach(), self.layout)
        return denoised - gradient * append_dims(self.strength * sigma**2, x.ndim)


def panorama_denoiser(denoiser, method: str, layout: WindowLayout, decode=None, sync_strength: float = 0.0,
                      sync_sigma_stop: float = 0.0):
    """The wrapper for `method`: independent (tiles, no overlap), multidiffusion or sync."""
    if method == "independent":
        return WindowedDenoiser(denoiser, WindowLayout(layout.canvas, layout.window, layout.window))
    if method == "multidiffusion":
        return WindowedDenoiser(denoiser, layout)
    if method == "sync":
        if decode is None:
            raise ValueError("the sync method needs the model's decoder")
        return SyncDenoiser(denoiser, layout, decode, sync_strength, sigma_stop=sync_sigma_stop)
    raise ValueError(f"unknown panorama method {method!r}; accepted: {', '.join(METHODS)}")


# ----- over a model (pipeline/latent_pipeline.py's interface) -----------------------------------

MAX_PANORAMA_SIDE = 1024
MAX_SYNC_STRENGTH = 1000.0


@dataclass(frozen=True)
class PanoramaSettings:
    """How a panorama is denoised."""

    method: str = "multidiffusion"
    stride: int | None = None       # pixels between window starts (multidiffusion, sync); None: about half a window
    sync_strength: float = 20.0     # lambda of SyncDenoiser
    sync_sigma_stop: float = 1.0    # sync only while sigma is above this

    def check(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown panorama method {self.method!r}; accepted: {', '.join(METHODS)}")
        _check_range("sync strength", self.sync_strength, 0, MAX_SYNC_STRENGTH)
        _check_range("sync sigma stop", self.sync_sigma_stop, 0, 1e4)


def model_window(model) -> tuple[int, int]:
    """(width, height) in pixels of one window: the model's own picture size."""
    return model.limits.default_width, model.limits.default_height


def panorama_layout(model, width: int, height: int, stride: int | None) -> WindowLayout:
    """The windows of a width x height panorama, in latent pixels; ValueError naming what does not fit."""
    window_w, window_h = model_window(model)
    step = model.limits.size_multiple  # every window start is then a size the model could make on its own
    stride = max(step, window_w // 2 // step * step) if stride is None else stride  # about half a window
    largest = min(MAX_PANORAMA_SIDE, model.limits.max_side)
    for name, side, window in (("width", width, window_w), ("height", height, window_h)):
        if type(side) is not int or not window <= side <= largest:
            raise ValueError(f"panorama {name} must be from {window} (one window) to {largest} pixels, got {side!r}")
    _, latent_h, latent_w = model.latent_shape(width, height)
    if type(stride) is not int or not 0 < stride <= min(window_w, window_h) or stride % step:
        raise ValueError(f"the window stride must be a multiple of {step} pixels from {step} to "
                         f"{min(window_w, window_h)} (one window), got {stride!r}")
    for name, side, window in (("width", width, window_w), ("height", height, window_h)):
        if (side - window) % stride:
            below = window + stride * ((side - window) // stride)
            raise ValueError(f"panorama {name} {side} must be the window ({window}) plus a multiple of the "
                             f"stride ({stride}), e.g. {below} or {below + stride}")
    factor = width // latent_w  # pixels per latent pixel
    return WindowLayout((latent_h, latent_w), (window_h // factor, window_w // factor),
                        (min(stride, window_h) // factor, stride // factor))


@torch.no_grad()
def generate_panorama(model, request: GenerationRequest, settings: PanoramaSettings = PanoramaSettings(),
                      callback=None) -> list[GeneratedImage]:
    """`request.batch_size` panoramas of request.width x request.height, each window denoised as `settings` says.

    Everything else (prompt, sampler, schedule, steps, guidance, seed) is the request's, through
    the model's own sampling; the images' records name the method, window and stride.
    """
    settings.check()
    if request.init_image is not None or request.controls:
        raise ValueError("a panorama is made from text alone: no init image, mask or control")
    width, height = request.width or model_window(model)[0], request.height or model_window(model)[1]
    layout = panorama_layout(model, width, height, settings.stride)
    request = replace(request, width=width, height=height, excite=0.0)
    wrap = lambda guided, cond: panorama_denoiser(  # noqa: E731
        guided, settings.method, layout, model.latents_to_pixels, settings.sync_strength, settings.sync_sigma_stop)
    r = request.validated(model.sampling_defaults, model.limits)
    seeds = [r.seed + i for i in range(r.batch_size)]
    images = model.sample([r.prompt] * r.batch_size, seeds, r, callback, steer=wrap)
    return [GeneratedImage(image, _record(model, r, seed, settings, layout, width // layout.canvas[1]))
            for seed, image in zip(seeds, images)]


def _record(model, r: GenerationRequest, seed: int, settings: PanoramaSettings, layout: WindowLayout,
            factor: int) -> GenerationRecord:
    record = model.record(r, seed, model.name)
    window = f"{layout.window[1] * factor}x{layout.window[0] * factor}"
    stride = layout.window[1] if settings.method == "independent" else layout.stride[1]
    record.extra.update({"Panorama": settings.method, "Panorama window": window,
                         "Panorama stride": str(stride * factor)})
    if settings.method == "sync":
        record.extra.update({"Sync strength": f"{settings.sync_strength:g}",
                             "Sync sigma stop": f"{settings.sync_sigma_stop:g}"})
    return record

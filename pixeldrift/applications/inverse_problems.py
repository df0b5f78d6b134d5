"""Inverse problems with a trained prior: restore x from y = A(x) + noise by posterior guidance.

Notation (sigma space, x_t = x0 + sigma eps; see sampling/samplers.py):
    D(x_t, sigma)   the denoiser, Tweedie's estimate of E[x0 | x_t]; score = (D - x_t) / sigma^2
    A               a linear degradation of pixels in [-1, 1] (`Operator`), y = A x0 + sigma_y n
    dec             the VAE decoder: our model denoises latents, A acts on pixels

Both methods change the score and nothing else, so they are one denoiser wrapper
(`PosteriorGuidance`) and every sampler runs them. Bayes' rule splits the posterior score,
grad log p(x_t | y) = grad log p(x_t) + grad log p(y | x_t), and since D = x_t + sigma^2 score,

    D_y(x_t, sigma) = D(x_t, sigma) + sigma^2 grad_{x_t} log p(y | x_t).

The two methods differ in how they approximate the intractable p(y | x_t):

- DPS (Chung et al. 2023, "Diffusion posterior sampling", eq. 16 and Algorithm 1):
  p(y | x_t) ~ p(y | x0 = D(x_t)), whose gradient is -rho grad ||y - A(dec(D(x_t)))||^2, taken
  through the denoiser (and here the decoder) by autograd. rho = zeta sqrt(m) / (||y - A x0_hat|| L)
  (m the measurement's size, L = ||A||^2): the normalised step of the paper's experiments instead
  of 1 / sigma_y^2, which is too stiff when sigma_y is small, here per measured element (the
  residual's RMS, not its norm) and per unit of A's gain (as gradient descent on
  ||y - A x||^2 steps by 1 / L), so that one zeta serves every size and task (the paper tunes
  zeta per task). Decoding the Tweedie latent before A is latent DPS (as in
  Rout et al. 2023, "PSLD", without their gluing term): the prior is our latent model's.
- Pi-GDM (Song et al. 2023, "Pseudoinverse-guided diffusion models", section 3): p(x0 | x_t)
  is taken as N(D(x_t), r_t^2 I), so p(y | x_t) = N(A D, r_t^2 A A^T + sigma_y^2 I) and

      grad log p(y | x_t) = (d D / d x_t)^T A^T (r_t^2 A A^T + sigma_y^2 I)^{-1} (y - A D),

  with r_t^2 = s^2 sigma^2 / (s^2 + sigma^2) the posterior variance of N(mu, s^2 I) data (the
  paper's r_t^2 = sigma^2 / (1 + sigma^2) for s = 1). We take it over DDRM and ReSample because
  it needs nothing but a vector-Jacobian product, as DPS does, so it works through the decoder
  of a latent model unchanged (DDRM needs A's SVD in the space the model denoises, which a
  nonlinear decoder has not), it has no step size to tune (the weight is the likelihood's own),
  and it is exact for Gaussian data, which gives it a closed-form test. The solve with
  r_t^2 A A^T + sigma_y^2 I is closed-form for every operator here (A A^T is diagonal in pixels
  for pooling and masks, in Fourier for the circular blurs). For our latent model sigma is the
  latent's and s the pixels' spread: a heuristic, as the decoder is not linear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pixeldrift.diffusion.forward import append_dims
from pixeldrift.pipeline.pixels import images_to_pixels, pixels_to_images
from pixeldrift.pipeline.request import _check_int, _check_range
from pixeldrift.provenance.label import labelled_png_bytes
from pixeldrift.provenance.record import SCHEDULE_KEY, GenerationRecord
from pixeldrift.provenance.watermark import WatermarkSpec
from pixeldrift.safety.moderation import enforce_prompt
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import SAMPLERS, get_sampler
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES, check_steps

TASKS = ("sr4", "deblur", "motion", "inpaint")
METHODS = ("dps", "pigdm")
NOISE_STD = 0.05          # sigma_y, in the [-1, 1] pixel range (DPS's setting)
SR_FACTOR = 4
BLUR_SIGMA = 2.0          # the Gaussian blur's standard deviation, pixels
MOTION_LENGTH = 9         # the motion blur's line, pixels
MOTION_ANGLE = 30.0       # degrees from horizontal
MAX_ZETA = 100.0
# DPS's from a few runs on 4-8 sr4 scenes (0.1x, 1/3x, 3.3x and 10x this step, at 10-30 steps, fit y worse);
# Pi-GDM's is the likelihood's own
DEFAULT_ZETA = {"dps": 3 / 16, "pigdm": 1.0}
MAX_GUIDANCE = 50.0


# ----- operators ---------------------------------------------------------------------------------

class Operator:
    """A linear map A of pixels (N, 3, H, W), its adjoint, and a solve with r2 A A^T + s2 I."""

    name = "operator"
    gain = 1.0  # ||A||^2, the largest eigenvalue of A A^T: DPS's step is divided by it

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def solve(self, v: torch.Tensor, r2: torch.Tensor, s2: float) -> torch.Tensor:
        """(r2 A A^T + s2 I)^{-1} v for v in measurement space; r2 (N,) per sample."""
        raise NotImplementedError

    def measurement_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of y for an image of `size`."""
        return size


class AveragePool(Operator):
    """Super-resolution's A: the mean of each factor x factor block; A A^T = I / factor^2."""

    name = "sr4"

    def __init__(self, factor: int = SR_FACTOR):
        self.factor, self.gain = factor, 1 / factor**2

    def __call__(self, x):
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"image sides {tuple(x.shape[-2:])} must be multiples of {self.factor}")
        return F.avg_pool2d(x, self.factor)

    def adjoint(self, y):
        return F.interpolate(y, scale_factor=self.factor, mode="nearest") / self.factor**2

    def solve(self, v, r2, s2):
        return v / append_dims(r2 / self.factor**2 + s2, v.ndim)

    def measurement_size(self, size):
        return size[0] // self.factor, size[1] // self.factor


class CircularBlur(Operator):
    """A convolution with periodic boundaries: diagonal in Fourier, so A^T and the solve are exact."""

    def __init__(self, kernel: torch.Tensor, name: str):
        if kernel.ndim != 2 or not math.isclose(float(kernel.sum()), 1.0, rel_tol=1e-5):
            raise ValueError("a blur kernel must be 2-d and sum to 1")
        self.kernel, self.name = kernel.double(), name
        self._spectra: dict[tuple, torch.Tensor] = {}

    def spectrum(self, shape: tuple[int, int], device) -> torch.Tensor:
        """The kernel's transfer function on an (H, W) grid, centred so the blur does not shift."""
        key = (shape, str(device))
        if key not in self._spectra:
            k = self.kernel
            if k.shape[0] > shape[0] or k.shape[1] > shape[1]:
                raise ValueError(f"image {shape} is smaller than the {tuple(k.shape)} blur kernel")
            padded = torch.zeros(shape, dtype=torch.float64)
            padded[:k.shape[0], :k.shape[1]] = k
            padded = torch.roll(padded, (-(k.shape[0] // 2), -(k.shape[1] // 2)), (0, 1))
            self._spectra[key] = torch.fft.rfft2(padded).to(device)
        return self._spectra[key]

    def _filter(self, x: torch.Tensor, transfer) -> torch.Tensor:
        shape = tuple(x.shape[-2:])
        spectrum = torch.fft.rfft2(x.double()) * transfer(self.spectrum(shape, x.device))
        return torch.fft.irfft2(spectrum, s=shape).to(x.dtype)

    def __call__(self, x):
        return self._filter(x, lambda h: h)

    def adjoint(self, y):
        return self._filter(y, torch.conj)

    def solve(self, v, r2, s2):
        r2 = append_dims(r2.double(), v.ndim)
        return self._filter(v, lambda h: 1 / (r2 * h.abs() ** 2 + s2))


class BoxMask(Operator):
    """Inpainting's A: keep the pixels outside a box (mask 1), zero inside; A = A^T = A A^T."""

    name = "inpaint"

    def __init__(self, mask: torch.Tensor):
        if mask.ndim != 4 or mask.shape[1] != 1:
            raise ValueError(f"a mask must be (N or 1, 1, H, W), got {tuple(mask.shape)}")
        self.mask = mask

    def __call__(self, x):
        return x * self.mask.to(x)

    adjoint = __call__

    def solve(self, v, r2, s2):
        return v / (append_dims(r2, v.ndim) * self.mask.to(v) + s2)


def gaussian_kernel(sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """A normalised 2-D Gaussian, cut at 3 sigma."""
    radius = math.ceil(3 * sigma)
    axis = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-axis**2 / (2 * sigma**2))
    return torch.outer(g, g) / g.sum() ** 2


def line_kernel(length: int = MOTION_LENGTH, angle: float = MOTION_ANGLE) -> torch.Tensor:
    """A straight motion path of `length` pixels at `angle` degrees, drawn with bilinear weights."""
    size = length + 2 - length % 2  # odd, with a pixel's margin
    kernel = torch.zeros(size, size, dtype=torch.float64)
    theta = math.radians(angle)
    for t in torch.linspace(-(length - 1) / 2, (length - 1) / 2, 8 * length).tolist():
        px, py = size // 2 + t * math.cos(theta), size // 2 - t * math.sin(theta)
        x0, y0 = math.floor(px), math.floor(py)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            kernel[y0 + dy, x0 + dx] += (1 - abs(px - x0 - dx)) * (1 - abs(py - y0 - dy))
    return kernel / kernel.sum()


def random_box_mask(n: int, size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """(n, 1, H, W) masks, each hiding one box with sides from a quarter to a half of the image's."""
    width, height = size
    mask = torch.ones(n, 1, height, width)
    for i in range(n):
        bw, bh = (int(torch.randint(s // 4, s // 2 + 1, (), generator=generator)) for s in (width, height))
        left = int(torch.randint(0, width - bw + 1, (), generator=generator))
        top = int(torch.randint(0, height - bh + 1, (), generator=generator))
        mask[i, :, top:top + bh, left:left + bw] = 0
    return mask


def make_operator(task: str, n: int = 1, size: tuple[int, int] = (64, 64), generator: torch.Generator | None = None,
                  mask: torch.Tensor | None = None) -> Operator:
    """The task's A; inpainting takes `mask` (N, 1, H, W), or draws random boxes from `generator`."""
    if task == "sr4":
        return AveragePool()
    if task == "deblur":
        return CircularBlur(gaussian_kernel(), "deblur")
    if task == "motion":
        return CircularBlur(line_kernel(), "motion")
    if task == "inpaint":
        if mask is None:
            mask = random_box_mask(n, size, generator or torch.Generator().manual_seed(0))
        return BoxMask(mask)
    raise ValueError(f"unknown task {task!r}; accepted: {', '.join(TASKS)}")


def measure(operator: Operator, x: torch.Tensor, noise_std: float = NOISE_STD,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """y = A(x + sigma_y n) for masks (no noise where nothing is seen), A x + sigma_y n otherwise."""
    if isinstance(operator, BoxMask):
        return operator(x + noise_std * torch.randn(x.shape, generator=generator).to(x))
    y = operator(x)
    return y + noise_std * torch.randn(y.shape, generator=generator).to(y)


# ----- posterior guidance: a denoiser wrapper ------------------------------------------------------

class PosteriorGuidance:
    """D_y = D + sigma^2 grad log p(y | x_t), by DPS or Pi-GDM (see the module); any sampler runs it.

    `decode` maps the denoiser's space to A's pixels (the VAE decoder; identity for a pixel
    prior). `zeta` is DPS's step size and Pi-GDM's guidance weight (1 = the likelihood's own).
    """

    def __init__(self, denoiser, operator: Operator, y: torch.Tensor, method: str = "dps", zeta: float = 1.0,
                 noise_std: float = NOISE_STD, data_std: float = 0.5, decode=None):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; accepted: {', '.join(METHODS)}")
        if noise_std <= 0 or data_std <= 0:
            raise ValueError("noise_std and data_std must be positive")
        self.denoiser, self.operator, self.y, self.method = denoiser, operator, y, method
        self.zeta, self.noise_std, self.data_std = zeta, noise_std, data_std
        self.decode = decode or (lambda z: z)

    def likelihood_surrogate(self, predicted: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """(N,) a function of A(dec(D)) whose gradient is grad log p(y | x_t) (constants detached)."""
        residual = (self.y - predicted).flatten(1)  # (N, m)
        if self.method == "dps":
            norm = residual.norm(dim=1)
            rms = norm.detach() / residual.shape[1] ** 0.5
            return -self.zeta * norm**2 / (rms.clamp_min(1e-8) * self.operator.gain)  # rho = zeta / (RMS L)
        r2 = self.data_std**2 * sigma**2 / (self.data_std**2 + sigma**2)
        weighted = self.operator.solve(self.y - predicted, r2, self.noise_std**2).detach().flatten(1)
        return self.zeta * (weighted * predicted.flatten(1)).sum(1)  # gradient J^T A^T (r2 AA^T + s2)^-1 r

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **conditions) -> torch.Tensor:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            denoised = self.denoiser(x, sigma, **conditions)
            surrogate = self.likelihood_surrogate(self.operator(self.decode(denoised)), sigma)
            grad, = torch.autograd.grad(surrogate.sum(), x)  # not .backward(): the model keeps no grads
        return (denoised + append_dims(sigma, x.ndim) ** 2 * grad).detach()


# ----- over a model (pipeline/latent_pipeline.py's interface) -------------------------------------

@dataclass(frozen=True)
class RestoreSettings:
    """How to restore; None takes the model's own sampler / schedule."""

    task: str = "sr4"
    method: str = "dps"
    steps: int = 50               # the studio's default; `pixeldrift restore` takes 200 (docs/zero_shot.md)
    sampler: str | None = "euler_ancestral"
    schedule: str | None = None
    zeta: float | None = None      # None: each method's default (DEFAULT_ZETA)
    guidance: float = 1.0          # classifier-free guidance on the prompt
    noise_std: float = NOISE_STD
    data_std: float = 0.5          # Pi-GDM's s: the spread of pixels in [-1, 1]
    seed: int = 0

    def check(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; accepted: {', '.join(TASKS)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; accepted: {', '.join(METHODS)}")
        check_steps(self.steps)
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; accepted: {', '.join(SAMPLERS)}")
        if self.schedule is not None and self.schedule not in SIGMA_SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; accepted: {', '.join(SIGMA_SCHEDULES)}")
        if self.zeta is not None:
            _check_range("zeta", self.zeta, 0, MAX_ZETA)
        _check_range("guidance", self.guidance, 0, MAX_GUIDANCE)
        _check_range("noise std", self.noise_std, 1e-4, 1)
        _check_range("data std", self.data_std, 1e-3, 10)
        _check_int("seed", self.seed, 0, 2**63 - 1)

    @property
    def step_size(self) -> float:
        return DEFAULT_ZETA[self.method] if self.zeta is None else self.zeta


def check_measurement(model, task: str, measurement: torch.Tensor) -> tuple[int, int]:
    """The (width, height) of the image a measurement restores to; refuses sizes the model cannot make."""
    if measurement.ndim != 4 or measurement.shape[1] != 3:
        raise ValueError(f"a measurement must be (N, 3, H, W) pixels, got {tuple(measurement.shape)}")
    return restored_size(model, task, (measurement.shape[-1], measurement.shape[-2]))


def restored_size(model, task: str, size: tuple[int, int]) -> tuple[int, int]:
    """The (width, height) a measurement of `size` restores to; refuses sizes the model cannot make."""
    factor = SR_FACTOR if task == "sr4" else 1
    width, height = size[0] * factor, size[1] * factor
    limits = model.limits
    if not (limits.accepts_side(width) and limits.accepts_side(height)):
        want = f"{limits.default_width // factor}x{limits.default_height // factor}"
        raise ValueError(f"a {task} measurement of {size[0]}x{size[1]} restores to {width}x{height}, which "
                         f"{model.name} cannot make (its own size needs {want} for {task})")
    return width, height


def image_measurement(model, task: str, picture: Image.Image, missing: Image.Image | None = None,
                      simulate: bool = False, seed: int = 0, noise_std: float = NOISE_STD):
    """(y, A), on the CPU, from an RGB picture: the picture as the measurement (inpainting: `missing`, an image
    of its size, white where pixels are missing), or (simulate) the picture, clean, degraded by the task with
    noise `noise_std` (inpainting: a random box), both drawn from `seed`. What `pixeldrift restore` and the
    studio's POST /api/restore measure."""
    if simulate:
        restored_size(model, "deblur", picture.size)  # a clean picture must be a size the model makes
        generator = torch.Generator().manual_seed(seed)
        operator = make_operator(task, 1, picture.size, generator)
        return measure(operator, images_to_pixels([picture]), noise_std, generator), operator
    mask = None
    if (missing is not None) != (task == "inpaint"):
        raise ValueError("a mask of missing pixels goes with inpainting (and inpainting needs one)")
    if missing is not None:
        if missing.size != picture.size:
            raise ValueError(f"the mask is {missing.width}x{missing.height} but the image is "
                             f"{picture.width}x{picture.height}")
        mask = (torch.from_numpy(np.array(missing.convert("L"))) < 128).float()[None, None]
    restored_size(model, task, picture.size)
    pixels = images_to_pixels([picture])
    return (pixels if mask is None else pixels * mask), make_operator(task, 1, picture.size, mask=mask)


def restore_record(settings: RestoreSettings, prompt: str, model_name: str, size: tuple[int, int], source: str,
                   simulated: bool) -> GenerationRecord:
    """The restored image's record: the sampling (the schedule when not the model's), and the restore's own
    settings in `extra`."""
    schedule = {SCHEDULE_KEY: settings.schedule} if settings.schedule else {}
    return GenerationRecord(
        prompt=prompt, steps=settings.steps, sampler=settings.sampler, cfg_scale=settings.guidance,
        seed=settings.seed, width=size[0], height=size[1], model=model_name,
        extra={**schedule, "Restore": settings.task, "Restore method": settings.method,
               "Restore zeta": f"{settings.step_size:g}", "Measurement noise": f"{settings.noise_std:g}",
               "Measurement": "simulated" if simulated else "given", "Restored from": source})


def measurement_png(y: torch.Tensor, record: GenerationRecord, watermark: bool = True) -> bytes:
    """The (first) measurement as a PNG labelled with the restoration's record; watermarked where its size
    allows (an sr4 measurement of a 64-pixel image is 16 pixels, under the watermark's tile)."""
    image = pixels_to_images(y[:1].clamp(-1, 1))[0]
    fits = min(image.size) >= WatermarkSpec().min_size
    return labelled_png_bytes(image, record, watermark=watermark and fits)


@torch.no_grad()
def restore(model, measurement: torch.Tensor, operator: Operator, prompts: list[str] | None = None,
            settings: RestoreSettings = RestoreSettings(), callback=None) -> torch.Tensor:
    """Sample the model's posterior given y = `measurement` (N, 3, h, w) in [-1, 1]; pixels (N, 3, H, W)."""
    settings.check()
    width, height = check_measurement(model, settings.task, measurement)
    n = measurement.shape[0]
    prompts = list(prompts) if prompts is not None else [""] * n
    if len(prompts) != n:
        raise ValueError(f"need one prompt per measurement, got {len(prompts)} for {n}")
    for prompt in dict.fromkeys(prompts):
        if prompt:
            enforce_prompt(prompt)
    torch.set_flush_denormal(True)
    for p in model.parameters():
        p.requires_grad_(False)  # only x_t is differentiated
    cond, uncond = model.encode_prompts(prompts, [""] * n)
    defaults = model.sampling_defaults
    sigmas = model.sigmas(settings.schedule or defaults.schedule, settings.steps).to(model.device)
    guided = PosteriorGuidance(CFGDenoiser(model.denoiser, settings.guidance), operator,
                               measurement.to(model.device), settings.method, settings.step_size,
                               settings.noise_std, settings.data_std, model.latents_to_pixels)
    generator = torch.Generator().manual_seed(settings.seed)
    x = torch.randn((n, *model.latent_shape(width, height)), generator=generator).to(model.device) * sigmas[0]
    sampler = get_sampler(settings.sampler or defaults.sampler)
    latents = sampler(guided, x, sigmas, {"cond": cond, "uncond": uncond}, callback, generator)
    return model.latents_to_pixels(latents).clamp(-1, 1)


# ----- baselines ---------------------------------------------------------------------------------

def bicubic(y: torch.Tensor, factor: int = SR_FACTOR) -> torch.Tensor:
    """Super-resolution's baseline: Pillow's bicubic upsampling of each measurement."""
    out = []
    for image in y.clamp(-1, 1):
        pil = Image.fromarray(((image.permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8))
        out.append(pil.resize((pil.width * factor, pil.height * factor), Image.BICUBIC))
    return images_to_pixels(out)


def wiener(y: torch.Tensor, operator: CircularBlur, noise_std: float = NOISE_STD) -> torch.Tensor:
    """Wiener deconvolution (Wiener 1949): X = conj(H) Y / (|H|^2 + NSR), with NSR = sigma_y^2 / var(y) per image."""
    shape = tuple(y.shape[-2:])
    nsr = noise_std**2 / y.flatten(1).double().var(dim=1).clamp_min(1e-6)
    h = operator.spectrum(shape, y.device)
    spectrum = torch.fft.rfft2(y.double()) * torch.conj(h) / (h.abs() ** 2 + append_dims(nsr, 4))
    return torch.fft.irfft2(spectrum, s=shape).to(y.dtype).clamp(-1, 1)


def baseline(task: str, operator: Operator, y: torch.Tensor, noise_std: float = NOISE_STD) -> torch.Tensor:
    """The classical answer to each task: bicubic, Wiener, or the masked image itself."""
    if task == "sr4":
        return bicubic(y, operator.factor)
    if task in ("deblur", "motion"):
        return wiener(y, operator, noise_std)
    if task == "inpaint":
        return y.clamp(-1, 1)
    raise ValueError(f"unknown task {task!r}; accepted: {', '.join(TASKS)}")

"""DDIM inversion: an image back to the noise that deterministic sampling maps onto it, and editing by it.

Notation (sigma space, x = x0 + sigma eps; see sampling/samplers.py):
    D(x, sigma)      the denoiser, eps_hat = (x - D) / sigma
    sigmas           the sampling schedule s_0 > s_1 > ... > s_n = 0, as every sampler takes it
    path[i]          the latent at s_i: path[n] is the image's latent, path[0] the inverted noise

Sampling with DDIM at eta = 0 (Song et al. 2021, eq. 13, the Euler step of the probability-flow
ODE) moves s_i -> s_{i+1} by x_{i+1} = x_i - (s_i - s_{i+1}) eps_hat(x_i, s_i). Inversion runs
it backwards, s_{i+1} -> s_i:

    x_i = x_{i+1} + (s_i - s_{i+1}) eps_hat(x_{i+1}, s_{i+1})                       (eq. 13 inverted)

evaluating eps at the point it has, not the one it is solving for; that mismatch is first
order in the step, so reconstruction error falls as steps grow. `refine` iterations solve the
implicit equation x_i = x_{i+1} + (s_i - s_{i+1}) eps_hat(x_i, s_i) by fixed point instead
(Pan et al. 2023, "AIDI"; Garibi et al. 2024, "ReNoise"), so one Euler sampling step undoes
each inversion step exactly where the iteration converges.

Under classifier-free guidance at scale w > 1 the guided eps is far from any one model's
score and the mismatch grows with w: the known failure of inverting with guidance (Mokady et
al. 2023, section 3). Two fixes, both invert at w = 1 (the "pivot" path) and change what the
guided regeneration uses as its unconditional branch:

- negative-prompt inversion (Miyake et al. 2023): the source prompt's own conditioning is the
  uncond. For the source prompt the guided D = D_A + w (D_A - D_A) = D_A, so reconstruction
  is exactly the w = 1 one, at no cost; for an edit prompt B it guides away from A, towards B.
- null-text optimisation (Mokady et al. 2023, Algorithm 1): for each step the uncond text
  states are optimised (Adam, a few iterations) so that the guided step from the current
  point lands on the pivot path's next point; regeneration uses those per-step states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from pixeldrift.applications.diffedit import MASK_SAMPLES, edit_mask, masked_decode
from pixeldrift.applications.prompt_to_prompt import PromptToPrompt, changed_tokens, token_alignment
from pixeldrift.pipeline.editing import first_step
from pixeldrift.pipeline.pixels import images_to_pixels, pixels_to_images
from pixeldrift.pipeline.request import GenerationRequest, _check_int, _check_range
from pixeldrift.safety.moderation import enforce_prompt
from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import _Model, sample_euler
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES, check_steps

METHODS = ("plain", "negative-prompt", "null-text")
MAX_GUIDANCE = 50.0
MAX_REFINE = 20
MAX_NULL_TEXT_ITERATIONS = 50
MAX_MASK_SAMPLES = 50
MAX_EMPHASIS = 10.0


# ----- over the denoiser ---------------------------------------------------------------------

@torch.no_grad()
def invert(denoiser, x, sigmas, extra_args=None, refine: int = 0) -> list[torch.Tensor]:
    """DDIM inversion (Song et al. 2021, eq. 13 run backwards, see the module): the path from x at s_n back to s_0.

    Returns path with path[i] the latent at sigmas[i]; path[-1] is x, path[0] the noise that
    `sample_euler(denoiser, path[0], sigmas, extra_args)` maps back to (about) x. The step out of
    s_n = 0, where eps is undefined, evaluates eps at (x, s_{n-1}). `refine` fixed-point
    iterations per step make each step the exact inverse of the sampler's (ReNoise, AIDI).
    """
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    path = [x]
    for i in reversed(range(len(s) - 1)):
        low, high = s[i + 1], s[i]
        at = low if low > 0 else high
        x_high = x + (x - model.at(x, at)) * ((high - low) / at)
        for _ in range(refine):
            x_high = x + (x_high - model.at(x_high, high)) * ((high - low) / high)
        x = x_high
        path.append(x)
    model.finish(x)
    return path[::-1]


def null_text_optimisation(denoiser, path: list[torch.Tensor], sigmas, cond: dict, uncond: dict, scale: float,
                           iterations: int = 10, lr: float = 1e-2, tolerance: float = 1e-5,
                           keys: tuple[str, ...] = ("context",)) -> list[dict]:
    """Null-text optimisation (Mokady et al. 2023, Algorithm 1): per-step uncond conditions.

    Step i starts at x_bar (path[0] for the first) and optimises uncond[key] for key in `keys`,
    starting from step i-1's result, to minimise ||path[i+1] - step(x_bar, w)||^2 (per sample, mean
    over elements), where step is the Euler / DDIM step at sigmas[i] under guidance
    D_u + w (D_c - D_u); then x_bar <- that step with the optimised uncond. Stops a step early
    once every sample's loss is below `tolerance`. Returns one uncond dict per step.
    """
    s = sigmas.tolist()
    x, learnt, unconds = path[0], {k: uncond[k].detach().clone() for k in keys}, []
    for i in range(len(s) - 1):
        sigma = x.new_full((x.shape[0],), s[i])
        with torch.no_grad():
            d_cond = denoiser(x, sigma, **cond)
        params = [learnt[k].clone().requires_grad_(True) for k in keys]
        optimiser = torch.optim.Adam(params, lr=lr)

        def guided_step(states: list[torch.Tensor]) -> torch.Tensor:
            d_uncond = denoiser(x, sigma, **{**uncond, **dict(zip(keys, states))})
            return torch.lerp(d_uncond + scale * (d_cond - d_uncond), x, s[i + 1] / s[i])

        for _ in range(iterations):
            with torch.enable_grad():
                loss = (guided_step(params) - path[i + 1]).pow(2).flatten(1).mean(1)  # (N,)
                if bool((loss < tolerance).all()):
                    break
                grads = torch.autograd.grad(loss.sum(), params)  # not .backward(): no grads pile up in the model
            for p, g in zip(params, grads):
                p.grad = g
            optimiser.step()
        learnt = {k: p.detach() for k, p in zip(keys, params)}
        unconds.append({**uncond, **learnt})
        with torch.no_grad():
            x = guided_step(list(learnt.values()))
    return unconds


class StepwiseUncond:
    """A guided denoiser whose uncond changes with the step (null-text's per-step states).

    Called as (x, sigma, cond, uncond) like CFGDenoiser; the given uncond is replaced by the
    one stored for the schedule's sigma nearest to `sigma`.
    """

    def __init__(self, guided, sigmas: torch.Tensor, unconds: list[dict]):
        if len(unconds) != len(sigmas) - 1:
            raise ValueError(f"{len(unconds)} uncond conditions for {len(sigmas) - 1} steps")
        self.guided, self.sigmas, self.unconds = guided, sigmas.double().cpu(), unconds

    def __call__(self, x, sigma, cond, uncond):
        step = int((self.sigmas[:-1] - float(sigma[0])).abs().argmin())
        cond, stored = _same_length(cond, self.unconds[step])
        return self.guided(x, sigma, cond, stored)


def _same_length(a: dict, b: dict) -> tuple[dict, dict]:
    """Pad token tensors (N, L, ...) of either dict with zeros (masked out) to the longer L of the two.

    Null-text states were optimised at the length the source prompts were encoded to; a target
    prompt may encode longer or shorter, and padding positions are masked out of attention.
    """
    def padded(d: dict, key: str, length: int) -> torch.Tensor:
        v = d[key]
        extra = length - v.shape[1]
        return v if extra <= 0 else torch.cat([v, v.new_zeros(v.shape[0], extra, *v.shape[2:])], 1)

    keys = [k for k in a if k in b and a[k].ndim >= 2 and a[k].shape[1] != b[k].shape[1]]
    if not keys:
        return a, b
    length = max(max(a[k].shape[1], b[k].shape[1]) for k in keys)
    return ({**a, **{k: padded(a, k, length) for k in keys}}, {**b, **{k: padded(b, k, length) for k in keys}})


# ----- over a model (pipeline/latent_pipeline.py's interface) -----------------------------------

@dataclass(frozen=True)
class InversionSettings:
    """How to invert and regenerate; None takes the model's own schedule."""

    steps: int = 50
    guidance: float = 1.0
    method: str = "plain"
    strength: float = 1.0          # the share of the schedule inverted: 1 goes all the way to noise
    schedule: str | None = None
    negative_prompt: str = ""      # plain and null-text's starting uncond
    refine: int = 0                # fixed-point iterations per inversion step (0 = plain DDIM inversion)
    null_text_iterations: int = 10
    null_text_lr: float = 1e-2
    diffedit: bool = False         # an edit redraws only where the captions disagree (applications/diffedit.py)
    prompt_to_prompt: float = 0.0  # share of an edit's steps that keep the source's cross-attention (prompt_to_prompt.py)
    self_attention_share: float = 0.0  # and its self-attention
    emphasis: float = 1.0          # prompt-to-prompt's re-weighting of the edited words' attention
    mask_samples: int = MASK_SAMPLES

    def check(self) -> None:
        check_steps(self.steps)
        if self.method not in METHODS:
            raise ValueError(f"unknown inversion method {self.method!r}; accepted: {', '.join(METHODS)}")
        _check_range("guidance", self.guidance, 0, MAX_GUIDANCE)
        _check_range("strength", self.strength, 0, 1)
        _check_range("null-text learning rate", self.null_text_lr, 0, 1)
        if first_step(self.steps, self.strength) >= self.steps:
            raise ValueError(f"strength {self.strength} of {self.steps} steps inverts no step; raise either")
        _check_int("refine", self.refine, 0, MAX_REFINE)
        _check_int("null-text iterations", self.null_text_iterations, 0, MAX_NULL_TEXT_ITERATIONS)
        _check_int("mask samples", self.mask_samples, 1, MAX_MASK_SAMPLES)
        _check_range("prompt-to-prompt share", self.prompt_to_prompt, 0, 1)
        _check_range("self-attention share", self.self_attention_share, 0, 1)
        _check_range("emphasis", self.emphasis, 0, MAX_EMPHASIS)
        if self.prompt_to_prompt > 0 and self.method == "null-text":
            raise ValueError("prompt-to-prompt runs with the plain or negative-prompt method, not null-text")
        if self.schedule is not None and self.schedule not in SIGMA_SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; accepted: {', '.join(SIGMA_SCHEDULES)}")


@dataclass
class Inversion:
    """What inverting a batch of images gives: the path, its sigmas, and (null-text) per-step unconds."""

    path: list[torch.Tensor]                 # latents at sigmas[i]; path[-1] is the images' latents
    sigmas: torch.Tensor
    prompts: list[str]
    pixels: torch.Tensor                     # the input images in [-1, 1]
    unconds: list[dict] | None = field(default=None, repr=False)

    @property
    def noise(self) -> torch.Tensor:
        return self.path[0]


def check_image_size(model, size: tuple[int, int]) -> None:
    """An image the model cannot make is refused, not resized: PSNR then compares like with like."""
    limits, (width, height) = model.limits, size
    m = limits.size_multiple
    if not all(limits.accepts_side(side) for side in size):
        raise ValueError(f"the image is {width}x{height}, but {model.name} makes images whose sides are multiples "
                         f"of {m} from {m} to {limits.max_side} (its own size is {limits.default_width}x"
                         f"{limits.default_height}); resize or crop it first")


def _conditions(model, prompts, targets, settings: InversionSettings, size) -> tuple[dict, dict, dict]:
    """(cond of the source prompts, cond of the targets, uncond), encoded to one length so any pairs batch."""
    n = len(prompts)
    request = GenerationRequest(prompt=prompts[0], width=size[0], height=size[1])
    cond, uncond = model.condition(list(prompts) + list(targets), [settings.negative_prompt] * (2 * n), request)
    split = lambda d, part: {k: v[part] for k, v in d.items()}  # noqa: E731
    return split(cond, slice(0, n)), split(cond, slice(n, 2 * n)), split(uncond, slice(0, n))


def _sigmas(model, settings: InversionSettings) -> torch.Tensor:
    sigmas = model.sigmas(settings.schedule or model.sampling_defaults.schedule, settings.steps)
    return sigmas[first_step(settings.steps, settings.strength):].to(model.device)


@torch.no_grad()
def invert_images(model, images: list[Image.Image], prompts: list[str], settings: InversionSettings) -> Inversion:
    """Encode the images and invert them, each with its prompt, as `settings.method` says."""
    settings.check()
    if len(images) != len(prompts) or not images:
        raise ValueError(f"need one prompt per image, got {len(prompts)} prompts for {len(images)} images")
    for image in images:
        check_image_size(model, image.size)
    for prompt in dict.fromkeys(prompts):
        enforce_prompt(prompt)
    torch.set_flush_denormal(True)
    pixels = images_to_pixels(images).to(model.device)
    latents = model.pixels_to_latents(pixels)
    sigmas = _sigmas(model, settings)
    cond, _, uncond = _conditions(model, prompts, prompts, settings, images[0].size)
    plain = settings.method == "plain"
    scale = settings.guidance if plain else 1.0  # both fixes invert at w = 1: the pivot path
    path = invert(CFGDenoiser(model.denoiser, scale), latents, sigmas, {"cond": cond, "uncond": uncond},
                  refine=settings.refine)
    unconds = None
    if settings.method == "null-text":
        unconds = null_text_optimisation(model.denoiser, path, sigmas, cond, uncond, settings.guidance,
                                         settings.null_text_iterations, settings.null_text_lr)
    return Inversion(path, sigmas, list(prompts), pixels, unconds)


@torch.no_grad()
def regenerate(model, inversion: Inversion, targets: list[str] | None, settings: InversionSettings) -> torch.Tensor:
    """Sample back from the inverted noise with the targets (the source prompts when None); pixels in [-1, 1]."""
    targets = list(inversion.prompts if targets is None else targets)
    if len(targets) != len(inversion.prompts):
        raise ValueError(f"need one target prompt per image, got {len(targets)} for {len(inversion.prompts)}")
    for prompt in dict.fromkeys(targets):
        enforce_prompt(prompt)
    size = (inversion.pixels.shape[-1], inversion.pixels.shape[-2])
    source, target, uncond = _conditions(model, inversion.prompts, targets, settings, size)
    scale = settings.guidance
    if settings.method == "negative-prompt":
        uncond = source  # Miyake et al. 2023: the source prompt is the negative prompt
        if targets == inversion.prompts:
            scale = 1.0  # D_A + w (D_A - D_A) = D_A exactly: one pass instead of two
    guided = CFGDenoiser(model.denoiser, scale)
    denoiser = guided
    if settings.method == "null-text":
        denoiser = StepwiseUncond(guided, inversion.sigmas, inversion.unconds)
    conditions = {"cond": target, "uncond": uncond}
    edit = targets != inversion.prompts
    if settings.prompt_to_prompt > 0 and edit:
        denoiser = _prompt_to_prompt(model, guided, inversion, targets, (source, target, uncond), settings)
    if settings.diffedit and edit:
        mask = edit_mask(guided, inversion.path[-1], _mask_sigma(model, settings), source, target, uncond,
                         settings.mask_samples, generator=torch.Generator().manual_seed(0))
        latents = masked_decode(denoiser, inversion.path, inversion.sigmas, mask, conditions)
    else:
        latents = sample_euler(denoiser, inversion.noise, inversion.sigmas, conditions)
    return model.latents_to_pixels(latents)


def _prompt_to_prompt(model, guided, inversion: Inversion, targets: list[str], conditions: tuple[dict, dict, dict],
                      settings: InversionSettings) -> PromptToPrompt:
    """The guided denoiser wrapped so the edit attends as the inverted source did (prompt_to_prompt.py)."""
    source, target, uncond = conditions
    source_uncond = source if settings.method == "negative-prompt" else uncond  # the source path's guidance
    alignment, changed = _alignments(model, inversion.prompts, targets, target)
    return PromptToPrompt(guided, attention_layers(model, "cross_attn"), inversion.path, inversion.sigmas, source,
                          source_uncond, alignment, _last_swapped_sigma(inversion.sigmas, settings.prompt_to_prompt),
                          attention_layers(model, "self_attn"),
                          _last_swapped_sigma(inversion.sigmas, settings.self_attention_share),
                          emphasis=1 + (settings.emphasis - 1) * changed.to(alignment.dtype))


def attention_layers(model, kind: str) -> list:
    """The denoiser's attention modules of one kind: "cross_attn" (to the text) or "self_attn"."""
    return [getattr(m, kind) for m in model.denoiser.modules() if getattr(m, kind, None) is not None]


def _alignments(model, prompts: list[str], targets: list[str], target: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, L, L): each source caption's tokens aligned to its target's, L the encoded length; (N, L) the
    target tokens that differ from the source's."""
    length, texts = target["context"].shape[1], list(prompts) + list(targets)
    encoder = getattr(model, "text_encoder", None)
    if hasattr(encoder, "tokenize"):  # MiniLM
        ids, mask, _ = encoder.tokenize(texts, pad_to=length)
    elif hasattr(getattr(encoder, "tokenizer", None), "encode"):  # the byte-level encoder's TokenBatch
        tokens = encoder.tokenizer.encode(texts, pad_to=length)
        ids, mask = tokens.ids, tokens.mask
    else:
        raise ValueError(f"prompt-to-prompt needs the text encoder's tokens; {model.name}'s encoder does not give them")
    real = [row[:int(m.sum())].tolist() for row, m in zip(ids, mask)]
    n = len(prompts)
    alignment = torch.stack([token_alignment(real[i], real[n + i], length) for i in range(n)])
    changed = torch.stack([changed_tokens(real[i], real[n + i], length) for i in range(n)])
    return alignment.to(model.device), changed.to(model.device)


def _last_swapped_sigma(sigmas: torch.Tensor, share: float) -> float:
    """The lowest level whose step keeps the source's attention: the first `share` of the steps do (none at 0)."""
    if share == 0:
        return float("inf")
    swapped = max(1, math.ceil(share * (len(sigmas) - 1)))
    return float(sigmas[swapped - 1]) * (1 - 1e-6)


def _mask_sigma(model, settings: InversionSettings) -> float:
    """DiffEdit's noise level for the mask: the middle of the model's schedule (the paper's 50% strength)."""
    sigmas = model.sigmas(settings.schedule or model.sampling_defaults.schedule, settings.steps)
    return float(sigmas[settings.steps // 2])


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two 8-bit RGB images, in dB (100 for identical images)."""
    if a.size != b.size:
        raise ValueError(f"cannot compare a {a.size} image with a {b.size} one")
    diff = np.asarray(a.convert("RGB"), np.float64) - np.asarray(b.convert("RGB"), np.float64)
    mse = float((diff**2).mean())
    return 100.0 if mse == 0 else 10 * math.log10(255**2 / mse)


@dataclass
class InversionResult:
    """The regenerated images and how far each is from its input (and the VAE's own round trip)."""

    images: list[Image.Image]
    psnr: list[float]
    vae_psnr: list[float]   # the ceiling: the input through the VAE alone
    inversion: Inversion = field(repr=False)


def invert_and_regenerate(model, images: list[Image.Image], prompts: list[str], targets: list[str] | None = None,
                          settings: InversionSettings = InversionSettings()) -> InversionResult:
    """Invert each image with its prompt, regenerate with its target (or itself); PSNR against the input."""
    inversion = invert_images(model, images, prompts, settings)
    out = pixels_to_images(regenerate(model, inversion, targets, settings))
    with torch.no_grad():
        through_vae = pixels_to_images(model.latents_to_pixels(inversion.path[-1]))
    inputs = [image.convert("RGB") for image in images]
    return InversionResult(out, [psnr(a, b) for a, b in zip(inputs, out)],
                           [psnr(a, b) for a, b in zip(inputs, through_vae)], inversion)

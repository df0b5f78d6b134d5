"""Samplers: plain functions (denoiser, x, sigmas, ...) -> x.

Every sampler works in sigma space, x = x0 + sigma * eps, over a denoiser
D(x, sigma, **cond) -> x0_hat and a decreasing sigma sequence that ends in 0
(see sigma_schedules.py). The probability-flow ODE there is dx/dsigma = (x - D) / sigma.

Shared arguments:
    x           the starting noise, already scaled to sigmas[0]
    extra_args  keyword tensors passed on to the denoiser (text conditioning, ...)
    callback    called as callback(i, x, denoised) before step i moves x
    generator   a torch.Generator for the noise of stochastic samplers: same seed, same result
"""

from __future__ import annotations

import math
from typing import Callable

import torch

Callback = Callable[[int, torch.Tensor, torch.Tensor], None] | None


class NonFiniteOutput(ValueError):
    """The denoiser returned NaN or inf."""


class _Model:
    """Calls the denoiser at sigmas[i] with one sigma per sample, and checks what comes back.

    Shapes are checked at once. Finiteness is checked once at the end, from the
    sum of each output recorded per call: NaN and inf survive a sum, the sum is
    ten times cheaper than isfinite().all(), and a GPU is not forced to sync every step.
    """

    def __init__(self, denoiser, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None):
        _check_sigmas(sigmas)
        self.denoiser = denoiser
        self.extra_args = extra_args or {}
        self.sigmas = sigmas
        self.batch_sigmas = sigmas.to(x.device, x.dtype)[:, None].expand(-1, x.shape[0])  # (n+1, N)
        self.sums: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return self.at(x, self.batch_sigmas[i])

    def at(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """The denoiser at any sigma: a float (one for every sample) or a (N,) tensor."""
        if not isinstance(sigma, torch.Tensor):
            sigma = x.new_full((x.shape[0],), sigma)
        denoised = self.denoiser(x, sigma, **self.extra_args)
        if denoised.shape != x.shape:
            raise ValueError(f"denoiser returned shape {tuple(denoised.shape)} for input {tuple(x.shape)}")
        self.sums.append(denoised.sum())
        return denoised

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        if self.sums:
            ok = torch.isfinite(torch.stack(self.sums))
            if not bool(ok.all()):
                call = int((~ok).nonzero()[0])
                raise NonFiniteOutput(f"the denoiser returned NaN or inf at call {call + 1} of {len(ok)}; "
                                      "the model or its inputs are broken, no image was produced")
        return x


def _check_sigmas(sigmas: torch.Tensor) -> None:
    if sigmas.ndim != 1 or sigmas.shape[0] < 2:
        raise ValueError(f"sigmas must be a 1-d tensor of at least 2 values, got shape {tuple(sigmas.shape)}")
    if not torch.isfinite(sigmas).all() or (sigmas[:-1] <= 0).any() or sigmas[-1] < 0:
        raise ValueError("sigmas must be finite, positive, and may end in 0")
    if (sigmas[1:] >= sigmas[:-1]).any():
        raise ValueError("sigmas must be strictly decreasing (from noise towards data)")


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device, so a CPU seed gives the same noise anywhere."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


def _report(callback: Callback, i: int, x: torch.Tensor, denoised: torch.Tensor) -> None:
    if callback is not None:
        callback(i, x, denoised)


def ancestral_step(sigma: float, sigma_next: float, eta: float = 1.0) -> tuple[float, float]:
    """Split a step to sigma_next into a deterministic part down to sigma_down and fresh noise sigma_up.

    With eta = 1 the noise is the DDPM posterior's: sigma_up^2 = sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2.
    """
    if sigma_next == 0:
        return 0.0, 0.0
    sigma_up = min(sigma_next, eta * math.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2))
    return math.sqrt(sigma_next**2 - sigma_up**2), sigma_up


# ----- first order ----------------------------------------------------------------------

@torch.no_grad()
def sample_euler(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None):
    """Euler's method on the probability-flow ODE (Karras et al. 2022, Algorithm 2 without churn)."""
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    for i in range(len(s) - 1):
        denoised = model(x, i)
        _report(callback, i, x, denoised)
        x = torch.lerp(denoised, x, s[i + 1] / s[i])  # x + (x - D)(s' - s)/s, in one pass
    return model.finish(x)


@torch.no_grad()
def sample_euler_ancestral(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None,
                           eta: float = 1.0):
    """Euler down to sigma_down, then add fresh noise of std sigma_up (k-diffusion's ancestral sampler)."""
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    for i in range(len(s) - 1):
        denoised = model(x, i)
        _report(callback, i, x, denoised)
        sigma_down, sigma_up = ancestral_step(s[i], s[i + 1], eta)
        x = torch.lerp(denoised, x, sigma_down / s[i])
        if sigma_up > 0:
            x = x + _noise_like(x, generator) * sigma_up
    return model.finish(x)


def sample_ddim(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None,
                eta: float = 0.0):
    """DDIM (Song et al. 2021, eq. 12) in sigma space: x' = x0_hat + sqrt(s'^2 - s_up^2) eps_hat + s_up z.

    With eps_hat = (x - x0_hat) / s and sqrt(s'^2 - s_up^2) = sigma_down, that is the
    Euler ancestral step, line for line; eta = 0 is deterministic (plain Euler), eta = 1 is DDPM.
    """
    return sample_euler_ancestral(denoiser, x, sigmas, extra_args, callback, generator, eta=eta)


def sample_ddpm(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None):
    """DDPM ancestral sampling (Ho et al. 2020): each step draws from the posterior q(x_prev | x, x0_hat).

    In sigma space that posterior is N(x0 + (s'^2/s^2)(x - x0), s'^2 (s^2 - s'^2)/s^2),
    which is exactly DDIM with eta = 1 (Song et al. 2021, section 4.1).
    """
    return sample_ddim(denoiser, x, sigmas, extra_args, callback, generator, eta=1.0)


# ----- second order ---------------------------------------------------------------------

@torch.no_grad()
def sample_heun(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None):
    """Heun's method (Karras et al. 2022, Algorithm 1): Euler, then average the two slopes.

    The last step, to sigma = 0, is a plain Euler step (the slope there is undefined).
    """
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    for i in range(len(s) - 1):
        denoised = model(x, i)
        _report(callback, i, x, denoised)
        x_euler = torch.lerp(denoised, x, s[i + 1] / s[i])
        if s[i + 1] == 0:
            x = x_euler
            continue
        # x + dt/2 (d + d'), with d = (x - D)/s, d' = (x_euler - D')/s', and x_euler - x = dt d
        gap_next = x_euler - model(x_euler, i + 1)  # = s' d'
        x = torch.lerp(x, x_euler, 0.5).add_(gap_next, alpha=(s[i + 1] - s[i]) / (2 * s[i + 1]))
    return model.finish(x)


LOWER_ORDER_FINAL_BELOW = 15  # steps: diffusers' (and Lu et al.'s) threshold for lower_order_final
LONG_STEP = 2.0  # a step this many times longer in log sigma than the one before it is taken at first order


def _lower_order_final(s: list[float], i: int) -> bool:
    """lower_order_final: whether a multistep sampler takes step i (s[i] -> s[i+1]) at first order.

    Lu et al.'s DPM-Solver++ code and diffusers drop to first order at the final step of a
    solve under 15 steps. diffusers' final step is the one to sigma = 0, first order here
    anyway, so that alone changes nothing on our lists. The failure it guards against is a
    long final step: on leading, linspace and flow spacings the last step into a non-zero
    sigma is 2.5-6x the previous one in log sigma, and the 2M correction, extrapolating D
    h/2 ahead from two estimates h_prev apart, overshoots once h > 2 h_prev. Such a step is
    first order too (in our schedules only that final one; never under trailing or exponential).
    """
    n = len(s) - 1
    if i == n - 1 and n < LOWER_ORDER_FINAL_BELOW:
        return True
    return i > 0 and s[i + 1] > 0 and math.log(s[i] / s[i + 1]) > LONG_STEP * math.log(s[i - 1] / s[i])


def sample_dpmpp_2m(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None,
                    lower_order_final: bool = True):
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2), data prediction, multistep.

    With lambda = -log sigma and h = lambda' - lambda, one step is
    x' = (sigma'/sigma) x + (1 - sigma'/sigma) D, where D extrapolates the last two
    denoised estimates. First order: the first step, the step to sigma = 0, and the
    steps `_lower_order_final` names (mainly a step over twice as long as the one before).
    It is the SDE variant below with eta = 0 (no noise renewed).
    """
    return sample_dpmpp_2m_sde(denoiser, x, sigmas, extra_args, callback, generator, eta=0.0,
                               lower_order_final=lower_order_final)


@torch.no_grad()
def sample_dpmpp_2m_sde(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None,
                        eta: float = 1.0, lower_order_final: bool = True):
    """DPM-Solver++(2M) SDE (Lu et al. 2022, midpoint variant): 2M with part of the noise renewed each step.

    x' = (s'/s) e^{-eta h} x + (1 - e^{-(1+eta) h}) D + s' sqrt(1 - e^{-2 eta h}) z, where D is
    corrected by the previous estimate: + (1 - e^{-(1+eta) h}) (D - D_prev) / (2 r), r = h_prev / h.
    The correction is skipped where 2M is first order (see sample_dpmpp_2m).
    """
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    old_denoised = None
    for i in range(len(s) - 1):
        denoised = model(x, i)
        _report(callback, i, x, denoised)
        if s[i + 1] == 0:
            x = denoised
        else:
            h = math.log(s[i] / s[i + 1])
            gain = -math.expm1(-h - eta * h)
            x = x * (s[i + 1] / s[i] * math.exp(-eta * h)) + denoised * gain
            if old_denoised is not None and not (lower_order_final and _lower_order_final(s, i)):
                r = math.log(s[i - 1] / s[i]) / h
                x = x + (denoised - old_denoised) * (gain / (2 * r))
            if eta > 0:
                x = x + _noise_like(x, generator) * (s[i + 1] * math.sqrt(-math.expm1(-2 * eta * h)))
        old_denoised = denoised
    return model.finish(x)


@torch.no_grad()
def sample_unipc(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None,
                 use_corrector: bool = True, lower_order_final: bool = True):
    """UniPC, order 2, B(h) = e^h - 1 ("bh2"), data prediction (Zhao et al. 2023, Algorithms 1-2).

    Each step first corrects the point just reached with the new model output
    (UniC, no extra evaluation), then predicts the next point (UniP). Orders
    warm up from 1 and the last step is first order, as in the reference code;
    so are the steps `_lower_order_final` names (see sample_dpmpp_2m).
    """
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    n = len(s) - 1
    history: list[torch.Tensor] = []  # denoised estimates, newest last
    last_x, last_order = x, 1
    for i in range(n):
        denoised = model(x, i)
        _report(callback, i, x, denoised)
        if use_corrector and i > 0:
            x = _unipc_correct(last_x, denoised, history, s[i - 2: i + 1] if i >= 2 else s[i - 1: i + 1],
                               last_order)
        history = (history + [denoised])[-2:]
        order = 1 if lower_order_final and _lower_order_final(s, i) else min(2, i + 1, n - i)
        last_x, last_order = x, order
        x = _unipc_predict(x, history, s[max(0, i - 1): i + 2] if order == 2 else s[i: i + 2], order)
    return model.finish(x)


def _unipc_predict(x, history, s, order):
    """UniP from the newest point s[-2] to s[-1]; `s` ends with (..., sigma_now, sigma_next)."""
    m0 = history[-1]
    if s[-1] == 0:
        return m0
    h = math.log(s[-2] / s[-1])
    b_h = math.expm1(-h)  # B(h) for bh2, and also phi_1
    x_next = x * (s[-1] / s[-2]) - m0 * b_h
    if order == 2:
        r1 = math.log(s[-2] / s[-3]) / h  # (lambda_prev - lambda_now) / h, negative
        x_next = x_next - (history[-2] - m0) * (b_h * 0.5 / r1)
    return x_next


def _unipc_correct(last_x, denoised, history, s, order):
    """UniC: recompute the step s[-2] -> s[-1] from last_x using the new model output `denoised`."""
    m0 = history[-1]
    h = math.log(s[-2] / s[-1])
    hh = -h
    b_h = math.expm1(hh)
    x_base = last_x * (s[-1] / s[-2]) - m0 * b_h
    d1_t = denoised - m0
    if order == 1:
        return x_base - d1_t * (b_h * 0.5)
    r1 = math.log(s[-2] / s[-3]) / h
    phi_k = b_h / hh - 1
    b = torch.tensor([phi_k / b_h, (phi_k / hh - 0.5) * 2 / b_h], dtype=torch.float64)
    rho = torch.linalg.solve(torch.tensor([[1.0, 1.0], [r1, 1.0]], dtype=torch.float64), b).tolist()
    d1 = (history[-2] - m0) / r1
    return x_base - (d1 * rho[0] + d1_t * rho[1]) * b_h


# ----- DPM-Solver (Lu et al. 2022, NeurIPS), noise prediction --------------------------------
# The paper's VP variables x_t = alpha_t x0 + sigma_t eps and lambda_t = log(alpha_t / sigma_t) map to
# ours by x = x_t / alpha_t and sigma = sigma_t / alpha_t, so lambda = -log sigma, e^h = sigma / sigma'
# for h = lambda' - lambda, and alpha_t'/alpha_t x_t becomes plain x. eps_hat = (x - D) / sigma.

@torch.no_grad()
def sample_dpm_solver_1(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None):
    """DPM-Solver-1 (Lu et al. 2022, section 3.2): x' = (alpha'/alpha) x - sigma_t' (e^h - 1) eps_hat.

    In sigma space sigma_t' (e^h - 1) / alpha' = sigma - sigma', so the step is
    x' = x - (sigma - sigma') eps_hat: DDIM with eta = 0, as the paper shows (section 4.1),
    and Euler in sigma space. The step to sigma = 0 lands on x - sigma eps_hat = D.
    """
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    for i in range(len(s) - 1):
        denoised = model(x, i)
        _report(callback, i, x, denoised)
        eps = (x - denoised) / s[i]
        x = x - eps * (s[i] - s[i + 1])
    return model.finish(x)


@torch.no_grad()
def sample_dpm_solver_2(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None,
                        r1: float = 0.5):
    """DPM-Solver-2 (Lu et al. 2022, Algorithm 1), singlestep: two model calls per step.

    u = DPM-Solver-1 from sigma to s_mid, the point at lambda + r1 h, which is
    sigma^(1-r1) sigma'^r1 (the geometric mean for r1 = 0.5); then
    x' = x - (sigma - sigma') (eps_hat + (eps_hat(u, s_mid) - eps_hat) / (2 r1)).
    With r1 = 0.5 that is x' = x - (sigma - sigma') eps_hat(u, s_mid), the midpoint rule in lambda.
    The step to sigma = 0, where h is infinite, is first order: it returns D.
    """
    if not 0 < r1 <= 1:
        raise ValueError(f"r1 must be in (0, 1], got {r1}")
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    for i in range(len(s) - 1):
        denoised = model(x, i)
        _report(callback, i, x, denoised)
        if s[i + 1] == 0:
            x = denoised
            continue
        eps = (x - denoised) / s[i]
        s_mid = s[i] ** (1 - r1) * s[i + 1] ** r1
        u = x - eps * (s[i] - s_mid)
        eps_mid = (u - model.at(u, s_mid)) / s_mid
        x = x - (eps + (eps_mid - eps) / (2 * r1)) * (s[i] - s[i + 1])
    return model.finish(x)


# ----- rectified flow -------------------------------------------------------------------

def sample_flow_euler(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None):
    """Euler in flow time t on x_t = (1 - t) x0 + t eps (Liu et al. 2023; SD3's sampler).

    With t = sigma / (1 + sigma) and x_t = x / (1 + sigma), the flow step
    x_t' = x_t + (t' - t)(x_t - x0_hat) / t becomes x' = (s'/s) x + (1 - s'/s) x0_hat:
    Euler in sigma space, which is also DDIM. One solver, three names; this one
    exists so flow models are sampled under the name their users know.
    """
    return sample_euler(denoiser, x, sigmas, extra_args, callback, generator)


@torch.no_grad()
def sample_consistency(denoiser, x, sigmas, extra_args=None, callback: Callback = None, generator=None):
    """Multistep consistency sampling (Song et al. 2023, "Consistency Models", Algorithm 1).

    A consistency model maps any point of an ODE path to the path's end, so each step jumps to the
    end, x0 = f(x, sigma_i), then noises x0 back up to the next level: x = x0 + sqrt(sigma_{i+1}^2 -
    sigma_min^2) z (sigma_min: the denoiser's `sigma_min`, else 0). The last step, to sigma 0, returns
    the jump. One call per step; on an ordinary diffusion model it is DDPM-like sampling with all the
    noise renewed at every step.
    """
    model, s = _Model(denoiser, x, sigmas, extra_args), sigmas.tolist()
    sigma_min = getattr(denoiser, "sigma_min", 0.0)
    for i in range(len(s) - 1):
        denoised = model(x, i)
        _report(callback, i, x, denoised)
        x = denoised
        if s[i + 1] > 0:
            x = denoised + _noise_like(x, generator) * math.sqrt(max(s[i + 1] ** 2 - sigma_min**2, 0.0))
    return model.finish(x)


SAMPLERS: dict[str, Callable] = {
    "euler": sample_euler,
    "euler_ancestral": sample_euler_ancestral,
    "heun": sample_heun,
    "ddim": sample_ddim,
    "ddpm": sample_ddpm,
    "dpmpp_2m": sample_dpmpp_2m,
    "dpmpp_2m_sde": sample_dpmpp_2m_sde,
    "unipc": sample_unipc,
    "dpm_solver_1": sample_dpm_solver_1,
    "dpm_solver_2": sample_dpm_solver_2,
    "flow_euler": sample_flow_euler,
    "consistency": sample_consistency,
}
STOCHASTIC_SAMPLERS = frozenset({"euler_ancestral", "ddpm", "dpmpp_2m_sde", "consistency"})
# Samplers of consistency models (train/consistency.py): on a diffusion model each jump lands on the
# posterior mean, so they draw blurred means, not the model's distribution
CONSISTENCY_SAMPLERS = frozenset({"consistency"})


def get_sampler(name: str) -> Callable:
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; accepted: {', '.join(SAMPLERS)}") from None

"""Classifier guidance as a denoiser wrapper (Dhariwal & Nichol 2021, section 4.1, Algorithms 1 and 2).

A classifier p(y | x_sigma, sigma) trained on noisy inputs steers any diffusion model towards
class y: its gradient is added to the model's score, scaled by s,

    grad_x log p_s(x | y) = grad_x log p(x) + s grad_x log p(y | x, sigma)     (the paper's eq. 10-12).

In sigma space the score is (D(x, sigma) - x) / sigma^2 (Tweedie; Karras et al. 2022, eq. 3), so

    D_guided(x, sigma) = D(x, sigma) + s sigma^2 grad_x log p(y | x, sigma).

At s = 1 with the exact classifier this is the exact conditional denoiser E[x0 | x, y]; at other
scales it is the denoiser of p(x) p(y | x)^s, a sharpened classifier (the paper's section 4.2).
Samplers see only a denoiser, so every one of them runs it; only the classifier is
differentiated, never the denoiser.
"""

from __future__ import annotations

from typing import Callable

import torch

from pixeldrift.diffusion.forward import append_dims

LogLikelihood = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (N, ...), sigma (N,)) -> (N,)
MAX_SCALE = 1000.0


def classifier_log_likelihood(classifier, labels: dict[str, torch.Tensor]) -> LogLikelihood:
    """log p(y | x, sigma) summed over heads, for a classifier(x, sigma) -> {head: logits (N, classes)}.

    labels: head -> (N,) class indices, one per sample. Heads are treated as independent given x
    (one label of a colour head and one of a shape head: log p(colour) + log p(shape)).
    """
    if not labels:
        raise ValueError("classifier guidance needs at least one label")

    def log_likelihood(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        logits = classifier(x, sigma)
        missing = sorted(set(labels) - set(logits))
        if missing:
            raise ValueError(f"the classifier has no head {', '.join(missing)}; it has {', '.join(logits)}")
        return sum(logits[head].log_softmax(dim=1).gather(1, labels[head].to(x.device)[:, None])[:, 0]
                   for head in labels)
    return log_likelihood


class ClassifierGuidedDenoiser:
    """Wraps any denoiser (called with whatever arguments it takes) with a classifier's gradient.

    `sigma_max`: no guidance above this noise level (None: at every level), where a learned
    classifier has seen little but noise.
    """

    def __init__(self, denoiser, log_likelihood: LogLikelihood, scale: float, sigma_max: float | None = None):
        if not 0 <= scale <= MAX_SCALE:
            raise ValueError(f"the classifier scale must be from 0 to {MAX_SCALE:g}, got {scale}")
        if sigma_max is not None and not sigma_max > 0:
            raise ValueError(f"sigma_max must be > 0 or None, got {sigma_max}")
        self.denoiser, self.log_likelihood = denoiser, log_likelihood
        self.scale, self.sigma_max = scale, sigma_max

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        denoised = self.denoiser(x, sigma, *args, **kwargs)
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(x.shape[0])
        if self.scale == 0 or (self.sigma_max is not None and float(sigma.max()) > self.sigma_max):
            return denoised
        return denoised + self.scale * append_dims(sigma, x.ndim) ** 2 * self.gradient(x, sigma)

    def gradient(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """grad_x log p(y | x, sigma), (N, ...)."""
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.log_likelihood(x_in, sigma).sum(), x_in)
        return grad.to(x.dtype)

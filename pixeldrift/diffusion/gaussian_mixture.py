"""A Gaussian mixture: data whose ideal denoiser and probability-flow ODE are known exactly.

If x0 ~ sum_k w_k N(mu_k, c_k^2 I), then x = x0 + sigma eps is again a mixture,
with component variances v_k = c_k^2 + sigma^2, and the optimal denoiser is

    D(x, sigma) = E[x0 | x] = sum_k r_k(x) (mu_k + c_k^2 / v_k (x - mu_k)),

with r_k the posterior responsibility of component k. Samplers are tested on it
against the exact ODE solution, and the toy lab uses it as a teaching aid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GaussianMixture:
    means: torch.Tensor    # (K, d)
    stds: torch.Tensor     # (K,) isotropic standard deviation of each component
    weights: torch.Tensor  # (K,) sums to 1

    def __post_init__(self) -> None:
        k = self.means.shape[0]
        if self.stds.shape != (k,) or self.weights.shape != (k,):
            raise ValueError("means (K, d), stds (K,) and weights (K,) must agree on K")
        if (self.stds <= 0).any() or (self.weights <= 0).any():
            raise ValueError("stds and weights must be positive")

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        return self.means[component] + self.stds[component, None] * noise

    def mean(self) -> torch.Tensor:
        return self.weights @ self.means

    def covariance(self) -> torch.Tensor:
        mu = self.mean()
        centred = self.means - mu
        within = (self.weights * self.stds**2).sum() * torch.eye(self.dim, dtype=self.means.dtype)
        return within + (self.weights[:, None] * centred).T @ centred

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, log_weights: torch.Tensor | None = None) -> torch.Tensor:
        """The exact E[x0 | x] for x of shape (N, ...) whose flattened size is d; sigma (N,) or scalar.

        `log_weights` (N, K), if given, replaces log(weights) per sample, up to a constant: the
        exact denoiser of a class-conditional mixture (a condition that reweights the components).
        """
        shape = x.shape
        flat = x.reshape(shape[0], -1).to(self.means.dtype)  # (N, d)
        s2 = torch.as_tensor(sigma, dtype=flat.dtype).reshape(-1, 1) ** 2  # (N or 1, 1)
        var = self.stds**2 + s2  # (N, K)
        diff = flat[:, None, :] - self.means  # (N, K, d)
        prior = self.weights.log() if log_weights is None else log_weights.to(flat.dtype)
        log_r = prior - 0.5 * self.dim * var.log() - diff.pow(2).sum(-1) / (2 * var)
        resp = log_r.softmax(dim=1)  # (N, K)
        posterior_means = self.means + (self.stds**2 / var)[..., None] * diff  # (N, K, d)
        return (resp[..., None] * posterior_means).sum(1).reshape(shape).to(x.dtype)

    def denoiser(self):
        """This mixture as a pixeldrift denoiser D(x, sigma)."""
        return lambda x, sigma, **cond: self.denoise(x, sigma)


def solve_probability_flow(mixture: GaussianMixture, x: torch.Tensor, sigma_from: float, sigma_to: float,
                           steps: int = 2000) -> torch.Tensor:
    """Integrate dx/dsigma = (x - D) / sigma from sigma_from to sigma_to > 0 with classical RK4.

    The variable is u = log sigma, where the ODE reads dx/du = x - D and is smooth;
    2,000 steps in float64 put the error far below what any sampler test looks at.
    """
    x = x.double()
    u_from, u_to = torch.tensor(sigma_from).log().item(), torch.tensor(sigma_to).log().item()
    h = (u_to - u_from) / steps

    def slope(x_: torch.Tensor, u: float) -> torch.Tensor:
        return x_ - mixture.denoise(x_, torch.tensor(u, dtype=torch.float64).exp())

    u = u_from
    for _ in range(steps):
        k1 = slope(x, u)
        k2 = slope(x + h / 2 * k1, u + h / 2)
        k3 = slope(x + h / 2 * k2, u + h / 2)
        k4 = slope(x + h * k3, u + h)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        u += h
    return x


def example_mixture(dtype: torch.dtype = torch.float64) -> GaussianMixture:
    """Three overlapping blobs in 2-D, used by the tests and the convergence benchmark.

    The blobs overlap enough that no ODE trajectory sits on a knife edge between
    two modes, so step-size errors shrink smoothly and convergence orders show.
    """
    return GaussianMixture(
        means=torch.tensor([[-1.0, -0.5], [1.0, -0.5], [0.0, 1.2]], dtype=dtype),
        stds=torch.tensor([0.5, 0.6, 0.55], dtype=dtype),
        weights=torch.tensor([0.3, 0.3, 0.4], dtype=dtype),
    )

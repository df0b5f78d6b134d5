"""FID and KID: how far generated images are from real ones, measured on a feature network's features.

Notation: real features X (n, d), generated features Y (m, d); mu, Sigma their mean and covariance.

FID (Heusel et al. 2017) fits a Gaussian to each set and takes the Frechet (Wasserstein-2) distance
between them:

    FID = |mu_x - mu_y|^2 + tr(Sigma_x + Sigma_y - 2 (Sigma_x Sigma_y)^(1/2))

The matrix square root is where implementations differ. pytorch-fid calls scipy.linalg.sqrtm on the
non-symmetric product Sigma_x Sigma_y and drops a small imaginary part. Only its trace is needed, and
Sigma_x Sigma_y is similar to the symmetric positive semi-definite A = Sigma_x^(1/2) Sigma_y Sigma_x^(1/2)
(conjugate by Sigma_x^(1/2)), so the two have the same eigenvalues and tr (Sigma_x Sigma_y)^(1/2) =
sum_i sqrt(lambda_i(A)). We compute it with two symmetric eigen-decompositions in float64 (eigenvalues
within round-off of 0 set to 0): real by construction, and equal to sqrtm's trace (tested).
Covariances are the unbiased ones (n - 1), as numpy.cov and pytorch-fid use.

KID (Binkowski et al. 2018) is the squared maximum mean discrepancy with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, estimated without bias: within-set sums leave out the diagonal. It is
averaged over `subsets` random subsets of `subset_size` from each set (drawn without replacement,
seeded), as the paper and torch-fidelity do; the mean and the standard deviation over subsets are
reported. Unlike FID, its expectation does not depend on the number of samples, and it can be
negative when the two sets come from the same distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _as_features(features, name: str) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 1:
        raise ValueError(f"{name}: need (N, d) features with N >= 2, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: the features hold NaN or infinity")
    return array


def gaussian_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """The mean (d,) and unbiased covariance (d, d) of (N, d) features, in float64."""
    array = _as_features(features, "features")
    return array.mean(axis=0), np.cov(array, rowvar=False).reshape(array.shape[1], array.shape[1])


def _psd_eigenvalues(values: np.ndarray) -> np.ndarray:
    """Eigenvalues of a positive semi-definite matrix, those within round-off of 0 set to 0.

    An eigen-solver returns the zero eigenvalues of a singular covariance (fewer samples than
    dimensions) as +-(d eps |A|); their square roots would add up to a visible error over 2048
    dimensions, so below that numerical-rank threshold they count as zero."""
    floor = np.abs(values).max(initial=0.0) * len(values) * np.finfo(np.float64).eps
    return np.where(values > floor, values, 0.0)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(_psd_eigenvalues(values))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The Frechet distance between N(mu1, sigma1) and N(mu2, sigma2); see the module docstring."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"the two Gaussians differ in dimension: means {mu1.shape} and {mu2.shape}, "
                         f"covariances {sigma1.shape} and {sigma2.shape}")
    root = _psd_sqrt(sigma1)
    product = root @ sigma2 @ root                                  # similar to Sigma1 Sigma2
    trace_sqrt = np.sqrt(_psd_eigenvalues(np.linalg.eigvalsh((product + product.T) / 2))).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def fid(real, fake) -> float:
    """FID between two sets of features (N, d) and (M, d)."""
    return frechet_distance(*gaussian_statistics(real), *gaussian_statistics(fake))


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples under k(a, b) = (a.b / d + 1)^3."""
    m, d = x.shape
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.mean())


@dataclass(frozen=True)
class KID:
    mean: float
    std: float
    subsets: int
    subset_size: int


def kid(real, fake, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> KID:
    """KID over `subsets` random subsets of min(subset_size, N, M) features from each set."""
    x, y = _as_features(real, "real features"), _as_features(fake, "fake features")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"the feature sets differ in dimension: {x.shape[1]} and {y.shape[1]}")
    if not 1 <= subsets <= 100_000 or subset_size < 2:
        raise ValueError(f"need 1 to 100000 subsets of at least 2 features, got {subsets} of {subset_size}")
    size = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    values = np.array([polynomial_mmd2(x[rng.choice(len(x), size, replace=False)],
                                       y[rng.choice(len(y), size, replace=False)]) for _ in range(subsets)])
    return KID(float(values.mean()), float(values.std()), subsets, size)

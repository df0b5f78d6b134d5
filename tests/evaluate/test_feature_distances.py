"""FID against closed forms (and scipy's sqrtm, pytorch-fid's route), KID's unbiasedness on a known case."""

import numpy as np
import pytest

from pixeldrift.evaluate.feature_distances import fid, frechet_distance, gaussian_statistics, kid, polynomial_mmd2


def random_covariance(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(50, 16))
    assert abs(fid(features, features)) < 1e-9
    low_rank = features[:5]  # fewer samples than dimensions: a singular covariance
    assert abs(fid(low_rank, low_rank)) < 1e-7 * np.trace(np.cov(low_rank, rowvar=False))  # sqrt of round-off


def test_frechet_distance_of_known_gaussians_in_closed_form():
    # commuting (diagonal) covariances: |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = 5.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(np.array([3.0]), np.array([[4.0]]), np.array([1.0]), np.array([[1.0]])) == \
        pytest.approx(4.0 + 1.0)


def test_frechet_distance_equals_pytorch_fid_s_sqrtm_route():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    for d in (2, 8, 64):
        s1, s2 = random_covariance(rng, d), random_covariance(rng, d)
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        covmean = scipy_linalg.sqrtm(s1 @ s2).real
        reference = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-8, abs=1e-10)


def test_fid_of_samples_approaches_the_distance_of_their_gaussians():
    rng = np.random.default_rng(2)
    s1, s2 = random_covariance(rng, 3), random_covariance(rng, 3)
    mu1, mu2 = np.zeros(3), np.array([0.5, -0.5, 1.0])
    x = rng.multivariate_normal(mu1, s1, size=200_000)
    y = rng.multivariate_normal(mu2, s2, size=200_000)
    assert fid(x, y) == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=0.02)
    mean, cov = gaussian_statistics(x)
    assert np.allclose(cov, np.cov(x, rowvar=False)) and np.allclose(mean, x.mean(0))


def exact_mmd2(a, b):
    """Population MMD^2 between uniform distributions on the rows of a and b (iid pairs may coincide)."""
    d = a.shape[1]
    k = lambda u, v: (u @ v.T / d + 1) ** 3
    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()


def test_kid_is_unbiased_on_a_known_case():
    rng = np.random.default_rng(3)
    support_p, support_q = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)) + 0.3
    x = support_p[rng.integers(0, 5, 40_000)]  # iid draws from the two distributions
    y = support_q[rng.integers(0, 5, 40_000)]
    result = kid(x, y, subsets=4000, subset_size=4, seed=0)
    truth = exact_mmd2(support_p, support_q)
    assert result.subset_size == 4 and result.std > 0
    assert abs(result.mean - truth) < 4 * result.std / np.sqrt(4000)
    # the biased (V-statistic) estimate at m = 4 is far off: the test can tell the two apart
    d = 2
    biased = np.mean([((a @ a.T / d + 1) ** 3).mean() + ((b @ b.T / d + 1) ** 3).mean()
                      - 2 * ((a @ b.T / d + 1) ** 3).mean()
                      for a, b in ((x[i:i + 4], y[i:i + 4]) for i in range(0, 16_000, 4))])
    assert abs(biased - truth) > 10 * result.std / np.sqrt(4000)


def test_kid_of_one_distribution_is_zero_on_average():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    result = kid(x, y, subsets=50, subset_size=200)
    assert abs(result.mean) < 3 * result.std / np.sqrt(50)
    shifted = kid(x, y + 0.5, subsets=20, subset_size=200)
    assert shifted.mean > 20 * shifted.std / np.sqrt(20)


def test_kid_with_equal_samples_matches_the_formula():
    x, y = np.eye(3), np.ones((3, 3))
    kxx, kyy, kxy = (x @ x.T / 3 + 1) ** 3, (y @ y.T / 3 + 1) ** 3, (x @ y.T / 3 + 1) ** 3
    by_hand = (kxx.sum() - np.trace(kxx)) / 6 + (kyy.sum() - np.trace(kyy)) / 6 - 2 * kxy.mean()
    assert polynomial_mmd2(x, y) == pytest.approx(by_hand)
    assert kid(x, y, subsets=3, subset_size=10).mean == pytest.approx(by_hand)  # capped at 3 per subset


@pytest.mark.parametrize("call, message", [
    (lambda: fid(np.zeros((1, 4)), np.zeros((5, 4))), "N >= 2"),
    (lambda: fid(np.zeros((5, 4)), np.zeros((5, 3))), "differ in dimension"),
    (lambda: fid(np.full((5, 4), np.nan), np.zeros((5, 4))), "NaN or infinity"),
    (lambda: kid(np.zeros((5, 4)), np.zeros((5, 3))), "differ in dimension"),
    (lambda: kid(np.zeros((5, 4)), np.zeros((5, 4)), subsets=0), "subsets"),
])
def test_bad_features_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()

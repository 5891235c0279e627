"""Finite-sample confidence bounds and p-values used by the threshold search.

- Clopper-Pearson (exact binomial) for the error rate of classification labels.
- Hoeffding-Bentkus for the mean of [0, 1]-valued losses (1 - IoU of boxes and masks),
  as in Learn-then-Test (Angelopoulos et al., 2021): valid for any distribution on [0, 1].
- The spending of the error probability delta across iterations.

All p-values test H0: risk > alpha; a small p-value lets the search accept a threshold.
Sampling without replacement from a finite pool is covered too: the hypergeometric tail is
dominated by the binomial one (Hoeffding, 1963).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import binom


def spend_delta(delta: float, iteration: int) -> float:
    """The share of `delta` for iteration i >= 0: delta * 6 / (pi^2 (i + 1)^2).

    The shares sum to delta, so the bounds of every iteration hold simultaneously with
    probability >= 1 - delta, however many iterations reuse the same validation labels.
    """
    return delta * 6.0 / (math.pi**2 * (iteration + 1) ** 2)


def clopper_pearson_upper(errors: int, n: int, delta: float) -> float:
    """One-sided (1 - delta) upper bound on a binomial rate from `errors` out of `n`."""
    if n <= 0:
        return 1.0
    if errors >= n:
        return 1.0
    return float(beta_dist.ppf(1.0 - delta, errors + 1, n - errors))


def binomial_pvalue(errors: int, n: int, alpha: float) -> float:
    """Exact p-value of H0: error rate > alpha (P[Bin(n, alpha) <= errors])."""
    if n <= 0:
        return 1.0
    return float(binom.cdf(errors, n, alpha))


def min_samples_for_zero_errors(alpha: float, delta: float) -> int:
    """The smallest n at which 0 errors out of n rejects H0: rate > alpha at level delta."""
    return max(1, math.ceil(math.log(delta) / math.log1p(-alpha)))


def _kl_bernoulli(a: float, b: float) -> float:
    a = min(max(a, 1e-12), 1 - 1e-12)
    b = min(max(b, 1e-12), 1 - 1e-12)
    return a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))


def hoeffding_bentkus_pvalue(mean_loss: float, n: int, alpha: float) -> float:
    """p-value of H0: E[loss] > alpha from n losses in [0, 1] with empirical mean `mean_loss`.

    min(Hoeffding's exp(-n KL(min(mean, alpha) || alpha)), Bentkus' e * P[Bin(n, alpha) <=
    ceil(n mean)]).
    """
    if n <= 0:
        return 1.0
    hoeffding = math.exp(-n * _kl_bernoulli(min(mean_loss, alpha), alpha))
    bentkus = math.e * float(binom.cdf(math.ceil(n * mean_loss - 1e-9), n, alpha))
    return min(1.0, hoeffding, bentkus)


def hoeffding_bentkus_upper(mean_loss: float, n: int, delta: float) -> float:
    """The (1 - delta) upper confidence bound on E[loss]: the smallest alpha not rejected."""
    if n <= 0:
        return 1.0
    if hoeffding_bentkus_pvalue(mean_loss, n, 1.0 - 1e-12) > delta:
        return 1.0
    lo, hi = min(mean_loss, 1.0), 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if hoeffding_bentkus_pvalue(mean_loss, n, mid) <= delta:
            hi = mid
        else:
            lo = mid
    return hi


def hoeffding_bentkus_pvalues(mean_loss: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """Vectorised `hoeffding_bentkus_pvalue`."""
    mean_loss = np.asarray(mean_loss, dtype=np.float64)
    n = np.asarray(n, dtype=np.int64)
    a = np.clip(np.minimum(mean_loss, alpha), 1e-12, 1 - 1e-12)
    b = min(max(alpha, 1e-12), 1 - 1e-12)
    kl = a * np.log(a / b) + (1 - a) * np.log((1 - a) / (1 - b))
    hoeffding = np.exp(-n * kl)
    bentkus = np.e * binom.cdf(np.ceil(n * mean_loss - 1e-9), n, alpha)
    out = np.minimum(1.0, np.minimum(hoeffding, bentkus))
    return np.where(n > 0, out, 1.0)


def binomial_pvalues(errors: np.ndarray, n: np.ndarray, alpha: float) -> np.ndarray:
    """Vectorised `binomial_pvalue`."""
    n = np.asarray(n)
    return np.where(n > 0, binom.cdf(np.asarray(errors), n, alpha), 1.0)

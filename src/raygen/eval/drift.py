"""Distribution-drift statistics as pure functions: population stability index (PSI) and Kolmogorov-Smirnov.

PSI compares the fraction of values in each bin of a reference distribution with the fraction of new
values in the same bins: ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)``. Common reading: < 0.1 stable,
0.1-0.25 a moderate shift, > 0.25 a significant shift. Bins are the reference's quantiles, so each holds
about the same share of the reference; empty bins are floored at ``eps`` so the logarithm stays finite.
All functions work on the last axis, so a features x samples matrix gives one statistic per feature.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

#: Floor of a bin fraction in PSI (an empty bin would give ln(0)).
PSI_EPS = 1e-4


def quantile_edges(x: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """The ``n_bins - 1`` inner bin edges (quantiles) of ``x`` along its last axis, NaN ignored."""
    qs = np.linspace(0, 1, n_bins + 1)[1:-1]
    return np.moveaxis(np.nanquantile(np.asarray(x, dtype=float), qs, axis=-1), 0, -1)


def bin_fractions(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Fraction of the non-missing values of ``x`` in each bin ``(-inf, e1], (e1, e2], ..., (e_k, inf)``."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    edges = np.atleast_2d(edges)
    n_bins = edges.shape[-1] + 1
    out = np.zeros((x.shape[0], n_bins))
    for i in range(x.shape[0]):
        v = x[i][~np.isnan(x[i])]
        if v.size:
            idx = np.searchsorted(edges[i], v, side="left")
            out[i] = np.bincount(idx, minlength=n_bins) / v.size
        else:
            out[i] = np.nan
    return out


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = PSI_EPS) -> np.ndarray:
    """Population stability index of bin fractions ``actual`` against ``expected`` (last axis = bins)."""
    e = np.clip(np.asarray(expected, dtype=float), eps, None)
    a = np.clip(np.asarray(actual, dtype=float), eps, None)
    return np.sum((a - e) * np.log(a / e), axis=-1)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs (NaN ignored)."""
    a = np.sort(np.asarray(a, dtype=float)[~np.isnan(a)])
    b = np.sort(np.asarray(b, dtype=float)[~np.isnan(b)])
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and two-sided p-value (scipy's exact distribution for small samples,
    asymptotic for large ones), NaN ignored."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan")
    res = stats.ks_2samp(a, b)
    return float(res.statistic), float(res.pvalue)

"""PSI and Kolmogorov-Smirnov drift statistics (pure functions, reused by `raygen drift`)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from raygen.eval.drift import bin_fractions, ks_statistic, ks_test, psi, quantile_edges


def test_psi_values():
    e = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(e, e) == 0
    a = np.array([0.1, 0.2, 0.3, 0.4])
    assert np.isclose(psi(e, a), np.sum((a - e) * np.log(a / e)))
    assert np.isfinite(psi(e, np.array([0.0, 0.0, 0.5, 0.5])))  # empty bins are floored, not infinite


def test_quantile_bins_per_row():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(3, 5000))
    edges = quantile_edges(ref, 10)
    assert edges.shape == (3, 9)
    same = bin_fractions(rng.normal(size=(3, 5000)), edges)
    shifted = bin_fractions(rng.normal(1.0, 1.0, size=(3, 5000)), edges)
    assert np.allclose(same.sum(axis=1), 1) and psi(np.full((3, 10), 0.1), same).max() < 0.02
    assert psi(np.full((3, 10), 0.1), shifted).min() > 0.5
    assert np.isnan(bin_fractions(np.full((1, 4), np.nan), edges[:1])).all()


def test_ks_matches_scipy():
    rng = np.random.default_rng(1)
    for n, m, shift in [(50, 80, 0.0), (200, 150, 0.4), (30, 30, 1.0)]:
        a, b = rng.normal(size=n), rng.normal(shift, 1, size=m)
        ref = stats.ks_2samp(a, b)
        assert np.isclose(ks_statistic(a, b), ref.statistic)
        assert np.allclose(ks_test(np.r_[a, np.nan], b), (ref.statistic, ref.pvalue))
    assert ks_test(np.arange(5.0), np.arange(5.0) + 100)[1] < 0.01

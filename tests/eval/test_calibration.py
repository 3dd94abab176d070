"""ECE, Brier, reliability table, Wilson intervals and the Platt mapping."""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from raygen.eval.calibration import brier, ece, fit_platt, reliability, wilson


def test_perfectly_calibrated_probabilities_have_small_ece():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=50_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert ece(y, p) < 0.01
    assert ece(y, np.clip(p + 0.2, 0, 1)) > 0.15  # shifted: miscalibrated
    assert np.isclose(brier(y, p), np.mean((p - y) ** 2))


def test_ece_by_hand():
    y = np.array([0, 1, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 1.0])  # 1.0 falls in the last (closed) bin
    # bin 0: mean y 0.5, mean p 0.05 (2 items); bin 9: mean y 1, mean p 0.975 (2 items)
    assert np.isclose(ece(y, p), (2 * 0.45 + 2 * 0.025) / 4)
    rows = reliability(y, p)
    assert [r["n"] for r in rows] == [2, 2] and rows[0]["frac_pos"] == 0.5


def test_wilson_matches_statsmodels_formula():
    lo, hi = wilson(7, 20)
    # the Wilson interval is the set of p where the score test does not reject at 5%
    for p in (lo, hi):
        z = (7 / 20 - p) / np.sqrt(p * (1 - p) / 20)
        assert np.isclose(abs(z), stats.norm.ppf(0.975), atol=1e-6)


def test_platt_matches_logistic_regression_by_optimizer():
    rng = np.random.default_rng(1)
    s = rng.normal(size=2000)
    y = (rng.uniform(size=2000) < 1 / (1 + np.exp(-(2.0 * s - 0.5)))).astype(float)
    m = fit_platt(y, s, "test")

    def nll(beta):
        z = beta[0] * s + beta[1]
        return np.sum(np.logaddexp(0, z) - y * z)

    ref = optimize.minimize(nll, [0.0, 0.0], method="BFGS").x
    assert np.allclose([m.a, m.b], ref, atol=1e-3)
    assert abs(m.a - 2.0) < 0.3 and abs(m.b + 0.5) < 0.2
    assert m.as_dict()["kind"] == "platt" and m.from_dict(m.as_dict()) == m


def test_wilson_contains_the_proportion_at_the_edges():
    for n in (1, 7, 28, 49, 1000):
        assert wilson(n, n)[1] == 1.0 and wilson(n, n)[0] < 1.0
        assert wilson(0, n)[0] == 0.0 and wilson(0, n)[1] > 0.0
    assert all(np.isnan(wilson(0, 0)))

"""The allele-fraction mixture recovers the artifact and het parameters of generated sites (seeded)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from raygen.calling.vafmix import fit_vaf_mixture, het_dispersion_penalty


def _sites(seed: int, n: int = 20_000, art_w: float = 0.01, art_f: float = 0.12, kappa: float = 20.0):
    rng = np.random.default_rng(seed)
    depth = rng.poisson(40, n) + 8
    kind = rng.choice(4, n, p=[0.99 - art_w, art_w, 0.007, 0.003])
    alt = rng.binomial(depth, 0.003)
    alt[kind == 1] = rng.binomial(depth[kind == 1], art_f)
    alt[kind == 2] = stats.betabinom.rvs(depth[kind == 2], kappa / 2, kappa / 2, random_state=rng)
    alt[kind == 3] = depth[kind == 3] - rng.binomial(depth[kind == 3], 0.01)
    return depth, alt


def test_mixture_recovers_generated_parameters():
    depth, alt = _sites(5)
    fit = fit_vaf_mixture(depth, alt)
    assert abs(fit["artifact_fraction"] - 0.12) < 0.03
    assert 0.005 < fit["artifact_weight"] < 0.02
    assert 8 < fit["het_concentration"] < 60
    assert abs(fit["error"] - 0.003) < 0.0015


def test_too_few_sites_fit_nothing_and_no_dispersion_costs_nothing():
    assert fit_vaf_mixture(np.full(10, 30), np.zeros(10, int)) == {}
    assert het_dispersion_penalty(10, 10, None) == 0.0
    # over-dispersion makes a balanced het less likely and a skewed one more likely than the binomial says
    assert het_dispersion_penalty(20, 20, 10.0) < 0 < het_dispersion_penalty(32, 8, 10.0)

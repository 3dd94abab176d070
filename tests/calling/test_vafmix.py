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


def test_the_artifact_prior_is_the_fitted_weight_down_to_one_site():
    """A BAM without systematic errors (EM weight 2e-6 over 200k sites) keeps a prior of one site in 200k, not a
    fixed 1e-4 that outweighs a het in 3 of 16 reads; a real sample's weight passes through; few sites keep 1e-4."""
    from raygen.calling.errormodel import _artifact_weight
    from raygen.config import CallConfig

    cfg = CallConfig()
    assert _artifact_weight({"artifact_weight": 2e-6, "sites": 200_000}, cfg) == 5e-6
    assert _artifact_weight({"artifact_weight": 2.6e-3, "sites": 49_000}, cfg) == 2.6e-3
    assert _artifact_weight({"artifact_weight": 1e-6, "sites": 1_500}, cfg) == 1e-4
    assert _artifact_weight({}, cfg) == cfg.artifact_weight

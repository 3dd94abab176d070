"""Differential test of ComBat against R sva::ComBat 3.46.0 on generated inputs (seeded), one R session.

Covers parametric and non-parametric EB, mean.only, ref.batch, numeric and categorical covariates,
missing values, a single-sample batch (sva then goes mean-only), features constant within a batch
(sva leaves them unadjusted) and four batches of very different sizes. The same algorithm gives ~1e-13;
the bar is 1e-9. ``benchmarks/combat.py --campaign`` runs many more seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from oracles import require_r
from raygen.cohort.combat import ComBatOptions, combat
from raygen.cohort.design import build_design
from raygen.simulate.cohort import combat_case
from rpeer import RCombatCase, r_combat

#: (seed, parametric, mean_only, ref, case kwargs)
CASES = [
    (0, True, False, None, dict(covariates="both")),
    (1, True, False, "2", dict(covariates="both", na_fraction=0.06)),
    (2, True, True, None, dict(covariates="categorical", constant_features=3)),
    (3, True, False, None, dict(covariates="numeric", sizes=(1, 8, 6), na_fraction=0.05)),
    (4, True, False, "3", dict(covariates="both", sizes=(15, 4, 9, 3), na_fraction=0.04, constant_features=2)),
    (5, False, False, None, dict(covariates="none")),
    (6, False, False, "1", dict(covariates="both", na_fraction=0.05)),
    (7, False, True, None, dict(covariates="categorical")),
    (8, False, False, None, dict(covariates="none", sizes=(7, 1, 5), constant_features=2)),
    (9, False, False, "4", dict(covariates="numeric", sizes=(15, 4, 9, 3), n_features=80)),
]


def _ours(case, parametric, mean_only, ref):
    sheet = {"batch": case.batch, **case.covariates}
    d = build_design(sheet, "batch", list(case.covariates), ref_batch=ref)
    return combat(case.y, d, ComBatOptions(parametric=parametric, mean_only=mean_only))[0]


@pytest.mark.timeout(240)
def test_combat_matches_r_sva_on_generated_inputs(tmp_path):
    rscript = require_r("sva")
    cases = [combat_case(seed, **kw) for seed, _, _, _, kw in CASES]
    r_cases = [RCombatCase(c.y, c.batch, c.covariates, c.numeric, ref, par, mo)
               for c, (_, par, mo, ref, _) in zip(cases, CASES)]
    results = r_combat(rscript, r_cases, tmp_path)
    for c, (seed, par, mo, ref, kw), (expected, _) in zip(cases, CASES, results):
        ours = _ours(c, par, mo, ref)
        label = f"seed {seed} parametric={par} mean_only={mo} ref={ref} {kw}"
        assert np.array_equal(np.isnan(ours), np.isnan(expected)), label
        assert np.nanmax(np.abs(ours - expected)) < 1e-9, label
        assert np.nanmax(np.abs(ours - c.y)) > 0.1, label  # the correction did something


def test_generator_makes_the_situations_it_promises():
    c = combat_case(8, sizes=(7, 1, 5), constant_features=2, na_fraction=0.05, covariates="both")
    b = np.asarray(c.batch)
    assert sorted(np.unique(b, return_counts=True)[1].tolist()) == [1, 5, 7]
    first = [k for k in ("1", "2", "3") if (b == k).sum() >= 2][0]
    assert np.ptp(c.y[:2][:, b == first], axis=1).max() == 0
    assert np.isnan(c.y).any() and set(c.covariates) == {"age", "group"}


def test_non_parametric_large_batches_stay_finite():
    """R's int.eprior multiplies per-sample densities: with batches of hundreds of samples the products
    underflow and sva returns NaN for every value (checked: 600 + 500 samples). Summing in log space gives
    a finite posterior, and it is int.eprior's: checked against a direct evaluation on the raw standardised
    values (not our moment shortcut) for a few features."""
    from raygen.cohort.combat import combat_design, feature_stats, posterior_nonparametric, standardize

    rng = np.random.default_rng(0)
    b = np.repeat([0, 1], [600, 500])
    y = rng.normal(size=(40, 1100)) * rng.uniform(0.2, 3, (40, 1)) + rng.normal(0, 2, (40, 2))[:, b]
    d = build_design({"batch": [str(v) for v in b]}, "batch")
    opts = ComBatOptions(parametric=False)
    assert np.isfinite(combat(y, d, opts)[0]).all()
    cd = combat_design(d, opts)
    stats = feature_stats(y, cd)
    st = standardize(stats, cd)
    gamma, delta = posterior_nonparametric(st)
    for i in (0, 7, 39):
        s_i = (y[i] - stats.beta[i] @ (cd.mean_weights[:, None] + cd.cov_part.T)) / np.sqrt(st.var_pooled[i])
        for j in (0, 1):
            x = s_i[b == j]
            others = np.arange(40) != i
            g, dd = st.gamma_hat[others, j], st.delta_hat[others, j]
            log_lh = -0.5 * x.size * np.log(2 * np.pi * dd) - ((x[None, :] - g[:, None]) ** 2).sum(axis=1) / (2 * dd)
            w = np.exp(log_lh - log_lh.max())
            assert abs(gamma[i, j] - (w @ g) / w.sum()) < 1e-9
            assert abs(delta[i, j] - (w @ dd) / w.sum()) < 1e-9

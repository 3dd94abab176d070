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

"""Size factors against R (edgeR 3.40.2 calcNormFactors/cpm, DESeq2 1.38.3 estimateSizeFactorsForMatrix) on
generated negative-binomial counts, plus the errors a user gets for counts that cannot be normalized."""

from __future__ import annotations

import numpy as np
import pytest

from oracles import require_r
from raygen.cohort.sizefactors import (
    deseq2_size_factors, log_cpm, size_factor_table, tmm_factors, upper_quartile_factors,
)
from raygen.errors import InputError
from rpeer import r_size_factors


def nb_counts(seed: int, n_features: int = 400, n_samples: int = 8) -> np.ndarray:
    """Negative-binomial counts with unequal depths, all-zero features, a mostly-zero sample region."""
    rng = np.random.default_rng(seed)
    mu = np.exp(rng.normal(3, 2, n_features))[:, None] * rng.uniform(0.2, 4, n_samples)[None, :]
    mu[: n_features // 10] *= rng.uniform(0.2, 5, (n_features // 10, n_samples))  # differential features
    x = rng.negative_binomial(2, 2 / (2 + mu)).astype(float)
    x[:6] = 0
    x[6:20, : n_samples // 3] = 0
    return x


@pytest.mark.timeout(180)
def test_size_factors_match_edger_and_deseq2(tmp_path):
    rscript = require_r("edgeR", "DESeq2")
    shapes = [(0, 400, 8), (1, 400, 3), (2, 300, 15), (3, 60, 5), (4, 2000, 6)]
    counts = [nb_counts(seed, n, s) for seed, n, s in shapes]
    for x, r, shape in zip(counts, r_size_factors(rscript, counts, tmp_path), shapes):
        assert np.abs(tmm_factors(x) - r["tmm"]).max() < 1e-12, shape
        assert np.abs(upper_quartile_factors(x) - r["upperquartile"]).max() < 1e-12, shape
        assert np.abs(deseq2_size_factors(x) - r["deseq2"]).max() < 1e-12, shape
        assert np.abs(log_cpm(x, x.sum(axis=0) * tmm_factors(x)) - r["log_cpm"]).max() < 1e-12, shape
        assert np.ptp(tmm_factors(x)) > 0.01, shape  # not a trivial all-ones answer


def test_bad_counts_are_clear_errors():
    x = nb_counts(3)
    with pytest.raises(InputError, match="negative count"):
        tmm_factors(np.where(x == x.max(), -1, x))
    y = x.copy()
    y[5, 2] = np.nan
    with pytest.raises(InputError, match="missing value at feature row 6, sample column 3"):
        deseq2_size_factors(y)
    z = x.copy()
    z[:, 0] = 0
    z[0, 0] = 1
    with pytest.raises(InputError, match="every feature has at least one zero"):
        deseq2_size_factors(z)
    with pytest.raises(InputError, match="library sizes must be positive"):
        log_cpm(x, np.r_[0.0, x.sum(axis=0)[1:]])
    # issue 19 (a new tester's corpus): a sample without counts gave every sample a NaN factor, exit 0
    w = x.copy()
    w[:, 1] = 0
    with pytest.raises(InputError, match="quantile of some sample is zero"):
        upper_quartile_factors(w)


def test_table_is_consistent():
    x = nb_counts(4)
    t = size_factor_table(x, "tmm")
    assert np.allclose(t["effective_lib_size"], t["lib_size"] * t["factor"])
    assert np.isclose(np.exp(np.mean(np.log(t["factor"]))), 1.0)

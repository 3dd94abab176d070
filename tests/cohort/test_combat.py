"""ComBat's own rules that no R comparison shows by itself (R: tests/cohort/test_combat_r.py)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from raygen.cohort.combat import ComBatOptions, combat
from raygen.cohort.design import build_design
from raygen.errors import InputError
from raygen.simulate.cohort import combat_case


def test_single_sample_batch_warns_and_goes_mean_only(caplog):
    """sva switches the whole run to mean-only when a batch has one sample; the user is told which batch."""
    case = combat_case(21, n_features=50, sizes=(7, 1, 6), covariates="none")
    d = build_design({"batch": case.batch}, "batch")
    with caplog.at_level(logging.WARNING, logger="raygen.cohort.combat"):
        got = combat(case.y, d, ComBatOptions())[0]
    assert "batch(es) 2 have a single sample: using the mean-only adjustment" in caplog.text
    assert np.array_equal(got, combat(case.y, d, ComBatOptions(mean_only=True))[0])
    caplog.clear()
    two = combat_case(21, n_features=50, sizes=(7, 2, 6), covariates="none")
    d2 = build_design({"batch": two.batch}, "batch")
    with caplog.at_level(logging.WARNING, logger="raygen.cohort.combat"):
        full = combat(two.y, d2, ComBatOptions())[0]
    assert "single sample" not in caplog.text
    assert np.abs(full - combat(two.y, d2, ComBatOptions(mean_only=True))[0]).max() > 1e-3


def test_single_sample_reference_batch_is_refused():
    """With a reference batch, var.pooled is that batch's residual variance: zero for one sample (R stops)."""
    case = combat_case(13, n_features=40, sizes=(1, 9, 8), covariates="none")
    d = build_design({"batch": case.batch}, "batch", ref_batch="1")
    with pytest.raises(InputError, match="reference batch '1' has a single sample"):
        combat(case.y, d, ComBatOptions(parametric=False))
    ok = build_design({"batch": case.batch}, "batch", ref_batch="2")
    assert np.isfinite(combat(case.y, ok, ComBatOptions(parametric=False))[0]).all()

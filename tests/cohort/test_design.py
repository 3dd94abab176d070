"""model.matrix-style coding and the confounding errors that name the columns."""

from __future__ import annotations

import pytest

from raygen.cohort.design import build_design, code_covariates, factor_levels, match_batches
from raygen.errors import InputError, UsageError


def test_levels_follow_r_factor_order():
    assert factor_levels(["10", "9", "1"]) == ["1", "9", "10"]
    assert factor_levels(["b", "a", "c"]) == ["a", "b", "c"]


def test_dummy_coding_and_numeric_covariates():
    sheet = {"batch": ["1", "1", "2", "2", "3", "3"], "grp": ["x", "y", "z", "x", "y", "z"],
             "age": ["30", "41.5", "50", "20", "33", "60"]}
    d = build_design(sheet, "batch", ["grp", "age"])
    assert d.batches == ("1", "2", "3")
    assert d.covariate_names == ("grpy", "grpz", "age")
    assert d.covariates[:, 0].tolist() == [0, 1, 0, 0, 1, 0]
    assert d.covariates[:, 2].tolist() == [30, 41.5, 50, 20, 33, 60]
    assert d.matrix().shape == (6, 6)
    cat = build_design({**sheet, "dose": ["1", "2", "1", "2", "1", "2"]}, "batch", [], categorical=["dose"])
    assert cat.covariate_names == ("dose2",)  # numbers, coded as a factor on request
    ref = build_design(sheet, "batch", ["grp"], ref_batch="2")
    assert ref.batch_matrix()[:, 1].tolist() == [1] * 6
    new = {"grp": ["z", "x"], "age": ["1", "2"]}
    assert code_covariates(new, d.coding).tolist() == [[0, 1, 1], [0, 0, 2]]
    with pytest.raises(InputError, match="level\\(s\\) w were not in the training cohort"):
        code_covariates({"grp": ["w", "x"], "age": ["1", "2"]}, d.coding)


def test_confounded_designs_name_the_columns():
    sheet = {"batch": ["a", "a", "b", "b"], "site": ["s1", "s1", "s2", "s2"], "sex": ["m", "f", "m", "f"],
             "const": ["1", "1", "1", "1"], "sex2": ["f", "m", "f", "m"]}
    with pytest.raises(InputError, match="covariate 'site' is confounded with batch column 'batch'"):
        build_design(sheet, "batch", ["sex", "site"])
    with pytest.raises(InputError, match="covariate 'const' is constant"):
        build_design(sheet, "batch", ["const"])
    with pytest.raises(InputError, match="'sex', 'sex2' are confounded with each other"):
        build_design(sheet, "batch", ["sex", "sex2"])
    with pytest.raises(InputError, match="single level"):
        build_design({"batch": ["a", "a"]}, "batch")
    with pytest.raises(UsageError, match="reference batch 'z' is not a level"):
        build_design(sheet, "batch", ref_batch="z")
    with pytest.raises(UsageError, match="column 'nope' is not in the sample sheet"):
        build_design(sheet, "batch", ["nope"])
    with pytest.raises(InputError, match="covariate 'sex' has missing values"):
        build_design({**sheet, "sex": ["m", "NA", "f", "m"]}, "batch", ["sex"])


def test_match_batches():
    assert match_batches(["2", "1.0", "1"], ("1", "2")).tolist() == [1, 0, 0]
    with pytest.raises(InputError, match="batch\\(es\\) 7 of column 'site' are not in the fitted model"):
        match_batches(["7"], ("1", "2"), "site")

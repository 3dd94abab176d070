"""Every shared ComBat case (../shared/data/combat/CASES.tsv): R sva 3.46.0 and neuroCombat expectations.

Matrices must match within 1e-6 absolute (we see ~1e-13), missing values in the same places, and sva's
F-test counts on the bladder data exactly. The case table is read from CASES.tsv so a case added there
without a recipe here fails the coverage test instead of being skipped silently.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from raygen.cohort.combat import ComBatOptions, combat, fit_combat, apply_fit
from raygen.cohort.design import build_design
from raygen.cohort.matrix import align_sheet, read_matrix, read_sheet

TOL = 1e-6

COMHARM_BATCH = ["1"] * 5 + ["2"] * 5
COMHARM_PHENO = ["1", "0", "1", "0", "1", "0", "1", "0", "1", "0"]


def _comharm(cov: bool, ref: bool, mean_only: bool, eb: bool):
    return dict(kind="comharm", cov=cov, ref="1" if ref else None, opts=ComBatOptions(mean_only=mean_only, eb=eb))


#: case id -> recipe. comharm: covariate pheno or none, ref batch 1, mean.only, eb.
RECIPES = {
    "comharm_parametric_adjusted": _comharm(True, False, False, True),
    "comharm_parametric_adjusted_batchref": _comharm(True, True, False, True),
    "comharm_parametric_adjusted_meanonly": _comharm(True, False, True, True),
    "comharm_parametric_adjusted_meanonly_batchref": _comharm(True, True, True, True),
    "comharm_parametric_unadjusted": _comharm(False, False, False, True),
    "comharm_parametric_unadjusted_batchref": _comharm(False, True, False, True),
    "comharm_parametric_unadjusted_meanonly": _comharm(False, False, True, True),
    "comharm_parametric_unadjusted_meanonly_batchref": _comharm(False, True, True, True),
    "comharm_noeb_adjusted": _comharm(True, False, False, False),
    "comharm_noeb_adjusted_batchref": _comharm(True, True, False, False),
    "comharm_noeb_adjusted_meanonly": _comharm(True, False, True, False),
    "comharm_noeb_adjusted_meanonly_batchref": _comharm(True, True, True, False),
    "comharm_noeb_unadjusted": _comharm(False, False, False, False),
    "comharm_noeb_unadjusted_batchref": _comharm(False, True, False, False),
    "comharm_noeb_unadjusted_meanonly": _comharm(False, False, True, False),
    "comharm_noeb_unadjusted_meanonly_batchref": _comharm(False, True, True, False),
    "comharm_training_scenario2": dict(kind="training"),
    "sva_sim_batch_only": dict(kind="sva_sim", input="y", cov=False, opts=ComBatOptions()),
    "sva_sim_batch_treat": dict(kind="sva_sim", input="y", cov=True, opts=ComBatOptions()),
    "sva_sim_batch_treat_mis": dict(kind="sva_sim", input="ymis", cov=True, opts=ComBatOptions()),
    "sva_sim_batch_treat_mean_only": dict(kind="sva_sim", input="y", cov=True, opts=ComBatOptions(mean_only=True)),
    "sva_sim_single_sample_batch": dict(kind="sva_sim", input="y", cov=True, opts=ComBatOptions(), drop=[1, 2, 3, 4]),
    "bladder_full_par_nocov": dict(kind="count", cov=False, ref=None, opts=ComBatOptions(), op="<=", expect=12468),
    "bladder_full_par_cancer": dict(kind="count", cov=True, ref=None, opts=ComBatOptions(), op="<", expect=18507),
    "bladder_full_par_cancer_meanonly": dict(kind="count", cov=True, ref=None, opts=ComBatOptions(mean_only=True),
                                             op="<", expect=17115),
    "bladder_full_par_nocov_ref1": dict(kind="count", cov=False, ref="1", opts=ComBatOptions(), op="<=", expect=11614),
    "bladder_full_par_cancer_meanonly_ref3": dict(kind="count", cov=True, ref="3", opts=ComBatOptions(mean_only=True),
                                                  op="<", expect=18153),
    "bladder_first50_par_nocov": dict(kind="bladder50", cov=False, ref=None),
    "bladder_first50_par_cancer_ref3": dict(kind="bladder50", cov=True, ref="3"),
}


def _cases(shared: Path) -> dict[str, dict]:
    with open(shared / "combat" / "CASES.tsv", encoding="utf-8") as fh:
        return {r["case_id"]: r for r in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture(scope="module")
def combat_dir(shared_data) -> Path:
    return shared_data / "combat"


@pytest.fixture(scope="module")
def bladder(combat_dir):
    m = read_matrix(combat_dir / "bladder" / "bladder_expr.5dp.tsv.gz")
    sheet = align_sheet(read_sheet(combat_dir / "bladder" / "bladder-pheno.txt"), m.samples)
    return m, sheet


def test_every_shared_case_has_a_recipe(shared_data):
    assert set(_cases(shared_data)) == set(RECIPES)


def f_pvalues(y: np.ndarray, mod: np.ndarray, mod0: np.ndarray) -> np.ndarray:
    """sva::f.pvalue: nested-model F-test per feature (rows of y)."""
    def rss(x):
        beta = np.linalg.lstsq(x, y.T, rcond=None)[0]
        return ((y.T - x @ beta) ** 2).sum(axis=0)

    n, p1, p0 = y.shape[1], mod.shape[1], mod0.shape[1]
    r1, r0 = rss(mod), rss(mod0)
    f = ((r0 - r1) / (p1 - p0)) / (r1 / (n - p1))
    return stats.f.sf(f, p1 - p0, n - p1)


def _matrix_case(combat_dir: Path, case_id: str, recipe: dict, bladder_data) -> tuple[np.ndarray, Path]:
    kind = recipe["kind"]
    if kind == "comharm":
        y = read_matrix(combat_dir / "comharm" / "testdata.csv").values
        d = build_design({"batch": COMHARM_BATCH, "pheno": COMHARM_PHENO}, "batch",
                         ["pheno"] if recipe["cov"] else [], ref_batch=recipe["ref"])
        return combat(y, d, recipe["opts"])[0], None
    if kind == "training":
        y = read_matrix(combat_dir / "comharm" / "testdata.csv").values
        d = build_design({"batch": COMHARM_BATCH, "pheno": COMHARM_PHENO}, "batch", ["pheno"])
        fit, _ = fit_combat(y, d)
        return apply_fit(y[:, [0, 1, 5, 6]], np.array([0, 0, 1, 1]), fit), None
    if kind == "sva_sim":
        m = read_matrix(combat_dir / "sva_sim" / f"sva_sim_{recipe['input']}.tsv")
        sheet = align_sheet(read_sheet(combat_dir / "sva_sim" / "sva_sim_samples.tsv"), m.samples)
        keep = [i for i in range(len(m.samples)) if i not in recipe.get("drop", [])]
        sheet = {k: [v[i] for i in keep] for k, v in sheet.items()}
        d = build_design(sheet, "batch", ["treat"] if recipe["cov"] else [])
        return combat(m.values[:, keep], d, recipe["opts"])[0], None
    m, sheet = bladder_data
    d = build_design(sheet, "batch", ["cancer"] if recipe["cov"] else [], ref_batch=recipe["ref"])
    return combat(m.values[:50], d)[0], None


@pytest.mark.shared
@pytest.mark.parametrize("case_id", [c for c, r in RECIPES.items() if r["kind"] != "count"])
def test_matrix_case(combat_dir, shared_data, bladder, case_id):
    case = _cases(shared_data)[case_id]
    recipe = RECIPES[case_id]
    out, _ = _matrix_case(combat_dir, case_id, recipe, bladder)
    expected = read_matrix(combat_dir / case["expected_output"]).values
    assert out.shape == expected.shape
    assert np.array_equal(np.isnan(out), np.isnan(expected))
    assert np.nanmax(np.abs(out - expected)) < TOL
    if case["expected_inline"] and recipe["kind"] == "sva_sim":  # gene g1 as stored in sva's own test
        inline = case["expected_inline"].split(" ")[0].split(",")
        g1 = np.array([np.nan if v == "NA" else float(v) for v in inline])
        assert np.nanmax(np.abs(out[0] - g1)) < 1e-6


@pytest.mark.shared
@pytest.mark.parametrize("case_id", [c for c, r in RECIPES.items() if r["kind"] == "count"])
def test_bladder_f_test_counts(bladder, case_id):
    recipe = RECIPES[case_id]
    m, sheet = bladder
    d = build_design(sheet, "batch", ["cancer"] if recipe["cov"] else [], ref_batch=recipe["ref"])
    out = combat(m.values, d, recipe["opts"])[0]
    cancer = build_design(sheet, "batch", ["cancer"]).covariates
    n = out.shape[1]
    p = f_pvalues(out, np.hstack([np.ones((n, 1)), cancer]), np.ones((n, 1)))
    count = int(np.sum(p <= 0.05) if recipe["op"] == "<=" else np.sum(p < 0.05))
    assert count == recipe["expect"]


@pytest.mark.shared
def test_bladder_uncorrected_count(bladder):
    """The F-test itself reproduces sva's uncorrected count, so the counts above test ComBat, not the test."""
    m, sheet = bladder
    cancer = build_design(sheet, "batch", ["cancer"]).covariates
    n = m.values.shape[1]
    p = f_pvalues(m.values, np.hstack([np.ones((n, 1)), cancer]), np.ones((n, 1)))
    assert int(np.sum(p <= 0.05)) == 15808


@pytest.mark.shared
def test_combat_apply_command_reproduces_the_training_case(combat_dir, shared_data, tmp_path, run_cli):
    """The shared train-then-apply case end to end: `combat --save-params` on the 10 training samples, then
    `combat-apply` on V1, V2, V6, V7 from a file of their own (neuroCombat's from-training mode)."""
    case = _cases(shared_data)["comharm_training_scenario2"]
    src = combat_dir / "comharm" / "testdata.csv"
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tbatch\tpheno\n" + "".join(
        f"V{j + 1}\t{b}\t{p}\n" for j, (b, p) in enumerate(zip(COMHARM_BATCH, COMHARM_PHENO))))
    rc, _, err = run_cli("cohort", "combat", src, "--samples", sheet, "--batch", "batch", "--covariates", "pheno",
                         "--save-params", tmp_path / "p.parquet", "-o", tmp_path / "fit.csv")
    assert rc == 0, err
    rows = [ln.split(",") for ln in src.read_text().splitlines()]
    (tmp_path / "test.csv").write_text("".join(",".join(r[j] for j in (0, 1, 5, 6)) + "\n" for r in rows))
    rc, _, err = run_cli("cohort", "combat-apply", tmp_path / "test.csv", "--samples", sheet, "--params",
                         tmp_path / "p.parquet", "-o", tmp_path / "applied.csv")
    assert rc == 0, err
    got = read_matrix(tmp_path / "applied.csv")
    expected = read_matrix(combat_dir / case["expected_output"]).values
    assert got.samples == ["V1", "V2", "V6", "V7"] and got.values.shape == expected.shape
    assert np.abs(got.values - expected).max() < TOL
    assert np.abs(got.values - read_matrix(tmp_path / "test.csv").values).max() > 0.1  # it did adjust

"""End to end: ``raygen cohort combat`` / ``combat-apply`` in memory and on Ray Data (sharded by feature).

The Ray engine must give the in-memory numbers (it runs the same functions per shard, with the
parametric posteriors' global stopping rule on the driver); features sva cannot adjust come out
unchanged and listed; the rest equal ComBat on the adjustable features alone; apply reproduces the fit.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from raygen.cohort.batch_pipeline import CombatJob, run_combat
from raygen.cohort.combat import ComBatOptions, combat
from raygen.cohort.design import build_design
from raygen.cohort.matrix import read_matrix
from raygen.cohort.params import load_model
from raygen.simulate.cohort import combat_case


def write_case(tmp_path, case, name="m"):
    mat, sheet = tmp_path / f"{name}.tsv", tmp_path / f"{name}_samples.tsv"
    with open(mat, "w") as fh:
        fh.write("gene\t" + "\t".join(f"s{j}" for j in range(case.y.shape[1])) + "\n")
        for i, row in enumerate(case.y):
            fh.write(f"g{i}\t" + "\t".join("NA" if np.isnan(v) else repr(float(v)) for v in row) + "\n")
    with open(sheet, "w") as fh:
        cols = ["sample", "batch", *case.covariates]
        fh.write("\t".join(cols) + "\n")
        for j in range(case.y.shape[1]):
            fh.write("\t".join([f"s{j}", case.batch[j], *(case.covariates[c][j] for c in case.covariates)]) + "\n")
    return mat, sheet


@pytest.mark.timeout(240)
@pytest.mark.parametrize("parametric", [True, False])
def test_ray_engine_equals_memory_engine(tmp_path, ray_session, parametric):
    case = combat_case(11, n_features=300, sizes=(9, 5, 12), na_fraction=0.05, constant_features=4)
    mat, sheet = write_case(tmp_path, case)
    outs = {}
    for engine in ("memory", "ray"):
        job = CombatJob(str(mat), str(sheet), "batch", str(tmp_path / f"{engine}.tsv"), covariates=("age", "group"),
                        options=ComBatOptions(parametric=parametric), engine=engine, shard_bytes=8 * 26 * 40,
                        params_out=str(tmp_path / f"{engine}.parquet"), quiet=True)
        summary = run_combat(job)
        assert summary["engine"] == engine and summary["features_out"] == 300 and summary["excluded"] == 4
        outs[engine] = read_matrix(job.out)
    a, b = outs["memory"], outs["ray"]
    assert a.features == b.features == [f"g{i}" for i in range(300)] and a.samples == b.samples
    assert np.array_equal(np.isnan(a.values), np.isnan(b.values))
    assert np.nanmax(np.abs(a.values - b.values)) < 1e-12
    pa_, pb = load_model(tmp_path / "memory.parquet"), load_model(tmp_path / "ray.parquet")
    assert np.allclose(pa_.fit.gamma_star, pb.fit.gamma_star, atol=1e-12, equal_nan=True)
    assert np.allclose(pa_.ref_edges, pb.ref_edges, atol=1e-12, equal_nan=True)


def test_unadjustable_features_pass_through_and_are_listed(tmp_path, run_cli):
    case = combat_case(12, n_features=60, sizes=(6, 7, 5), covariates="none")
    y = case.y
    b = np.asarray(case.batch)
    y[0] = np.nan  # all missing
    y[1, b == "1"] = 3.0  # constant within batch 1 (sva's own rule)
    y[2, np.flatnonzero(b == "2")[1:]] = np.nan  # one value left in batch 2
    mat, sheet = write_case(tmp_path, case)
    rc, out, err = run_cli("cohort", "combat", mat, "--samples", sheet, "--batch", "batch", "-o", tmp_path / "o.tsv")
    assert rc == 0, err
    assert "adjusted 57, left unchanged 3" in out and "o.tsv.excluded.tsv" in out
    got = read_matrix(tmp_path / "o.tsv").values
    assert np.array_equal(got[:3], y[:3], equal_nan=True)
    expected = combat(y[3:], build_design({"batch": case.batch}, "batch"))[0]
    assert np.abs(got[3:] - expected).max() < 1e-12
    with open(tmp_path / "o.tsv.excluded.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [r["feature"] for r in rows] == ["g0", "g1", "g2"]
    assert rows[1]["reason"].startswith("constant within a batch")


def test_combat_apply_reproduces_the_fit_and_refuses_unknown_batches(tmp_path, run_cli):
    case = combat_case(13, n_features=80, sizes=(8, 8, 8), covariates="none")
    mat, sheet = write_case(tmp_path, case)
    rc, _, err = run_cli("cohort", "combat", mat, "--samples", sheet, "--batch", "batch", "-o", tmp_path / "fit.tsv",
                         "--save-params", tmp_path / "p.parquet", "--ref-batch", "2")
    assert rc == 0, err
    rc, out, err = run_cli("cohort", "combat-apply", mat, "--samples", sheet, "--params", tmp_path / "p.parquet",
                           "-o", tmp_path / "applied.tsv")
    assert rc == 0, err
    fitted, applied = read_matrix(tmp_path / "fit.tsv").values, read_matrix(tmp_path / "applied.tsv").values
    # With a reference batch and no covariates the training samples' own standardisation equals the mean one.
    assert np.abs(fitted - applied).max() < 1e-9
    bad_sheet = tmp_path / "bad.tsv"
    bad_sheet.write_text(sheet.read_text().replace("\t3\n", "\t9\n"))
    rc, _, err = run_cli("cohort", "combat-apply", mat, "--samples", bad_sheet, "--params", tmp_path / "p.parquet",
                         "-o", tmp_path / "x.tsv")
    assert rc == 2 and "batch(es) 9 of column 'batch' are not in the fitted model" in err
    assert not (tmp_path / "x.tsv").exists()


def _add_site(sheet_text: str) -> str:
    """A 'site' column equal to the batch: a covariate confounded with batch."""
    lines = sheet_text.splitlines()
    return "\n".join([lines[0] + "\tsite"] + [ln + "\t" + ln.split("\t")[1] for ln in lines[1:]]) + "\n"


@pytest.mark.parametrize("edit,covariates,message", [
    (lambda m, s: (m, s.replace("s3\t", "s3x\t")), [], "1 matrix sample(s) missing from the sheet (column 'sample'): s3"),
    (lambda m, s: (m.replace("\tNA", "\tfoo", 1), s), [], "not a number: 'foo'"),
    (lambda m, s: (m, _add_site(s)), ["--covariates", "site"],
     "covariate 'site' is confounded with batch column 'batch'"),
    (lambda m, s: (m, s.replace("\t2\n", "\t1\n")), [], "batch column 'batch' has a single level"),
])
def test_user_errors_are_one_line(tmp_path, run_cli, edit, covariates, message):
    case = combat_case(14, n_features=30, sizes=(5, 5), covariates="none", na_fraction=0.05)
    mat, sheet = write_case(tmp_path, case)
    m_text, s_text = edit(mat.read_text(), sheet.read_text())
    mat.write_text(m_text)
    sheet.write_text(s_text)
    rc, _, err = run_cli("cohort", "combat", mat, "--samples", sheet, "--batch", "batch", *covariates,
                         "-o", tmp_path / "o.tsv")
    assert rc == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.tsv").exists()


def test_combat_apply_with_covariates_reproduces_training_samples(tmp_path, run_cli):
    """With each sample's own covariates, applying the fit to the training samples gives the fitted output
    exactly (neuroCombat's default uses the mean covariate effect instead, which differs)."""
    case = combat_case(15, n_features=70, sizes=(10, 12, 9), covariates="both")
    mat, sheet = write_case(tmp_path, case)
    cov = ["--covariates", "age", "group"]
    rc, _, err = run_cli("cohort", "combat", mat, "--samples", sheet, "--batch", "batch", *cov,
                         "-o", tmp_path / "fit.tsv", "--save-params", tmp_path / "p.parquet")
    assert rc == 0, err
    for flag, close in (("--use-covariates", True), (None, False)):
        args = ["cohort", "combat-apply", mat, "--samples", sheet, "--params", tmp_path / "p.parquet",
                "-o", tmp_path / "a.tsv"] + ([flag] if flag else [])
        rc, _, err = run_cli(*args)
        assert rc == 0, err
        diff = np.abs(read_matrix(tmp_path / "fit.tsv").values - read_matrix(tmp_path / "a.tsv").values).max()
        assert (diff < 1e-9) == close, (flag, diff)

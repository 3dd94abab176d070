"""``raygen cohort`` as a user meets it: every step end to end on a generated cohort, the scatter picture,
and bad input (one-line errors, exit 2, nothing half-written; counted warnings where work can go on)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from raygen.cohort.cnvfiles import read_cnvkit, write_cnvkit
from tests.cohort.helpers import synthetic_cnr, synthetic_coverage, synthetic_targets

CONTIGS = {"chr1": 1_000_000, "chr2": 900_000, "chr3": 900_000, "chr4": 900_000, "chr5": 900_000,
           "chrX": 800_000, "chrY": 600_000}


@pytest.fixture()
def cohort(tmp_path):
    rng = np.random.default_rng(3)
    targets = synthetic_targets(rng, CONTIGS, 40)
    gc = rng.uniform(0.3, 0.7, len(targets))
    paths = []
    for k, female in enumerate([True, False, True]):
        cnn = synthetic_coverage(rng, targets, gc, female, f"N{k}").with_columns(gc=gc)
        write_cnvkit(cnn, tmp_path / f"N{k}.targetcoverage.cnn")
        paths.append(tmp_path / f"N{k}.targetcoverage.cnn")
    # male: in a panel this small a female's empty chrY (a quarter of the bins) would swamp the GC median
    tumour = synthetic_coverage(rng, targets, gc, False, "T", cnv=("chr2", 1.0))
    write_cnvkit(tumour, tmp_path / "T.targetcoverage.cnn")
    return tmp_path, paths


def _png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_end_to_end_steps_and_picture(cohort, run_cli):
    tmp, normals = cohort
    assert run_cli("cohort", "reference", *normals, "-o", tmp / "ref.cnn", "-q")[0] == 0
    rc, out, err = run_cli("cohort", "fix", tmp / "T.targetcoverage.cnn", "-r", tmp / "ref.cnn", "-o", tmp / "T.cnr", "-q")
    assert rc == 0, err
    assert run_cli("cohort", "segment", tmp / "T.cnr", "-o", tmp / "T.cns", "-q")[0] == 0
    rc, out, _ = run_cli("cohort", "call", tmp / "T.cns", "-o", tmp / "T.call.cns", "-q")
    assert rc == 0 and ("cn 3" in out or "cn 4" in out)
    calls = read_cnvkit(tmp / "T.call.cns")
    assert (calls["cn"][calls.chrom == "chr2"] >= 3).all() and (calls["cn"][calls.chrom == "chr1"] == 2).all()
    rc, out, _ = run_cli("cohort", "scatter", tmp / "T.cnr", "-s", tmp / "T.call.cns", "-o", tmp / "T.png", "-q")
    assert rc == 0 and (tmp / "T.png").stat().st_size < 200_000
    w, h = _png_size(tmp / "T.png")
    assert w > 1000 and h > 400
    assert run_cli("cohort", "scatter", tmp / "T.cnr", "-c", "chr2:100,000-700,000", "-o", tmp / "chr2.png", "-q")[0] == 0
    assert not [p for p in tmp.iterdir() if ".tmp-" in p.name]


def test_wrong_reference_and_mismatched_bins_are_one_line_errors(cohort, run_cli):
    tmp, normals = cohort
    rc, _, err = run_cli("cohort", "fix", tmp / "T.targetcoverage.cnn", "-r", normals[0], "-o", tmp / "x.cnr")
    assert rc == 2 and "is not a reference" in err and not (tmp / "x.cnr").exists()
    other = read_cnvkit(normals[1])
    write_cnvkit(other.take(np.arange(len(other) - 5)), tmp / "short.targetcoverage.cnn")
    rc, _, err = run_cli("cohort", "reference", normals[0], tmp / "short.targetcoverage.cnn", "-o", tmp / "r.cnn")
    assert rc == 2 and "bins differ" in err and len(err.strip().splitlines()) == 1 and not (tmp / "r.cnn").exists()
    write_cnvkit(other.take(np.arange(10)), tmp / "ref10.cnn")
    ref10 = read_cnvkit(tmp / "ref10.cnn").with_columns(spread=np.zeros(10))
    write_cnvkit(ref10, tmp / "ref10.cnn")
    rc, _, err = run_cli("cohort", "fix", tmp / "T.targetcoverage.cnn", "-r", tmp / "ref10.cnn", "-o", tmp / "y.cnr")
    assert rc == 2 and "lacks" in err and "Traceback" not in err and not (tmp / "y.cnr").exists()


def test_duplicated_bins_and_missing_files(cohort, run_cli):
    tmp, normals = cohort
    t = read_cnvkit(normals[0])
    dup = t.take(np.concatenate([[0], np.arange(len(t))]))
    write_cnvkit(dup, tmp / "D.targetcoverage.cnn")
    rc, _, err = run_cli("cohort", "reference", tmp / "D.targetcoverage.cnn", "-o", tmp / "r.cnn")
    assert rc == 2 and "duplicated bins" in err
    rc, _, err = run_cli("cohort", "segment", tmp / "nope.cnr")
    assert rc == 2 and "no such file" in err
    rc, _, err = run_cli("cohort", "coverage", tmp / "nope.bam", tmp / "x.bed")
    assert rc == 2 and "Traceback" not in err


def test_single_normal_and_empty_sample_warn_with_counts(cohort, run_cli, caplog):
    tmp, normals = cohort
    t = read_cnvkit(normals[0])
    write_cnvkit(t.with_columns(depth=np.zeros(len(t)), log2=np.full(len(t), -20.0)), tmp / "Z.targetcoverage.cnn")
    rc, _, err = run_cli("cohort", "reference", normals[0], tmp / "Z.targetcoverage.cnn", "-o", tmp / "r.cnn")
    assert rc == 0
    assert f"sample Z has no coverage in any of its {len(t)} target bins" in caplog.text
    assert "bias corrections skipped" in caplog.text
    caplog.clear()
    assert run_cli("cohort", "reference", normals[1], "-o", tmp / "r1.cnn")[0] == 0
    assert "single normal" in caplog.text


def test_nonfinite_log2_is_counted_not_propagated(tmp_path, run_cli, caplog):
    cnr, _ = synthetic_cnr(np.random.default_rng(1))
    log2 = cnr.log2.astype(float).copy()
    log2[[5, 6, 7]] = [np.nan, np.inf, -np.inf]
    write_cnvkit(cnr.with_columns(log2=log2), tmp_path / "s.cnr")
    rc, _, err = run_cli("cohort", "segment", tmp_path / "s.cnr", "-m", "haar", "-o", tmp_path / "s.cns")
    assert rc == 0
    assert "dropped 1 rows without a log2 value" in caplog.text and "dropped 2 bins with non-finite log2" in caplog.text
    assert "nan" not in (tmp_path / "s.cns").read_text().lower()


def test_usage_errors(run_cli, tmp_path):
    rc, _, err = run_cli("cohort", "scatter")
    assert rc == 2 and "give a .cnr file" in err
    with pytest.raises(SystemExit):
        run_cli("cohort", "call", "x.cns", "--purity", "1.5")
    rc, _, err = run_cli("cohort", "fix", tmp_path / "a.cnn")
    assert rc == 2 and "REFERENCE" in err

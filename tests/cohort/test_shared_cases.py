"""The shared CNVkit cases (../shared/data/cnvkit/CASES.tsv): CNVkit 0.9.14's own regression pipeline on
real hybrid-capture data (import-picard -> reference -y -> fix) and a fix with GC and RepeatMasker columns
against a published 43-normal reference. Coordinates and gene labels exact; floats rtol=1e-5, atol=1e-6."""

from __future__ import annotations

import csv
import gzip
import shutil

import numpy as np
import pytest

from tests.cohort.helpers import compare_tables, read

pytestmark = pytest.mark.shared


def _cases(shared_data):
    with open(shared_data / "cnvkit" / "CASES.tsv", newline="") as fh:
        return {r["case_id"]: r for r in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture(scope="module")
def picard_run(shared_data, tmp_path_factory):
    """The peer's pipeline through raygen's CLI: import-picard, reference -y, fix."""
    from raygen.cli import main

    d = shared_data / "cnvkit"
    tmp = tmp_path_factory.mktemp("picard")
    assert main(["cohort", "import-picard", *map(str, sorted((d / "picard").glob("*.csv"))), "-d", str(tmp / "build"), "-q"]) == 0
    normals = sorted(str(p) for p in (tmp / "build").glob("p2-*_5.*targetcoverage.cnn"))
    assert len(normals) == 6
    assert main(["cohort", "reference", *normals, "-y", "-o", str(tmp / "reference-picard.cnn"), "-q"]) == 0
    assert main(["cohort", "fix", str(tmp / "build/p2-20_1.targetcoverage.cnn"), str(tmp / "build/p2-20_1.antitargetcoverage.cnn"),
                 str(tmp / "reference-picard.cnn"), "-o", str(tmp / "p2-20_1.cnr"), "-q"]) == 0
    return tmp


def _report(name, got_path, exp_path):
    diffs = compare_tables(read(got_path), read(exp_path))
    ours = got_path.read_text()
    theirs = gzip.open(exp_path, "rt").read() if str(exp_path).endswith(".gz") else exp_path.read_text()
    same = sum(a == b for a, b in zip(ours.splitlines(), theirs.splitlines()))
    print(f"{name}: max |diff| {diffs}; {same}/{len(theirs.splitlines())} lines byte-identical")
    return diffs


def test_picard_reference(shared_data, picard_run):
    case = _cases(shared_data)["picard_reference"]
    _report("picard_reference", picard_run / "reference-picard.cnn", shared_data / "cnvkit" / case["expected_output"])


def test_picard_fix(shared_data, picard_run):
    case = _cases(shared_data)["picard_fix_p2-20_1"]
    _report("picard_fix_p2-20_1", picard_run / "p2-20_1.cnr", shared_data / "cnvkit" / case["expected_output"])


def test_picard_fix_against_the_2017_output_is_close(shared_data, picard_run):
    """LOOSE case: the 2017 CNVkit differs by design; on the shared bins log2 must correlate (r > 0.99)."""
    ours, legacy = read(picard_run / "p2-20_1.cnr"), read(shared_data / "cnvkit/picard_expected/p2-20_1.legacy2017.cnr")
    key = {(c, s, e): v for c, s, e, v in zip(legacy.chrom, legacy.start, legacy.end, legacy.log2)}
    pairs = np.asarray([(v, key[(c, s, e)]) for c, s, e, v in zip(ours.chrom, ours.start, ours.end, ours.log2)
                        if (c, s, e) in key])
    assert len(pairs) > 18_000
    assert np.corrcoef(pairs.T)[0, 1] > 0.99


def test_tr95_fix_gc_rmask(shared_data, tmp_path, run_cli):
    d = shared_data / "cnvkit"
    case = _cases(shared_data)["tr95_fix_gc_rmask"]
    ref = tmp_path / "reference-tr.cnn"
    with gzip.open(d / "tr95/reference-tr.cnn.gz", "rb") as src, open(ref, "wb") as dst:
        shutil.copyfileobj(src, dst)
    rc, _, err = run_cli("cohort", "fix", d / "tr95/TR_95_T.targetcoverage.cnn", d / "tr95/TR_95_T.antitargetcoverage.cnn",
                         ref, "-o", tmp_path / "TR_95_T.cnr", "-q")
    assert rc == 0, err
    diffs = _report("tr95_fix_gc_rmask", tmp_path / "TR_95_T.cnr", d / case["expected_output"])
    # not a no-op: the input log2 is raw log2 depth
    raw = read(d / "tr95/TR_95_T.targetcoverage.cnn")
    assert abs(np.median(raw.log2)) > 3 and set(diffs) == {"log2", "weight"}

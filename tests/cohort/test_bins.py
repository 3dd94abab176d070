"""Target and antitarget bins vs ``cnvkit.py target`` / ``antitarget`` on real baits and generated BEDs."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.cohort import bins
from raygen.cohort.cnvfiles import CopyNumTable
from tests.cohort.helpers import run_cnvkit


def _generated_baits(rng, path):
    lines = []
    for c in ("chr1", "chr2", "chr10", "chrX", "chrUn_gl000220"):
        pos = 200_000
        for k in range(int(rng.integers(20, 60))):
            size = int(rng.integers(0, 2500))
            lines.append(f"{c}\t{pos}\t{pos + size}\t{'ref|NM_%d,mRNA|X%d' % (k // 4, k // 3)}\n")
            pos += size + int(rng.integers(-100, 60_000))  # some overlap, some touch
            pos = max(pos, 0)
    rng.shuffle(lines)
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize("source", ["picard", "generated"])
def test_target_and_antitarget_match_cnvkit(tmp_path, run_cli, shared_data, source):
    if source == "picard":
        csv = (shared_data / "cnvkit/picard/p2-5_5.targetcoverage.csv").read_text().splitlines()[1:]
        baits = tmp_path / "baits.bed"
        baits.write_text("".join(f"{f[0]}\t{int(f[1]) - 1}\t{f[2]}\t{f[4]}\n" for f in (l.split("\t") for l in csv)))
    else:
        baits = _generated_baits(np.random.default_rng(5), tmp_path / "baits.bed")
    access = tmp_path / "access.bed"
    access.write_text("chr1\t10000\t5000000\nchr1\t5100000\t9000000\nchr2\t0\t3000000\nchrM\t0\t16000\n"
                      "chr22_random\t0\t90000\nchrX\t0\t4000000\n")
    jobs = [["target", "baits.bed", "-o", "ck.plain.bed"], ["target", "baits.bed", "--split", "-o", "ck.split.bed"],
            ["target", "baits.bed", "--split", "-a", "120", "-o", "ck.split120.bed"],
            ["antitarget", "ck.plain.bed", "-o", "ck.anti.bed"],
            ["antitarget", "ck.plain.bed", "-g", "access.bed", "-a", "40000", "-o", "ck.anti_access.bed"]]
    if source == "generated":
        jobs.append(["target", "baits.bed", "--short-names", "-o", "ck.short.bed"])
    run_cnvkit(tmp_path, *jobs)
    for job in jobs:
        argv = [str(tmp_path / a) if a.endswith(".bed") else a for a in job]
        argv[argv.index("-o") + 1] = argv[argv.index("-o") + 1].replace("/ck.", "/rg.")
        if job[0] == "antitarget":
            argv[1] = argv[1].replace("/ck.", "/rg.")
        rc, _, err = run_cli("cohort", *argv, "-q")
        assert rc == 0, err
        out = job[job.index("-o") + 1]
        assert (tmp_path / out.replace("ck.", "rg.")).read_text() == (tmp_path / out).read_text(), out


def test_subdivide_and_merge():
    b = CopyNumTable({"chromosome": np.asarray(["chr1"] * 3, dtype=object), "start": np.asarray([0, 100, 500]),
                           "end": np.asarray([100, 300, 1500]), "gene": np.asarray(["A", "B", "A"], dtype=object)})
    merged = bins.merge_touching(b)
    assert merged.start.tolist() == [0, 500] and merged.gene.tolist() == ["A,B", "A"]
    cut = bins.subdivide(b, 250)
    assert cut.start.tolist() == [0, 500, 750, 1000, 1250] and cut.end.tolist() == [300, 750, 1000, 1250, 1500]

"""raygen cohort vs CNVkit 0.9.14 (the oracle) on generated cohorts: a seeded FASTA with GC and soft-masked
repeat variation, target and antitarget bins, normals of both sexes with GC bias, batch shifts and empty
bins, and a tumour with gains and losses. Every step runs in both tools on the same files:
reference (female and male references, FASTA GC/RepeatMasker), fix, segment (haar, none), call
(threshold, clonal with purity, male reference). Bounded to well under a minute of CNVkit time.
"""

from __future__ import annotations

import numpy as np
import pytest

from raygen.cohort import bias, bins
from raygen.cohort.cnvfiles import write_cnvkit
from tests.cohort.helpers import (compare_tables, read, run_cnvkit, synthetic_coverage, synthetic_targets,
                                  write_fasta)
from tests.oracles import oracle_python

pytestmark = pytest.mark.skipif(oracle_python("cnvkit") is None,
                                reason="differential test: CNVkit side venv .oracles/cnvkit is not built (make oracles)")

CONTIGS = {"chr1": 1_400_000, "chr2": 1_200_000, "chr3": 1_200_000, "chr4": 1_000_000, "chrX": 1_000_000,
           "chrY": 700_000}


def make_cohort(tmp, seed: int):
    """Write the FASTA, BEDs, normals and tumour of one generated cohort; return their file names."""
    rng = np.random.default_rng(seed)
    fasta = write_fasta(rng, tmp / "genome.fa", CONTIGS)
    targets = synthetic_targets(rng, CONTIGS, per_contig=45)
    antis = bins.make_antitargets(targets, None, avg_size=15_000)
    gc_t, _ = bias.fasta_gc_rmask(str(fasta), targets.chrom, targets.start, targets.end)
    gc_a, _ = bias.fasta_gc_rmask(str(fasta), antis.chrom, antis.start, antis.end)
    names = []
    sexes = [True, False, True, False, True]
    for k, female in enumerate(sexes):
        sid = f"N{k}"
        shift = float(rng.normal(0, 0.4))  # batch / library-size shift
        for tab, gc, kind in ((targets, gc_t, "targetcoverage"), (antis, gc_a, "antitargetcoverage")):
            cnn = synthetic_coverage(rng, tab, gc, female, sid, batch_shift=shift, zero_bins=3 if k == 2 else 0,
                                     gc_slope=float(rng.uniform(0.5, 2.5)))
            write_cnvkit(cnn, tmp / f"{sid}.{kind}.cnn")
        names.append(sid)
    for tab, gc, kind in ((targets, gc_t, "targetcoverage"), (antis, gc_a, "antitargetcoverage")):
        t = synthetic_coverage(rng, tab, gc, False, "T", cnv=("chr2", 0.8), gc_slope=2.0)
        l2 = t.log2.copy()
        l2[(t.chrom == "chr3") & (t.start > 600_000)] -= 1.0
        write_cnvkit(t.with_columns(log2=l2, depth=np.exp2(l2)), tmp / f"T.{kind}.cnn")
    return names


def run_raygen(run_cli, jobs, inputs, outdir) -> None:
    """The same jobs through ``raygen cohort``: ``../x`` are inputs, bare CNVkit file names outputs."""
    for job in jobs:
        argv = [str(inputs / a[3:]) if a.startswith("../") else
                (str(outdir / a) if a.endswith((".cnn", ".cnr", ".cns")) else a) for a in job]
        rc, _, err = run_cli("cohort", *argv, "-q")
        assert rc == 0, err


@pytest.mark.parametrize("seed", [11, 23])
def test_generated_cohort_matches_cnvkit(tmp_path, run_cli, seed):
    normals = make_cohort(tmp_path, seed)
    cov = [f"{n}.{k}.cnn" for n in normals for k in ("targetcoverage", "antitargetcoverage")]
    ck = tmp_path / "ck"
    ck.mkdir()
    jobs = [
        ["reference", *[f"../{c}" for c in cov], "-f", "../genome.fa", "-o", "ref.cnn"],
        ["reference", *[f"../{c}" for c in cov], "-f", "../genome.fa", "-y", "-o", "ref_y.cnn"],
        ["fix", "../T.targetcoverage.cnn", "../T.antitargetcoverage.cnn", "ref.cnn", "-o", "T.cnr"],
        ["fix", "../T.targetcoverage.cnn", "../T.antitargetcoverage.cnn", "ref_y.cnn", "-o", "T_y.cnr"],
        ["segment", "T.cnr", "-m", "haar", "-o", "T.haar.cns"],
        ["segment", "T.cnr", "-m", "none", "-o", "T.none.cns"],
        ["segment", "T_y.cnr", "-m", "haar", "-t", "0.001", "--drop-low-coverage", "-o", "T_y.haar.cns"],
        ["call", "T.haar.cns", "-o", "T.call.cns"],
        ["call", "T.haar.cns", "-m", "clonal", "--purity", "0.7", "-o", "T.clonal.cns"],
        ["call", "T_y.haar.cns", "-y", "--center", "-o", "T_y.call.cns"],
    ]
    run_cnvkit(ck, *jobs)
    rg = tmp_path / "rg"
    rg.mkdir()
    run_raygen(run_cli, jobs, tmp_path, rg)
    diffs = {}
    for name in ("ref.cnn", "ref_y.cnn", "T.cnr", "T_y.cnr", "T.none.cns", "T.call.cns", "T.clonal.cns", "T_y.call.cns"):
        diffs[name] = compare_tables(read(rg / name), read(ck / name))
    for name in ("T.haar.cns", "T_y.haar.cns"):
        diffs[name] = compare_tables(read(rg / name), read(ck / name))
    # the reference really corrected something: pooled log2 is not the raw log2 of any normal
    ref = read(rg / "ref.cnn")
    assert np.nanstd(ref.log2[~ref.is_antitarget() & (ref.chrom != "chrY")]) < 0.3
    assert "gc" in ref and "rmask" in ref
    print(seed, {k: max(v.values()) for k, v in diffs.items()})


def test_single_normal_and_flat_reference_match_cnvkit(tmp_path, run_cli):
    normals = make_cohort(tmp_path, 5)
    ck = tmp_path / "ck"
    ck.mkdir()
    t, a = f"../{normals[1]}.targetcoverage.cnn", f"../{normals[1]}.antitargetcoverage.cnn"
    tab_t, tab_a = read(tmp_path / t[3:]), read(tmp_path / a[3:])
    for tab, name in ((tab_t, "t.bed"), (tab_a, "a.bed")):
        (tmp_path / name).write_text("".join(f"{c}\t{s}\t{e}\t{g}\n" for c, s, e, g in
                                             zip(tab.chrom, tab.start, tab.end, tab.gene)))
    jobs = [["reference", t, a, "-o", "one.cnn"],
            ["reference", "-t", "../t.bed", "-a", "../a.bed", "-f", "../genome.fa", "-y", "-o", "flat.cnn"],
            ["fix", "../T.targetcoverage.cnn", "../T.antitargetcoverage.cnn", "flat.cnn", "-o", "T.flat.cnr"]]
    run_cnvkit(ck, *jobs)
    rg = tmp_path / "rg"
    rg.mkdir()
    run_raygen(run_cli, jobs, tmp_path, rg)
    for name in ("one.cnn", "flat.cnn", "T.flat.cnr"):
        compare_tables(read(rg / name), read(ck / name))

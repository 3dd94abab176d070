"""Read depth per bin: the counting identity, CNVkit's coverage on the GIAB BAM and on generated BAMs with
every read feature (deletions, N skips, clips, insertions, flags, MAPQ, a deep pile, overlapping and
zero-width bins), and bad input (missing index, unsorted BAM, contigs the BAM lacks)."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.cohort import bins as binmod
from raygen.cohort import coverage
from raygen.cohort.cnvfiles import read_cnvkit, table_text
from raygen.errors import InputError
from tests.cohort.helpers import random_bins_bed, random_reads, run_cnvkit, write_bam

CONTIGS = {"chr1": 60_000, "chr2": 40_000, "chrM": 16_000}


def test_span_bases_equals_brute_force():
    rng = np.random.default_rng(3)
    rs = rng.integers(0, 1000, 300)
    re = rs + rng.integers(1, 150, 300)
    bs = rng.integers(0, 1100, 200)
    be = bs + rng.integers(0, 300, 200)
    depth = np.zeros(1300, dtype=np.int64)
    for a, b in zip(rs, re):
        depth[a:b] += 1
    expected = np.asarray([depth[a:b].sum() for a, b in zip(bs, be)])
    assert np.array_equal(coverage.span_bases(rs, re, bs, be), expected)


def test_fetch_windows_cover_every_bin():
    starts = np.asarray([0, 10, 500, 100_000, 100_010, 400_000])
    ends = starts + 100
    wins = coverage.fetch_windows(starts, ends, gap=1000)
    assert [(a, b) for a, b, _, _ in wins] == [(0, 3), (3, 5), (5, 6)]
    assert wins[0][2:] == (0, 600)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cov")
    rng = np.random.default_rng(7)
    bam = write_bam(tmp / "sim.bam", CONTIGS, random_reads(rng, CONTIGS, 4000))
    bed = random_bins_bed(rng, tmp / "bins.bed", {"chr1": 60_000, "chr2": 40_000}, 60)
    bed_missing = tmp / "bins_missing.bed"
    bed_missing.write_text(bed.read_text() + "chr9\t100\t900\tNOPE\n")
    return tmp, bam, bed, bed_missing


MODES = [[], ["-q", "20"], ["-c"], ["-c", "-q", "30"]]


def _tag(extra):
    return "_".join(extra).replace("-", "") or "default"


@pytest.fixture(scope="module")
def cnvkit_generated(generated):
    """CNVkit's coverage of the generated BAM in every mode (one CNVkit process)."""
    tmp, bam, bed, _ = generated
    run_cnvkit(tmp, *[["coverage", bam.name, bed.name, *x, "-o", f"ck_{_tag(x)}.cnn"] for x in MODES])
    return tmp


@pytest.mark.parametrize("extra", MODES)
def test_coverage_matches_cnvkit_on_generated_bam(generated, cnvkit_generated, run_cli, extra):
    tmp, bam, bed, _ = generated
    tag = _tag(extra)
    ours = [("--min-mapq" if a == "-q" else a) for a in extra]
    rc, _, err = run_cli("cohort", "coverage", bam, bed, *ours, "-o", tmp / f"rg_{tag}.cnn", "-q")
    assert rc == 0, err
    assert (tmp / f"rg_{tag}.cnn").read_text() == (tmp / f"ck_{tag}.cnn").read_text()
    table = read_cnvkit(tmp / f"rg_{tag}.cnn")
    assert (table["depth"] > 0).sum() > len(table) // 2  # the test counts real reads


def test_coverage_on_giab_bam_matches_cnvkit(shared_data, tmp_path, run_cli):
    giab = shared_data / "giab_chr20"
    bam = giab / "NA12878_S1.chr20.10_10p1mb.bam"
    bed = tmp_path / "giab.bed"
    rc, _, err = run_cli("cohort", "target", giab / "test_nist.b37_chr20_100kbp_at_10mb.bed", "--split", "-a", "300",
                         "-o", bed, "-q")
    assert rc == 0, err
    anti = tmp_path / "giab.antitarget.bed"
    # off-target bins in the slice the BAM covers: 10.0-10.1 Mb
    anti.write_text("".join(f"chr20\t{s}\t{s + 2000}\tAntitarget\n" for s in range(9_990_000, 10_110_000, 2000)))
    run_cnvkit(tmp_path, ["target", str(giab / "test_nist.b37_chr20_100kbp_at_10mb.bed"), "--split", "-a", "300",
                          "-o", "ck.bed"])
    assert (tmp_path / "ck.bed").read_text() == bed.read_text()
    jobs = []
    for b in (bed, anti):
        for extra in ([], ["-q", "30"]):
            jobs.append(["coverage", str(bam), b.name, *extra, "-o", f"ck_{b.stem}{len(extra)}.cnn"])
    run_cnvkit(tmp_path, *jobs)
    for b in (bed, anti):
        for extra in ([], ["--min-mapq", "30"]):
            out = tmp_path / f"rg_{b.stem}{len(extra)}.cnn"
            rc, _, err = run_cli("cohort", "coverage", bam, b, *extra, "-o", out, "-q")
            assert rc == 0, err
            assert out.read_text() == (tmp_path / f"ck_{b.stem}{len(extra)}.cnn").read_text()
    assert read_cnvkit(tmp_path / "rg_giab0.cnn")["depth"].mean() > 20


def test_bins_on_missing_contig_are_dropped_with_a_count(generated, caplog):
    tmp, bam, _, bed_missing = generated
    table = coverage.sample_coverage(str(bam), binmod.table_from_bed(bed_missing))
    assert "chr9" not in set(table.chrom.tolist())
    assert "dropped 1 of" in caplog.text


def test_no_bin_on_the_bam_is_one_error(generated, tmp_path, run_cli):
    _, bam, _, _ = generated
    bed = tmp_path / "other.bed"
    bed.write_text("1\t100\t200\n2\t100\t200\n")
    rc, _, err = run_cli("cohort", "coverage", bam, bed, "-o", tmp_path / "x.cnn")
    assert rc == 2 and "no bin lies on a contig" in err and "with / without 'chr'" in err
    assert "Traceback" not in err and not (tmp_path / "x.cnn").exists()


def test_bam_without_index_gets_one_and_unsorted_bam_is_refused(tmp_path, generated):
    _, _, bed, _ = generated
    rng = np.random.default_rng(1)
    reads = random_reads(rng, CONTIGS, 200)
    plain = write_bam(tmp_path / "noindex.bam", CONTIGS, reads, index=False)
    table = coverage.sample_coverage(str(plain), binmod.table_from_bed(bed))
    assert (tmp_path / "noindex.bam.bai").exists() and len(table)
    unsorted = tmp_path / "unsorted.bam"
    import pysam

    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": c, "LN": n} for c, n in CONTIGS.items()]}
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for k, pos in enumerate((5000, 100, 9000, 50)):
            a = pysam.AlignedSegment(out.header)
            a.query_name, a.reference_id, a.reference_start, a.cigarstring = f"r{k}", 0, pos, "50M"
            a.query_sequence, a.query_qualities = "A" * 50, pysam.qualitystring_to_array("I" * 50)
            out.write(a)
    with pytest.raises(InputError, match="not sorted|index"):
        coverage.sample_coverage(str(unsorted), binmod.table_from_bed(bed))


def test_zero_width_and_overlapping_bins_are_warned(generated, caplog):
    _, _, bed, _ = generated
    table = binmod.table_from_bed(bed)
    binmod.warn_order(table, "bins.bed")
    assert "overlap" in caplog.text
    cnn = coverage.depth_table(table, np.zeros(len(table), dtype=np.int64), coverage.CoverageOptions(), "x")
    zero = table.start == table.end
    assert zero.any() and (cnn.log2[zero] == -20).all() and "nan" not in table_text(cnn)

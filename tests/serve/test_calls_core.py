"""Pure helpers of POST /v1/call: which BAM paths a request may read, and the pileup picture's matrix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from raygen.serve.calls import (
    DELETION,
    MATCH,
    MISMATCH_A,
    BamNotFound,
    CallRequestInvalid,
    PathRefused,
    check_call_request,
    has_index,
    list_bams,
    load_pileup_view,
    resolve_bam,
)

BAM = "NA12878_S1.chr20.10_10p1mb.bam"
FA = "ucsc.hg19.chr20.unittest.fasta.gz"


@pytest.fixture()
def dirs(tmp_path: Path):
    """data/ with a BAM (+ index) in a subfolder, a link inside, a link leading out; outside/ with a BAM."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    (data / "sub").mkdir(parents=True)
    outside.mkdir()
    for p in (data / "sub" / "a.bam", outside / "secret.bam"):
        p.write_bytes(b"BAM\1")
        Path(str(p) + ".bai").write_bytes(b"BAI\1")
    (data / "notes.txt").write_text("x")
    os.symlink(data / "sub" / "a.bam", data / "inside_link.bam")
    os.symlink(outside / "secret.bam", data / "escape.bam")
    return data, outside


def test_paths_inside_the_data_dirs_resolve(dirs):
    data, _ = dirs
    real = (data / "sub" / "a.bam").resolve()
    assert resolve_bam(str(data / "sub" / "a.bam"), [str(data)]) == real
    assert resolve_bam("sub/a.bam", [str(data)]) == real  # relative to the data dir
    assert resolve_bam("inside_link.bam", [str(data)]) == real  # a link that stays inside is fine
    with pytest.raises(BamNotFound):
        resolve_bam("sub/missing.bam", [str(data)])


@pytest.mark.parametrize("how", ["absolute", "dotdot", "dotdot_inside", "symlink", "suffix", "no_dirs"])
def test_paths_outside_are_refused(dirs, how):
    data, outside = dirs
    path = {"absolute": str(outside / "secret.bam"),
            "dotdot": "../outside/secret.bam",
            "dotdot_inside": "sub/../sub/a.bam",  # refused even though it would stay inside
            "symlink": "escape.bam",
            "suffix": "notes.txt",
            "no_dirs": str(data / "sub" / "a.bam")}[how]
    with pytest.raises(PathRefused):
        resolve_bam(path, [] if how == "no_dirs" else [str(data)])


def test_refusal_does_not_reveal_whether_an_outside_file_exists(dirs):
    data, outside = dirs
    msgs = []
    for p in (outside / "secret.bam", outside / "nothing_here.bam"):
        with pytest.raises(PathRefused) as e:
            resolve_bam(str(p), [str(data)])
        msgs.append(str(e.value).replace(p.name, "NAME"))
    assert msgs[0] == msgs[1]


def test_list_bams_shows_only_indexed_files_inside(dirs):
    data, outside = dirs
    (data / "unindexed.bam").write_bytes(b"BAM\1")
    listed = list_bams([str(data)])
    assert listed == ["sub/a.bam"]  # named relative to its data directory: no server path in the page
    assert resolve_bam(listed[0], [str(data)]) == (data / "sub" / "a.bam").resolve()
    assert has_index(data / "sub" / "a.bam") and not has_index(data / "unindexed.bam")


def test_call_request_checks_index_region_contig_and_size(dirs):
    """The one check the API route and the UI share: each problem names its field and status."""
    data, _ = dirs
    (data / "unindexed.bam").write_bytes(b"BAM\1")
    lengths = {"chr1": 5000}
    path, region = check_call_request("sub/a.bam", "chr1:1,001-2,000", [str(data)], lengths, 1000)
    assert path == str((data / "sub" / "a.bam").resolve()) and region == "chr1:1001-2000"
    assert check_call_request("sub/a.bam", "chr1:4500-9000", [str(data)], lengths, 1000)[1] == "chr1:4500-5000"
    cases = [("unindexed.bam", "chr1:1-10", "bam", 422), ("sub/a.bam", "chr1:x-y", "region", 422),
             ("sub/a.bam", "chr9:1-10", "region", 422), ("sub/a.bam", "chr1:1-1001", "region", 413)]
    for bam, reg, field, status in cases:
        with pytest.raises(CallRequestInvalid) as e:
            check_call_request(bam, reg, [str(data)], lengths, 1000)
        assert (e.value.field, e.value.status) == (field, status), (bam, reg)
    with pytest.raises(PathRefused):
        check_call_request("../outside/secret.bam", "chr1:1-10", [str(data)], lengths, 1000)


def test_pileup_view_of_a_real_het_snv(shared_data):
    """A GIAB het SNV: about half of the reads show the ALT base as a mismatch in the call's column."""
    import pysam

    giab = shared_data / "giab_chr20"
    truth = pysam.VariantFile(str(giab / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"))
    het = next(r for r in truth if len(r.ref) == 1 and len(r.alts[0]) == 1
               and sorted(r.samples[0]["GT"]) == [0, 1])
    view = load_pileup_view(str(giab / BAM), str(giab / FA), het.chrom, het.pos, flank=30, max_rows=500)
    col = het.pos - view.start
    assert view.start == het.pos - 30 and view.codes.shape[1] == 61 and view.ref[col] == het.ref
    column = view.codes[:, col]
    alt_code = MISMATCH_A + "ACGT".index(het.alts[0])
    covering = column != 0
    frac = float((column == alt_code).sum()) / covering.sum()
    assert covering.sum() >= 10 and 0.2 < frac < 0.8
    assert ((column == MATCH) | (column == alt_code) | ~covering).mean() > 0.9
    assert view.codes.shape[0] == view.total_reads  # no subsampling under max_rows
    small = load_pileup_view(str(giab / BAM), str(giab / FA), het.chrom, het.pos, flank=30, max_rows=8)
    assert small.codes.shape[0] == 8 and small.total_reads == view.total_reads


def test_pileup_view_marks_deletions(shared_data):
    """A GIAB deletion: reads carrying it have DELETION codes right after the anchor base."""
    import pysam

    giab = shared_data / "giab_chr20"
    truth = pysam.VariantFile(str(giab / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"))
    dele = next(r for r in truth if len(r.ref) > 1 and len(r.alts[0]) == 1)
    view = load_pileup_view(str(giab / BAM), str(giab / FA), dele.chrom, dele.pos, flank=20, max_rows=500)
    col = dele.pos - view.start + 1  # first deleted base
    assert (view.codes[:, col] == DELETION).sum() >= 3
    assert np.isin(view.codes, np.arange(8)).all()

"""Classical caller on the GIAB slice, shard invariance, VCF output, and bad inputs."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pysam
import pytest

from raygen.calling.pipeline import call_bam, write_calls
from raygen.calling.shard import call_region
from raygen.calling.sitemodel import FILTER_DESCRIPTIONS
from raygen.config import DEFAULTS
from raygen.errors import InputError
from raygen.eval.concordance import evaluate_vcfs
from raygen.regions import check_contigs, make_shards

BAM = "NA12878_S1.chr20.10_10p1mb.bam"
FA = "ucsc.hg19.chr20.unittest.fasta.gz"
TRUTH = "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"
BED = "test_nist.b37_chr20_100kbp_at_10mb.bed"


@pytest.fixture(scope="module")
def giab(shared_data: Path) -> Path:
    return shared_data / "giab_chr20"


def _subset_bam(giab: Path, out: Path, region: tuple[str, int, int], rename: dict[str, str] | None = None) -> Path:
    """A small BAM of the reads in ``region``, optionally with renamed contigs (no index)."""
    with pysam.AlignmentFile(str(giab / BAM)) as src:
        hdr = src.header.to_dict()
        if rename:
            for sq in hdr["SQ"]:
                sq["SN"] = rename.get(sq["SN"], sq["SN"])
        with pysam.AlignmentFile(str(out), "wb", header=hdr) as dst:
            for r in src.fetch(*region):
                dst.write(r)
    return out


@pytest.mark.shared
def test_classical_no_errors_in_confident_bed(giab: Path, tmp_path: Path):
    # The first 5 kb of the confident BED: 29 truth variants incl. a hom-alt indel with misaligned reads.
    recs = call_region(str(giab / BAM), str(giab / FA), "chr20:10000800-10006000")
    out = tmp_path / "q.vcf.gz"
    write_calls(str(out), recs, {"chr20": 63025520}, "NA12878", str(giab / FA), "classical", DEFAULTS.call)
    rep = evaluate_vcfs(giab / TRUTH, out, confident_bed=giab / BED, reference=giab / FA,
                        region=("chr20", 10000799, 10006000))
    c = rep.counts["ALL"]
    assert c.truth_total >= 25
    assert (c.fp, c.fn) == (0, 0), rep.as_dict()
    assert c.gt_match == c.tp
    # Every record has the full FORMAT and FILTERs the header declares (a site-model veto adds its reasons).
    known = {"PASS", "RefCall", *FILTER_DESCRIPTIONS}
    assert {f for r in recs for f in r.filter.split(";")} <= known
    with pysam.VariantFile(str(out)) as vf:
        assert known <= set(vf.header.filters.keys())
        rec = next(iter(vf))
        assert set(rec.format.keys()) == {"GT", "GQ", "DP", "AD", "VAF", "PL"}
    assert Path(str(out) + ".tbi").exists()


@pytest.mark.shared
@pytest.mark.timeout(120)
def test_shard_size_does_not_change_calls(giab: Path, tmp_path: Path, ray_session):
    region = "chr20:10002000-10012000"
    outs = []
    for shard_bp in (1500, 20000):
        cfg = dataclasses.replace(DEFAULTS.call, shard_bp=shard_bp)
        out = tmp_path / f"s{shard_bp}.vcf.gz"
        s = call_bam(str(giab / BAM), str(giab / FA), str(out), regions=region, cfg=cfg, progress=False)
        assert s["failed_shards"] == 0 and s["shards"] == (7 if shard_bp == 1500 else 1)
        with pysam.VariantFile(str(out)) as vf:
            outs.append([str(r) for r in vf])
    assert len(outs[0]) > 20
    assert outs[0] == outs[1]


def test_shards_own_disjoint_intervals():
    shards = make_shards([("c", 0, 10_500), ("d", 100, 200)], 1000, 300)
    assert [(s.start0, s.end0) for s in shards if s.chrom == "c"][-1] == (10_000, 10_500)
    assert sum(s.end0 - s.start0 for s in shards) == 10_600
    assert shards[1].fetch_start0 == 700 and shards[0].fetch_start0 == 0


def test_contig_name_mismatch_explained():
    with pytest.raises(InputError, match="--rename-contigs add-chr"):
        check_contigs({"20": 100, "21": 50}, {"chr20": 100})
    with pytest.raises(InputError, match="strip-chr"):
        check_contigs({"chr20": 100}, {"20": 100})
    assert check_contigs({"20": 100}, {"chr20": 100}, {"20": "chr20"}) == {"20": 100}


@pytest.mark.shared
@pytest.mark.timeout(120)
def test_cli_renamed_unindexed_and_truncated_bam(giab: Path, tmp_path: Path, run_cli, ray_session):
    region = ("chr20", 10003000, 10006000)
    bam = _subset_bam(giab, tmp_path / "renamed.bam", region, rename={"chr20": "20"})
    assert not Path(str(bam) + ".bai").exists()
    out = tmp_path / "o.vcf.gz"
    rc, _, err = run_cli("call", bam, "-f", giab / FA, "-o", out, "--regions", "20:10003001-10006000", "-q")
    assert rc == 2 and "--rename-contigs add-chr" in err and not out.exists()
    rc, stdout, err = run_cli("call", bam, "-f", giab / FA, "-o", out, "--regions", "20:10003001-10006000",
                              "--rename-contigs", "add-chr", "-q")
    assert rc == 0, err
    assert Path(str(bam) + ".bai").exists()  # the missing index was built
    with pysam.VariantFile(str(out)) as vf:
        recs = [r for r in vf if "PASS" in r.filter.keys()]
    assert recs and all(r.chrom == "20" for r in recs)
    # Truncate the BAM: the shards that can be read are still written, the failed one is reported.
    data = bam.read_bytes()
    trunc = tmp_path / "trunc.bam"
    trunc.write_bytes(data[: len(data) // 2])
    shutil.copy(str(bam) + ".bai", str(trunc) + ".bai")
    out2 = tmp_path / "t.vcf.gz"
    rc, _, err = run_cli("call", trunc, "-f", giab / FA, "-o", out2, "--regions", "20:10003001-10006000",
                         "--rename-contigs", "add-chr", "--shard-bp", "1000", "-q")
    assert rc == 1 and f"shards of {trunc} failed" in err, err
    assert out2.exists() and Path(str(out2) + ".failed_shards.bed").exists()
    assert "20\t" in Path(str(out2) + ".failed_shards.bed").read_text()


@pytest.mark.shared
def test_cram_decodes_against_the_given_reference(giab: Path, tmp_path: Path):
    """A CRAM made elsewhere names, in its @SQ UR tags, a reference path that is not here: raygen decodes it
    against -f (before, every shard failed as a "truncated file"), and calls what the BAM calls."""
    sam = pysam.samtools.view("-h", str(giab / BAM))
    keep = [ln for ln in sam.splitlines() if not ln.startswith("@SQ") or "\tSN:chr20\t" in ln]  # the FASTA's contig
    (tmp_path / "r.sam").write_text("\n".join(keep) + "\n")
    gone = tmp_path / "elsewhere"
    gone.mkdir()
    for suffix in ("", ".fai", ".gzi"):
        shutil.copy(f"{giab / FA}{suffix}", f"{gone / 'ref.fa.gz'}{suffix}")
    cram = str(tmp_path / "r.cram")
    pysam.samtools.view("-C", "-T", str(gone / "ref.fa.gz"), "-o", cram, str(tmp_path / "r.sam"), catch_stdout=False)
    pysam.index(cram)
    shutil.rmtree(gone)  # its UR path no longer exists
    region = "chr20:10010001-10020000"
    got = call_region(cram, str(giab / FA), region)
    want = call_region(str(giab / BAM), str(giab / FA), region)
    assert len(want) > 10 and [(r.pos, r.ref, r.alt, r.gt, r.filter) for r in got] == \
        [(r.pos, r.ref, r.alt, r.gt, r.filter) for r in want]

"""Concordance counts on hand-made truth/query VCFs, and the MANIFEST's DeepVariant figures on GIAB."""

from __future__ import annotations

import json
from pathlib import Path

import pysam
import pytest

from raygen.errors import InputError
from raygen.eval.concordance import evaluate_vcfs

# 1-based: pos 1..40. A homopolymer run of 6 T's at 11-16 and a CA repeat at 21-28.
REF = "ACGTACGTAC" + "GTTTTTTACG" + "CACACACAGT" + "ACGTACGTAC"
assert len(REF) == 40


def _vcf(path: Path, rows: list[str], sample: bool = True) -> str:
    hdr = ["##fileformat=VCFv4.2", "##contig=<ID=c1,length=40>",
           '##FILTER=<ID=RefCall,Description="ref">',
           '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO" + ("\tFORMAT\tS" if sample else "")
    path.write_text("\n".join(hdr + [cols] + rows) + "\n")
    return str(path)


@pytest.fixture()
def ref_fa(tmp_path: Path) -> str:
    p = tmp_path / "ref.fa"
    p.write_text(">c1\n" + REF + "\n")
    pysam.faidx(str(p))
    return str(p)


def test_counts_with_indel_in_other_representation(tmp_path: Path, ref_fa: str):
    # pos 11 is G, 12-17 TTTTTT. Truth deletes one T, left-aligned (G T T -> anchor G at 11).
    truth = _vcf(tmp_path / "t.vcf", [
        "c1\t4\t.\tT\tC\t.\tPASS\t.\tGT\t0/1",       # SNP, matched with same GT
        "c1\t9\t.\tA\tG,T\t.\tPASS\t.\tGT\t1/2",     # multiallelic: both alts must be matched
        "c1\t11\t.\tGT\tG\t.\tPASS\t.\tGT\t1/1",     # homopolymer deletion
        "c1\t21\t.\tC\tCAC\t.\tPASS\t.\tGT\t0/1",    # CA repeat insertion
        "c1\t35\t.\tA\tG\t.\tPASS\t.\tGT\t0/1",      # missed by the query -> FN
    ])
    query = _vcf(tmp_path / "q.vcf", [
        "c1\t4\t.\tT\tC\t30\tPASS\t.\tGT\t0/1",
        "c1\t9\t.\tA\tG\t30\tPASS\t.\tGT\t0/1",
        "c1\t9\t.\tA\tT\t30\t.\t.\tGT\t0/1",
        "c1\t15\t.\tTT\tT\t30\tPASS\t.\tGT\t0/1",   # same deletion, right-shifted; GT differs (het vs hom)
        "c1\t27\t.\tCAG\tCACAG\t30\tPASS\t.\tGT\t0/1",  # same insertion, shifted + padded
        "c1\t30\t.\tT\tA\t30\tPASS\t.\tGT\t1/1",    # not in truth -> FP
        "c1\t32\t.\tG\tA\t5\tRefCall\t.\tGT\t0/0",  # filtered, ignored
        "c1\t33\t.\tT\tG\t30\tPASS\t.\tGT\t0/0",    # hom-ref genotype, ignored
    ])
    rep = evaluate_vcfs(truth, query, reference=ref_fa)
    snp, indel, total = rep.counts["SNP"], rep.counts["INDEL"], rep.counts["ALL"]
    assert (snp.tp, snp.fp, snp.fn) == (3, 1, 1)
    assert (indel.tp, indel.fp, indel.fn) == (2, 0, 0)
    assert (total.tp, total.fp, total.fn) == (5, 1, 1)
    assert indel.gt_match == 1 and indel.gt_compared == 2
    assert snp.precision == pytest.approx(0.75) and snp.recall == pytest.approx(0.75)
    # Without the reference the shifted indels cannot be left-aligned, so they no longer match.
    rep2 = evaluate_vcfs(truth, query)
    assert rep2.counts["INDEL"].tp == 0 and rep2.counts["INDEL"].fp == 2


def test_records_the_reference_cannot_align_are_trimmed_not_dropped(tmp_path: Path, ref_fa: str):
    # REF 'AA' at 15 disagrees with the reference (TT): trimmed only (no fallback aligner); a contig the FASTA
    # lacks is trimmed too; both still count, and a padded SNV on a known contig is realigned as bcftools does.
    truth = _vcf(tmp_path / "t.vcf", ["c1\t15\t.\tAAT\tAT\t.\tPASS\t.\tGT\t0/1",
                                      "c1\t30\t.\tT\tA\t.\tPASS\t.\tGT\t0/1",
                                      "c9\t5\t.\tCAG\tCG\t.\tPASS\t.\tGT\t0/1"])
    query = _vcf(tmp_path / "q.vcf", ["c1\t15\t.\tAA\tA\t30\tPASS\t.\tGT\t0/1",
                                      "c1\t29\t.\tGT\tGA\t30\tPASS\t.\tGT\t0/1",
                                      "c9\t5\t.\tCA\tC\t30\tPASS\t.\tGT\t0/1"])
    rep = evaluate_vcfs(truth, query, reference=ref_fa)
    assert rep.counts["ALL"].tp == 3 and rep.counts["ALL"].fp == 0 and rep.counts["ALL"].fn == 0


def test_confident_bed_restricts_both_sides(tmp_path: Path, ref_fa: str):
    truth = _vcf(tmp_path / "t.vcf", ["c1\t4\t.\tT\tC\t.\tPASS\t.\tGT\t0/1", "c1\t35\t.\tA\tG\t.\tPASS\t.\tGT\t0/1"])
    query = _vcf(tmp_path / "q.vcf", ["c1\t30\t.\tT\tA\t30\tPASS\t.\tGT\t1/1", "c1\t4\t.\tT\tC\t30\tPASS\t.\tGT\t1/1"])
    bed = tmp_path / "c.bed"
    bed.write_text("c1\t0\t10\n")
    rep = evaluate_vcfs(truth, query, reference=ref_fa, confident_bed=str(bed))
    c = rep.counts["ALL"]
    assert (c.tp, c.fp, c.fn, c.gt_match) == (1, 0, 0, 0)


def test_cli_json_and_table(tmp_path: Path, ref_fa: str, run_cli):
    truth = _vcf(tmp_path / "t.vcf", ["c1\t4\t.\tT\tC\t.\tPASS\t.\tGT\t0/1"])
    query = _vcf(tmp_path / "q.vcf", ["c1\t4\t.\tT\tC\t30\tPASS\t.\tGT\t0/1", "c1\t30\t.\tT\tA\t30\tPASS\t.\tGT\t1/1"])
    rc, out, _ = run_cli("evaluate", "--truth", truth, "--query", query, "-f", ref_fa, "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["counts"]["SNP"]["tp"] == 1 and d["counts"]["SNP"]["fp"] == 1
    assert d["false_positives"] == ["c1:30:T>A"]
    rc, out, _ = run_cli("evaluate", "--truth", truth, "--query", query, "-f", ref_fa)
    assert rc == 0 and "SNP" in out and "FP: c1:30:T>A" in out
    rc, _, err = run_cli("evaluate", "--truth", str(tmp_path / "missing.vcf"), "--query", query)
    assert rc == 2 and "does not exist" in err
    rc, out, _ = run_cli("evaluate", "--truth", truth, "--query", query, "-f", ref_fa, "--region", "c1:20-40", "--json")
    assert rc == 0 and json.loads(out)["counts"]["SNP"]["fp"] == 1
    rc, _, err = run_cli("evaluate", "--truth", truth, "--query", query, "--region", "chr1:1-40")
    assert rc == 2 and "contig 'chr1' is in neither VCF" in err and "Traceback" not in err


def test_haplotype_matching_of_a_complex_record_end_to_end(tmp_path: Path, ref_fa: str, run_cli):
    # CACACACA at 21-28, G at 29. Truth: delete the first CA (GCA>G at 20) and G>T at 29 -> GCACACAT.
    # Query: CAG>T at 27 (the last CA and the G), the same sequence; normalization cannot rewrite it.
    truth = _vcf(tmp_path / "t.vcf", ["c1\t20\t.\tGCA\tG\t.\tPASS\t.\tGT\t0/1",
                                      "c1\t29\t.\tG\tT\t.\tPASS\t.\tGT\t0/1"])
    query = _vcf(tmp_path / "q.vcf", ["c1\t27\t.\tCAG\tT\t40\tPASS\t.\tGT\t0/1"])
    allele = evaluate_vcfs(truth, query, reference=ref_fa, matching="allele").counts["ALL"]
    assert (allele.tp, allele.fp, allele.fn) == (0, 1, 2)
    hap = evaluate_vcfs(truth, query, reference=ref_fa).counts["ALL"]
    assert (hap.tp, hap.tp_query, hap.fp, hap.fn, hap.gt_match) == (2, 1, 0, 0, 2)
    png = tmp_path / "curve.png"
    rc, out, _ = run_cli("evaluate", "--truth", truth, "--query", query, "-f", ref_fa, "--qual-curve", png, "--json")
    d = json.loads(out)
    assert rc == 0 and png.read_bytes()[:4] == b"\x89PNG"
    assert d["matching"]["haplotype_tp_truth"] == 2 and d["counts"]["ALL"]["tp_query"] == 1
    assert d["strata"]["repeat context"]["tandem repeat INDEL"]["tp"] == 1
    assert [r["qual"] for r in d["qual_curve"]["ALL"]] == [None, 40.0]
    rc, out, _ = run_cli("evaluate", "--truth", truth, "--query", query, "-f", ref_fa, "--matching", "allele")
    assert rc == 0 and "matching: allele keys" in out and "FN: c1:20:GCA>G, c1:29:G>T" in out


@pytest.mark.shared
def test_deepvariant_golden_matches_manifest(shared_data: Path):
    d = shared_data / "giab_chr20"
    rep = evaluate_vcfs(
        d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz", d / "golden.postprocess_single_site_output.vcf.gz",
        confident_bed=d / "test_nist.b37_chr20_100kbp_at_10mb.bed", reference=d / "ucsc.hg19.chr20.unittest.fasta.gz",
    )
    c = rep.counts["ALL"]
    assert (c.tp, c.fp, c.fn) == (47, 0, 2)
    assert c.gt_match == 47
    assert sorted(f"{a.pos}" for a in rep.false_negatives) == ["10001019", "10010393"]


@pytest.mark.shared
def test_cli_side_by_side_table_for_several_call_sets(shared_data: Path, run_cli, tmp_path: Path):
    """`raygen evaluate` with repeated --query prints one row per call set (the GIAB comparison table)."""
    d = shared_data / "giab_chr20"
    truth, golden = d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz", d / "golden.postprocess_single_site_output.vcf.gz"
    common = ["evaluate", "--truth", truth, "--confident", d / "test_nist.b37_chr20_100kbp_at_10mb.bed",
              "-f", d / "ucsc.hg19.chr20.unittest.fasta.gz", "--query", f"truth itself={truth}",
              "--query", f"DeepVariant 1.4={golden}"]
    rc, out, _ = run_cli(*common, "--qual-curve", tmp_path / "both.png")
    assert rc == 0 and (tmp_path / "both.png").read_bytes()[:4] == b"\x89PNG"
    assert "DeepVariant 1.4: matching: haplotype; 47 truth alleles on equal keys" in out
    rows = {line[:22].strip(): line.split() for line in out.splitlines() if line.startswith(("truth itself", "Deep"))}
    assert rows["truth itself"][2:6] == ["45", "0", "0", "1.0000"]  # SNP TP FP FN F1
    assert rows["DeepVariant 1.4"][2:6] == ["43", "0", "2", "0.9773"]
    rc, out, _ = run_cli(*common, "--json")
    queries = json.loads(out)["queries"]
    assert [q["label"] for q in queries] == ["truth itself", "DeepVariant 1.4"]
    assert queries[1]["counts"]["ALL"]["fn"] == 2


@pytest.mark.parametrize("body,message", [
    # issue 19 (a new tester's corpus): "cannot read VCF ...: file ... does not have valid header (mode=`b'r'`)",
    # and "unreadable VCF record" without saying which
    ("##fileformat=VCFv4.2\n##INFO=<ID=X\x00,Number=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n",
     r"q\.vcf: line 2: header line holds the control character"),
    ("##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"G\">\n"
     "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n1\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1\n"
     "1\t9\t.\tA\tC\t.\t.\t.\tGT\t0/1:3:4\n", r"q\.vcf: record 2 \(the one after 1:5\) is unreadable"),
], ids=["nul_header", "bad_record"])
def test_unreadable_query_names_file_and_where(tmp_path: Path, body, message):
    from raygen.errors import InputError
    from raygen.eval.concordance import read_alleles

    q = tmp_path / "q.vcf"
    q.write_text(body)
    with pytest.raises(InputError, match=message):
        read_alleles(q)


def _merge_nearby(src: Path, fasta: Path, out: Path) -> int:
    """Rewrite the biallelic records of ``src``: each pair less than 20 bp apart with the same genotype (not
    two SNVs, which MNP decomposition already splits) becomes one record spanning both. Returns the pairs."""
    fa = pysam.FastaFile(str(fasta))
    with pysam.VariantFile(str(src)) as vf:
        recs = [(r.chrom, r.pos, r.ref, r.alts[0], "/".join(map(str, sorted(r.samples[0]["GT"]))))
                for r in vf if len(r.alts) == 1]
    rows, i, merged = [], 0, 0
    while i < len(recs):
        (c, p, ref, alt, gt), nxt = recs[i], recs[i + 1] if i + 1 < len(recs) else None
        two_snvs = len(ref) == len(alt) == len(nxt[2]) == len(nxt[3]) == 1 if nxt else True
        if nxt and 0 <= nxt[1] - (p + len(ref)) < 20 and nxt[4] == gt and not two_snvs:
            mid = fa.fetch(c, p - 1 + len(ref), nxt[1] - 1)
            ref, alt, i, merged = fa.fetch(c, p - 1, nxt[1] - 1 + len(nxt[2])), alt + mid + nxt[3], i + 1, merged + 1
        rows.append(f"{c}\t{p}\t.\t{ref}\t{alt}\t50\tPASS\t.\tGT\t{gt}")
        i += 1
    out.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr20,length=63025520>\n"
                   '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n" + "\n".join(rows) + "\n")
    return merged


@pytest.mark.shared
def test_giab_truth_rewritten_with_merged_records_matches_itself(shared_data: Path, tmp_path: Path):
    """The GIAB truth with nearby indel pairs written as one record each: allele keys lose them, replay
    recovers every one (the 2 alleles left are the multiallelic record the rewrite drops)."""
    d = shared_data / "giab_chr20"
    truth, fa = d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz", d / "ucsc.hg19.chr20.unittest.fasta.gz"
    assert _merge_nearby(truth, fa, tmp_path / "merged.vcf") == 5
    allele = evaluate_vcfs(truth, tmp_path / "merged.vcf", reference=fa, matching="allele").counts["ALL"]
    assert (allele.tp, allele.fp, allele.fn) == (210, 5, 12)
    rep = evaluate_vcfs(truth, tmp_path / "merged.vcf", reference=fa)
    c = rep.counts["ALL"]
    assert (c.tp, c.tp_query, c.fp, c.fn, c.gt_match) == (220, 215, 0, 2, 220)
    assert rep.matching["haplotype_tp_truth"] == 10 and rep.matching["haplotype_tp_query"] == 5


@pytest.mark.shared
def test_a_region_reads_an_indexed_truth_there_only(shared_data: Path, tmp_path: Path):
    """A call set of one region against a whole-genome truth: with --region and an indexed truth only the
    records near the region are read (a whole GIAB truth is 4M records), so a record 50 Mb away that htslib
    cannot read does not stop the evaluation, and the counts are those of the full read."""
    import gzip

    d = shared_data / "giab_chr20"
    truth = gzip.open(d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz", "rt").read()
    (tmp_path / "t.vcf").write_text(truth + "chr20\t60000000\t.\tA\n")  # 4 columns: unreadable
    pysam.tabix_index(str(tmp_path / "t.vcf"), preset="vcf", force=True)
    q, fa, region = str(d / "golden.postprocess_single_site_output.vcf.gz"), str(d / "ucsc.hg19.chr20.unittest.fasta.gz"), \
        ("chr20", 10_000_000, 10_010_000)
    got = evaluate_vcfs(str(tmp_path / "t.vcf.gz"), q, reference=fa, region=region)
    want = evaluate_vcfs(str(d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"), q, reference=fa, region=region)
    assert got.as_dict() == want.as_dict() and want.counts["ALL"].tp > 40
    with pytest.raises(InputError, match="unreadable"):  # without a region every record is read
        evaluate_vcfs(str(tmp_path / "t.vcf.gz"), q, reference=fa)


@pytest.mark.shared
def test_a_truth_far_wider_than_the_calls_is_named(shared_data: Path, caplog):
    """DeepVariant's golden calls cover the first 10 kb of the 100 kb truth: without --region most truth alleles
    are false negatives, and evaluate says so (with the region, it does not)."""
    d = shared_data / "giab_chr20"
    truth, q = d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz", d / "golden.postprocess_single_site_output.vcf.gz"
    with caplog.at_level("WARNING", logger="raygen.eval.concordance"):
        evaluate_vcfs(truth, q)
    assert "truth alleles lie outside the span of the query's calls (chr20:10,000," in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="raygen.eval.concordance"):
        evaluate_vcfs(truth, q, region=("chr20", 10_000_000, 10_010_000))
    assert "outside the span" not in caplog.text

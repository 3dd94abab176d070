"""`raygen score --model spliceai` end to end, in process and on a real local Ray: the release's INFO and
header, every skip rule, counts in = out + skipped, typed Parquet columns, contig naming, and output
independent of where it runs (in process or Ray), the actor count and the Ray batch size."""

from __future__ import annotations

import gzip
import re
from dataclasses import replace
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from raygen.config import ScoreConfig, SpliceAIConfig
from raygen.io.fasta import Reference
from raygen.io.gene_table import GeneTable, Transcript, read_gene_table, write_gene_table
from raygen.models.spliceai_weights import annotation_path
from raygen.scoring.pipeline import score_vcf
from raygen.scoring.spliceai import INFO_DESCRIPTION

pytestmark = [pytest.mark.shared, pytest.mark.usefixtures("ray_session")]

RELEASE_HEADER = ('##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAIv1.3.1 variant annotation. These '
                  'include delta scores (DS) and delta positions (DP) for acceptor gain (AG), acceptor loss (AL), '
                  'donor gain (DG), and donor loss (DL). Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|'
                  'DP_DG|DP_DL">')
EXPECTED_87761 = "C|DEFB125|0.00|0.00|0.00|0.01|6|7|-21|6"  # ../shared/data/spliceai/expected.D50.vcf


@pytest.fixture(scope="module")
def fasta(shared_data) -> str:
    return str(shared_data / "spliceai" / "reference.fa.gz")


@pytest.fixture(scope="module")
def genes_file(tmp_path_factory) -> Path:
    """The release's grch38 rows of the first 300 kb of chr20, plus a gene near the contig's end."""
    rows = [r for r in read_gene_table(annotation_path("grch38")) if r.chrom == "20" and r.tx_end < 300_000]
    rows.append(Transcript("TAILGENE", "20", "+", 10_094_000, 10_099_000, (10_094_000, 10_097_000),
                           (10_095_000, 10_099_000)))
    return write_gene_table(rows, tmp_path_factory.mktemp("genes") / "genes.txt")


@pytest.fixture(scope="module")
def edge_vcf(tmp_path_factory, fasta) -> tuple[Path, list[tuple]]:
    with Reference(fasta) as ref:
        long_ref = ref.fetch("20", 87_799, 87_900)  # 101 bases inside DEFB125: longer than 2D
    recs = [  # (pos, ref, alt, INFO SpliceAI or None, RAYGEN_SKIP or None)
        (5000, "N", "A", None, "no_gene"),
        (87761, "A", "C", EXPECTED_87761, None),
        (87761, "A", "C,<DEL>", EXPECTED_87761, ".,symbolic_allele"),
        (87762, "CC", "GT", "GT|DEFB125|.|.|.|.|.|.|.|.", "complex"),
        (87763, "C", ".", None, "no_alt"),
        (87770, "G", "C", None, "ref_mismatch"),
        (87778, "C", "C]20:1000]", None, "breakend"),
        (87800, long_ref, "A", None, "ref_too_long"),
        (10_096_000, "N", "A", None, "near_contig_end"),
    ]
    path = tmp_path_factory.mktemp("vcf") / "edge.vcf"
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n##contig=<ID=20,length=10100000>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for i, (pos, r, a, _, _) in enumerate(recs):
            fh.write(f"20\t{pos}\tv{i}\t{r}\t{a}\t.\t.\tOLD=1;SpliceAI=stale\n")
    return path, recs


def vcf_lines(path: Path) -> tuple[list[str], list[str]]:
    with gzip.open(path, "rt") as fh:
        lines = [ln.rstrip("\n") for ln in fh]
    # the provenance line names the run (its command line, time): runs are compared without it
    return ([ln for ln in lines if ln.startswith("##") and not ln.startswith("##raygen_provenance")],
            [ln for ln in lines if not ln.startswith("#")])


def info(line: str) -> dict[str, str]:
    return dict(f.split("=", 1) for f in line.split("\t")[7].split(";") if "=" in f)


@pytest.fixture(scope="module")
def scored(tmp_path_factory, edge_vcf, fasta, genes_file):
    out = tmp_path_factory.mktemp("out") / "scored.vcf.gz"
    cfg = SpliceAIConfig(annotation=str(genes_file))
    summary = score_vcf(str(edge_vcf[0]), fasta, "spliceai", str(out), cfg=ScoreConfig(actors=1),
                        parquet_dir=str(out.with_suffix(".parquet")), progress=False, spliceai=cfg, use_ray=False)
    assert summary.engine == "in-process" and list(summary.stages) == ["check + read", "import torch", "model load",
                                                                        "score", "write"]
    return out, summary


@pytest.mark.timeout(300)
def test_release_info_header_and_every_skip_rule(scored, edge_vcf):
    out, summary = scored
    meta, lines = vcf_lines(out)
    assert RELEASE_HEADER in meta and INFO_DESCRIPTION in RELEASE_HEADER
    assert any(m.startswith("##raygen_score=<model=spliceai,revision=1.3.1,") and "CC BY-NC 4.0" in m for m in meta)
    recs = edge_vcf[1]
    assert [ln.split("\t")[2] for ln in lines] == [f"v{i}" for i in range(len(recs))]
    for line, (pos, _, _, want, skip) in zip(lines, recs):
        got = info(line)
        assert got.get("SpliceAI") == want, line
        assert got.get("RAYGEN_SKIP") == skip, line
        assert got["OLD"] == "1"  # other INFO kept; a stale SpliceAI replaced
    assert summary.records_in == summary.records_out + summary.rejected == len(recs)
    assert summary.records_scored == 2 and summary.records_skipped == 7
    assert summary.alleles_scored + summary.alleles_skipped == 10
    assert summary.skip_reasons == {"no_gene": 1, "complex": 1, "no_alt": 1, "ref_mismatch": 1, "breakend": 1,
                                    "ref_too_long": 1, "near_contig_end": 1, "symbolic_allele": 1}


@pytest.mark.timeout(300)
def test_parquet_has_typed_spliceai_columns(scored):
    out, _ = scored
    table = pads.dataset(out.with_suffix(".parquet"), format="parquet", partitioning="hive").to_table()
    rows = {r["names"][0]: r["INFO_SpliceAI"] for r in table.to_pylist()}
    assert rows["v1"] == [{"ALLELE": "C", "SYMBOL": "DEFB125", "DS_AG": 0.0, "DS_AL": 0.0, "DS_DG": 0.0,
                           "DS_DL": 0.01, "DP_AG": 6, "DP_AL": 7, "DP_DG": -21, "DP_DL": 6}]
    assert rows["v3"][0]["DS_AG"] is None and rows["v3"][0]["SYMBOL"] == "DEFB125"
    assert rows["v0"] is None


@pytest.mark.timeout(300)
def test_same_output_on_ray_with_two_actors_and_tiny_ray_batches(scored, edge_vcf, fasta, genes_file, tmp_path):
    out2 = tmp_path / "two.vcf.gz"
    summary = score_vcf(str(edge_vcf[0]), fasta, "spliceai", str(out2), progress=False,
                        cfg=replace(ScoreConfig(), actors=2, rows_per_batch=2),
                        spliceai=SpliceAIConfig(annotation=str(genes_file)))
    assert summary.engine == "ray"  # more than one actor asks for Ray (auto)
    assert vcf_lines(out2) == vcf_lines(scored[0])  # the in-process run's records and header, bit for bit


@pytest.mark.timeout(300)
def test_chr_named_input_is_explained_and_fixed_by_rename_contigs(run_cli, fasta, genes_file, tmp_path):
    vcf = tmp_path / "chr.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr20,length=10100000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr20\t87761\t.\tA\tC\t.\t.\t.\n")
    rc, stdout, stderr = run_cli("score", vcf, "-f", fasta, "--model", "spliceai", "--annotation", genes_file,
                                 "-o", tmp_path / "a.vcf.gz", "-q", "--no-ray")
    assert rc == 0, stderr
    assert "unknown_contig=1" in stdout and "--rename-contigs strip-chr" in stdout
    assert info(vcf_lines(tmp_path / "a.vcf.gz")[1][0])["RAYGEN_SKIP"] == "unknown_contig"
    rc, stdout, stderr = run_cli("score", vcf, "-f", fasta, "--model", "spliceai", "--annotation", genes_file,
                                 "--rename-contigs", "strip-chr", "-o", tmp_path / "b.vcf.gz", "-q", "--no-ray")
    assert rc == 0, stderr
    line = vcf_lines(tmp_path / "b.vcf.gz")[1][0]
    assert line.startswith("chr20\t87761") and info(line)["SpliceAI"] == EXPECTED_87761


def test_bad_spliceai_options_fail_at_once(run_cli, fasta, tmp_path):
    vcf = tmp_path / "x.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    rc, _, err = run_cli("score", vcf, "-f", fasta, "--model", "spliceai", "-o", tmp_path / "o.vcf")
    assert rc == 2 and "--annotation grch37, grch38" in err
    rc, _, err = run_cli("score", vcf, "-f", fasta, "--model", "spliceai", "--annotation", "grch38",
                         "--distance", "5000", "-o", tmp_path / "o.vcf")
    assert rc == 2 and "--distance" in err
    # issue 19 (a new tester's corpus): a malformed --annotation file was read in each actor, so the InputError
    # escaped as a Ray traceback after ~15 s; a table on other contigs scored everything as outside genes
    head = "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
    for row, message in [("G1\t20\t+\tabc\t2900\t100,\t800,\n", "bad.txt:2: TX_START/TX_END must be integers"),
                         ("G1\t20\t*\t100\t2900\t100,\t800,\n", "bad.txt:2: STRAND must be"),
                         ("", "has no genes"),
                         ("G1\tchrQ\t+\t100\t2900\t100,\t800,\n", "none of its contigs \\(chrQ\\) is in the FASTA")]:
        genes = tmp_path / "bad.txt"
        genes.write_text(head + row)
        rc, _, err = run_cli("score", vcf, "-f", fasta, "--model", "spliceai", "--annotation", genes,
                             "-o", tmp_path / "o.vcf")
        assert rc == 2 and re.search(message, err) and "Traceback" not in err, err
        assert not (tmp_path / "o.vcf").exists()


def test_gene_table_contigs_follow_the_fasta(fasta):
    from raygen.scoring.spliceai_scorer import load_genes

    class ChrRef:
        contigs = ["chr20", "chrM"]

    table = load_genes("grch38", ChrRef())
    assert "chr20" in table.contigs and "20" not in table.contigs
    assert isinstance(table, GeneTable) and table.at("chr20", 87761)

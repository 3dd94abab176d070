"""`raygen score` end to end on a real local Ray and in process: every record back, skip reasons, invariance
(actors, batches, threads, Ray or not), fail-fast."""

from __future__ import annotations

import gzip

import numpy as np
import pysam
import pytest

from .conftest import WINDOW, write_vcf
from .test_reference_check import Plain

pytestmark = pytest.mark.usefixtures("ray_session")


def body(path) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [line.rstrip("\n") for line in fh if not line.startswith("#")]


def info_field(line: str, key: str) -> str | None:
    for f in line.split("\t")[7].split(";"):
        if f.startswith(key + "="):
            return f.split("=", 1)[1]
    return None


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, run_cli_module, edge_vcf, reference, tiny_models):
    vcf, recs = edge_vcf
    out = tmp_path_factory.mktemp("score") / "out.vcf.gz"
    rc, stdout, stderr = run_cli_module("score", vcf, "-f", reference, "--model", tiny_models[("kmer", "mlm")],
                                        "-o", out, "--window", WINDOW, "-q")
    assert rc == 0, stderr
    return out, stdout, recs


@pytest.fixture(scope="module")
def run_cli_module():
    from raygen.cli import main

    def _run(*args):
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in args])
        return rc, out.getvalue(), err.getvalue()

    return _run


@pytest.mark.timeout(120)
def test_every_record_back_with_scores_or_reasons(baseline, reference, tiny_models):
    out, stdout, recs = baseline
    lines = body(out)
    assert len(lines) == len(recs)
    assert [ln.split("\t")[2] for ln in lines] == [f"v{i}" for i in range(len(recs))]  # input order kept
    plain = Plain(tiny_models[("kmer", "mlm")], reference, WINDOW)
    for line, (chrom, pos, ref, alts, reason) in zip(lines, recs):
        assert "DP=" in line  # other INFO kept
        skip = info_field(line, "RAYGEN_SKIP")
        if reason == "no_alt":
            assert skip == "no_alt" and info_field(line, "RAYGEN_LLR") is None
            continue
        llr = info_field(line, "RAYGEN_LLR").split(",")
        assert len(llr) == len(alts.split(","))
        if reason:
            assert skip == reason and llr == ["."]
            continue
        for alt, value, why in zip(alts.split(","), llr, (skip or ".").split(",") * 2):
            if alt.startswith("<"):
                assert value == "." and why == "symbolic_allele"
            else:
                # The pipeline's VCF value matches the plain one-variant implementation within 1e-4.
                assert abs(float(value) - plain.score(chrom, pos, ref, alt)) < 1e-4
    assert "records in: 17  out: 17  rejected: 0" in stdout
    assert "skip reasons:" in stdout and "too_long=1" in stdout
    with pysam.VariantFile(str(out)) as vf:  # htslib reads the header lines and typed values
        assert vf.header.info["RAYGEN_LLR"].number == "A"
        assert any(r.key == "raygen_score" for r in vf.header.records)
        assert "window=32" in str(vf.header)
        scored = [r.info["RAYGEN_LLR"][0] for r in vf if "RAYGEN_LLR" in r.info and r.info["RAYGEN_LLR"][0] is not None]
        assert len(scored) >= 9 and np.std(scored) > 0


@pytest.mark.timeout(180)
def test_same_output_for_any_actor_count_and_batch_size(baseline, tmp_path, run_cli_module, edge_vcf, reference,
                                                        tiny_models):
    out, _, _ = baseline
    vcf, recs = edge_vcf
    # Two actors also means one torch thread each instead of two (auto --threads-per-actor): same bytes.
    # A malformed line travels as a reject: counted, written to --rejects, not in the output.
    bad = write_vcf(tmp_path / "bad.vcf.gz", recs[:-1], extra_lines=["chr2\t800\tbadline\tA"])
    out2 = tmp_path / "out2.vcf.gz"
    rc, stdout, stderr = run_cli_module(
        "score", bad, "-f", reference, "--model", tiny_models[("kmer", "mlm")], "-o", out2, "--window", WINDOW,
        "--actors", 2, "--batch-size", 3, "--rows-per-batch", 4, "--shard-bp", 300, "--rejects", tmp_path / "rej.tsv",
        "--parquet", tmp_path / "pq", "-q")
    assert rc == 0, stderr
    assert body(out2) == body(out)[:-1]
    import pyarrow.dataset as pads

    pq = pads.dataset(tmp_path / "pq", partitioning="hive").to_table()
    assert pq.num_rows == 16
    first = [ln for ln in body(out2) if "\tv1\t" in ln][0]  # the multi-ALT SNV site chr1:50
    row = pq.filter((pads.field("contigName") == "chr1") & (pads.field("start") == 49)).to_pylist()[0]  # 0-based
    assert [f"{x:.4f}" for x in row["INFO_RAYGEN_LLR"]] == info_field(first, "RAYGEN_LLR").split(",")
    assert "records in: 17  out: 16  rejected: 1" in stdout
    assert "badline" in (tmp_path / "rej.tsv").read_text()


@pytest.mark.timeout(60)
def test_fail_fast_on_bad_model_and_missing_gpu(tmp_path, run_cli_module, edge_vcf, reference, tiny_models):
    vcf, _ = edge_vcf
    rc, _, err = run_cli_module("score", vcf, "-f", reference, "--model", tmp_path / "missing", "-o", tmp_path / "o.vcf.gz")
    assert rc == 2 and "does not exist" in err and "raygen train pretrain" in err
    rc, _, err = run_cli_module("score", vcf, "-f", reference, "--model", tiny_models[("char", "mlm")],
                                "-o", tmp_path / "o.vcf.gz", "--gpus-per-actor", 1)
    assert rc == 2 and "no GPU" in err and "drop --gpus-per-actor" in err
    assert not (tmp_path / "o.vcf.gz").exists()


@pytest.mark.shared
@pytest.mark.timeout(180)
def test_giab_truth_vcf_scores_every_record(shared_data, tmp_path, run_cli_module):
    """The truth VCF, normalized then scored, with a model in the format `raygen train pretrain` writes
    (stock RoFormer, char tokens): every record comes back, scored or with a reason."""
    from raygen.models.arch import build_model
    from raygen.models.tokenizer import build_nucleotide_tokenizer

    tok = build_nucleotide_tokenizer()
    model_dir = tmp_path / "roformer"
    build_model("raygen-tiny", "mlm", tok).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    d = shared_data / "giab_chr20"
    vcf = d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"
    out = tmp_path / "giab.vcf.gz"
    rc, stdout, stderr = run_cli_module("score", vcf, "-f", d / "ucsc.hg19.chr20.unittest.fasta.gz", "--model",
                                        model_dir, "-o", out, "--window", 64, "--normalize", "-q")
    assert rc == 0, stderr
    lines = body(out)
    n_in = sum(1 for ln in gzip.open(vcf, "rt") if not ln.startswith("#"))
    assert len(lines) == n_in == 221
    for ln in lines:
        llr = info_field(ln, "RAYGEN_LLR").split(",")
        skip = info_field(ln, "RAYGEN_SKIP")
        assert all(v != "." for v in llr) or skip is not None
    assert f"records in: {n_in}  out: {n_in}  rejected: 0" in stdout
    assert (tmp_path / "giab.vcf.gz.tbi").exists()


@pytest.mark.timeout(120)
def test_threads_per_actor(baseline, tmp_path, run_cli_module, edge_vcf, reference, tiny_models, ray_session):
    """Auto: the one-node Ray's CPUs shared among the actors; an explicit count wins; same bytes either way."""
    import dataclasses

    import torch

    from raygen.config import DEFAULTS
    from raygen.scoring import Scorer
    from raygen.scoring.pipeline import threads_per_actor

    cpus = int(ray_session.cpus)
    auto = dataclasses.replace(DEFAULTS.score, threads_per_actor=0)
    assert threads_per_actor(auto) == cpus
    assert threads_per_actor(dataclasses.replace(auto, actors=cpus)) == 1
    assert threads_per_actor(dataclasses.replace(auto, threads_per_actor=3)) == 3
    before = torch.get_num_threads()
    try:
        Scorer(str(tiny_models[("kmer", "mlm")]), str(reference), window=WINDOW, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    out, _, _ = baseline
    vcf, _ = edge_vcf
    out1 = tmp_path / "t1.vcf.gz"
    rc, _, err = run_cli_module("score", vcf, "-f", reference, "--model", tiny_models[("kmer", "mlm")], "-o", out1,
                                "--window", WINDOW, "--threads-per-actor", 1, "-q", "--no-ray")
    assert rc == 0, err
    assert body(out1) == body(out)  # in process, one thread: the Ray run's bytes



@pytest.mark.timeout(240)
def test_normalize_is_a_stage_of_the_same_pipeline(tmp_path, run_cli_module, edge_vcf, reference, tiny_models):
    """`score --normalize` = `normalize -c w` then `score`, without the temp file: same records, same rejects
    (a malformed line from the reader, a contig the FASTA lacks from normalize), and in = out + rejected."""
    from .conftest import ref_base

    _, recs = edge_vcf
    padded = ("chr1", 140, ref_base(reference, "chr1", 140, 2), ref_base(reference, "chr1", 140) + "GA"
              + ref_base(reference, "chr1", 141), "")  # insertion with a shared trailing base: trimmed
    vcf = write_vcf(tmp_path / "in.vcf.gz", sorted([*recs, padded]), extra_lines=["chrUn\t20\tbadline\tA"])
    model = tiny_models[("kmer", "mlm")]
    common = ["-f", reference, "--model", model, "--window", WINDOW, "--shard-bp", 300, "-q"]
    one = tmp_path / "one.vcf.gz"
    rc, stdout, stderr = run_cli_module("score", vcf, "-o", one, "--normalize", "--rejects", tmp_path / "one.tsv",
                                        "--no-ray", *common)  # in process; `two` below runs on Ray
    assert rc == 0, stderr
    # the same by hand: bcftools-norm-exact normalization to a file, then scoring that file
    norm = tmp_path / "norm.vcf.gz"
    rc, _, stderr = run_cli_module("normalize", vcf, "-f", reference, "-c", "w", "-o", norm, "--rejects",
                                   tmp_path / "norm.tsv")
    assert rc == 0, stderr
    two = tmp_path / "two.vcf.gz"
    rc, _, stderr = run_cli_module("score", norm, "-o", two, *common)
    assert rc == 0, stderr
    assert body(one) == body(two) and len(body(one)) == len(recs)  # chrUn rejected, the padded one kept
    assert not any(f"\t{padded[2]}\t{padded[3]}\t" in ln for ln in body(one))  # the padded form is gone

    def rejects(path):  # (REASON, TEXT): a region-sharded read knows no line numbers, the in-process one does
        return sorted(tuple(row.split("\t")[2:4]) for row in path.read_text().splitlines()[1:])

    got = rejects(tmp_path / "one.tsv")
    assert got == rejects(tmp_path / "norm.tsv") and len(got) == 2
    assert any("chrUn" in reason for reason, _ in got) and any("wrong number of columns" in r for r, _ in got)
    n_in = len(recs) + 2
    assert f"records in: {n_in}  out: {n_in - 2}  rejected: 2" in stdout
    assert "badline" in (tmp_path / "one.tsv").read_text()


def test_where_score_runs(edge_vcf, monkeypatch):
    """--ray/--no-ray decide; else a Ray this process joined, a cluster address, GPUs or several actors mean Ray;
    else the input size: every block of a small input is read once, a large one reads only up to the limit."""
    import dataclasses

    from raygen.config import DEFAULTS, RuntimeConfig
    from raygen.scoring.pipeline import _local_blocks, should_score_on_ray

    cfg = DEFAULTS.score
    assert should_score_on_ray(False, cfg, None) is False and should_score_on_ray(True, cfg, None) is True
    assert should_score_on_ray(None, cfg, None) is True  # this test session has joined a Ray
    import ray

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert should_score_on_ray(None, cfg, None) is None  # the input size decides
    assert should_score_on_ray(None, cfg, RuntimeConfig(address="10.0.0.1:6379")) is True
    assert should_score_on_ray(None, dataclasses.replace(cfg, actors=2), None) is True
    assert should_score_on_ray(None, dataclasses.replace(cfg, gpus_per_actor=1), None) is True
    vcf, recs = edge_vcf
    blocks = _local_blocks(str(vcf), len(recs) + 1)
    assert sum(b.num_rows for b in blocks) == len(recs)
    assert _local_blocks(str(vcf), len(recs)) is None

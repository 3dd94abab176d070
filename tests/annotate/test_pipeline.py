"""``raygen annotate`` end to end, against ``bcftools annotate`` (pysam's bundled 1.24) on generated cases.

Both tools must agree on every record of a case written normalized (exact allele matches, multi-allelic
source records included); on the source deletions written shifted right in a homopolymer only raygen's
normalized key matches, with the source's values. Runs on the session's real local Ray with several shards.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pysam.bcftools
import pytest

from raygen.annotate.pipeline import run_annotate
from raygen.annotate.sources import parse_source
from raygen.config import AnnotateConfig
from raygen.simulate.annotation import make_annotation_case

FIELDS = ("AF", "AC", "CLNSIG", "DB")


def _records(path: Path) -> dict[tuple, dict]:
    """(CHROM, POS, REF, ALT) -> the S_* INFO values as pysam types them (header Number/Type)."""
    out = {}
    with pysam.VariantFile(str(path)) as vf:
        for r in vf:
            out[(r.chrom, r.pos, r.ref, r.alts[0])] = {k: r.info[k] for k in r.info if k.startswith("S_")}
    return out


def _bcftools(case, out: Path) -> Path:
    cols = ",".join(f"INFO/S_{f}:={f}" for f in FIELDS)
    pysam.bcftools.annotate("-a", str(case.source), "-c", cols, "-o", str(out), str(case.query), catch_stdout=False)
    return out


@pytest.fixture()
def case(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGEN_CACHE", str(tmp_path / "cache"))
    return make_annotation_case(tmp_path / "case", n_source=400, n_query=300, overlap=0.6, shifted=12, seed=7)


@pytest.mark.timeout(180)
def test_agrees_with_bcftools_annotate_and_meets_shifted_indels(case, tmp_path, ray_session):
    spec = parse_source(f"S={case.source}:{','.join(FIELDS)}")
    small = AnnotateConfig(shard_bp=4_000)  # three region shards per contig
    ours = tmp_path / "ours.vcf.gz"
    summary = run_annotate(str(case.query), str(ours), [spec], str(case.fasta), use_ray=True, cfg=small)
    theirs, mine = _records(_bcftools(case, tmp_path / "bcftools.vcf")), _records(ours)
    assert set(mine) == set(theirs)  # the query was written normalized: the same records come out
    shifted = set(case.shifted_keys)
    exact = {k: v for k, v in theirs.items() if k not in shifted}
    assert sum(bool(v) for v in exact.values()) == 180  # the exact-match subset is real, not empty
    assert {k: mine[k] for k in exact} == exact
    for k in shifted:
        assert not theirs[k], k  # bcftools cannot see the shifted source deletion...
        assert mine[k] and set(mine[k]) >= {"S_AF", "S_AC", "S_CLNSIG"}, k  # ...raygen meets it on the key
    assert summary.annotated["S"] == sum(bool(v) for v in mine.values())
    assert summary.sources[0].counts["realigned"] == len(shifted)

    # the in-process path gives the same bytes (but the run's provenance line); the cache is reused
    again = tmp_path / "again.vcf"
    run_annotate(str(case.query), str(again), [spec], str(case.fasta), use_ray=False)
    strip = lambda text: [l for l in text.splitlines() if not l.startswith("##raygen_provenance")]  # noqa: E731
    assert strip(gzip.open(ours, "rt").read()) == strip(again.read_text())
    assert len(list((tmp_path / "cache" / "annotate").iterdir())) == 1


def test_header_types_and_names_the_source(case, tmp_path, monkeypatch):
    out = tmp_path / "o.vcf"
    run_annotate(str(case.query), str(out), [parse_source(f"S={case.source}:AF,DB")], str(case.fasta), use_ray=False)
    with pysam.VariantFile(str(out)) as vf:
        info = vf.header.info
        assert (info["S_AF"].number, info["S_AF"].type) == ("A", "Float")
        assert (info["S_DB"].number, info["S_DB"].type) == (0, "Flag")
        assert "S_AC" not in info
        meta = str(vf.header)
    assert "##raygen_annotate_source=<ID=S,File=\"source.vcf.gz\",Date=\"20260101\",SHA256=\"" in meta
    assert "Sources=\"S=source.vcf.gz date:20260101 sha256:" in meta
    # the same files named by relative paths reuse the source's cache
    monkeypatch.chdir(case.fasta.parent)
    run_annotate("query.vcf.gz", str(out), [parse_source("S=source.vcf.gz:AF,DB")], "ref.fa", use_ray=False)
    assert len(list((tmp_path / "cache" / "annotate").iterdir())) == 1


def test_bad_query_records_are_rejected_and_counted(case, tmp_path, run_cli):
    bad = tmp_path / "bad.vcf"
    lines = gzip.open(case.query, "rt").read().splitlines()
    body = [i for i, l in enumerate(lines) if not l.startswith("#")]
    lines[body[3]] = lines[body[3]].replace("\t", " ", 2)  # too few columns
    lines[body[9]] = "\t".join(["sim1", "x12"] + lines[body[9]].split("\t")[2:])  # POS not a number
    bad.write_text("\n".join(lines) + "\n")
    rej, out = tmp_path / "rej.tsv", tmp_path / "o.vcf.gz"
    rc, _, err = run_cli("annotate", bad, "-f", case.fasta, "--source", f"S={case.source}", "-o", out,
                         "--rejects", rej, "--no-ray")
    assert rc == 0, err
    n_in = len(body)
    written = sum(1 for _ in pysam.VariantFile(str(out)))
    rejected = rej.read_text().splitlines()[1:]
    assert len(rejected) == 2 and written + len(rejected) == n_in  # no multi-allelic query records here
    assert f"{n_in} records in, {written} written (0 multi-allelic split), 2 rejected" in err
    assert all(str(bad) in r for r in rejected)


def test_bad_sources_stop_with_one_line(case, tmp_path, run_cli):
    renamed = tmp_path / "other_build.vcf"  # contigs named as another build: every record rejected
    renamed.write_text(gzip.open(case.source, "rt").read().replace("sim1", "chrX").replace("sim2", "chrY"))
    q, fa, out = case.query, case.fasta, tmp_path / "o.vcf"
    rc, _, err = run_cli("annotate", q, "-f", fa, "--source", f"S={renamed}", "-o", out)
    assert rc == 2 and "another reference build" in err and "Traceback" not in err and not out.exists()
    rc, _, err = run_cli("annotate", q, "-f", fa, "--source", f"S={case.source}:AF,NOPE", "-o", out)
    assert rc == 2 and "declares no INFO field NOPE" in err and "AF, AC, CLNSIG, DB" in err
    rc, _, err = run_cli("annotate", q, "-f", fa, "--source", f"9x={case.source}", "-o", out)
    assert rc == 2 and "NAME must be" in err
    rc, _, err = run_cli("annotate", q, "-f", fa, "--source", "S=/nonexistent.vcf.gz", "-o", out)
    assert rc == 2 and "/nonexistent.vcf.gz does not exist" in err
    rc, _, err = run_cli("annotate", q, "-f", fa, "-o", out)
    assert rc == 2 and "at least one --source" in err


def test_giab_calls_meet_truth_on_the_normalized_key(shared_data, tmp_path, monkeypatch):
    """DeepVariant's calls against the GIAB truth: bcftools annotate's matches plus one insertion the truth
    writes at the next base (truth ``A AA,AG`` at 10004223; DeepVariant ``C CA`` at 10004222)."""
    monkeypatch.setenv("RAYGEN_CACHE", str(tmp_path / "cache"))
    d = shared_data / "giab_chr20"
    calls, truth = d / "golden.postprocess_single_site_output.vcf.gz", d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"
    out = tmp_path / "o.vcf"
    summary = run_annotate(str(calls), str(out), [parse_source(f"giab={truth}:platforms")],
                           str(d / "ucsc.hg19.chr20.unittest.fasta.gz"), use_ray=False)
    theirs = tmp_path / "b.vcf"
    pysam.bcftools.annotate("-a", str(truth), "-c", "INFO/giab_platforms:=platforms", "-o", str(theirs), str(calls),
                            catch_stdout=False)

    def hits(p):
        with pysam.VariantFile(str(p)) as vf:
            return {(r.pos, r.ref, a): r.info["giab_platforms"] for r in vf for a in r.alts if "giab_platforms" in r.info}
    ours, bcf = hits(out), hits(theirs)
    assert {k: ours[k] for k in bcf} == bcf and len(bcf) == 62
    assert set(ours) - set(bcf) == {(10004222, "C", "CA")} and summary.annotated["giab"] == 63


def test_parquet_source_gives_the_vcf_sources_records(case, tmp_path, run_cli):
    pq_dir = tmp_path / "source_parquet"
    assert run_cli("normalize", case.source, "--parquet", pq_dir, "-o", tmp_path / "n.vcf", "-q")[0] == 0
    outs = []
    for src in (case.source, pq_dir):
        out = tmp_path / f"o_{Path(src).name}.vcf"
        rc, _, err = run_cli("annotate", case.query, "-f", case.fasta, "--source", f"S={src}:AF,DB", "-o", out)
        assert rc == 0, err
        outs.append([line for line in out.read_text().splitlines() if not line.startswith("##")])
    assert outs[0] == outs[1] and sum("S_AF=" in line for line in outs[0]) > 100

"""Provenance records: checksums, model records, the VCF header line and Parquet metadata round trips."""

from __future__ import annotations

import hashlib
import json

import pyarrow.parquet as pq
import pytest

from raygen.io.parquet import read_parquet_header, write_parquet
from raygen.io.vcf import read_header, read_text_table, write_vcf
from raygen.provenance import PARQUET_KEY, Provenance, file_sha256, header_history, model_record


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGEN_CACHE", str(tmp_path / "cache"))


def test_checksums_are_sha256_and_follow_changes(tmp_path):
    f = tmp_path / "ref.fa"
    f.write_text(">c\nACGT\n")
    assert file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    f.write_text(">c\nACGTT\n")  # new size: hashed again, not taken from the cache
    assert file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()


def test_model_record_of_a_directory(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"weights")
    (d / "README.md").write_text("---\nlicense: apache-2.0\n---\n# m\n")
    r = model_record(str(d), "v1", display="m")
    assert r == {"id": "m", "revision": "v1", "sha256": hashlib.sha256(b"weights").hexdigest(),
                 "licence": "apache-2.0"}
    assert "hub model" in model_record("org/hub-model")["sha256"]


def test_vcf_and_parquet_carry_every_run(tmp_path):
    ref = tmp_path / "ref.fa"
    ref.write_text(">c\nACGTACGT\n")
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=c,length=8>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   "c\t2\t.\tC\tT\t.\t.\t.\n")
    header, table, _ = read_text_table(vcf)
    first = Provenance(command="raygen score in.vcf", models=[{"id": "m", "revision": "", "sha256": "ab",
                                                               "licence": "mit"}])
    once = write_vcf(header, table, tmp_path / "once.vcf", provenance=first)
    second = Provenance.for_run(reference=ref)
    twice = write_vcf(read_header(once), table, tmp_path / "twice.vcf", provenance=second)
    runs = header_history(read_header(twice))
    assert [r["command"] for r in runs] == ["raygen score in.vcf", second.command]
    assert runs[0]["models"][0]["licence"] == "mit"
    assert runs[1]["reference"] == {"name": "ref.fa", "sha256": hashlib.sha256(ref.read_bytes()).hexdigest()}
    out = write_parquet(table, read_header(twice), tmp_path / "pq")
    meta = pq.read_schema(next(out.rglob("*.parquet"))).metadata
    assert [r["command"] for r in json.loads(meta[PARQUET_KEY])] == [r["command"] for r in runs]
    assert header_history(read_parquet_header(out)) == runs
    headers = first.http_headers()
    assert headers["X-Raygen-Model"] == "m sha256:ab licence:mit" and "X-Raygen-Reference" not in headers

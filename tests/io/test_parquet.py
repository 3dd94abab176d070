"""Typed Glow view and contig-partitioned Parquet: names, types, values vs pysam, lossless round trip."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.dataset as pads
import pysam
import pytest

from raygen.io.parquet import hive_partitioning, read_parquet, read_parquet_header, write_parquet
from raygen.io.typed import text_to_typed, typed_schema
from raygen.io.vcf import read_text_table

GIAB = "giab_chr20/test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"


def test_glow_names_and_types(shared_data):
    header, records, _ = read_text_table(shared_data / GIAB)
    typed = text_to_typed(records, header)
    assert typed.schema == typed_schema(header)
    want = {
        "contigName": pa.string(), "start": pa.int64(), "end": pa.int64(), "names": pa.list_(pa.string()),
        "referenceAllele": pa.string(), "alternateAlleles": pa.list_(pa.string()), "qual": pa.float64(),
        "filters": pa.list_(pa.string()), "splitFromMultiAllelic": pa.bool_(),
        "INFO_DPSum": pa.int32(), "INFO_platformnames": pa.list_(pa.string()),
    }
    for name, typ in want.items():
        assert typed.schema.field(name).type == typ, name
    gt = typed.schema.field("genotypes").type.value_type
    assert [f.name for f in gt] == ["sampleId", "calls", "phased", "depth", "conditionalQuality", "PS"]
    assert gt.field("calls").type == pa.list_(pa.int32()) and gt.field("depth").type == pa.int32()


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6)
    return a == b


@pytest.mark.parametrize("rel", [GIAB, "bcftools_norm/norm.split.vcf", "bcftools_norm/atomize.split.1.vcf"])
def test_values_match_pysam(shared_data, rel):
    header, records, _ = read_text_table(shared_data / rel)
    typed = text_to_typed(records, header).to_pylist()
    with pysam.VariantFile(str(shared_data / rel)) as vf:
        recs = list(vf)
    assert len(recs) == len(typed)
    checked = 0
    for row, rec in zip(typed, recs):
        assert row["contigName"] == rec.chrom
        assert row["start"] == rec.start
        assert row["end"] == rec.start + len(rec.ref)
        assert row["referenceAllele"] == rec.ref
        assert row["alternateAlleles"] == list(rec.alts or ())
        assert row["names"] == ([] if rec.id is None else rec.id.split(";"))
        assert _same(row["qual"], rec.qual) or (row["qual"] is None and rec.qual is None)
        assert row["filters"] == list(rec.filter.keys())
        for key, decl in header.info.items():
            got = row[f"INFO_{key}"]
            if decl["Type"] == "Flag":
                assert got == (key in rec.info), key
                continue
            if key not in rec.info:
                assert got is None, key
                continue
            try:
                val = rec.info[key]
            except ValueError:  # pysam refuses some legal-looking headers (INFO Number=G)
                continue
            if got is None:  # our header-typed parse refused it: only when the text is not of the declared type
                continue
            if isinstance(val, tuple) and decl["Number"] == "1":
                # htslib splits a Number=1 String on commas; the spec (and we) keep it whole
                assert got == ",".join(val), key
            elif isinstance(val, tuple):
                assert len(got) == len(val) and all(_same(g, v) or (g is None and v is None) for g, v in zip(got, val)), key
            else:
                assert _same(got, val), key
            checked += 1
        for gt, name in zip(row["genotypes"], header.samples):
            sample = rec.samples[name]
            assert gt["sampleId"] == name
            calls = sample.get("GT")
            if calls is not None:
                assert gt["calls"] == [-1 if c is None else c for c in calls]
                assert gt["phased"] == sample.phased
            for key in header.format:
                if key == "GT":
                    continue
                field = {"DP": "depth", "GQ": "conditionalQuality", "AD": "alleleDepths", "PL": "phredLikelihoods",
                         "GL": "genotypeLikelihoods", "FT": "filters"}.get(key, key)
                val = sample.get(key)
                got = gt[field]
                if val is None or got is None or (isinstance(val, tuple) and all(v is None for v in val)):
                    continue
                if isinstance(val, tuple):
                    val = tuple(None if v == "." else v for v in val)  # '.' is a missing value: null for us
                    assert all(
                        _same(g, v) or (g is None and v is None) for g, v in zip(got, val)), (key, got, val)
                else:
                    assert _same(got, val), (key, got, val)
                checked += 1
    assert checked > 20


def test_parquet_partitioned_and_round_trips(shared_data, tmp_path):
    files = sorted((shared_data / "bcftools_norm").glob("*.vcf")) + sorted((shared_data / "giab_chr20").glob("*.vcf.gz"))
    for src in files:
        header, records, _ = read_text_table(src)
        out = tmp_path / src.name.replace(".", "_")
        write_parquet(records, header, out)
        contigs = sorted(set(records["CHROM"].to_pylist()))
        assert sorted(p.name for p in out.iterdir()) == sorted(f"contigName={c}" for c in contigs), src
        ds = pads.dataset(out, format="parquet", partitioning=hive_partitioning())
        assert ds.count_rows() == records.num_rows
        assert sorted(set(ds.to_table(columns=["contigName"])["contigName"].to_pylist())) == contigs
        assert read_parquet_header(out).to_text() == header.to_text()
        h2, back = read_parquet(out)
        assert back.equals(records), src
        assert h2.to_text() == header.to_text()


def test_parquet_streamed_batches_and_atomic_replace(shared_data, tmp_path):
    header, records, _ = read_text_table(shared_data / "bcftools_norm" / "norm.vcf")
    out = tmp_path / "ds"
    write_parquet(records.slice(0, 3), header, out)
    write_parquet((records.slice(i, 4) for i in range(0, records.num_rows, 4)), header, out)
    _, back = read_parquet(out)
    assert back.equals(records)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    empty = tmp_path / "empty"
    write_parquet(records.slice(0, 0), header, empty)
    h, none = read_parquet(empty)
    assert none.num_rows == 0 and h.samples == header.samples

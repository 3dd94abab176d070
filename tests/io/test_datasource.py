"""Region-sharded Ray Data reads: every record exactly once, rejects kept, unindexed input warned."""

from __future__ import annotations

import collections
import logging

import pyarrow as pa
import pysam
import pytest

from raygen.io.datasource import (
    BLOCK_SCHEMA,
    UNINDEXED_WARNING,
    plan_shards,
    read_shard,
    read_vcf_dataset,
    split_rejects,
)
from raygen.io.vcf import read_text_table, write_vcf
from raygen.regions import Region, Shard, as_region

COLS = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "SAMPLES"]
HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=c1,length=5000>\n##contig=<ID=c2,length=3000>\n##contig=<ID=c3>\n"
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n'
    '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
)


def _make(tmp_path, *, index=True, bad=False):
    lines = []
    for pos in range(1, 5000, 37):
        lines.append(f"c1\t{pos}\tv{pos}\tA\tC\t.\tPASS\t.\tGT\t0/1")
        if pos % 5 == 0:  # long deletions that overlap many tiny shards
            lines.append(f"c1\t{pos}\td{pos}\tA{'C' * 250}\tA\t.\tPASS\t.\tGT\t1/1")
        if pos % 7 == 0:
            lines.append(f"c1\t{pos}\tsv{pos}\tA\t<DEL>\t.\tPASS\tEND={pos + 900};SVTYPE=DEL\tGT\t0/1")
    if bad:
        lines.append("c1\t4999\tbadref\tA1\tC\t.\tPASS\t.\tGT\t0/1")
        lines.append("c1\t4999\tshort\tA\tC\t.\tPASS\t.\tGT")
    for pos in range(10, 3000, 101):
        lines.append(f"c2\t{pos}\tw{pos}\tG\tT\t.\tPASS\t.\tGT\t1/1")
    for pos in (5, 70_000):  # a contig without a length in the header
        lines.append(f"c3\t{pos}\tu{pos}\tG\tT\t.\tPASS\t.\tGT\t1/1")
    lines.sort(key=lambda x: (x.split("\t")[0], int(x.split("\t")[1])))
    plain = tmp_path / "in.vcf"
    plain.write_text(HEADER + "\n".join(lines) + "\n")
    if not index:
        return plain
    bgz = tmp_path / "in.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgz), force=True)
    pysam.tabix_index(str(bgz), preset="vcf", force=True)
    return bgz


def _multiset(table: pa.Table) -> collections.Counter:
    return collections.Counter(tuple(r.values()) for r in table.select(COLS).to_pylist())


def test_regions_given_as_strings_or_tuples():
    # the datasource takes raygen.regions' forms: 1-based inclusive strings, 0-based half-open tuples
    assert as_region("chr1:1,001-2,000") == Region("chr1", 1000, 2000)
    assert as_region("chrX") == Region("chrX", 0, None)
    assert as_region(("c", 5, 9)) == Region("c", 5, 9)


@pytest.mark.parametrize("kind", ["vcf.gz", "bcf"])
def test_tiny_shards_read_every_record_once_without_ray(tmp_path, kind):
    path = _make(tmp_path, bad=(kind == "vcf.gz"))
    if kind == "bcf":
        h, t, _ = read_text_table(path)
        # htslib sizes a BCF's CSI from the ##contig lengths: drop c3 (no length, record at 70 kb)
        path = write_vcf(h, t.filter(pa.compute.not_equal(t["CHROM"], "c3")), tmp_path / "in.bcf")
    _, plain, plain_rej = read_text_table(path)
    shards = plan_shards(path, shard_bp=50)
    assert len(shards) > 150
    assert [s.chrom for s in shards if s.end0 is None][:3] == ["c1", "c2", "c3"]  # last shards stay open
    blocks = [b for s in shards for b in read_shard(str(path), _header(path), s)]
    got = pa.concat_tables(blocks)
    assert got.schema == BLOCK_SCHEMA
    recs, rejs = split_rejects(got, str(path))
    assert _multiset(recs) == _multiset(plain)
    assert recs.num_rows == plain.num_rows
    assert sorted(rejs["REASON"].to_pylist()) == sorted(plain_rej["REASON"].to_pylist())
    assert rejs.num_rows == (2 if kind == "vcf.gz" else 0)
    # (SHARD, SHARD_ROW) restores file order
    ordered = recs.sort_by([("SHARD", "ascending"), ("SHARD_ROW", "ascending")])
    assert ordered.select(COLS).equals(plain.select(COLS))


def _header(path):
    from raygen.io.vcf import read_header

    return read_header(path)


@pytest.mark.timeout(240)
def test_ray_dataset_tiny_shards_exactly_once(ray_session, tmp_path):
    path = _make(tmp_path)
    _, plain, _ = read_text_table(path)
    ds = read_vcf_dataset(path, shard_bp=200, override_num_blocks=2)  # 2 tasks, many shards each
    recs, rejs = split_rejects(_collect(ds), str(path))
    assert rejs.num_rows == 0
    assert _multiset(recs) == _multiset(plain)
    ordered = recs.sort_by([("SHARD", "ascending"), ("SHARD_ROW", "ascending")])
    assert ordered.select(COLS).equals(plain.select(COLS))


def test_regions_keep_only_records_starting_inside(tmp_path):
    path = _make(tmp_path)
    _, plain, _ = read_text_table(path)
    shards = plan_shards(path, shard_bp=300, regions=["c1:1001-2000", "c2", "nosuchcontig:1-10"])
    assert {s.chrom for s in shards} == {"c1", "c2"}
    assert all(isinstance(s, Shard) and s.margin == 0 for s in shards)
    assert [s.ordinal for s in shards] == list(range(len(shards)))
    header = _header(path)
    recs, _ = split_rejects(pa.concat_tables([b for s in shards for b in read_shard(str(path), header, s)]), str(path))
    pc = pa.compute
    in_c1 = pc.and_(pc.equal(plain["CHROM"], "c1"),
                    pc.and_(pc.greater_equal(plain["POS"], 1001), pc.less_equal(plain["POS"], 2000)))
    want = plain.filter(pc.or_(in_c1, pc.equal(plain["CHROM"], "c2")))
    assert _multiset(recs) == _multiset(want) and recs.num_rows > 20


def _collect(ds) -> pa.Table:
    import ray

    return pa.concat_tables(ray.get(ds.to_arrow_refs()))


@pytest.mark.timeout(240)
def test_unindexed_warns_and_returns_everything(ray_session, tmp_path, caplog):
    path = _make(tmp_path, index=False, bad=True)
    _, plain, plain_rej = read_text_table(path)
    with caplog.at_level(logging.WARNING, logger="raygen.io.datasource"):
        ds = read_vcf_dataset(path, shard_bp=100)
    assert UNINDEXED_WARNING in caplog.text and "tabix -p vcf" in caplog.text
    recs, rejs = split_rejects(_collect(ds), str(path))
    assert _multiset(recs) == _multiset(plain)
    assert rejs.num_rows == plain_rej.num_rows == 2
    assert set(rejs["LINE"].to_pylist()) == set(plain_rej["LINE"].to_pylist())
    # split by contig while streaming: one SHARD per contig, and (SHARD, SHARD_ROW) gives file order back
    per_shard = {}
    for shard, chrom in zip(recs["SHARD"].to_pylist(), recs["CHROM"].to_pylist()):
        per_shard.setdefault(shard, set()).add(chrom)
    assert sorted(per_shard) == [0, 1, 2] and [per_shard[i] for i in range(3)] == [{"c1"}, {"c2"}, {"c3"}]
    ordered = recs.sort_by([("SHARD", "ascending"), ("SHARD_ROW", "ascending")])
    assert ordered.select(COLS).equals(plain.select(COLS))

"""Region-sharded block reads without Ray: every record exactly once, rejects in-band, regions respected."""

from __future__ import annotations

import pyarrow as pa
import pytest
from block_cases import COLS, header_of, make_vcf, multiset

from raygen.io.blocks import plan_shards, read_shard, split_rejects
from raygen.io.vcf import read_text_table, write_vcf
from raygen.regions import Region, Shard, as_region
from raygen.schema import BLOCK_SCHEMA


def test_regions_given_as_strings_or_tuples():
    # the datasource takes raygen.regions' forms: 1-based inclusive strings, 0-based half-open tuples
    assert as_region("chr1:1,001-2,000") == Region("chr1", 1000, 2000)
    assert as_region("chrX") == Region("chrX", 0, None)
    assert as_region(("c", 5, 9)) == Region("c", 5, 9)


@pytest.mark.parametrize("kind", ["vcf.gz", "bcf"])
def test_tiny_shards_read_every_record_once_without_ray(tmp_path, kind):
    path = make_vcf(tmp_path, bad=(kind == "vcf.gz"))
    if kind == "bcf":
        h, t, _ = read_text_table(path)
        # htslib sizes a BCF's CSI from the ##contig lengths: drop c3 (no length, record at 70 kb)
        path = write_vcf(h, t.filter(pa.compute.not_equal(t["CHROM"], "c3")), tmp_path / "in.bcf")
    _, plain, plain_rej = read_text_table(path)
    shards = plan_shards(path, shard_bp=50)
    assert len(shards) > 150
    assert [s.chrom for s in shards if s.end0 is None][:3] == ["c1", "c2", "c3"]  # last shards stay open
    blocks = [b for s in shards for b in read_shard(str(path), header_of(path), s)]
    got = pa.concat_tables(blocks)
    assert got.schema == BLOCK_SCHEMA
    recs, rejs = split_rejects(got, str(path))
    assert multiset(recs) == multiset(plain)
    assert recs.num_rows == plain.num_rows
    assert sorted(rejs["REASON"].to_pylist()) == sorted(plain_rej["REASON"].to_pylist())
    assert rejs.num_rows == (2 if kind == "vcf.gz" else 0)
    # (SHARD, SHARD_ROW) restores file order
    ordered = recs.sort_by([("SHARD", "ascending"), ("SHARD_ROW", "ascending")])
    assert ordered.select(COLS).equals(plain.select(COLS))


def test_regions_keep_only_records_starting_inside(tmp_path):
    path = make_vcf(tmp_path)
    _, plain, _ = read_text_table(path)
    shards = plan_shards(path, shard_bp=300, regions=["c1:1001-2000", "c2", "nosuchcontig:1-10"])
    assert {s.chrom for s in shards} == {"c1", "c2"}
    assert all(isinstance(s, Shard) and s.margin == 0 for s in shards)
    assert [s.ordinal for s in shards] == list(range(len(shards)))
    header = header_of(path)
    recs, _ = split_rejects(pa.concat_tables([b for s in shards for b in read_shard(str(path), header, s)]), str(path))
    pc = pa.compute
    in_c1 = pc.and_(pc.equal(plain["CHROM"], "c1"),
                    pc.and_(pc.greater_equal(plain["POS"], 1001), pc.less_equal(plain["POS"], 2000)))
    want = plain.filter(pc.or_(in_c1, pc.equal(plain["CHROM"], "c2")))
    assert multiset(recs) == multiset(want) and recs.num_rows > 20

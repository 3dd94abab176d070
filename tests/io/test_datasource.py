"""Region-sharded Ray Data reads: every record exactly once, rejects kept, unindexed input warned."""

from __future__ import annotations

import logging

import pyarrow as pa
import pytest
from block_cases import COLS, make_vcf, multiset

from raygen.io.blocks import UNINDEXED_WARNING, split_rejects
from raygen.io.datasource import read_vcf_dataset
from raygen.io.vcf import read_text_table


@pytest.mark.timeout(240)
def test_ray_dataset_tiny_shards_exactly_once(ray_session, tmp_path):
    path = make_vcf(tmp_path)
    _, plain, _ = read_text_table(path)
    ds = read_vcf_dataset(path, shard_bp=200, override_num_blocks=2)  # 2 tasks, many shards each
    recs, rejs = split_rejects(_collect(ds), str(path))
    assert rejs.num_rows == 0
    assert multiset(recs) == multiset(plain)
    ordered = recs.sort_by([("SHARD", "ascending"), ("SHARD_ROW", "ascending")])
    assert ordered.select(COLS).equals(plain.select(COLS))


def _collect(ds) -> pa.Table:
    import ray

    return pa.concat_tables(ray.get(ds.to_arrow_refs()))


@pytest.mark.timeout(240)
def test_unindexed_warns_and_returns_everything(ray_session, tmp_path, caplog):
    path = make_vcf(tmp_path, index=False, bad=True)
    _, plain, plain_rej = read_text_table(path)
    with caplog.at_level(logging.WARNING, logger="raygen.io.datasource"):
        ds = read_vcf_dataset(path, shard_bp=100)
    assert UNINDEXED_WARNING in caplog.text and "tabix -p vcf" in caplog.text
    recs, rejs = split_rejects(_collect(ds), str(path))
    assert multiset(recs) == multiset(plain)
    assert rejs.num_rows == plain_rej.num_rows == 2
    assert set(rejs["LINE"].to_pylist()) == set(plain_rej["LINE"].to_pylist())
    # split by contig while streaming: one SHARD per contig, and (SHARD, SHARD_ROW) gives file order back
    per_shard = {}
    for shard, chrom in zip(recs["SHARD"].to_pylist(), recs["CHROM"].to_pylist()):
        per_shard.setdefault(shard, set()).add(chrom)
    assert sorted(per_shard) == [0, 1, 2] and [per_shard[i] for i in range(3)] == [{"c1"}, {"c2"}, {"c3"}]
    ordered = recs.sort_by([("SHARD", "ascending"), ("SHARD_ROW", "ascending")])
    assert ordered.select(COLS).equals(plain.select(COLS))

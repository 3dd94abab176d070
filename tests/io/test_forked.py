"""raygen.io.forked: the tables of an iterator run in a forked child are the tables run here (a truncated
BGZF input's records and its reject row included), its exceptions are raised here, and closing early
stops the child."""

from __future__ import annotations

import os

import pyarrow as pa
import pysam
import pytest

from raygen.errors import InputError
from raygen.io.blocks import read_shard
from raygen.io.forked import forked_tables
from raygen.io.vcf import read_header
from raygen.regions import Shard


def test_same_blocks_as_in_process_for_a_truncated_input(tmp_path):
    body = "".join(f"1\t{i}\t.\tA\tC\t.\t.\tDP={i}\n" for i in range(1, 60_001))
    src = tmp_path / "full.vcf"
    src.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body)
    bgz = tmp_path / "full.vcf.gz"
    pysam.tabix_compress(str(src), str(bgz))
    cut = tmp_path / "cut.vcf.gz"
    data = bgz.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    header = read_header(cut)

    def blocks():
        return read_shard(str(cut), header, Shard(None), 7_000)

    here, there = list(blocks()), list(forked_tables(blocks))
    assert len(here) == len(there) > 3
    assert all(a.equals(b) for a, b in zip(here, there))
    rejects = pa.concat_tables(there).column("REJECT_REASON").drop_null().to_pylist()
    assert len(rejects) == 1 and "truncated" in rejects[0]


def test_producer_error_is_raised_here_and_close_stops_the_child(tmp_path):
    def failing():
        yield pa.table({"x": [1, 2]})
        raise InputError("bad line 7")

    it = forked_tables(failing)
    assert next(it).to_pydict() == {"x": [1, 2]}
    with pytest.raises(InputError, match="bad line 7"):
        next(it)

    def endless():
        while True:
            yield pa.table({"x": list(range(10_000))})

    before = _children()
    it = forked_tables(endless)
    next(it)
    assert len(_children() - before) == 1
    it.close()  # kills and reaps the child
    assert _children() == before


def _children() -> set[str]:
    """Process ids of this process's children (running or not yet reaped)."""
    out: set[str] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as fh:
            out |= set(fh.read().split())
    return out

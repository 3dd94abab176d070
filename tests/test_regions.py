"""raygen.regions: the one region type, region strings, BED files, interval sets and shards."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from raygen.errors import InputError, UsageError
from raygen.regions import (
    Region,
    RegionSet,
    Shard,
    as_region,
    check_contigs,
    make_shards,
    parse_region,
    read_bed,
    read_regions,
    rename_map,
)

LENGTHS = {"chr1": 1000, "chr2": 500, "HLA-A*01:01:01:01": 3000}


def test_region_strings_are_one_based_inclusive():
    assert parse_region("chr1:11-20") == Region("chr1", 10, 20)
    assert str(Region("chr1", 10, 20)) == "chr1:11-20"
    assert parse_region(" chr1:1,001-2,000 ") == Region("chr1", 1000, 2000)
    assert parse_region("chr1:5") == Region("chr1", 4, None)
    assert parse_region("chrX") == Region("chrX", 0, None)
    assert str(parse_region("chrX")) == "chrX"
    # With lengths an open end runs to the contig end and a long end is clipped.
    assert parse_region("chr2", LENGTHS) == Region("chr2", 0, 500)
    assert parse_region("chr2:100-9999", LENGTHS) == Region("chr2", 99, 500)
    # A contig name holding ':' is found by exact lookup first.
    assert parse_region("HLA-A*01:01:01:01", LENGTHS) == Region("HLA-A*01:01:01:01", 0, 3000)
    assert parse_region("HLA-A*01:01:01:01:5-9", LENGTHS) == Region("HLA-A*01:01:01:01", 4, 9)
    # Unknown contigs are the caller's question.
    assert parse_region("chr9:1-10", LENGTHS) == Region("chr9", 0, 10)


@pytest.mark.parametrize("bad", ["", "chr1:0-10", "chr1:20-10", "chr1:a-b", "chr 1:1-2", "chr1:1-2-3"])
def test_bad_region_strings(bad):
    with pytest.raises(UsageError, match="region"):
        parse_region(bad)


def test_as_region_and_clip():
    assert as_region(("c", 5, 9)) == Region("c", 5, 9)
    assert as_region(("c", None, None)) == Region("c", 0, None)
    assert as_region("c:6-9") == Region("c", 5, 9)
    assert Region("c", 0, None).clip(50) == Region("c", 0, 50)
    assert Region("c", 60, 80).clip(50) == Region("c", 50, 50)
    assert Region("c", 2, 9).length == 7
    with pytest.raises(ValueError):
        _ = Region("c", 2).length


def test_read_bed(tmp_path):
    bed = tmp_path / "t.bed"
    bed.write_text("track name=x\n# comment\nchr1\t0\t100\tGENE1\tx\nchr2\t10\t9999\n\nchr1\t50\t50\n")
    regions = read_bed(bed, LENGTHS)
    assert regions == [Region("chr1", 0, 100), Region("chr2", 10, 500), Region("chr1", 50, 50)]
    assert [r.name for r in regions] == ["GENE1", None, None]
    gz = tmp_path / "t.bed.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("chr1\t0\t100\r\n")
    assert read_bed(gz) == [Region("chr1", 0, 100)]


@pytest.mark.parametrize("text,match", [
    ("chr1\t0\n", r"t\.bed:1: expected at least 3"),
    ("chr1\t0\t10\nchr1\tx\t5\n", r"t\.bed:2: start/end are not integers"),
    ("chr1\t10\t5\n", r"t\.bed:1: inverted"),
    ("chr1\t-1\t5\n", r"t\.bed:1: inverted or negative"),
    ("chr1\t0\t9223372036854775808\n", r"t\.bed:1: end 9223372036854775808 is beyond any contig"),  # issue 19: OverflowError
    ("chr9\t0\t5\n", r"t\.bed:1: contig 'chr9' is not in the FASTA x\.fa \(its contigs: chr1, chr2"),
])
def test_bad_bed_names_file_and_line(tmp_path, text, match):
    bed = tmp_path / "t.bed"
    bed.write_text(text)
    with pytest.raises(InputError, match=match):
        read_bed(bed, LENGTHS, against="the FASTA x.fa")


def test_unreadable_bed(tmp_path):
    with pytest.raises(InputError, match="cannot read BED"):
        read_bed(tmp_path / "missing.bed")
    (tmp_path / "b.bed.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="cannot read BED"):
        read_bed(tmp_path / "b.bed.gz")


def test_read_regions(tmp_path):
    assert read_regions(None, {"a": 10, "b": 5}) == [Region("a", 0, 10), Region("b", 0, 5)]
    assert read_regions("a:2-4,b", {"a": 10, "b": 5}) == [Region("a", 1, 4), Region("b", 0, 5)]
    bed = tmp_path / "r.bed"
    bed.write_text("a\t0\t100\na\t20\t20\n")
    assert read_regions(str(bed), {"a": 10}) == [Region("a", 0, 10)]  # clipped; the empty one dropped
    with pytest.raises(InputError, match="'c' is not among"):
        read_regions("c:1-5", {"a": 10})


def test_region_set_merges_and_answers_in_bulk():
    rs = RegionSet([Region("a", 10, 20), ("a", 15, 30), Region("a", 40, 41), Region("b", 0, 5)])
    assert list(rs) == [Region("a", 10, 30), Region("a", 40, 41), Region("b", 0, 5)]
    assert rs.total_bp() == 26 and len(rs) == 3 and rs.contigs == ["a", "b"]
    assert rs.contains("a", 10) and rs.contains("a", 29) and not rs.contains("a", 30)
    assert not rs.contains("a", 9) and not rs.contains("zz", 0)
    got = rs.contains_many("a", np.array([0, 10, 29, 30, 40, 41]))
    assert got.tolist() == [False, True, True, False, True, False]


def test_shards_own_disjoint_intervals():
    shards = make_shards([Region("c", 0, 10_500), ("d", 100, 200), Region("e", 0, None)], 1000, 300)
    own_c = [(s.start0, s.end0) for s in shards if s.chrom == "c"]
    assert own_c[0] == (0, 1000) and own_c[-1] == (10_000, 10_500)
    assert sum(s.end0 - s.start0 for s in shards if s.end0 is not None) == 10_600
    assert shards[1].fetch_start0 == 700 and shards[0].fetch_start0 == 0 and shards[0].fetch_end0 == 1300
    assert [s.ordinal for s in shards] == list(range(len(shards)))
    assert shards[-1] == Shard("e", 0, None, 300, len(shards) - 1) and shards[-1].fetch_end0 is None
    assert str(shards[1]) == "c:1001-2000" and str(Shard(None)) == "<whole file>"
    pos0 = np.array([999, 1000, 1999, 2000])
    assert shards[1].owns(pos0).tolist() == [False, True, True, False]
    with pytest.raises(UsageError):
        make_shards([Region("c", 0, 10)], 0)


def test_contig_names(tmp_path):
    assert rename_map("add-chr", ["1", "chr2"]) == {"1": "chr1", "chr2": "chr2"}
    assert rename_map("strip-chr", ["chr1", "2"]) == {"chr1": "1", "2": "2"}
    tsv = tmp_path / "m.tsv"
    tsv.write_text("1\tchr1\n")
    assert rename_map(str(tsv), []) == {"1": "chr1"}
    tsv.write_text("1 chr1\n")
    with pytest.raises(InputError, match=r"m\.tsv:1"):
        rename_map(str(tsv), [])
    with pytest.raises(UsageError):
        rename_map("nope", [])
    with pytest.raises(InputError, match="--rename-contigs add-chr"):
        check_contigs({"20": 100, "21": 50}, {"chr20": 100})
    with pytest.raises(InputError, match="strip-chr"):
        check_contigs({"chr20": 100}, {"20": 100})
    with pytest.raises(InputError, match="disagree on contig lengths"):
        check_contigs({"chr20": 99}, {"chr20": 100})
    assert check_contigs({"20": 100}, {"chr20": 100}, {"20": "chr20"}) == {"20": 100}

"""Test inputs for the block readers and the Ray datasource: a small VCF with long deletions, symbolic
<DEL>s with END, a contig without a length, and optionally malformed lines (tests/io/test_blocks.py and
tests/io/test_datasource.py share it)."""

from __future__ import annotations

import collections

import pyarrow as pa
import pysam

from raygen.io.vcf import read_header

COLS = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "SAMPLES"]
HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=c1,length=5000>\n##contig=<ID=c2,length=3000>\n##contig=<ID=c3>\n"
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n'
    '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
)


def make_vcf(tmp_path, *, index=True, bad=False):
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


def multiset(table: pa.Table) -> collections.Counter:
    return collections.Counter(tuple(r.values()) for r in table.select(COLS).to_pylist())


def header_of(path):
    return read_header(path)

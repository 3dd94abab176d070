"""raygen.io.tbi: the index built while writing equals htslib's (pysam.tabix_index) in content, and
region queries through it return what htslib's index returns."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pyarrow as pa
import pysam
import pytest

from raygen.io.header import VcfHeader
from raygen.io.vcf import write_vcf

HEADER = "##fileformat=VCFv4.2\n{contigs}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def parse_tbi(path) -> list[tuple[dict, list]]:
    """Per reference: ({bin: sorted chunks}, linear index) of a .tbi (bin order in the file ignored)."""
    d = gzip.open(path).read()
    assert d[:4] == b"TBI\1"
    n_ref, *_, l_nm = struct.unpack("<8i", d[4:36])
    off = 36 + l_nm
    refs = []
    for _ in range(n_ref):
        (n_bin,) = struct.unpack_from("<i", d, off)
        off += 4
        bins = {}
        for _ in range(n_bin):
            b, n_chunk = struct.unpack_from("<Ii", d, off)
            off += 8
            bins[b] = sorted(struct.unpack_from(f"<{2 * n_chunk}Q", d, off))
            off += 16 * n_chunk
        (n_intv,) = struct.unpack_from("<i", d, off)
        off += 4
        refs.append((bins, list(struct.unpack_from(f"<{n_intv}Q", d, off))))
        off += 8 * n_intv
    assert d[:36] and struct.unpack_from("<Q", d, off) == (0,) and off + 8 == len(d)
    return refs


def _records(rng, contigs: dict[str, int], n: int, long_frac: float) -> pa.Table:
    chrom, pos, ref_len = [], [], []
    for c, length in contigs.items():
        p = np.sort(rng.integers(1, length - 2000, size=n))
        long_ = rng.random(n) < long_frac
        r = np.where(long_, rng.integers(20, 20_000, size=n), rng.integers(1, 4, size=n))
        chrom += [c] * n
        pos.append(p)
        ref_len.append(np.minimum(r, length - p + 1))
    pos, ref_len = np.concatenate(pos), np.concatenate(ref_len)
    m = len(pos)
    dot = pa.array(["."] * m)
    ref = pa.array(["A" * k for k in ref_len.tolist()])
    info = pa.array(["INFO=x" * k for k in rng.integers(1, 30, size=m).tolist()])
    return pa.table({"CHROM": pa.array(chrom), "POS": pa.array(pos, pa.int64()), "ID": dot, "REF": ref,
                     "ALT": pa.array(["C"] * m), "QUAL": dot, "FILTER": dot, "INFO": info,
                     "FORMAT": pa.nulls(m, pa.string()), "SAMPLES": pa.nulls(m, pa.string())})


@pytest.mark.parametrize("seed,n,long_frac", [(1, 5, 0.0), (2, 3000, 0.01), (3, 15_000, 0.002), (4, 400, 0.5)])
def test_index_equals_htslib(tmp_path, seed, n, long_frac):
    rng = np.random.default_rng(seed)
    contigs = {"chr1": 3_000_000, "chr2": 200_000, "chrM": 16_569}
    header = VcfHeader.from_text(HEADER.format(contigs="".join(f"##contig=<ID={c},length={v}>\n"
                                                              for c, v in contigs.items())))
    table = _records(rng, contigs, n, long_frac)
    out = write_vcf(header, table, tmp_path / "a.vcf.gz")
    copy = tmp_path / "b.vcf.gz"
    shutil.copy(out, copy)
    pysam.tabix_index(str(copy), preset="vcf", force=True)
    ours, theirs = parse_tbi(str(out) + ".tbi"), parse_tbi(str(copy) + ".tbi")
    assert ours == theirs
    with pysam.TabixFile(str(out)) as a, pysam.TabixFile(str(copy)) as b:
        for _ in range(50):
            c = list(contigs)[int(rng.integers(0, len(contigs)))]
            beg = int(rng.integers(0, contigs[c]))
            end = beg + int(rng.integers(1, 100_000))
            assert list(a.fetch(c, beg, end)) == list(b.fetch(c, beg, end))


def test_end_tag_and_unsorted_fall_back_to_htslib(tmp_path):
    header = VcfHeader.from_text(HEADER.format(contigs="##contig=<ID=chr1,length=100000>\n"))
    rows = _records(np.random.default_rng(5), {"chr1": 100_000}, 50, 0.0)
    info = rows["INFO"].to_pylist()
    info[3] = "END=90000"  # tabix takes the record's end from INFO/END: htslib indexes such files
    rows = rows.set_column(rows.schema.get_field_index("INFO"), "INFO", pa.array(info))
    out = write_vcf(header, rows, tmp_path / "e.vcf.gz")
    copy = tmp_path / "f.vcf.gz"
    shutil.copy(out, copy)
    pysam.tabix_index(str(copy), preset="vcf", force=True)
    assert parse_tbi(str(out) + ".tbi") == parse_tbi(str(copy) + ".tbi")
    with pysam.TabixFile(str(out)) as tf:
        assert len(list(tf.fetch("chr1", 89_990, 89_999))) >= 1

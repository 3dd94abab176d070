"""VCF IO throughput: raygen.io text tables vs htslib (bcftools view) and pysam per-record reading.

Generates an N-record bgzipped VCF (default 1M: SNVs, indels, multiallelics; 2 samples with GT:AD) and
times, in this one process:

* raygen read   : ``iter_text_batches`` over the .vcf.gz (all records into Arrow text tables)
* raygen write  : ``write_vcf`` to .vcf.gz + .tbi (BGZF via pysam.BGZFile, then tabix)
* raygen typed  : ``text_to_typed`` (Glow schema) and ``write_parquet`` / ``read_parquet``
* baseline      : ``bcftools view -Oz`` + ``tabix`` (htslib, C) on the same file, and pysam
                  ``VariantFile`` iteration with ``str(record)`` (what a per-record Python reader costs)

Prints seconds, records/s and ratios (>1 means raygen is faster). Usage::

    .venv/bin/python benchmarks/io_throughput.py [--records 1000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam
import pysam.bcftools

from raygen.io.parquet import read_parquet, write_parquet
from raygen.io.typed import text_to_typed
from raygen.io.vcf import iter_text_batches, read_header, write_vcf

HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr20,length=64444167>\n##contig=<ID=chr21,length=46709983>\n"
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">\n'
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
)


def make_vcf(path: Path, n: int, seed: int = 0) -> None:
    """A sorted VCF of ``n`` records: 80% SNV, 15% indel, 5% multiallelic; bgzipped + tabix-indexed."""
    rng = np.random.default_rng(seed)
    bases = np.array(list("ACGT"))
    half = n // 2
    chrom = np.array(["chr20"] * half + ["chr21"] * (n - half))
    pos = np.concatenate([np.sort(rng.choice(60_000_000, half, replace=False)),
                          np.sort(rng.choice(45_000_000, n - half, replace=False))]) + 1
    kind = rng.random(n)
    ref = bases[rng.integers(0, 4, n)]
    alt1 = bases[(np.searchsorted(bases, ref) + rng.integers(1, 4, n)) % 4]
    lines = []
    ins = ["".join(rng.choice(bases, k)) for k in range(1, 8)]
    for i in range(n):
        r, a = ref[i], alt1[i]
        if kind[i] < 0.075:
            a = r + ins[i % 7]
        elif kind[i] < 0.15:
            r, a = r + ins[i % 7], r
        elif kind[i] < 0.2:
            a = f"{a},{r}{ins[i % 7]}"
        na = a.count(",") + 1
        af = ",".join(["0.25"] * na)
        ad = ",".join(["7"] * (na + 1))
        lines.append(f"{chrom[i]}\t{pos[i]}\t.\t{r}\t{a}\t50\tPASS\tDP=30;AF={af}\tGT:AD\t0/1:{ad}\t1/1:{ad}\n")
    plain = path.with_suffix("")
    plain.write_text(HEADER + "".join(lines))
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    plain.unlink()


class T:
    """Wall and CPU seconds (this process, all threads: pysam's bcftools runs in-process too)."""

    def __init__(self, wall: float, cpu: float):
        self.wall, self.cpu = wall, cpu

    def __add__(self, other: "T") -> "T":
        return T(self.wall + other.wall, self.cpu + other.cpu)


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return T(time.perf_counter() - t0, time.process_time() - c0), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--workdir", default=None, help="where to put the generated files (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        d = Path(tmp)
        src = d / "in.vcf.gz"
        t_gen, _ = timed(lambda: make_vcf(src, args.records))
        n = args.records
        print(f"generated {n:,} records ({os.path.getsize(src) / 1e6:.1f} MB bgzipped) in {t_gen.wall:.1f} s")
        header = read_header(src)

        t_read, tables = timed(lambda: [r for r, _ in iter_text_batches(src, header=header)])
        assert sum(t.num_rows for t in tables) == n
        t_write, _ = timed(lambda: write_vcf(header, tables, d / "out.vcf.gz"))
        t_bcf_view, _ = timed(lambda: pysam.bcftools.view("-Oz", "-o", str(d / "bcf.vcf.gz"), str(src), catch_stdout=False))
        t_tabix, _ = timed(lambda: pysam.tabix_index(str(d / "bcf.vcf.gz"), preset="vcf", force=True))

        def per_record():
            with pysam.VariantFile(str(src)) as vf:
                return sum(1 for rec in vf if str(rec))

        t_pysam, count = timed(per_record)
        assert count == n
        t_typed, _ = timed(lambda: [text_to_typed(t, header) for t in tables])
        t_pq_w, _ = timed(lambda: write_parquet(iter(tables), header, d / "pq"))
        t_pq_r, (_, back) = timed(lambda: read_parquet(d / "pq"))
        assert back.num_rows == n

        def row(name, t: T, base: T | None = None):
            ratio = f"  ratio wall {base.wall / t.wall:5.2f}x cpu {base.cpu / t.cpu:5.2f}x" if base else ""
            print(f"  {name:42s} {t.wall:6.2f} s wall {t.cpu:6.2f} s cpu {n / t.wall / 1e6:5.2f} M rec/s{ratio}")

        print("raygen.io (Arrow text tables):")
        row("read .vcf.gz -> text tables", t_read, t_pysam)
        row("write text tables -> .vcf.gz + .tbi", t_write, t_bcf_view + t_tabix)
        row("read + write (end to end)", t_read + t_write, t_bcf_view + t_tabix)
        row("text -> typed Glow table", t_typed)
        row("write Parquet (typed + text, by contig)", t_pq_w)
        row("read Parquet -> text tables", t_pq_r)
        print("baselines (same process, same file):")
        row("pysam VariantFile + str(rec) (per record)", t_pysam)
        row("bcftools view -Oz + tabix (htslib, C)", t_bcf_view + t_tabix)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow with it)")
        print("ratio = baseline time / raygen time: read vs pysam per-record; write and end to end vs bcftools view -Oz + tabix")


if __name__ == "__main__":
    main()

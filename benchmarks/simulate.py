"""Benchmark ``raygen simulate``: throughput at 30x against a naive per-read Python baseline.

    .venv/bin/python benchmarks/simulate.py                 # 10 Mbp, 30x, local Ray with all cores
    .venv/bin/python benchmarks/simulate.py --length 2M --num-cpus 2

Prints Mbp of genome per minute, reads per second and per-stage times of ``simulate_genome``, then
runs a naive baseline in the same process -- a pure-Python loop that draws each read pair, its
qualities and errors base by base and writes it through pysam (the obvious first implementation) --
on a slice of reads, extrapolates it to the same number of reads, and prints the speed-up.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import pysam

from raygen.commands.simulate import parse_bp
from raygen.config import RuntimeConfig, SimulateConfig
from raygen.runtime import init_ray
from raygen.simulate import simulate_genome

COMPLEMENT = str.maketrans("ACGT", "TGCA")


def naive_reads(reference: Path, n_pairs: int, cfg: SimulateConfig, out_bam: Path, seed: int = 0) -> int:
    """Per-read, per-base Python: the baseline. Reads from the reference (no variants), unsorted."""
    rnd = random.Random(seed)
    with pysam.FastaFile(str(reference)) as fa:
        name, length = fa.references[0], fa.lengths[0]
        seq = fa.fetch(name)
    header = {"HD": {"VN": "1.6"}, "SQ": [{"SN": name, "LN": length}]}
    L = cfg.read_length
    written = 0
    with pysam.AlignmentFile(str(out_bam), "wb", header=header) as out:
        while written < 2 * n_pairs:
            flen = max(L, int(rnd.gauss(cfg.fragment_mean, cfg.fragment_sd)))
            start = rnd.randrange(0, length - flen)
            frag = seq[start: start + flen]
            if "N" in frag:
                continue
            for mate, (s, bases) in enumerate(((start, frag[:L]), (start + flen - L, frag[-L:]))):
                quals, called = [], []
                for i, b in enumerate(bases):
                    cycle = i if mate == 0 else L - 1 - i
                    p = cfg.error_rate * (0.5 + cycle / (L - 1)) * math.exp(0.5 * rnd.gauss(0, 1) - 0.125)
                    q = min(41, max(2, round(-10 * math.log10(p))))
                    quals.append(q)
                    called.append(rnd.choice([x for x in "ACGT" if x != b]) if rnd.random() < 10 ** (-q / 10) else b)
                a = pysam.AlignedSegment(out.header)
                a.query_name = f"n{written // 2}"
                a.flag = 0x1 | 0x2 | (0x40 | 0x20 if mate == 0 else 0x80 | 0x10)
                a.reference_id, a.reference_start, a.mapping_quality = 0, s, 60
                a.cigarstring = f"{L}M"
                a.next_reference_id = 0
                a.next_reference_start = start + flen - L if mate == 0 else start
                a.template_length = flen if mate == 0 else -flen
                a.query_sequence = "".join(called)
                a.query_qualities = pysam.qualitystring_to_array("".join(chr(q + 33) for q in quals))
                out.write(a)
                written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=parse_bp, default=10_000_000, help="genome length (default 10M)")
    ap.add_argument("--coverage", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all cores)")
    ap.add_argument("--baseline-pairs", type=int, default=3000, help="read pairs the naive baseline simulates")
    ap.add_argument("--out", default=None, help="output directory (default: a temporary one, removed after)")
    args = ap.parse_args(argv)

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    info = init_ray(RuntimeConfig(num_cpus=args.num_cpus))
    print(f"ray: {info.describe()}; host cores: {os.cpu_count()}")
    cfg = SimulateConfig(length=args.length, coverage=args.coverage, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="raygen-bench-") as tmp:
        out = Path(args.out or tmp)
        t0 = time.perf_counter()
        s = simulate_genome(cfg, out / "sim")
        wall = time.perf_counter() - t0
        bam_mb = s.reads_bam.stat().st_size / 1e6
        print(f"raygen simulate: {s.bp / 1e6:g} Mbp, {args.coverage:g}x, {s.reads:,} reads, "
              f"{s.variants['total']:,} variants, BAM {bam_mb:.0f} MB")
        print(f"  wall {wall:.1f} s  (reference {s.timings['reference_s']:.1f} s, truth {s.timings['truth_s']:.1f} s, "
              f"reads+sort+index {s.timings['reads_s']:.1f} s)")
        print(f"  throughput: {s.bp / 1e6 / (wall / 60):.2f} Mbp/min at {args.coverage:g}x, {s.reads / wall:,.0f} reads/s")

        t1 = time.perf_counter()
        n = naive_reads(s.reference, args.baseline_pairs, cfg, Path(tmp) / "naive.bam")
        base_s = time.perf_counter() - t1
        per_read = base_s / n
        extrapolated = per_read * s.reads
        print(f"naive baseline (per-base Python loop + pysam writes, no variants, no sorting): {n:,} reads in "
              f"{base_s:.1f} s = {n / base_s:,.0f} reads/s on one core; extrapolated to {s.reads:,} reads: "
              f"{extrapolated:.0f} s")
        print(f"  speed-up of raygen simulate over the baseline: {extrapolated / wall:.1f}x (wall-clock, whole "
              f"pipeline vs reads only); per core: {extrapolated / wall / max(1.0, info.cpus):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

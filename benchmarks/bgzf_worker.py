"""Benchmark: where raygen.io.bgzf's worker process starts to pay (how ``PROCESS_MIN_BYTES`` was chosen).

Writes S MiB of VCF-like text through :class:`raygen.io.bgzf.BgzfWriter` with ``--threads`` compression
threads, 4 MiB per ``write`` as ``raygen.io.vcf`` does, (a) on this process's threads (the worker off) and
(b) through the worker process from the first byte, interleaved, best of ``--repeats``; also the bare start
of a worker (a Python start plus zlib-ng). Nothing else runs beside the writes here, so the worker's other
gain (deflating while the caller normalizes the next contig) is not in these figures: they are its worst
case. Prints one row per size: both wall times, their ratio and the load.

    .venv/bin/python benchmarks/bgzf_worker.py [--sizes 1,4,16,64] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from raygen.io.bgzf import BgzfWriter


def text(n_bytes: int, seed: int = 3) -> bytes:
    """VCF-like record lines (compress about as the normalize benchmark's output does)."""
    rng = np.random.default_rng(seed)
    n = n_bytes // 60 + 1
    pos = np.cumsum(rng.integers(1, 200, size=n))
    dp = rng.integers(1, 200, size=n)
    gt = np.array(["0/1", "1/1", "0|1", "0/0"])[rng.integers(0, 4, size=n)]
    lines = [f"chr20\t{p}\t.\tA\tC\t50\tPASS\tDP={d}\tGT\t{g}\n" for p, d, g in zip(pos, dp, gt)]
    return "".join(lines).encode()[:n_bytes]


def _cpu() -> float:
    import resource

    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def write_once(data: bytes, path: str, threads: int, process_min_bytes: int) -> tuple[float, float]:
    """Wall and CPU seconds (this process's threads and the worker) of writing ``data``."""
    t0, c0 = time.perf_counter(), _cpu()
    with BgzfWriter(path, threads=threads, process_min_bytes=process_min_bytes) as fh:
        for off in range(0, len(data), 4 << 20):
            fh.write(data[off: off + (4 << 20)])
    return time.perf_counter() - t0, _cpu() - c0


def worker_start(repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds of a writer whose worker gets no data (its start and end alone)."""
    best = (float("inf"), float("inf"))
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), _cpu()
            with BgzfWriter(os.path.join(tmp, "e.gz"), threads=1, process_min_bytes=0) as fh:
                fh.write(b"")
            best = min(best, (time.perf_counter() - t0, _cpu() - c0))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,4,16,64", help="MiB of text per write run, comma-separated")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    wall, cpu = worker_start(args.repeats)
    print(f"machine: {os.cpu_count()} CPUs; --threads {args.threads}; best of {args.repeats}, interleaved; "
          f"a worker's bare start: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU; load {os.getloadavg()[0]:.1f}")
    print("| MiB | in-process wall / CPU s | worker wall / CPU s | ratio wall (in-process / worker) | load 1-min |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "o.gz")
        for mib in (int(s) for s in args.sizes.split(",")):
            data = text(mib << 20)
            here, there, loads = [], [], []
            for _ in range(args.repeats):
                loads.append(os.getloadavg()[0])
                here.append(write_once(data, out, args.threads, 1 << 62))
                there.append(write_once(data, out, args.threads, 0))
            (hw, hc), (tw, tc) = min(here), min(there)
            print(f"| {mib} | {hw:.3f} / {hc:.3f} | {tw:.3f} / {tc:.3f} | {hw / tw:.2f}x | "
                  f"{min(loads):.1f}-{max(loads):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

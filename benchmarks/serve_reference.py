"""How the ingress should share its FASTA between concurrent requests: one handle per thread, or one handle
behind a lock (and, for reference, one shared handle with neither, which is what broke).

The workload is what the ingress does for ``/v1/normalize`` and ``/v1/score`` under mixed load: ``threads``
threads at once, each normalizing deletions (``raygen.serve.normalize.normalize_items``) and checking SNV REFs
(``raygen.serve.parse.reference_errors``) at random positions of a bgzipped FASTA. Interleaved runs, best of
N; prints records/s, failed batches and the load average. Run on a quiet machine:

    python benchmarks/serve_reference.py [-f ref.fa.gz] [--threads 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from raygen.io.fasta import Reference
from raygen.serve.normalize import normalize_items
from raygen.serve.parse import reference_errors
from raygen.serve.reference import SharedReference
from raygen.serve.schemas import NormalizeVariantIn
from raygen.variant import Variant

DEFAULT_FASTA = Path(__file__).resolve().parents[2] / "shared" / "data" / "giab_chr20" / "ucsc.hg19.chr20.unittest.fasta.gz"


class ThreadReference:
    """The alternative to the service's SharedReference (one handle behind a lock): a handle per thread."""

    def __init__(self, path: str):
        self._local, self.path = threading.local(), path
        self.lengths = self.reader().lengths

    def reader(self) -> Reference:
        if getattr(self._local, "ref", None) is None:
            self._local.ref = Reference(self.path)
        return self._local.ref

    def __contains__(self, chrom: str) -> bool:
        return chrom in self.lengths

    def __getattr__(self, name: str):
        return getattr(self.reader(), name)


def workload(path: str, n: int, seed: int) -> tuple[list, list[Variant]]:
    rng = random.Random(seed)
    with Reference(path) as ref:
        chrom = ref.contigs[0]
        length = ref.length(chrom)
        dels, snvs = [], []
        while len(dels) < n:  # positions in sequence: left-aligning through N runs is another matter (#19)
            p = rng.randrange(100, length - 100)
            s = ref.fetch(chrom, p - 1, p + 2)
            if set(s) <= set("ACGT"):
                dels.append(NormalizeVariantIn(chrom=chrom, pos=p, ref=s, alt=s[0]))
                snvs.append(Variant(chrom, p + 1, s[1], "A" if s[1] != "A" else "C"))
    return dels, snvs


def run(reference, dels, snvs, threads: int, batch: int) -> tuple[float, int]:
    """Records per second over all threads, and how many batches failed."""
    def one(i: int) -> int:
        part = slice(i * batch, (i + 1) * batch)
        try:
            normalize_items(dels[part], reference)
            reference_errors(snvs[part], [("body", "variants", j) for j in range(batch)], reference)
            return 0
        except Exception:  # noqa: BLE001 - a shared handle fails here; counted, not raised
            return 1
    jobs = len(dels) // batch
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        failed = sum(pool.map(one, range(jobs)))
    return 2 * jobs * batch / (time.perf_counter() - t0), failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-f", "--fasta", default=str(DEFAULT_FASTA), help="bgzipped, indexed FASTA")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--records", type=int, default=6000, help="deletions and SNVs each, per run")
    ap.add_argument("--batch", type=int, default=150, help="records per request")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    dels, snvs = workload(args.fasta, args.records, 1)
    modes = {"per-thread": lambda: ThreadReference(args.fasta), "lock (served)": lambda: SharedReference(args.fasta),
             "shared (unsafe)": lambda: Reference(args.fasta)}
    best: dict[str, tuple[float, int]] = {}
    for _ in range(args.repeats):  # interleaved, so load changes hit every mode alike
        for name, make in modes.items():
            rate, failed = run(make(), dels, snvs, args.threads, args.batch)
            if name not in best or rate > best[name][0]:
                best[name] = (rate, failed)
    print(f"{args.threads} threads, {args.records} deletions + {args.records} SNVs per run, best of {args.repeats}; "
          f"load avg {os.getloadavg()[0]:.1f}; os.cpu_count()={os.cpu_count()}")
    print(f"{'mode':<16} {'records/s':>10} {'failed batches':>15} {'vs per-thread':>14}")
    for name, (rate, failed) in best.items():
        print(f"{name:<16} {rate:10.0f} {failed:15d} {rate / best['per-thread'][0]:14.2f}")


if __name__ == "__main__":
    main()

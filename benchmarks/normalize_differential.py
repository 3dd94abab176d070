"""Long differential campaign: ``raygen normalize`` vs pysam's bcftools norm 1.24, and raygen's expression engine
vs ``bcftools view -i/-e``, on generated inputs (``raygen.simulate.vcfgen`` / ``exprgen``).

    .venv/bin/python benchmarks/normalize_differential.py --seeds 900 --expr-seeds 250 --workers 2

Every option set of :data:`raygen.normalize.differential.OPTION_SETS` runs on every seed (cases = seeds x
option sets); the table (Markdown) lists per option set the columns of :data:`COLUMNS`, then the seeds of the
first mismatches so each reproduces with
``run_case(seed, OptionSet(...), RaygenRunner())``. Exit code 1 when anything mismatched.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


#: Columns of the normalize table: cases; mismatches; bcftools crashed (nothing to compare); both refused the
#: input; bcftools stopped at a bad record that raygen rejected and went past; equal but for the stale memory
#: bcftools -m + copies into Number=G FORMAT values (README: known differences).
COLUMNS = ("cases", "mismatch", "bcf-crash", "both-refuse", "bcf-stops", "stale-G")


def _norm_worker(args: tuple[int, int, int]) -> dict:
    from raygen.normalize.differential import OPTION_SETS, BcftoolsOracle, RaygenRunner, run_cases

    first, last, _ = args
    runner, oracle = RaygenRunner(), BcftoolsOracle()
    stats: dict = collections.defaultdict(lambda: [0] * len(COLUMNS))
    failures: list[str] = []
    root = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    for seed in range(first, last):
        with tempfile.TemporaryDirectory(dir=root) as d:
            for res in run_cases(seed, OPTION_SETS, runner, oracle, work=Path(d)):
                s = stats[res.option_set.name]
                s[0] += 1
                if res.raygen_crashed:  # counted as a mismatch whatever bcftools did
                    s[1] += 1
                    if len(failures) < 20:
                        failures.append(res.describe(2))
                elif res.oracle_crashed:
                    s[2] += 1
                elif res.bcftools.error is not None and res.raygen.error is not None:
                    s[3] += 1
                elif not res.match:
                    s[1] += 1
                    if len(failures) < 20:
                        failures.append(res.describe(2))
                elif res.bcftools.error is not None:
                    s[4] += 1
                elif res.raygen.records != res.bcftools.records:
                    s[5] += 1
    oracle.close()
    return {"stats": dict(stats), "failures": failures}


def _expr_worker(args: tuple[int, int, int]) -> dict:
    from raygen.expr.differential import run_expr_cases
    from raygen.normalize.differential import BcftoolsOracle

    first, last, per_seed = args
    oracle = BcftoolsOracle()
    stats = [0, 0, 0, 0, 0]
    failures: list[str] = []
    root = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    for seed in range(first, last):
        with tempfile.TemporaryDirectory(dir=root) as d:
            for c in run_expr_cases(seed, per_seed, oracle, Path(d), profile=("clean", "dense", "gvcf")[seed % 3]):
                stats[0] += 1
                if c.oracle_crashed:
                    stats[2] += 1
                elif c.oracle_unstable:
                    stats[4] += 1
                elif isinstance(c.bcftools, str) and isinstance(c.raygen, str):
                    stats[3] += 1
                elif not c.match:
                    stats[1] += 1
                    if len(failures) < 20:
                        failures.append(c.describe())
    oracle.close()
    return {"stats": stats, "failures": failures}


def _chunks(n: int, workers: int, per: int, first: int = 0) -> list[tuple[int, int, int]]:
    step = max(1, n // (workers * 8) or 1)
    return [(a, min(first + n, a + step), per) for a in range(first, first + n, step)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=900, help="generated files per option set (default 900)")
    ap.add_argument("--expr-seeds", type=int, default=250, help="generated files for expressions (default 250)")
    ap.add_argument("--exprs-per-seed", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds run from here (a campaign can continue another)")
    a = ap.parse_args(argv)
    t0 = time.time()
    print(f"load before: {os.getloadavg()}", flush=True)
    totals: dict = collections.defaultdict(lambda: [0] * len(COLUMNS))
    failures: list[str] = []
    with mp.get_context("spawn").Pool(a.workers) as pool:
        for out in pool.imap_unordered(_norm_worker, _chunks(a.seeds, a.workers, 0, a.first_seed)):
            for k, v in out["stats"].items():
                totals[k] = [x + y for x, y in zip(totals[k], v)]
            failures += out["failures"]
        expr = [0, 0, 0, 0, 0]
        for out in pool.imap_unordered(_expr_worker, _chunks(a.expr_seeds, a.workers, a.exprs_per_seed, a.first_seed)):
            expr = [x + y for x, y in zip(expr, out["stats"])]
            failures += out["failures"]
    print(f"\n| {'option set':<56} | " + " | ".join(f"{c:>11}" for c in COLUMNS) + " |")
    print(f"|{'-' * 58}|" + "|".join("-" * 13 for _ in COLUMNS) + "|")
    for name, v in totals.items():
        cell = name.replace("|", "\\|")  # a pipe of chained stages, escaped for Markdown
        print(f"| {cell:<56} | " + " | ".join(f"{x:>11}" for x in v) + " |")
    tot = [sum(v[i] for v in totals.values()) for i in range(len(COLUMNS))]
    all_bad = tot[1]
    print(f"| {'TOTAL normalize':<56} | " + " | ".join(f"{x:>11}" for x in tot) + " |")
    print(f"\n| expressions (bcftools view -i/-e) | cases | mismatch | bcf-crash | both-refuse | bcf-unstable |\n|---|---|---|---|---|---|\n"
          f"| generated expressions x generated files | {expr[0]} | {expr[1]} | {expr[2]} | {expr[3]} | {expr[4]} |")
    print(f"\nelapsed {time.time() - t0:.0f} s, load after: {os.getloadavg()}")
    for f in failures[:40]:
        print("\nMISMATCH " + f)
    return 1 if all_bad or expr[1] else 0


if __name__ == "__main__":
    sys.exit(main())

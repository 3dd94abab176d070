"""Pretraining throughput: tokens/s per worker with 1 and with 2 Ray Train workers (DDP, 1 CPU each).

    .venv/bin/python benchmarks/train.py [--steps 40] [--arch raygen-small]

Both runs happen in this process on one local Ray, on the same data (chr20 of the shared pretraining
FASTA), with the same per-worker batch; the figure is the median over steps after a warm-up. Scaling =
total tokens/s with 2 workers / with 1 worker (ideal 2.0 on 2 idle cores; on a shared machine the second
worker competes with everything else).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FA = REPO.parent / "shared" / "data" / "pretrain" / "grch38.chr20_and_21_10M.fa.gz"


def run(workers: int, a, tmp: Path) -> dict:
    from raygen.config import PretrainConfig
    from raygen.train.pretrain import PretrainJob, plan_regions, run_pretrain

    _, train, val = plan_regions(a.fasta, None, ["chr20"], 100_000, 0.02, 0)
    out = tmp / f"w{workers}"
    cfg = PretrainConfig(arch=a.arch, steps=a.steps, checkpoint_every=10**9, val_windows=50, batch_size=a.batch_size,
                         workers=workers, cpus_per_worker=1.0, gpus_per_worker=0.0, max_failures=0)
    job = PretrainJob(reference=a.fasta, out_dir=str(out), train_regions=[(r.chrom, r.start, r.end) for r in train],
                      val_regions=[(r.chrom, r.start, r.end) for r in val][:1], config=cfg)
    run_pretrain(job, resume=False, quiet=True)
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    tps = [r["tokens_per_s"] for r in recs if "tokens_per_s" in r][a.warmup:]
    total = statistics.median(tps)
    return {"workers": workers, "tokens_per_s": total, "tokens_per_s_per_worker": total / workers, "steps": len(tps)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fasta", default=str(DEFAULT_FA))
    ap.add_argument("--arch", default="raygen-small")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5, help="first steps left out of the median")
    ap.add_argument("--batch-size", type=int, default=64)
    a = ap.parse_args()
    from raygen.config import RuntimeConfig
    from raygen.runtime import init_ray

    init_ray(RuntimeConfig(num_cpus=2))
    with tempfile.TemporaryDirectory(prefix="raygen-bench-train-") as d:
        r1 = run(1, a, Path(d))
        r2 = run(2, a, Path(d))
    print(f"{'workers':>7} {'tokens/s':>10} {'per worker':>11}")
    for r in (r1, r2):
        print(f"{r['workers']:>7} {r['tokens_per_s']:>10.0f} {r['tokens_per_s_per_worker']:>11.0f}")
    print(f"scaling 1 -> 2 workers: {r2['tokens_per_s'] / r1['tokens_per_s']:.2f}x total tokens/s "
          f"({a.arch}, batch {a.batch_size} x {128} bp per worker)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

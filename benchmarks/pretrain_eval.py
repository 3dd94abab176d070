"""Official pretraining check: train the default recipe for N minutes on chr20, then compare masked-base
bits/base on chr21 (never seen) with bidirectional k-mer count models fitted on chr20 in the same run.

    .venv/bin/python benchmarks/pretrain_eval.py --minutes 8 --workers 2 --out /tmp/raygen-small-8min

Training runs through the real CLI (`raygen train pretrain ... --contigs chr20 --time-limit M`), so the
figure is what a user gets. `--skip-train` re-evaluates an existing model dir. Prints the table and
whether the model beats the 3+3-mer and 4+4-mer models; writes OUT/eval_chr21.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FA = REPO.parent / "shared" / "data" / "pretrain" / "grch38.chr20_and_21_10M.fa.gz"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fasta", default=str(DEFAULT_FA))
    ap.add_argument("--out", default="/tmp/raygen-pretrain-eval")
    ap.add_argument("--minutes", type=float, default=8.0, help="training time limit")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus-per-worker", type=float, default=1.0)
    ap.add_argument("--gpus-per-worker", type=float, default=0.0)
    ap.add_argument("--arch", default=None, help="default: the config default recipe")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--windows", type=int, default=4000, help="held-out chr21 windows scored")
    ap.add_argument("--skip-train", action="store_true", help="only evaluate the model already in --out")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `raygen train pretrain` flags")
    a = ap.parse_args()

    out = Path(a.out)
    if not a.skip_train:
        cmd = [str(REPO / ".venv" / "bin" / "raygen"), "train", "pretrain", "-f", a.fasta, "--contigs", "chr20",
               "--out", str(out), "--time-limit", str(a.minutes), "--workers", str(a.workers),
               "--cpus-per-worker", str(a.cpus_per_worker), "--gpus-per-worker", str(a.gpus_per_worker)]
        if a.arch:
            cmd += ["--arch", a.arch]
        if a.batch_size:
            cmd += ["--batch-size", str(a.batch_size)]
        cmd += a.extra
        print("$", " ".join(cmd), flush=True)
        t0 = time.time()
        rc = subprocess.call(cmd)
        print(f"training command exited {rc} after {time.time() - t0:.0f} s wall", flush=True)
        if rc:
            return rc
    from raygen.train.evaluate import evaluate_model_vs_kmers, format_table

    res = evaluate_model_vs_kmers(str(out), a.fasta, ["chr20"], ["chr21"], windows=a.windows)
    steps = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()] if (out / "metrics.jsonl").exists() else []
    last = [s for s in steps if "loss" in s]
    if last:
        res["train_steps"], res["train_s"] = last[-1]["step"], last[-1]["train_s"]
        res["tokens_per_s_median"] = sorted(s["tokens_per_s"] for s in last)[len(last) // 2]
    print(format_table(res))
    b = res["bits_per_base"]
    if last:
        print(f"training: {res['train_steps']} steps in {res['train_s']:.0f} s, median {res['tokens_per_s_median']:.0f} tokens/s (all workers)")
    for k in ("3+3-mer", "4+4-mer"):
        verdict = "BEATS" if b["model"] < b[k] else "does not beat"
        print(f"model {b['model']:.4f} {verdict} {k} {b[k]:.4f} (difference {b[k] - b['model']:+.4f} bits/base)")
    (out / "eval_chr21.json").write_text(json.dumps(res, indent=2))
    card = out / "README.md"
    if card.exists():  # record the paired comparison in the model card too
        rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(b.items(), key=lambda kv: kv[1]))
        card.write_text(card.read_text() + f"""
## Held-out evaluation (benchmarks/pretrain_eval.py)
Masked-base bits/base on {res['positions']:,} positions of chr21 (never trained on); k-mer count models
fitted on chr20, the model's training contig. Same positions for every predictor.

| predictor | bits/base |
|---|---|
{rows}
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())

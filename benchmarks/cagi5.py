"""CAGI5 regulatory saturation mutagenesis: zero-shot and fine-tuned AUROC on the challenge split.

    .venv/bin/python benchmarks/cagi5.py --model DIR [--cache /tmp/raygen-cagi5] [--window 128]

1. Writes the 14 element sequences as a FASTA in --cache (never in the repo) and converts the GRCh37
   variant positions to element coordinates (raygen.train.cagi5).
2. Zero-shot: scores every SNV with the Scorer (masked-centre LLR) and reports on the challenge split the
   AUROC of |LLR| and of -LLR for "changes expression" (CAGI label +1/-1) vs "no effect" (label 0), and
   of -LLR for down (-1) vs up (+1) among labelled variants.
3. Fine-tuned: `raygen train finetune` on the training (release) split only, split by region inside it
   for early stopping/calibration; then the head's RAYGEN_PROB is scored on the challenge split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "cagi5_regsat"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="masked-LM model dir (e.g. from raygen train pretrain)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--cache", default="/tmp/raygen-cagi5")
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--region-bp", type=int, default=100, help="region size for the train/validation split")
    a = ap.parse_args()

    from raygen.config import FinetuneConfig, RuntimeConfig
    from raygen.runtime import init_ray
    from raygen.scoring.scorer import Scorer
    from raygen.train.cagi5 import read_elements, read_variants, write_element_fasta, write_labels_tsv
    from raygen.train.finetune import run_finetune
    from raygen.train.metrics import auprc, auroc
    from raygen.variant import Variant

    cache = Path(a.cache)
    elements = read_elements(a.data)
    fasta = write_element_fasta(elements, cache)
    v = read_variants(a.data, elements)
    train, chal = v.subset(v.split == "training"), v.subset(v.split == "challenge")
    print(f"CAGI5: {len(v.pos)} SNVs; training {len(train.pos)} ({train.effect.sum()} with effect), "
          f"challenge {len(chal.pos)} ({chal.effect.sum()} with effect)")

    def score(model_dir: str, vv):
        s = Scorer(model_dir, str(fasta), window=a.window)
        res = s.score_variants([Variant(c, int(p), r, x) for c, p, r, x in zip(vv.element, vv.pos, vv.ref, vv.alt)])
        llr = np.array([np.nan if r.llr is None else r.llr for r in res])
        prob = np.array([np.nan if r.prob is None else r.prob for r in res])
        return llr, prob

    t0 = time.time()
    llr, _ = score(a.model, chal)
    y = chal.effect
    labelled = chal.label3 != 0
    table = {
        "zero_shot_auroc_abs_llr": auroc(y, np.abs(llr)),
        "zero_shot_auroc_neg_llr": auroc(y, -llr),
        "zero_shot_auprc_abs_llr": auprc(y, np.abs(llr)),
        "zero_shot_auroc_down_vs_up_neg_llr": auroc(chal.label3[labelled] < 0, -llr[labelled]),
    }
    print(f"zero-shot scored {len(llr)} challenge SNVs in {time.time() - t0:.0f} s")

    init_ray(RuntimeConfig(num_cpus=None))
    labels = write_labels_tsv(train, cache / "cagi5_training_labels.tsv")
    out = cache / "finetuned"
    summary = run_finetune(a.model, str(labels), str(fasta), str(out),
                           FinetuneConfig(region_bp=a.region_bp, val_fraction=0.2), window=a.window)
    _, prob = score(str(out), chal)
    table.update({
        "finetuned_auroc": auroc(y, prob), "finetuned_auprc": auprc(y, prob),
        "finetuned_validation_auroc (release split, by region)": summary["validation"]["auroc"],
        "finetune_epochs": summary["epochs_run"], "temperature": summary["temperature"],
        "challenge_positive_rate": float(y.mean()),
    })
    print(f"{'metric (challenge split)':<55} value")
    for k, val in table.items():
        print(f"{k:<55} {val:.4f}" if isinstance(val, float) else f"{k:<55} {val}")
    (cache / "cagi5_results.json").write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

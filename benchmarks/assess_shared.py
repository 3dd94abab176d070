"""`raygen assess` and `raygen drift` end to end on the shared data: the runs behind the README's pictures.

    .venv/bin/python benchmarks/assess_shared.py --model DIR [--cache /tmp/raygen-assess] [--window 64]

1. CAGI5 (regulatory saturation mutagenesis): the 14 element sequences as a FASTA and every SNV as a VCF in
   element coordinates (raygen.train.cagi5), written to --cache (never the repo); labels: 1 = changes
   expression (CAGI label +1/-1), 0 = no effect. Training (release) split -> calibration labels, challenge
   split -> assessed labels.
2. With --finetune: `raygen train finetune` of --model on the TRAINING split (so RAYGEN_PROB exists);
   `raygen score` of every SNV with the resulting model.
3. `raygen assess` of the challenge labels, mappings and PP3/BP4 thresholds fitted on the training labels
   (note: with --finetune those are also the head's training data, so the thresholds are chosen on data the
   model has seen; the page shows how they hold on the challenge split, which neither saw), plus
   `--write-profile` of the whole scored run.
4. `raygen drift`: a random half of the scored records (a resample of the baseline: expected quiet) and the
   records of four elements (MYC, SORT1, IRF6, ZFAND3: another GC mix, expected to drift).
5. GIAB: `raygen call` on the shared NA12878 BAM slice, then `raygen assess --truth --calls --bam` (precision
   and recall per read depth and GC stratum; the truth's confident BED covers only 9 kb, so the whole truth
   span is used and FPs outside the BED are not backed by the truth).

Every command is printed before it runs, so each step can be rerun by hand.
"""

from __future__ import annotations

import argparse
import gzip
import random
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RAYGEN = [sys.executable, "-m", "raygen.cli"]
SHIFTED = ("MYC", "SORT1", "IRF6", "ZFAND3")


def run(*args, ok=(0,)) -> int:
    cmd = [*RAYGEN, *map(str, args)]
    print("$ raygen " + " ".join(shlex.quote(str(a)) for a in args), flush=True)
    rc = subprocess.run(cmd).returncode
    if rc not in ok:
        raise SystemExit(f"exit {rc}")
    return rc


def split_vcf(scored: Path, out_dir: Path) -> tuple[Path, Path]:
    """(a random half of the records, the records of the SHIFTED elements) as plain VCFs."""
    with gzip.open(scored, "rt") as fh:
        lines = fh.read().splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    recs = [ln for ln in lines if not ln.startswith("#")]
    random.seed(0)
    half = sorted(random.sample(range(len(recs)), len(recs) // 2))
    resample, shifted = out_dir / "resample.vcf", out_dir / "shifted.vcf"
    resample.write_text("\n".join(head + [recs[i] for i in half]) + "\n")
    shifted.write_text("\n".join(head + [r for r in recs if r.split("\t", 1)[0] in SHIFTED]) + "\n")
    return resample, shifted


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="masked-LM model dir (e.g. from raygen train pretrain)")
    ap.add_argument("--cache", default="/tmp/raygen-assess")
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--finetune", action="store_true", help="fine-tune a head on the training split first")
    a = ap.parse_args()

    from raygen.train.cagi5 import (
        read_elements,
        read_variants,
        write_element_fasta,
        write_labels_tsv,
        write_variants_vcf,
    )

    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    elements = read_elements(DATA / "cagi5_regsat")
    v = read_variants(DATA / "cagi5_regsat", elements)
    fasta = write_element_fasta(elements, cache)
    vcf = write_variants_vcf(v, elements, cache / "cagi5.vcf.gz")
    training = write_labels_tsv(v.subset(v.split == "training"), cache / "training.tsv")
    challenge = write_labels_tsv(v.subset(v.split == "challenge"), cache / "challenge.tsv")
    model = a.model
    if a.finetune:
        model = cache / "finetuned"
        run("train", "finetune", "--base", a.model, "--labels", training, "-f", fasta, "--out", model,
            "--region-bp", 100, "--window", a.window, "-q")
    scored = cache / "cagi5.scored.vcf.gz"
    run("score", vcf, "-f", fasta, "--model", model, "--window", a.window, "-o", scored, "-q")
    profile = cache / "cagi5.profile.json"
    run("assess", scored, "--labels", challenge, "--calibration-labels", training, "-f", fasta,
        "--write-profile", profile, "-o", cache / "cagi5_assess")
    resample, shifted = split_vcf(scored, cache)
    run("drift", profile, resample, "-f", fasta, ok=(0, 3))
    run("drift", profile, shifted, "-f", fasta, "--plot", cache / "drift.png", ok=(0, 3))
    giab = DATA / "giab_chr20"
    calls = cache / "raygen_calls.vcf.gz"
    run("call", giab / "NA12878_S1.chr20.10_10p1mb.bam", "-f", giab / "ucsc.hg19.chr20.unittest.fasta.gz",
        "--regions", "chr20:9999900-10100100", "-o", calls, "-q")
    run("assess", "--truth", giab / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz", "--calls", calls,
        "-f", giab / "ucsc.hg19.chr20.unittest.fasta.gz", "--bam", giab / "NA12878_S1.chr20.10_10p1mb.bam",
        "-o", cache / "giab_assess")
    print(f"pages: {cache}/cagi5_assess.html {cache}/giab_assess.html; drift picture: {cache}/drift.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

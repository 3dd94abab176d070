"""``raygen train caller``: train the CNN genotyper of ``raygen call`` on a BAM with a truth VCF.

``run`` parses the flags into a :class:`raygen.config.CallConfig`, calls :func:`raygen.train.caller.train_caller`
and prints its summary; that function (and ``raygen.cli``, which imports this module) is imported inside
``run`` so other commands start without torch and Ray Train.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from raygen.config import DEFAULTS
from raygen.errors import UsageError
from raygen.runtime import init_ray


def register(tsub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    c = DEFAULTS.call
    p = tsub.add_parser(
        "caller",
        parents=[common],
        help="train the pileup-CNN genotyper for `raygen call --model DIR`",
        description="Find candidates in the BAM exactly as `raygen call` does, label each candidate allele with the "
        "truth genotype after normalizing both (allele-aware, so indel representations agree), hold out whole "
        "regions (every k-th region of --region-bp, k = 1/val_fraction) for validation, and train the CNN with "
        "Ray Train (TorchTrainer, --workers). The best validation checkpoint becomes DIR (caller.safetensors, "
        "caller.json, MODEL_CARD.md). Simulated data works well: `raygen simulate --coverage 30 ...` gives "
        "reads.bam, reference.fa and truth.vcf.gz. Never evaluate the model on the regions it was trained on.",
    )
    p.add_argument("--bam", required=True, help="coordinate-sorted BAM with reads of the truth sample")
    p.add_argument("-f", "--reference", required=True, help="reference FASTA")
    p.add_argument("--truth", required=True, help="truth VCF with genotypes")
    p.add_argument("--confident", metavar="BED", help="only candidates inside these regions are used")
    p.add_argument("--regions", metavar="BED|CHR:START-END", help="regions to train on (default: every contig)")
    p.add_argument("--out", required=True, metavar="DIR", help="model directory to write")
    p.add_argument("--epochs", type=int, default=c.train_epochs, help=f"(default {c.train_epochs})")
    p.add_argument("--workers", type=int, default=c.train_workers, help=f"Ray Train workers (default {c.train_workers})")
    p.add_argument("--region-bp", type=int, default=c.train_shard_bp, help=f"region size for shards and the validation split (default {c.train_shard_bp})")
    p.add_argument("--min-alt-fraction", type=float, default=c.train_min_alt_fraction,
                   help=f"candidate threshold while training (default {c.train_min_alt_fraction}; `raygen call` uses "
                   f"{c.min_alt_fraction}): lower gives more hom-ref negatives to learn from")
    p.add_argument("--rename-contigs", metavar="add-chr|strip-chr|TSV", help="map BAM contig names to the FASTA's")
    p.add_argument("--seed", type=int, default=c.train_seed)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raygen.cli import runtime_config
    from raygen.train.caller import train_caller

    if args.epochs < 1 or args.workers < 1 or args.region_bp < 1000:
        raise UsageError("--epochs and --workers must be >= 1 and --region-bp >= 1000")
    init_ray(runtime_config(args))
    cfg = dataclasses.replace(DEFAULTS.call, train_shard_bp=args.region_bp, min_alt_fraction=args.min_alt_fraction,
                              train_epochs=args.epochs, train_workers=args.workers, train_seed=args.seed)
    summary = train_caller(args.bam, args.reference, args.truth, args.out, confident_bed=args.confident,
                           regions=args.regions, cfg=cfg, rename_contigs=args.rename_contigs)
    print(json.dumps(summary, indent=2))
    return 0

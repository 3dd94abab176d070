"""``raygen train``: pretrain DNA language models, fine-tune variant-effect heads, evaluate bits/base.

Each ``run_*`` parses its flags into the config object, calls one function of ``raygen.train`` and prints
the summary. Those functions (and ``raygen.cli``, which imports this module) are imported inside the
``run_*`` functions: ``raygen --help`` and every other command start without loading torch and Ray Train.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from raygen.commands import DefaultsHelpFormatter, train_caller
from raygen.config import DEFAULTS
from raygen.errors import require
from raygen.io.atomic import atomic_path
from raygen.models.arch import RECIPES, get_recipe
from raygen.provenance import display_path
from raygen.runtime import init_ray

P = DEFAULTS.pretrain
F = DEFAULTS.finetune


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "train", parents=[common], help="pretrain DNA language models and fine-tune variant-effect heads (Ray Train)",
        description="Train models with Ray Train. `pretrain` trains a DNA language model from a FASTA; "
        "`finetune` trains a variant-effect head on labelled variants; `evaluate` compares a model's masked-base "
        "bits/base with k-mer count models on held-out sequence.",
    )
    tsub = p.add_subparsers(dest="train_command", metavar="SUBCOMMAND", required=True)
    _register_pretrain(tsub, common)
    _register_evaluate(tsub, common)
    _register_finetune(tsub, common)
    train_caller.register(tsub, common)


def _register_pretrain(tsub, common) -> None:
    p = tsub.add_parser(
        "pretrain", parents=[common], formatter_class=DefaultsHelpFormatter,
        help="pretrain a DNA language model from a FASTA (masked or causal LM)",
        description="Pretrain a DNA language model from scratch on random windows of a FASTA with Ray Train "
        "(TorchTrainer, DDP). Windows come from the BED regions (default: every contig), are reverse-complemented "
        "at random, and N-rich ones are skipped; whole blocks are held out for validation. Progress (loss, bits "
        "per base, tokens/s) shows on a bar and goes to DIR/metrics.jsonl; checkpoints go to DIR/train_state and "
        "a killed worker resumes from the latest one. The result in DIR is a Hugging Face model dir (config, "
        "safetensors, tokenizer, README.md model card) for `raygen score --model DIR` or plain transformers.",
    )
    p.add_argument("-f", "--reference", required=True, metavar="REF.fa",
                   help="FASTA to train on (plain or bgzipped; a missing .fai is built)")
    p.add_argument("--out", required=True, metavar="DIR", help="output model dir")
    p.add_argument("--regions", metavar="BED", help="train only on these intervals (0-based BED)")
    p.add_argument("--contigs", metavar="NAMES", help="comma-separated contigs to train on (default: all)")
    p.add_argument("--arch", default=P.arch, help="model recipe: see `raygen train pretrain --list-arch`")
    p.add_argument("--list-arch", action="store_true", help="list model recipes and exit")
    p.add_argument("--objective", choices=("mlm", "clm"), default=P.objective, help="masked or causal language model")
    p.add_argument("--context", type=int, default=P.context, help="bases per training window")
    p.add_argument("--workers", type=int, default=P.workers, help="Ray Train workers (DDP ranks)")
    p.add_argument("--cpus-per-worker", type=float, default=P.cpus_per_worker, help="CPUs (= torch threads) per worker")
    p.add_argument("--gpus-per-worker", type=float, default=P.gpus_per_worker, help="GPUs per worker (0: CPU)")
    p.add_argument("--steps", type=int, default=P.steps, help="optimizer steps (upper bound with --time-limit)")
    p.add_argument("--time-limit", type=float, metavar="MINUTES", help="stop cleanly after this much training time and save")
    p.add_argument("--batch-size", type=int, default=P.batch_size, help="windows per worker per step")
    p.add_argument("--lr", type=float, default=P.lr, help="peak learning rate")
    p.add_argument("--mask-prob", type=float, default=P.mask_prob, help="MLM masking rate")
    p.add_argument("--checkpoint-every", type=int, default=P.checkpoint_every, help="steps between checkpoints")
    p.add_argument("--val-fraction", type=float, default=P.val_fraction, help="fraction of blocks held out")
    p.add_argument("--block-bp", type=int, default=P.block_bp, help="validation block size")
    p.add_argument("--max-failures", type=int, default=P.max_failures, help="worker failures to recover from")
    p.add_argument("--resume", action="store_true", help="continue the run already in DIR from its latest checkpoint")
    p.add_argument("--seed", type=int, default=P.seed)
    p.set_defaults(func=run_pretrain)


def _register_evaluate(tsub, common) -> None:
    p = tsub.add_parser(
        "evaluate", parents=[common], formatter_class=DefaultsHelpFormatter,
        help="masked-base bits/base of a model vs k-mer count models on held-out sequence",
        description="Score every 16th base of held-out windows (masked one at a time in context) with a masked LM "
        "and with bidirectional k+k-mer count models fitted on the training contigs; print bits/base per predictor "
        "(2.0 = uniform) as a table and optionally as JSON.",
    )
    p.add_argument("--model", required=True, metavar="DIR", help="masked-LM model dir (single-nucleotide tokenizer)")
    p.add_argument("-f", "--reference", required=True, metavar="REF.fa")
    p.add_argument("--train-contigs", required=True, help="comma-separated contigs the k-mer models are fitted on")
    p.add_argument("--eval-contigs", required=True, help="comma-separated held-out contigs to score")
    p.add_argument("--context", type=int, default=P.context, help="bases per evaluation window")
    p.add_argument("--windows", type=int, default=4000, help="held-out windows to score")
    p.add_argument("--kmers", default="2,3,4", help="k values of the k+k-mer baselines")
    p.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    p.set_defaults(func=run_evaluate)


def _register_finetune(tsub, common) -> None:
    p = tsub.add_parser(
        "finetune", parents=[common], formatter_class=DefaultsHelpFormatter,
        help="fine-tune a variant-effect head on labelled SNVs",
        description="Fine-tune a variant-effect head on a labels table (tab-separated: chrom, pos (1-based), ref, "
        "alt, label 0/1, optional score; a header line starting with `chrom` is allowed). The frozen base model "
        "gives features for each SNV (masked-centre hidden state and base log-probabilities); variants are split "
        "into training and validation BY GENOMIC REGION; the head is trained with Ray Train, stopped early on "
        "validation AUROC and calibrated by temperature scaling. OUT is a copy of the base model with the head "
        "inside: `raygen score --model OUT` adds RAYGEN_PROB. Metrics: OUT/variant_head.json, README.md.",
    )
    p.add_argument("--base", required=True, metavar="DIR|ID", help="masked-LM model dir (or hub id with network)")
    p.add_argument("--labels", required=True, metavar="TSV", help="labelled variants: chrom pos ref alt label [score]")
    p.add_argument("-f", "--reference", required=True, metavar="REF.fa", help="reference the positions refer to")
    p.add_argument("--out", required=True, metavar="DIR", help="output model dir (base model + head)")
    p.add_argument("--window", type=int, default=DEFAULTS.score.window, help="reference bases around each variant")
    p.add_argument("--region-bp", type=int, default=F.region_bp, help="size of the regions the split keeps whole")
    p.add_argument("--val-fraction", type=float, default=F.val_fraction, help="fraction of regions for validation")
    p.add_argument("--epochs", type=int, default=F.epochs)
    p.add_argument("--patience", type=int, default=F.patience, help="early-stopping patience in epochs")
    p.add_argument("--lr", type=float, default=F.lr)
    p.add_argument("--hidden-units", type=int, default=F.hidden_units, help="head MLP width (0: logistic regression)")
    p.add_argument("--skip-mismatches", action="store_true",
                   help="skip (and count, in OUT/labels_rejects.tsv) rows whose REF disagrees with the reference "
                   "instead of stopping with an error")
    p.add_argument("--device", default="auto", help="device for the frozen base model: auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=F.seed)
    p.set_defaults(func=run_finetune)


def run_finetune(args: argparse.Namespace) -> int:
    from raygen.cli import runtime_config
    from raygen.train.finetune import run_finetune as _run

    require(args.window >= 8, "--window must be >= 8")
    require(0 < args.val_fraction < 1, "--val-fraction must be in (0, 1)")
    require(args.region_bp >= 1, "--region-bp must be >= 1")
    init_ray(runtime_config(args))
    cfg = dataclasses.replace(F, epochs=args.epochs, lr=args.lr, patience=args.patience, hidden_units=args.hidden_units,
                              region_bp=args.region_bp, val_fraction=args.val_fraction, seed=args.seed)
    s = _run(args.base, args.labels, args.reference, args.out, cfg, window=args.window,
             skip_mismatches=args.skip_mismatches, device=args.device)
    v, z = s["validation"], s["validation_zero_shot"]
    print(f"head written to {args.out}: {s['rows']['used']} SNVs ({s['rows']['skipped']} rows skipped), "
          f"validation AUROC {v['auroc']:.4f} AUPRC {v['auprc']:.4f} (zero-shot |LLR| AUROC {z['auroc_abs_llr']:.4f}), "
          f"temperature {s['temperature']:.3f}, {s['epochs_run']} epochs")
    return 0


def run_pretrain(args: argparse.Namespace) -> int:
    from raygen.cli import runtime_config
    from raygen.train.pretrain import pretrain

    if args.list_arch:
        for name, r in RECIPES.items():
            print(f"{name:<14} {r.family:<9} {r.layers} x {r.hidden}  {r.description}")
        return 0
    get_recipe(args.arch)
    require(args.workers >= 1, "--workers must be >= 1")
    require(args.context >= 16, "--context must be >= 16 bases")
    require(args.steps >= 1, "--steps must be >= 1")
    require(0 < args.mask_prob < 1, "--mask-prob must be in (0, 1)")
    require(0 <= args.val_fraction < 1, "--val-fraction must be in [0, 1)")
    require(args.time_limit is None or args.time_limit > 0, "--time-limit must be > 0 minutes")
    require(args.cpus_per_worker > 0 or args.gpus_per_worker > 0, "give each worker CPUs or GPUs")
    cfg = dataclasses.replace(
        P, arch=args.arch, objective=args.objective, context=args.context, workers=args.workers,
        cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker, steps=args.steps,
        time_limit_s=None if args.time_limit is None else args.time_limit * 60.0, batch_size=args.batch_size,
        lr=args.lr, mask_prob=args.mask_prob, checkpoint_every=args.checkpoint_every, val_fraction=args.val_fraction,
        block_bp=args.block_bp, max_failures=args.max_failures, seed=args.seed,
    )
    s = pretrain(args.reference, args.out, cfg, regions_bed=args.regions,
                 contigs=args.contigs.split(",") if args.contigs else None, resume=args.resume,
                 runtime=runtime_config(args), quiet=args.quiet)
    val = s.get("val_bits_per_base")
    print(f"model written to {display_path(s['out'])}: {s.get('step')} steps, {s.get('train_s', 0):.0f} s training, "
          f"validation {'n/a' if val is None else format(val, '.4f')} bits/base")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from raygen.train.evaluate import evaluate_model_vs_kmers, format_table

    table = evaluate_model_vs_kmers(
        args.model, args.reference, args.train_contigs.split(","), args.eval_contigs.split(","),
        context=args.context, windows=args.windows, ks=tuple(int(k) for k in args.kmers.split(",")),
    )
    print(format_table(table))
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(table, indent=2))
    return 0

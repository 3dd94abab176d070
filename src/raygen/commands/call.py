"""``raygen call``: call SNVs and indels from a BAM, region-sharded on Ray, into a bgzipped VCF."""

from __future__ import annotations

import argparse
import dataclasses
import json

from raygen.cli import runtime_config
from raygen.config import DEFAULTS
from raygen.errors import UsageError
from raygen.runtime import init_ray


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    c = DEFAULTS.call
    p = sub.add_parser(
        "call",
        parents=[common],
        help="call germline SNVs and indels from a BAM (classical Bayesian or trained CNN genotyper)",
        description="Cut the regions into shards (--shard-bp) read with --margin-bp of overlap, call each shard "
        "as a Ray task, and write one bgzipped, tabix-indexed VCF 4.2 (atomically). Candidates come from "
        "pileups of reads passing the filters (unmapped, secondary, supplementary, duplicate and QC-fail reads "
        "and MAPQ < --min-mapq are skipped; bases below --min-bq are not counted); indels are left-aligned and "
        "reads are re-scored against the REF and ALT haplotypes around each indel. Error rates come from the BAM's "
        "own error profile (see `raygen profile`); a site model (--site-model) turns the evidence at each call "
        "(strand, MAPQ, soft clips and extra mismatches of the ALT reads, depth, repeats) into P(real), vetoes "
        "calls below its threshold and writes QUAL = the calibrated P(real) in Phred (QUAL >= 20 is a "
        "high-precision subset; docs/call.md gives the measured precision). Every candidate is written: FILTER PASS (variant), "
        "LowQual[;reasons] (variant below the threshold), RefCall (genotyped hom-ref). FORMAT: GT GQ DP "
        "AD VAF PL. If a shard fails (e.g. a truncated BAM), the other shards are still written and the failed "
        "regions go to OUT.failed_shards.bed; the exit code is then 1.",
    )
    p.add_argument("bam", help="coordinate-sorted BAM or CRAM (a CRAM is decoded against -f; an index is built "
                   "beside it if missing)")
    p.add_argument("-f", "--reference", required=True, metavar="REF.fa", help="reference FASTA (plain or bgzipped)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.vcf.gz", help="output VCF (bgzipped, with .tbi)")
    p.add_argument("--regions", metavar="BED|CHR:START-END", help="BED file or comma-separated regions (1-based, inclusive); default: every contig "
                   "the BAM index holds mapped reads on")
    p.add_argument("--model", default="classical", help="'classical' (Bayesian, no training) or a model dir from `raygen train caller`")
    p.add_argument("--sample", help="sample name in the VCF (default: the BAM's read-group SM)")
    p.add_argument("--rename-contigs", metavar="add-chr|strip-chr|TSV", help="map BAM contig names to the FASTA's (e.g. BAM '20' vs FASTA 'chr20')")
    p.add_argument("--shard-bp", type=int, default=c.shard_bp, help=f"bp per Ray task (default {c.shard_bp})")
    p.add_argument("--margin-bp", type=int, default=c.margin_bp, help=f"reads fetched beyond each shard (default {c.margin_bp})")
    p.add_argument("--min-bq", type=int, default=c.min_base_quality, help=f"minimum base quality (default {c.min_base_quality})")
    p.add_argument("--min-mapq", type=int, default=c.min_mapping_quality, help=f"minimum mapping quality (default {c.min_mapping_quality})")
    p.add_argument("--count-both-mates", dest="mate_overlap", action="store_false",
                   help="count a base both mates of an overlapping read pair read twice (bcftools mpileup -x); by "
                        "default it counts once, as bcftools counts it: one fragment, one observation")
    p.add_argument("--min-qual", type=float, default=c.min_qual, help=f"classical QUAL below this gives FILTER LowQual (default {c.min_qual:g}); with a site model such "
                        "calls are only kept if the model rescues them")
    p.add_argument("--site-model", default=c.site_model, metavar="default|none|FILE",
                   help="QUAL/FILTER model over the evidence features: the shipped one (fitted on GIAB NA12878 and simulated genomes, see "
                        "raygen/calling/models/MODEL_CARD.md), 'none' (classical QUAL and --min-qual), or a JSON file")
    p.add_argument("--site-min-qual", type=float, default=None,
                   help="with a site model: calibrated QUAL a PASS call (or a rescue) needs (default: the model's "
                        "cross-validated P(real) thresholds)")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # the pipeline imports Ray/pysam/torch: loaded when the command runs, so `raygen --help` stays fast
    from raygen.calling.pipeline import call_bam, shard_error_summary

    if args.shard_bp < 1000 or args.margin_bp < 0:
        raise UsageError("--shard-bp must be >= 1000 and --margin-bp >= 0")
    cfg = dataclasses.replace(
        DEFAULTS.call, shard_bp=args.shard_bp, margin_bp=args.margin_bp, min_base_quality=args.min_bq,
        min_mapping_quality=args.min_mapq, min_qual=args.min_qual, site_model=args.site_model,
        site_min_qual=args.site_min_qual, mate_overlap=args.mate_overlap,
    )
    init_ray(runtime_config(args))
    summary = call_bam(
        args.bam, args.reference, args.output, regions=args.regions, model=args.model, sample=args.sample,
        cfg=cfg, rename_contigs=args.rename_contigs, progress=not args.quiet,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        f = summary["by_filter"]
        mbp = summary["bp"] / 1e6
        print(f"wrote {summary['out']}: {summary['records']} records (PASS {f.get('PASS', 0)}, LowQual "
              f"{f.get('LowQual', 0)}, RefCall {f.get('RefCall', 0)}) from {summary['candidates']} candidates over "
              f"{summary['bp']:,} bp in {summary['shards']} shard(s); {summary['reads']['used']:,} reads used of "
              f"{summary['reads']['total']:,}; {summary['core_seconds']:.1f} core-s "
              f"({summary['core_seconds'] / max(mbp, 1e-9):.1f} core-s/Mbp)")
    shard_error_summary(summary)
    return 0

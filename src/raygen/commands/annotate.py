"""``raygen annotate``: join variants to annotation sources (ClinVar, gnomAD, truth sets) on the normalized allele key."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time

from raygen.commands import add_ray_choice
from raygen.cli import runtime_config
from raygen.config import DEFAULTS
from raygen.errors import UsageError

log = logging.getLogger("raygen.annotate")

DESCRIPTION = """\
Add INFO fields of annotation sources to the query's variants, matched on the normalized allele key:
CHROM, POS, REF, ALT after both sides are normalized with the same reference (-f) as `raygen normalize -m
-any -c x` does (left-aligned, multi-allelics split), so an indel written at a different position in the
source still meets the query's. Field F of source NAME arrives as INFO/NAME_F with the source's Number and
Type (Flags stay Flags); the header names each field's source file, date and sha256 (##INFO Description,
one ##raygen_annotate_source line per source and the ##raygen_provenance line).

Sources: VCF/VCF.gz/BCF or a raygen Parquet dataset, given as NAME=FILE[:F1,F2,...] (default: every INFO
field of the source). Each is normalized once into contig-partitioned Parquet under $RAYGEN_CACHE/annotate,
keyed by the source's and the reference's sha256; later runs reuse it. A source with more than 5% of its
records rejected against the reference (REF mismatches, contigs it lacks) is refused as another build.

The query runs in this process when small; a large bgzipped + indexed query (or --ray) runs as a Ray Data
job sharded by region, each shard joined against the matching source slice with Arrow. Output records are
the normalized query records. Query records that cannot be processed (malformed, REF mismatch, contig
missing from -f) go to --rejects FILE with file, line and reason, and are counted in the summary."""

EXAMPLES = """\
examples:
  raygen annotate calls.vcf.gz -f ref.fa --source clinvar=clinvar.vcf.gz:CLNSIG,CLNREVSTAT -o out.vcf.gz
  raygen annotate calls.vcf.gz -f ref.fa --source gnomad=gnomad.vcf.gz:AF,AC --source truth=truth.vcf.gz:platforms -o out.bcf"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    cfg = DEFAULTS.annotate
    p = sub.add_parser("annotate", parents=[common], help="join variants to annotation sources (ClinVar, gnomAD, ...) "
                       "on the normalized allele key", description=DESCRIPTION, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="query VCF/VCF.gz/BCF")
    p.add_argument("--source", "-a", action="append", default=[], metavar="NAME=FILE[:FIELDS]",
                   help="annotation source (repeatable): NAME prefixes its fields (NAME_FIELD); FIELDS comma-separated "
                   "INFO keys (default: all)")
    p.add_argument("-f", "--fasta-ref", required=True, help="reference FASTA both sides are normalized against")
    p.add_argument("-o", "--output", default="-", help="output file; the suffix picks the format (.vcf, .vcf.gz + .tbi, "
                   ".bcf + .csi); '-' (default) writes VCF to stdout")
    p.add_argument("--parquet", metavar="DIR", help="also write the annotated records as Parquet (typed INFO_NAME_FIELD columns)")
    p.add_argument("--rejects", metavar="FILE", help="write rejected query records here (TSV: SOURCE LINE REASON TEXT)")
    p.add_argument("--no-index", action="store_true", help="do not write .tbi/.csi beside .vcf.gz/.bcf output")
    p.add_argument("--no-version", action="store_true", help="leave out the ##raygen_provenance line")
    add_ray_choice(p, cfg.shard_bp, "query")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # the pipeline imports pysam/pyarrow.dataset (and Ray on its Ray path): loaded when the command runs
    from raygen.annotate.pipeline import run_annotate
    from raygen.annotate.sources import parse_source

    if not args.source:
        raise UsageError("give at least one --source NAME=FILE[:FIELDS]")
    if args.shard_bp < 1:
        raise UsageError(f"--shard-bp must be >= 1, got {args.shard_bp}")
    specs = [parse_source(s) for s in args.source]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise UsageError(f"--source names must differ (got {', '.join(names)})")
    t0 = time.perf_counter()
    cfg = dataclasses.replace(DEFAULTS.annotate, shard_bp=args.shard_bp)
    summary = run_annotate(args.input, args.output, specs, args.fasta_ref, rejects_path=args.rejects,
                           parquet_dir=args.parquet, use_ray=args.use_ray, cfg=cfg, index=not args.no_index,
                           runtime=runtime_config(args), provenance=not args.no_version)
    print(summary.summary_line(), file=sys.stderr)
    log.info("annotated %d records in %.2f s", summary.counts.written, time.perf_counter() - t0)
    return 0

"""``raygen normalize``: a drop-in for ``bcftools norm`` that runs in-process or as a sharded Ray Data job."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from raygen.commands import add_ray_choice
from raygen.cli import runtime_config
from raygen.config import DEFAULTS
from raygen.errors import UsageError
from raygen.normalize.options import NormalizeOptions, parse_multiallelics


log = logging.getLogger("raygen.normalize")

DESCRIPTION = """\
Left-align and normalize indels, check REF against the reference, split multi-allelic records into
biallelic ones or join biallelic records into multi-allelic ones: `bcftools norm` (1.24) with the same
flags and the same output records (Tan, Abecasis & Kang 2015: left-alignment plus parsimony).

Input: VCF (plain, gzip, bgzip) or BCF, or '-' for stdin. Output follows the -o suffix: .vcf, .vcf.gz
(bgzipped + .tbi), .bcf (+ .csi); no -o or '-o -' writes uncompressed VCF to stdout. Output is sorted by
contig (input order) and position, also when left-alignment moves a record before its neighbours.

Small or unindexed inputs are processed in this process; large bgzipped + indexed inputs run as a Ray
Data job sharded by region (--ray / --no-ray force either). Malformed records (wrong column count,
non-numeric POS, illegal alleles, contig missing from the FASTA, truncated BGZF, REF mismatch under -c x)
go to --rejects FILE with file, line and reason; the job finishes and the summary line on stderr shows
total/split/joined/realigned/... and rejected counts. -c e (the default with -f) stops at the first REF
mismatch naming the record, as bcftools does.

-i/-e take bcftools' filtering expressions (records they leave out pass through untouched); -g takes a GFF3
and right-aligns indels in forward-strand transcripts. Not supported (rejected with exit 2): -r/-R/-t/-T."""

EXAMPLES = """\
examples:
  raygen normalize in.vcf.gz -f ref.fa -m -any -o out.vcf.gz
  raygen normalize in.vcf.gz -f ref.fa -c x --rejects rejects.tsv -o out.vcf.gz --parquet out_parquet
  raygen normalize in.bcf -m +both -d exact -o -"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    cfg = DEFAULTS.normalize
    p = sub.add_parser("normalize", parents=[common], help="bcftools-norm-exact normalization (left-align, split/join)",
                       description=DESCRIPTION, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="VCF/VCF.gz/BCF to normalize, or '-' for stdin")
    p.add_argument("-o", "--output", default="-", help="output file; the suffix picks the format (.vcf, .vcf.gz, .bcf); "
                   "'-' (default) writes uncompressed VCF to stdout")
    p.add_argument("-f", "--fasta-ref", help="reference FASTA (indexed or indexable); needed for realignment and -c")
    p.add_argument("-c", "--check-ref", default="e", metavar="e|w|x|s",
                   help="with -f: REF mismatch -> exit (e, default), warn (w), exclude into --rejects (x), set from "
                   "the reference (s); letters combine (e.g. ws)")
    p.add_argument("-m", "--multiallelics", metavar="-|+TYPE",
                   help="split multiallelics (-) or join biallelics (+); TYPE snps|indels|both|any [both]")
    p.add_argument("-d", "--rm-dup", metavar="TYPE", help="remove duplicates: snps|indels|both|all|exact|none")
    p.add_argument("-D", "--remove-duplicates", action="store_true", help="alias of -d none (deprecated in bcftools)")
    p.add_argument("-a", "--atomize", action="store_true", help="decompose complex variants (MNVs -> consecutive SNVs, complex -> SNVs + indel)")
    p.add_argument("--atom-overlaps", default="*", choices=["*", "."],
                   help="with -a: use '*' (default) or missing '.' for overlapping alleles")
    p.add_argument("--old-rec-tag", metavar="STR", help="annotate modified records with INFO/STR=CHR|POS|REF|ALT|IDX")
    p.add_argument("--keep-sum", metavar="TAG,..", default="", help="keep the vector sum of these Number=R tags when splitting")
    p.add_argument("--multi-overlaps", default="0", choices=["0", "."],
                   help="when splitting, fill other ALTs in GT with the reference (0, default) or missing (.)")
    p.add_argument("-N", "--do-not-normalize", "--no-realign", dest="no_realign", action="store_true",
                   help="skip realignment (only REF check/fix); -NNUM (glued) skips only events longer than NUM bp")
    p.add_argument("--max-realign-len", dest="max_indel_len", type=int, help=argparse.SUPPRESS)
    p.add_argument("-S", "--sort", default="chr_pos", choices=["chr_pos", "pos", "lex"], type=str.lower,
                   help="order of records at one position: input order (pos or chr_pos, default) or REF/ALT text (lex)")
    p.add_argument("-s", "--strict-filter", action="store_true", help="with -m +: joined site is PASS only if all parts PASS")
    p.add_argument("--force", action="store_true", help="drop malformed Number=A/R/G tags instead of rejecting the record")
    p.add_argument("-w", "--site-win", type=int, default=1000, help="accepted for compatibility; raygen sorts the whole output")
    p.add_argument("--no-version", action="store_true", help="do not add the ##raygen_provenance line (raygen version, command, reference checksum), as bcftools "
                   "leaves out its version and command lines")
    p.add_argument("-O", "--output-type", help="accepted for compatibility; the -o suffix decides the format")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads that compress .vcf.gz output beside the main one, as bcftools' --threads; "
                        "from ~32 MiB of output text they run in one worker process "
                        "(default: the usable cores, at most 4; 0: none, and no thread reading or normalizing "
                        "beside the main one either); --num-cpus sizes the local Ray")
    p.add_argument("-W", "--write-index", action="store_true",
                   help="accepted for compatibility: raygen always indexes .vcf.gz/.bcf output (see --no-index)")
    p.add_argument("--no-index", action="store_true", help="do not write .tbi/.csi beside .vcf.gz/.bcf output")
    p.add_argument("--rejects", metavar="FILE", help="write rejected records here (TSV: SOURCE LINE REASON TEXT)")
    p.add_argument("--parquet", metavar="DIR", help="also write the normalized records as Parquet (partitioned by contig)")
    add_ray_choice(p, cfg.shard_bp, "input")
    p.add_argument("-i", "--include", metavar="EXPR", help="normalize only records for which EXPR holds (bcftools' "
                   "expression language; other records pass through untouched)")
    p.add_argument("-e", "--exclude", metavar="EXPR", help="normalize only records for which EXPR does not hold")
    p.add_argument("-g", "--gff-annot", metavar="FILE", help="GFF3 annotation: right-align indels in forward-strand "
                   "transcripts (HGVS 3' rule), as bcftools norm -g")
    for flag in ("-r", "--regions", "-R", "--regions-file",
                 "-t", "--targets", "-T", "--targets-file"):
        p.add_argument(flag, dest=f"unsupported_{flag.lstrip('-').replace('-', '_')}", help=argparse.SUPPRESS)
    p.set_defaults(func=run)
    _accept_bcftools_spellings(p)


def _accept_bcftools_spellings(p: argparse.ArgumentParser) -> None:
    """Let argparse read bcftools' spellings: ``-m -any`` (a value starting with '-') and ``-N1000``
    (``-Nc`` is ``-N`` with the argument ``c`` there, an error, as in bcftools 1.24)."""
    orig = p._parse_optional

    def parse_optional(arg: str):
        if arg in ("-any", "-both", "-snps", "-indels"):
            return None  # a value of -m, not an option
        glued = arg[2:] if arg.startswith("-N") and len(arg) > 2 else (
            arg.split("=", 1)[1] if arg.startswith("--no-realign=") else None)
        if glued is not None:  # bcftools reads -NNUM / --no-realign=NUM with strtod, and nothing else
            try:
                value = float(glued)
            except ValueError:
                value = -1.0
            if not 0 <= value <= 2 ** 32 - 1:
                p.error(f"could not parse argument: -N, --no-realign {glued} (a number glued to -N, e.g. -N1000)")
            return orig(f"--max-realign-len={int(value)}")
        return orig(arg)

    p._parse_optional = parse_optional  # type: ignore[method-assign]


def _unsupported(args: argparse.Namespace) -> None:
    names = {"r": "-r/--regions", "regions": "-r/--regions",
             "R": "-R/--regions-file", "regions_file": "-R/--regions-file", "t": "-t/--targets",
             "targets": "-t/--targets", "T": "-T/--targets-file", "targets_file": "-T/--targets-file"}
    for key, flag in names.items():
        if getattr(args, f"unsupported_{key}", None) is not None:
            raise UsageError(f"{flag} is not supported by raygen normalize (filter with `bcftools view` first)")


def options_from_args(args: argparse.Namespace):
    _unsupported(args)
    rm_dup = args.rm_dup or ("none" if args.remove_duplicates else None)
    return NormalizeOptions(
        fasta=args.fasta_ref,
        check_ref=args.check_ref,
        multiallelics=parse_multiallelics(args.multiallelics) if args.multiallelics else None,
        rm_dup=rm_dup,
        atomize=args.atomize,
        atom_overlaps=args.atom_overlaps,
        old_rec_tag=args.old_rec_tag,
        keep_sum=tuple(t.upper() if t.upper() == "AD" else t for t in args.keep_sum.split(",") if t),
        multi_overlaps=args.multi_overlaps,
        realign=not args.no_realign,
        max_indel_len=args.max_indel_len,
        sort=args.sort,
        force=args.force,
        strict_filter=args.strict_filter,
        gff=args.gff_annot,
        include=args.include,
        exclude=args.exclude,
    ).validate()


def run(args: argparse.Namespace) -> int:
    import time

    # the pipeline imports Ray/pysam/torch: loaded when the command runs, so `raygen --help` stays fast
    from raygen.normalize.pipeline import run_normalize

    opts = options_from_args(args)
    t0 = time.perf_counter()
    cfg = dataclasses.replace(DEFAULTS.normalize, shard_bp=args.shard_bp)
    counts = run_normalize(args.input, args.output, opts, rejects_path=args.rejects, parquet_dir=args.parquet,
                           use_ray=args.use_ray, cfg=cfg, index=not args.no_index, runtime=runtime_config(args),
                           provenance=not args.no_version, threads=args.threads)
    print(counts.summary_line(), file=sys.stderr)
    if "s" in opts.check_ref and opts.fasta:
        print(f"REF/ALT total/modified/added:  \t{counts.total}/{counts.ref_swapped}/{counts.ref_set}", file=sys.stderr)
    log.info("normalized %d records -> %d in %.2f s", counts.total, counts.written, time.perf_counter() - t0)
    return 0

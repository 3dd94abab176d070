"""``raygen profile``: measure a BAM's sequencing error profile (the one `raygen call` calibrates itself with)."""

from __future__ import annotations

import argparse
import json

from raygen.config import DEFAULTS


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    c = DEFAULTS.call
    p = sub.add_parser(
        "profile",
        parents=[common],
        help="measure a BAM's error profile: base-quality calibration, repeat indel errors, MAPQ, clips, GC",
        description="Read evenly spaced windows of the regions (at most --max-bp in all) and measure, without a "
        "truth set: the mismatch rate per read-cycle bin and reported base quality at sites with no "
        "non-reference allele above 20%, per strand and preceding-base context; indel errors per homopolymer "
        "length and tandem-repeat span; MAPQ and soft-clip histograms (per read end); mis-mapping (the share "
        "of low-MAPQ reads from a diverged paralog, its divergence, and the low-MAPQ segments); MAPQ lost with the "
        "ALT allele (het-like sites whose ALT reads fall below the top MAPQ more often than their REF reads); "
        "insert sizes; "
        "fragment coverage per GC bin; and how often a hom-ref site shows an artifact allele (an EM mixture "
        "over allele fractions). `raygen simulate --error-profile` draws reads with all of it. "
        "`raygen call` measures the same profile before calling; this command writes it as JSON "
        "(raygen.calling.profile.ErrorProfile.load reads it back) and prints a summary.",
    )
    p.add_argument("bam", help="coordinate-sorted, indexed BAM")
    p.add_argument("-f", "--reference", required=True, metavar="REF.fa", help="reference FASTA (plain or bgzipped)")
    p.add_argument("-o", "--output", required=True, metavar="PROFILE.json", help="profile JSON (written atomically)")
    p.add_argument("--regions", metavar="BED|CHR:START-END", help="BED file or comma-separated regions (1-based, inclusive); default: every contig")
    p.add_argument("--rename-contigs", metavar="add-chr|strip-chr|TSV", help="map BAM contig names to the FASTA's")
    p.add_argument("--max-bp", type=int, default=c.profile_max_bp, help=f"bp read at most (default {c.profile_max_bp:,})")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # pysam and the calling stack load when the command runs, so `raygen --help` stays fast
    from raygen.calling.shard import contig_map
    from raygen.calling.profile import estimate_profile, summary
    from raygen.io.fasta import Reference
    from raygen.regions import read_regions

    with Reference(args.reference) as ref:
        contigs, alias = contig_map(args.bam, ref, args.rename_contigs)
    regs = read_regions(args.regions, contigs)
    prof = estimate_profile(args.bam, args.reference, regs, cfg=DEFAULTS.call, alias=alias, max_bp=args.max_bp,
                            source=args.bam)
    prof.save(args.output)
    s = summary(prof)
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        print(f"wrote {args.output}")
        for k, v in s.items():
            print(f"  {k:<28} {v}")
    return 0

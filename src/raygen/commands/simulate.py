"""``raygen simulate``: a deterministic synthetic genome, its truth variants and paired-end reads."""

from __future__ import annotations

import argparse
import dataclasses

from raygen.cli import runtime_config
from raygen.commands import DefaultsHelpFormatter
from raygen.config import DEFAULTS
from raygen.io.atomic import ensure_writable_dir
from raygen.runtime import init_ray


D = DEFAULTS.simulate
_SUFFIX = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def parse_bp(text: str) -> int:
    """``300000``, ``300k``, ``10M`` or ``1.5M`` -> bp (argparse type; sign is checked later)."""
    t = text.strip().lower().replace("_", "").removesuffix("bp")
    mult = _SUFFIX.get(t[-1:], 1)
    if mult != 1:
        t = t[:-1]
    try:
        return int(round(float(t) * mult))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a length in bp: {text!r} (e.g. 300000, 300k, 10M)") from None


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "simulate",
        parents=[common],
        help="simulate a reference, truth variants and paired-end reads (deterministic)",
        formatter_class=DefaultsHelpFormatter,
        description=(
            "Write a synthetic genome into --out: reference.fa (+.fai) with GC isochores, homopolymers, short "
            "tandem repeats and N gaps over --contigs contigs (chr1..chrK); truth.vcf.gz (+.tbi) with SNVs, MNPs, "
            "indels (many inside repeats, so left-alignment matters) and multiallelic sites, normalized like "
            "`bcftools norm -f`, with phased genotypes for --samples samples; with --denormalize also "
            "truth.denorm.vcf.gz, the same records with indels right-shifted or padded; and with --coverage > 0 "
            "reads.bam (+.bai): paired-end reads of SAMPLE1's two haplotypes, placed exactly (MAPQ 60, CIGARs with "
            "the truth indels, HP tag = haplotype), with declining base qualities and errors drawn at exactly the "
            "rate the qualities state. Reads are simulated on Ray, one task per --chunk-bp chunk. The same --seed "
            "gives byte-identical outputs, whatever the number of workers."
        ),
        epilog="example: raygen simulate --out sim --length 10M --contigs 3 --coverage 30 --seed 7",
    )
    g = p.add_argument_group("genome")
    g.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    g.add_argument("--length", type=parse_bp, default=D.length, metavar="BP",
                   help="total reference length over all contigs; accepts k/M suffixes")
    g.add_argument("--seed", type=int, default=D.seed, help="random seed: same seed, same bytes")
    g.add_argument("--contigs", type=int, default=D.contigs, metavar="K", help="number of contigs")
    g.add_argument("--n-gap-fraction", type=float, default=D.n_gap_fraction, metavar="F",
                   help="fraction of each contig written as runs of N")
    v = p.add_argument_group("truth variants")
    v.add_argument("--snv-rate", type=float, default=D.snv_rate, metavar="R", help="SNVs per bp")
    v.add_argument("--indel-rate", type=float, default=D.indel_rate, metavar="R", help="indels per bp")
    v.add_argument("--mnp-rate", type=float, default=D.mnp_rate, metavar="R", help="MNPs (2-3 bp) per bp")
    v.add_argument("--multiallelic-fraction", type=float, default=D.multiallelic_fraction, metavar="F",
                   help="fraction of SNV and repeat-indel sites given a second ALT")
    v.add_argument("--repeat-indel-fraction", type=float, default=D.repeat_indel_fraction, metavar="F",
                   help="fraction of indels placed in homopolymers / tandem repeats")
    v.add_argument("--samples", type=int, default=D.samples, metavar="S", help="samples (SAMPLE1..SAMPLEs) with genotypes")
    v.add_argument("--unphased", action="store_true", help="write GT as 0/1 instead of phased 0|1")
    v.add_argument("--denormalize", action="store_true",
                   help="also write truth.denorm.vcf.gz: indels right-shifted in their repeat or padded with "
                        "shared bases (input for `bcftools norm` / raygen normalize)")
    r = p.add_argument_group("reads")
    r.add_argument("--coverage", type=float, default=D.coverage, metavar="X", help="mean depth; 0 = no BAM")
    r.add_argument("--read-length", type=int, default=D.read_length, metavar="L", help="bp per mate")
    r.add_argument("--fragment-mean", type=int, default=D.fragment_mean, metavar="BP", help="mean fragment (insert) size")
    r.add_argument("--fragment-sd", type=int, default=D.fragment_sd, metavar="BP", help="fragment size SD")
    r.add_argument("--error-rate", type=float, default=D.error_rate, metavar="R", help="mean per-base sequencing error")
    r.add_argument("--error-profile", default=D.error_profile, metavar="JSON",
                   help="draw reads as this `raygen profile` output measured a real BAM: qualities, miscalls "
                        "(per cycle, quality, strand and context), repeat indel errors, aligner-like CIGARs at read "
                        "ends, soft-clipped ends, low-MAPQ paralog reads and segmental duplications, site-specific "
                        "strand errors and GC coverage dips (--error-rate is then unused)")
    r.add_argument("--chunk-bp", type=parse_bp, default=D.chunk_bp, metavar="BP", help="bp of reads per Ray task")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    return dataclasses.replace(
        DEFAULTS.simulate,
        length=args.length, seed=args.seed, contigs=args.contigs, n_gap_fraction=args.n_gap_fraction,
        snv_rate=args.snv_rate, indel_rate=args.indel_rate, mnp_rate=args.mnp_rate,
        multiallelic_fraction=args.multiallelic_fraction, repeat_indel_fraction=args.repeat_indel_fraction,
        samples=args.samples, phased=not args.unphased, denormalize=args.denormalize, coverage=args.coverage,
        read_length=args.read_length, fragment_mean=args.fragment_mean, fragment_sd=args.fragment_sd,
        error_rate=args.error_rate, chunk_bp=args.chunk_bp, error_profile=args.error_profile,
    )


def run(args: argparse.Namespace) -> int:
    # the pipeline imports Ray/pysam/torch: loaded when the command runs, so `raygen --help` stays fast
    from raygen.simulate import simulate_genome, validate

    cfg = config_from_args(args)
    validate(cfg)  # before Ray starts: a bad flag fails in milliseconds
    if cfg.error_profile:
        from raygen.calling.profile import ErrorProfile

        ErrorProfile.load(cfg.error_profile)  # a missing or foreign file: InputError (exit 2) before Ray starts
    if cfg.coverage > 0:
        ensure_writable_dir(args.out)  # an unwritable --out fails before Ray's start-up, not after
        init_ray(runtime_config(args))  # started here so the summary's time is the simulation's own
    summary = simulate_genome(cfg, args.out, runtime=runtime_config(args), progress=not args.quiet)
    for line in summary.lines():
        print(line)
    return 0

"""``raygen evaluate``: hap.py-style SNP/INDEL concordance of a query VCF against a truth VCF."""

from __future__ import annotations

import argparse
import json
import os

from raygen.eval.haplotype import MATCHING
from raygen.regions import parse_region


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="compare a call set with a truth set (TP/FP/FN, precision, recall, F1 per SNP/INDEL)",
        description="Normalize both VCFs (split multiallelic records, trim, left-align against -f REF, MNPs "
        "decomposed into SNPs) and match them: equal (chrom, pos, ref, alt) first; then, with --matching "
        "haplotype (the default; needs -f), vcfeval-style replay of what is left: nearby variants of both "
        "sides are clustered and the largest sets whose applied sequences are equal match (allele level, "
        "ploidy squashed), so a complex record matches the indel + SNV written as two, and their genotypes "
        "are compared on both haplotypes (every phasing tried; a genotype mismatch stays a TP and is counted "
        "apart, unlike hap.py's FP.gt). A cluster with more than 12 variants on a side is left to equal "
        "alleles and counted. Counts per SNP/INDEL: TRUTH.TP, QUERY.TP, FP, "
        "FN, precision (QUERY.TP/calls), recall (TRUTH.TP/truth), F1, genotype concordance; then strata "
        "(indel length; homopolymer / tandem repeat / non-repeat and GC bins, per SNP/INDEL, with -f) and "
        "the precision/recall/F1 at QUAL thresholds (--qual-curve draws it). Query records count only with "
        "FILTER PASS or '.' and a genotype that carries the allele (RefCall and 0/0 are ignored). With "
        "--confident only records whose normalized start lies in the BED count. Without -f indels are "
        "trimmed but not left-aligned and only equal alleles match.",
    )
    p.add_argument("--truth", required=True, help="truth VCF/BCF (first sample, or --truth-sample)")
    p.add_argument("--query", required=True, action="append", metavar="[LABEL=]VCF",
                   help="VCF/BCF to evaluate (first sample, or --query-sample); repeat it to compare several call "
                   "sets side by side, each optionally labelled (--query DeepVariant=dv.vcf.gz)")
    p.add_argument("--confident", metavar="BED", help="confident regions; records outside are not counted")
    p.add_argument("-f", "--reference", metavar="REF", help="reference FASTA: left-aligns indels, replays haplotypes, "
                   "labels repeat and GC strata (recommended)")
    p.add_argument("--region", metavar="CHR:START-END", help="restrict both sides to this 1-based inclusive region")
    p.add_argument("--truth-sample", help="sample column of the truth VCF")
    p.add_argument("--query-sample", help="sample column of the query VCF")
    p.add_argument("--matching", choices=MATCHING, default="haplotype",
                   help="haplotype: exact alleles, then vcfeval-style replay of nearby variants (default; needs -f); "
                   "allele: equal (chrom, pos, ref, alt) only, as before")
    p.add_argument("--qual-curve", metavar="PNG", help="draw precision-recall over QUAL thresholds of the query "
                   "into this PNG (several --query: their curves side by side); the table is in --json either way")
    p.add_argument("--json", action="store_true", help="print the counts, strata, QUAL curve and mismatching "
                   "records as JSON")
    p.add_argument("--show", type=int, default=10, metavar="N", help="list up to N FP/FN records under the table (default 10)")
    p.set_defaults(func=run)


def _labelled(spec: str) -> tuple[str, str]:
    """``LABEL=PATH`` or ``PATH`` (labelled by its file name)."""
    label, sep, path = spec.partition("=")
    if sep and label and not os.path.exists(spec):
        return label, path
    return os.path.basename(spec), spec


def run(args: argparse.Namespace) -> int:
    # the pipeline imports Ray/pysam/torch: loaded when the command runs, so `raygen --help` stays fast
    from raygen.eval.concordance import evaluate_vcfs, format_side_by_side
    from raygen.eval.strata import report_strata

    region = parse_region(args.region) if args.region else None
    queries = [_labelled(q) for q in args.query]
    reports = [(label, evaluate_vcfs(
        args.truth, path, confident_bed=args.confident, reference=args.reference,
        truth_sample=args.truth_sample, query_sample=args.query_sample, region=region,
        matching=args.matching,
    )) for label, path in queries]
    for _, rep in reports:
        rep.strata = report_strata(rep, args.reference)
    if args.qual_curve:
        _draw_curves(reports, args)
    if len(reports) > 1:
        if args.json:
            print(json.dumps({"truth": args.truth, "confident": args.confident, "reference": args.reference,
                              "queries": [dict(r.as_dict(), label=label, query=path)
                                          for (label, r), (_, path) in zip(reports, queries)]}, indent=2))
            return 0
        print(format_side_by_side(reports, title=f"truth {args.truth}" + (f"\nconfident {args.confident}"
                                                                          if args.confident else "")))
        for label, r in reports:
            print(f"{label}: {_matching_line(r.matching)}")
        print("(strata and QUAL curves of each call set: --json)" + (f"; wrote {args.qual_curve}" if args.qual_curve else ""))
        return 0
    rep = reports[0][1]
    args.query = queries[0][1]
    if args.json:
        d = rep.as_dict()
        d.update(truth=args.truth, query=args.query, confident=args.confident, reference=args.reference)
        print(json.dumps(d, indent=2))
        return 0
    _print_single(rep, args)
    return 0


def _draw_curves(reports: list, args: argparse.Namespace) -> None:
    """One call set: its classes; several: all variants of each, side by side."""
    from raygen.io.atomic import atomic_path
    from raygen.report.figures import qual_curve_png, qual_curves_png

    where = os.path.basename(args.truth) + (" (confident regions)" if args.confident else "")
    if len(reports) == 1:
        png = qual_curve_png(reports[0][1].qual_curve, f"{reports[0][0]} against {where}")
    else:
        png = qual_curves_png([(label, r.qual_curve) for label, r in reports], f"call sets against {where}")
    with atomic_path(args.qual_curve) as tmp:
        tmp.write_bytes(png)


def _matching_line(m: dict) -> str:
    if m.get("matching") != "haplotype":
        return f"matching: allele keys ({m.get('exact_tp', 0)} truth alleles matched)" + (
            f"; {m['note']}" if m.get("note") else "")
    line = (f"matching: haplotype; {m['exact_tp']} truth alleles on equal keys, {m['clusters_replayed']} clusters "
            f"replayed matched +{m['haplotype_tp_truth']} truth / +{m['haplotype_tp_query']} query alleles")
    for key, what in (("exact_pairs_rematched", "equal-allele pairs re-matched in a better combination"),
                      ("clusters_over_cap", f"clusters over the cap of {m['max_side']} alleles a side (allele "
                       f"keys only, {m['alleles_over_cap']} alleles)"),
                      ("genotype_not_compared", "matched alleles without a genotype comparison"),
                      ("not_replayable", "alleles not replayable (REF differs from -f, or contig missing)")):
        if m.get(key):
            line += f"; {m[key]} {what}"
    return line


def _print_single(rep, args: argparse.Namespace) -> None:
    from raygen.eval.concordance import format_table, str_allele
    from raygen.eval.qualcurve import format_curve
    from raygen.eval.strata import format_strata

    print(format_table(rep, title=f"truth {args.truth}\nquery {args.query}" + (f"\nconfident {args.confident}" if args.confident else "")))
    print(_matching_line(rep.matching))
    for name, items in (("FP", rep.false_positives), ("FN", rep.false_negatives)):
        if items and args.show:
            shown = ", ".join(str_allele(a) for a in items[: args.show])
            more = f" (+{len(items) - args.show} more)" if len(items) > args.show else ""
            print(f"{name}: {shown}{more}")
    if rep.genotype_mismatches and args.show:
        print("GT mismatches: " + ", ".join(f"{str_allele(t)} truth={t.zyg} query={q.zyg}" for t, q in rep.genotype_mismatches[: args.show]))
    print()
    print(format_strata(rep.strata))
    print()
    print(format_curve(rep.qual_curve))
    if args.qual_curve:
        print(f"wrote {args.qual_curve}")

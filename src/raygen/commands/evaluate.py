"""``raygen evaluate``: hap.py-style SNP/INDEL concordance of a query VCF against a truth VCF."""

from __future__ import annotations

import argparse
import json
import os

from raygen.regions import parse_region


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="compare a call set with a truth set (TP/FP/FN, precision, recall, F1 per SNP/INDEL)",
        description="Normalize both VCFs (split multiallelic records, trim, left-align against -f REF), match "
        "alleles on (chrom, pos, ref, alt) and count TP, FP, FN, precision, recall, F1 and genotype "
        "concordance (het/hom agreement of matched alleles) separately for SNPs and indels. Query records "
        "count only with FILTER PASS or '.' and a genotype that carries the allele (RefCall and 0/0 are "
        "ignored). With --confident only records whose normalized start lies in the BED count. Without -f "
        "indels are trimmed but not left-aligned, so equivalent representations in repeats may not match.",
    )
    p.add_argument("--truth", required=True, help="truth VCF/BCF (first sample, or --truth-sample)")
    p.add_argument("--query", required=True, action="append", metavar="[LABEL=]VCF",
                   help="VCF/BCF to evaluate (first sample, or --query-sample); repeat it to compare several call "
                   "sets side by side, each optionally labelled (--query DeepVariant=dv.vcf.gz)")
    p.add_argument("--confident", metavar="BED", help="confident regions; records outside are not counted")
    p.add_argument("-f", "--reference", metavar="REF", help="reference FASTA used to left-align indels (recommended)")
    p.add_argument("--region", metavar="CHR:START-END", help="restrict both sides to this 1-based inclusive region")
    p.add_argument("--truth-sample", help="sample column of the truth VCF")
    p.add_argument("--query-sample", help="sample column of the query VCF")
    p.add_argument("--json", action="store_true", help="print the counts (and mismatching records) as JSON")
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
    from raygen.eval.concordance import evaluate_vcfs, format_side_by_side, format_table, str_allele

    region = parse_region(args.region) if args.region else None
    queries = [_labelled(q) for q in args.query]
    reports = [(label, evaluate_vcfs(
        args.truth, path, confident_bed=args.confident, reference=args.reference,
        truth_sample=args.truth_sample, query_sample=args.query_sample, region=region,
    )) for label, path in queries]
    if len(reports) > 1:
        if args.json:
            print(json.dumps({"truth": args.truth, "confident": args.confident, "reference": args.reference,
                              "queries": [dict(r.as_dict(), label=label, query=path)
                                          for (label, r), (_, path) in zip(reports, queries)]}, indent=2))
            return 0
        print(format_side_by_side(reports, title=f"truth {args.truth}" + (f"\nconfident {args.confident}"
                                                                          if args.confident else "")))
        return 0
    rep = reports[0][1]
    args.query = queries[0][1]
    if args.json:
        d = rep.as_dict()
        d.update(truth=args.truth, query=args.query, confident=args.confident, reference=args.reference)
        print(json.dumps(d, indent=2))
        return 0
    print(format_table(rep, title=f"truth {args.truth}\nquery {args.query}" + (f"\nconfident {args.confident}" if args.confident else "")))
    for name, items in (("FP", rep.false_positives), ("FN", rep.false_negatives)):
        if items and args.show:
            shown = ", ".join(str_allele(a) for a in items[: args.show])
            more = f" (+{len(items) - args.show} more)" if len(items) > args.show else ""
            print(f"{name}: {shown}{more}")
    if rep.genotype_mismatches and args.show:
        print("GT mismatches: " + ", ".join(f"{str_allele(t)} truth={t.zyg} query={q.zyg}" for t, q in rep.genotype_mismatches[: args.show]))
    return 0

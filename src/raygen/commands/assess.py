"""``raygen assess``: how good and how calibrated scores are on labelled variants (or a call set by stratum)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from raygen.config import DEFAULTS
from raygen.errors import UsageError

DESCRIPTION = """\
Score quality on labelled variants. SCORED is a VCF/BCF or raygen Parquet written by `raygen score` (or any
file with numeric INFO scores); --labels is a TSV `chrom pos ref alt label` (1-based pos, label 0/1, an
optional header line). Both sides are normalized (left-aligned with -f, else trimmed) before matching.

Per score (default: RAYGEN_PROB, -RAYGEN_LLR and the SpliceAI max delta score, whichever the file has):
AUROC and AUPRC with bootstrap 95% intervals; calibration (ECE, Brier, reliability diagram) of RAYGEN_PROB,
or of a Platt mapping fitted on --calibration-labels; PP3/BP4 probability thresholds chosen on
--calibration-labels (ClinGen likelihood-ratio strengths, local ratio with a 95% bootstrap bound) and
checked on --labels. The same metrics per slice: variant class; GC and repeats (with -f); distance to the
nearest splice site (--exons BED); allele-frequency bin (--af-field); consequence (--consequence-field).
A slice with too few variants says so. Nothing is fitted on --labels; a variant in both label sets stops.

Labelled variants missing from the scores are counted and listed; labels other than 0/1 stop with the file
and line. --write-profile P saves the drift baseline of SCORED for `raygen drift`.

Call sets: `raygen assess --truth T.vcf.gz --calls Q.vcf.gz -f REF [--confident BED] [--bam BAM]` gives
precision and recall per GC and (with --bam) per coverage stratum, on raygen evaluate's comparison."""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    d = DEFAULTS.assess
    p = sub.add_parser("assess", parents=[common], help="AUROC/AUPRC with CIs, calibration, slices, PP3/BP4 "
                       "thresholds of scores on labelled variants; call sets by stratum",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scored", nargs="?", metavar="SCORED", help="scored VCF/BCF or raygen Parquet dataset")
    p.add_argument("--labels", metavar="TSV", help="labelled variants to assess: chrom pos ref alt label (0/1)")
    p.add_argument("--calibration-labels", metavar="TSV",
                   help="a disjoint labelled set on which mappings and PP3/BP4 thresholds are fitted")
    p.add_argument("-f", "--fasta-ref", metavar="REF", help="reference: left-aligns both sides, GC and repeat slices")
    p.add_argument("--score", action="append", metavar="KEY[:pos|neg|abs|prob]",
                   help="score INFO key and its direction (repeatable; default: the scores the file has)")
    p.add_argument("--exons", metavar="BED", help="exons (0-based BED): distance-to-splice-site slice")
    p.add_argument("--af-field", metavar="KEY", help="INFO allele frequency (e.g. gnomad_AF): AF-bin slice")
    p.add_argument("--consequence-field", metavar="KEY", help="INFO consequence (CSQ, ANN or a plain field)")
    p.add_argument("-o", "--output", metavar="PREFIX", help="write PREFIX.json and PREFIX.html (default: print "
                   "the summary only)")
    p.add_argument("--write-profile", metavar="P.json", help="write the drift baseline profile of SCORED")
    p.add_argument("--bootstrap", type=int, default=d.bootstrap, help=f"bootstrap replicates (default {d.bootstrap})")
    p.add_argument("--min-slice", type=int, default=d.min_slice_variants,
                   help=f"fewest labelled variants for a slice's numbers (default {d.min_slice_variants})")
    g = p.add_argument_group("call sets")
    g.add_argument("--truth", metavar="VCF", help="truth VCF of a call-set assessment")
    g.add_argument("--calls", metavar="VCF", help="call set to assess against --truth")
    g.add_argument("--confident", metavar="BED", help="confident regions of the truth")
    g.add_argument("--bam", metavar="BAM", help="reads of the call set: the coverage strata")
    g.add_argument("--min-stratum", type=int, default=d.min_stratum_variants,
                   help=f"fewest truth variants and calls for a stratum's numbers (default {d.min_stratum_variants})")
    p.set_defaults(func=run)


def _write(prefix: str, result: dict, html: str) -> list[str]:
    from raygen.io.atomic import atomic_path

    out = []
    for suffix, text in ((".json", json.dumps(result, indent=1, default=_json_default)), (".html", html)):
        path = Path(prefix + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        out.append(str(path))
    return out


def _json_default(x):
    if isinstance(x, float) and x != x:
        return None
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, set):
        return sorted(x)
    raise TypeError(f"not JSON: {type(x).__name__}")


def _summary(result: dict) -> str:
    c = result["counts"]
    miss = result["missing_labels"]
    lines = [f"labels {c['labels']}: {c['matched']} matched ({c['positives']} with effect), "
             f"{miss['count']} missing from the scores"
             + (f" (first: {', '.join(miss['listed'][:5])})" if miss["count"] else "")
             + f", {c['duplicates']} duplicate rows ignored ({c['conflicting_duplicates']} with another label "
               "than the first)"]
    for s in result["scores"]:
        o = s["overall"]
        if "too_few" in o:
            lines.append(f"{s['label']:<16} {o['too_few']}")
            continue
        a, p = o["auroc"], o["auprc"]
        cal = f"  ECE {o['ece']:.3f}  Brier {o['brier']:.3f}" if "ece" in o else ""
        lines.append(f"{s['label']:<16} n={o['n']:<6} AUROC {a['value']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]"
                     f"  AUPRC {p['value']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}] (random {p['random']:.3f}){cal}")
        t = s.get("thresholds")
        if t:
            lines.append(f"{'':<16} PP3 thresholds {t['pp3']}  BP4 thresholds {t['bp4']}")
    return "\n".join(lines)


def _run_callset(args) -> int:
    from raygen.eval.strata import callset_strata
    from raygen.provenance import Provenance
    from raygen.report.assess_html import callset_page

    if not (args.truth and args.calls and args.fasta_ref):
        raise UsageError("a call-set assessment needs --truth, --calls and -f REF")
    result = callset_strata(args.truth, args.calls, args.fasta_ref, confident=args.confident, bam=args.bam,
                            min_variants=args.min_stratum, gc_window=DEFAULTS.assess.gc_window)
    result["provenance"] = Provenance.for_run(reference=args.fasta_ref).as_dict()
    for name, levels in result["strata"].items():
        for level, m in levels.items():
            if "too_few" in m:
                print(f"{name:<18} {level:<14} {m['too_few']}")
            else:
                print(f"{name:<18} {level:<14} truth {m['truth']:>4} calls {m['calls']:>4}  precision "
                      f"{m['precision']['value']:.3f}  recall {m['recall']['value']:.3f}  F1 {m['f1']:.3f}")
    if args.output:
        print("wrote " + ", ".join(_write(args.output, result, callset_page(result))), file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    import dataclasses

    if args.truth or args.calls:
        return _run_callset(args)
    if not args.scored:
        raise UsageError("give SCORED (a scored VCF/Parquet) with --labels, or --truth and --calls for a call set")
    if args.bootstrap < 0 or args.min_slice < 1:
        raise UsageError("--bootstrap must be >= 0 and --min-slice >= 1")
    cfg = dataclasses.replace(DEFAULTS.assess, bootstrap=args.bootstrap, min_slice_variants=args.min_slice)
    if args.write_profile:
        from raygen.commands.drift import write_profile

        write_profile(args.scored, args.write_profile, args.fasta_ref, args.score, cfg)
        print(f"wrote profile {args.write_profile}", file=sys.stderr)
    if not args.labels:
        if args.write_profile:
            return 0
        raise UsageError("--labels TSV is required to assess scores (or only --write-profile)")
    from raygen.eval.assess_run import run_assess
    from raygen.report.assess_html import assess_page

    result = run_assess(args.scored, args.labels, calibration_labels=args.calibration_labels,
                        reference=args.fasta_ref, scores=args.score, exons=args.exons, af_field=args.af_field,
                        consequence_field=args.consequence_field, cfg=cfg)
    print(_summary(result))
    if args.output:
        print("wrote " + ", ".join(_write(args.output, result, assess_page(result))), file=sys.stderr)
    return 0

"""Call-set precision and recall per stratum (coverage, GC) on ``raygen evaluate``'s truth comparison.

The comparison is :func:`raygen.eval.concordance.compare` (normalized alleles matched on ``(chrom, pos,
ref, alt)``). Each true positive and false negative is placed in a stratum by its truth position, each
false positive by its call position; per stratum ``precision = TP / (TP + FP)`` and ``recall = TP / (TP +
FN)``, each with a 95% Wilson interval, and F1. A stratum with fewer than ``min_variants`` truth variants
or calls says so instead of a number.

Strata: read depth at the variant's first base in a BAM (reads without the unmapped, secondary, QC-fail and
duplicate flags; ``pysam.AlignmentFile.count_coverage``, base quality >= 0) binned ``< 10``, ``10-20``,
``20-30``, ``30-50``, ``>= 50``; and the GC fraction of the reference window (:func:`raygen.eval.slices.gc_bins`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import pysam

from raygen.errors import InputError
from raygen.eval.calibration import wilson
from raygen.eval.concordance import Allele, compare, read_alleles
from raygen.eval.slices import gc_bins, level_key
from raygen.io.fasta import Reference
from raygen.regions import RegionSet

DEPTH_EDGES = (10, 20, 30, 50)
DEPTH_LABELS = ("depth < 10", "depth 10-20", "depth 20-30", "depth 30-50", "depth >= 50")


def depth_labeller(bam_path: str) -> Callable[[list[Allele]], list[str]]:
    """Labels the depth stratum of alleles from a BAM (its contig names must be the VCFs')."""
    try:
        bam = pysam.AlignmentFile(bam_path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read BAM {bam_path!r}: {exc}") from None

    def label(alleles: list[Allele]) -> list[str]:
        out = []
        for a in alleles:
            if a.chrom not in bam.references:
                raise InputError(f"contig {a.chrom!r} is not in the BAM {bam_path!r} (contigs: "
                                 f"{', '.join(bam.references[:5])}...)")
            depth = sum(int(x[0]) for x in bam.count_coverage(a.chrom, a.pos - 1, a.pos, quality_threshold=0))
            out.append(DEPTH_LABELS[bisect.bisect_right(DEPTH_EDGES, depth)])
        return out

    return label


def gc_labeller(reference: Reference, window: int) -> Callable[[list[Allele]], list[str]]:
    return lambda alleles: gc_bins(reference, [a.chrom for a in alleles], [a.pos for a in alleles],
                                   [a.ref for a in alleles], window)


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"value": k / n if n else None, "ci_low": lo, "ci_high": hi}


def stratum_metrics(tp: int, fp: int, fn: int, min_variants: int) -> dict:
    truth, calls = tp + fn, tp + fp
    out = {"tp": tp, "fp": fp, "fn": fn, "truth": truth, "calls": calls}
    if truth < min_variants or calls < min_variants:
        out["too_few"] = (f"too few variants: {truth} in the truth, {calls} calls; needs >= {min_variants} of each")
        return out
    p, r = tp / calls, tp / truth
    out.update(precision=_rate(tp, calls), recall=_rate(tp, truth), f1=2 * p * r / (p + r) if p + r else 0.0)
    return out


def stratify(tp: list[Allele], fp: list[Allele], fn: list[Allele], labeller: Callable[[list[Allele]], list[str]],
             min_variants: int) -> dict[str, dict]:
    """Level -> :func:`stratum_metrics` for one stratification."""
    lt, lp, ln = labeller(tp), labeller(fp), labeller(fn)
    levels = sorted(set(lt) | set(lp) | set(ln), key=level_key)
    return {lv: stratum_metrics(lt.count(lv), lp.count(lv), ln.count(lv), min_variants) for lv in levels}


def callset_strata(truth_vcf: str, calls_vcf: str, reference: str, *, confident: str | None = None,
                   bam: str | None = None, truth_sample: str | None = None, query_sample: str | None = None,
                   min_variants: int = 20, gc_window: int = 100) -> dict:
    """The whole call-set stratification as a JSON-ready dict."""
    with Reference(reference) as ref:
        truth = read_alleles(truth_vcf, ref, sample=truth_sample, pass_only=False)
        query = read_alleles(calls_vcf, ref, sample=query_sample, pass_only=True)
        bed = RegionSet.from_bed(confident) if confident else None
        rep = compare(truth, query, bed)
        if bed is not None:
            truth = [a for a in truth if bed.contains(a.chrom, a.pos - 1)]
        missed = {a.key for a in rep.false_negatives}
        tp = [a for a in truth if a.key not in missed]
        strata = {"GC of the window": stratify(tp, rep.false_positives, rep.false_negatives,
                                               gc_labeller(ref, gc_window), min_variants)}
        if bam:
            strata["coverage"] = stratify(tp, rep.false_positives, rep.false_negatives, depth_labeller(bam),
                                          min_variants)
    return {"truth": truth_vcf, "calls": calls_vcf, "confident": confident, "bam": bam,
            "tp": len(tp), "fp": len(rep.false_positives), "fn": len(rep.false_negatives),
            "counts": {k: c.as_dict() for k, c in rep.counts.items()}, "strata": strata}

"""Call-set precision and recall per stratum (coverage, GC) on ``raygen evaluate``'s truth comparison.

The comparison is :func:`raygen.eval.concordance.compare` (normalized alleles matched on ``(chrom, pos,
ref, alt)``, then haplotype replay, as ``raygen evaluate``). Each truth allele is placed in a stratum by its
position, each call (matched or false) by its own; per stratum ``precision = QUERY.TP / (QUERY.TP + FP)``
and ``recall = TRUTH.TP / (TRUTH.TP + FN)``, each with a 95% Wilson interval, and F1. A stratum with fewer
than ``min_variants`` truth variants or calls says so instead of a number.

Strata: read depth at the variant's first base in a BAM (reads without the unmapped, secondary, QC-fail and
duplicate flags; ``pysam.AlignmentFile.count_coverage``, base quality >= 0) binned ``< 10``, ``10-20``,
``20-30``, ``30-50``, ``>= 50``; and the GC fraction of the reference window (:func:`raygen.eval.slices.gc_bins`).

``raygen evaluate``'s strata (:func:`report_strata`) count a :class:`raygen.eval.concordance.Report`'s own
matching (TRUTH.TP / QUERY.TP / FP / FN per level, every level shown): indel length (:func:`indel_length_labels`),
repeat context (:func:`repeat_context_labeller`) and GC, the last two per SNP / INDEL.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import numpy as np
import pysam

from raygen.errors import InputError
from raygen.calling.candidates import encode
from raygen.calling.repeats import repeat_context
from raygen.config import DEFAULTS, EvaluateConfig
from raygen.eval.calibration import wilson
from raygen.eval.concordance import Allele, Counts, Report, compare, count, read_alleles
from raygen.eval.slices import HOMOPOLYMER_MIN, gc_bins, level_key, variant_class
from raygen.io.fasta import Reference
from raygen.regions import RegionSet

DEPTH_EDGES = (10, 20, 30, 50)
DEPTH_LABELS = ("depth < 10", "depth 10-20", "depth 20-30", "depth 30-50", "depth >= 50")
#: Indel length bins (bp of length change): 1, 2-5, 6-15, 16+.
INDEL_EDGES = (2, 6, 16)
INDEL_BINS = ("1", "2-5", "6-15", "16+")
REPEAT_LEVELS = ("homopolymer", "tandem repeat", "non-repeat", "unknown")


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


def stratum_metrics(tp: int, fp: int, fn: int, min_variants: int, tp_query: int | None = None) -> dict:
    """``tp``: truth alleles matched (TRUTH.TP, recall's numerator); ``tp_query``: calls matched (QUERY.TP,
    precision's numerator; ``tp`` when None: one record per variant on both sides)."""
    tpq = tp if tp_query is None else tp_query
    truth, calls = tp + fn, tpq + fp
    out = {"tp": tp, "tp_query": tpq, "fp": fp, "fn": fn, "truth": truth, "calls": calls}
    if truth < min_variants or calls < min_variants:
        out["too_few"] = (f"too few variants: {truth} in the truth, {calls} calls; needs >= {min_variants} of each")
        return out
    p, r = tpq / calls, tp / truth
    out.update(precision=_rate(tpq, calls), recall=_rate(tp, truth), f1=2 * p * r / (p + r) if p + r else 0.0)
    return out


def stratify(tp: list[Allele], fp: list[Allele], fn: list[Allele], labeller: Callable[[list[Allele]], list[str]],
             min_variants: int, tp_query: list[Allele] | None = None) -> dict[str, dict]:
    """Level -> :func:`stratum_metrics` for one stratification (``tp_query``: the matched calls, placed by
    their own position; ``tp`` stands for them when None)."""
    lt, lp, ln = labeller(tp), labeller(fp), labeller(fn)
    lq = lt if tp_query is None else labeller(tp_query)
    levels = sorted(set(lt) | set(lp) | set(ln) | set(lq), key=level_key)
    return {lv: stratum_metrics(lt.count(lv), lp.count(lv), ln.count(lv), min_variants, lq.count(lv))
            for lv in levels}


def callset_strata(truth_vcf: str, calls_vcf: str, reference: str, *, confident: str | None = None,
                   bam: str | None = None, truth_sample: str | None = None, query_sample: str | None = None,
                   min_variants: int = 20, gc_window: int = 100) -> dict:
    """The whole call-set stratification as a JSON-ready dict (matched as ``raygen evaluate`` matches:
    haplotype replay after equal alleles)."""
    with Reference(reference) as ref:
        truth = read_alleles(truth_vcf, ref, sample=truth_sample, pass_only=False)
        query = read_alleles(calls_vcf, ref, sample=query_sample, pass_only=True)
        bed = RegionSet.from_bed(confident) if confident else None
        rep = compare(truth, query, bed, reference=ref, matching="haplotype")
        tp = [a for a, m in zip(rep.truth, rep.match.truth_tp) if m]
        tpq = [a for a, m in zip(rep.query, rep.match.query_tp) if m]
        strata = {"GC of the window": stratify(tp, rep.false_positives, rep.false_negatives,
                                               gc_labeller(ref, gc_window), min_variants, tpq)}
        if bam:
            strata["coverage"] = stratify(tp, rep.false_positives, rep.false_negatives, depth_labeller(bam),
                                          min_variants, tpq)
    return {"truth": truth_vcf, "calls": calls_vcf, "confident": confident, "bam": bam,
            "tp": len(tp), "tp_query": len(tpq), "fp": len(rep.false_positives), "fn": len(rep.false_negatives),
            "counts": {k: c.as_dict() for k, c in rep.counts.items()}, "strata": strata}


def indel_length_labels(alleles: list[Allele]) -> list[str | None]:
    """``insertion|deletion|complex`` + length-change bin (``deletion 2-5``); None for SNVs and MNVs."""
    out: list[str | None] = []
    for a in alleles:
        kind = variant_class(a.ref, a.alt)
        d = abs(len(a.alt) - len(a.ref))
        out.append(f"{kind} {INDEL_BINS[bisect.bisect_right(INDEL_EDGES, d)]}"
                   if kind in ("insertion", "deletion", "complex") and d else None)
    return out


def repeat_context_labeller(reference: Reference, flank: int,
                            block: int = 1 << 20) -> Callable[[list[Allele]], list[str]]:
    """Labels ``homopolymer`` (a run of one base >= :data:`raygen.eval.slices.HOMOPOLYMER_MIN` bp),
    ``tandem repeat`` (a 2-6 bp unit in >= 3 copies, :func:`raygen.calling.repeats.repeat_context`) or
    ``non-repeat`` by what the REF bases and the base after them (where an insertion goes) touch in the
    reference; ``unknown`` for a contig the reference lacks. The context is computed once per ``block`` bp
    of reference (plus ``flank`` bp each side, so a repeat across a block edge is seen from both)."""
    cache: dict[tuple[str, int], tuple[int, np.ndarray, np.ndarray]] = {}

    def context(chrom: str, s: int, e: int) -> tuple[int, np.ndarray, np.ndarray]:
        b = s // block
        if e > (b + 1) * block + flank:  # a REF longer than the block's margin: its own window
            lo = max(0, s - flank)
            return (lo, *repeat_context(encode(reference.fetch(chrom, lo, e + flank))))
        if (chrom, b) not in cache:
            lo = max(0, b * block - flank)
            cache[(chrom, b)] = (lo, *repeat_context(encode(reference.fetch(chrom, lo, (b + 1) * block + flank))))
        return cache[(chrom, b)]

    def label(alleles: list[Allele]) -> list[str]:
        out = []
        for a in alleles:
            if a.chrom not in reference:
                out.append("unknown")
                continue
            s = a.pos - 1
            lo, hp, tr = context(a.chrom, s, s + len(a.ref) + 1)
            span = slice(s - lo, s - lo + len(a.ref) + 1)
            out.append("homopolymer" if hp[span].max() >= HOMOPOLYMER_MIN
                       else "tandem repeat" if tr[span].max() > 0 else "non-repeat")
        return out

    return label


def _by_type(labeller: Callable[[list[Allele]], list[str]]) -> Callable[[list[Allele]], list[str]]:
    return lambda alleles: [f"{lv} {a.kind}" for lv, a in zip(labeller(alleles), alleles)]


def report_strata(rep: Report, reference: str | None,
                  config: EvaluateConfig = DEFAULTS.evaluate) -> dict[str, dict[str, Counts]]:
    """Stratification -> level -> :class:`Counts` of ``rep``'s own matching (truth alleles placed by their
    label, query alleles by theirs). Repeat context and GC need the reference FASTA (skipped without one)."""
    if reference is None:
        return _strata(rep, None, config)
    with Reference(reference) as ref:
        return _strata(rep, ref, config)


def _strata(rep: Report, reference: Reference | None, config: EvaluateConfig) -> dict[str, dict[str, Counts]]:
    labellers: dict[str, Callable] = {"indel length": indel_length_labels}
    if reference is not None:
        labellers["repeat context"] = _by_type(repeat_context_labeller(reference, config.repeat_flank))
        labellers["GC"] = _by_type(gc_labeller(reference, config.gc_window))
    out = {}
    for name, labeller in labellers.items():
        lt, lq = labeller(rep.truth), labeller(rep.query)
        levels = sorted({lv for lv in lt + lq if lv is not None}, key=_stratum_key)
        out[name] = {lv: count(rep.truth, rep.query, rep.match, [i for i, x in enumerate(lt) if x == lv],
                               [i for i, x in enumerate(lq) if x == lv]) for lv in levels}
    return out


def _stratum_key(level: str) -> tuple:
    """Indel classes, then bins in length order; repeat levels in :data:`REPEAT_LEVELS` order; GC bins by
    their numbers; the SNP / INDEL suffix last."""
    head, _, kind = level.rpartition(" ") if level.endswith((" SNP", " INDEL")) else (level, "", "")
    for i, b in enumerate(INDEL_BINS):
        if head.endswith(" " + b):
            return (0, head.split(" ")[0], i, kind)
    if head in REPEAT_LEVELS:
        return (1, "", REPEAT_LEVELS.index(head), kind)
    return (2, level_key(head), 0, kind)


def format_strata(strata: dict[str, dict[str, Counts]]) -> str:
    """One fixed-width row per stratum level: truth, TRUTH.TP, FN, calls, QUERY.TP, FP, precision, recall, F1."""

    def f(x: float) -> str:
        return "    n/a" if x != x else f"{x:7.4f}"

    lines = [f"{'stratum':<36} {'truth':>6} {'TP':>6} {'FN':>5} {'query':>6} {'TP.q':>6} {'FP':>5} "
             f"{'prec':>7} {'recall':>7} {'F1':>7}"]
    for name, levels in strata.items():
        for lv, c in levels.items():
            lines.append(f"{(name + ': ' + lv)[:36]:<36} {c.truth_total:>6} {c.tp:>6} {c.fn:>5} {c.query_total:>6} "
                         f"{c.tp_query:>6} {c.fp:>5} {f(c.precision)} {f(c.recall)} {f(c.f1)}")
    return "\n".join(lines)

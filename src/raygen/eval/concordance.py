"""hap.py-style concordance of a query VCF against a truth VCF, SNPs and indels counted separately.

Both sides are split into biallelic records, trimmed and left-aligned against the reference as
``bcftools norm -f`` does (:func:`raygen.normalize.normalize_allele`; a record whose REF disagrees with the
reference, or every record without one, is only trimmed), and MNPs are decomposed into SNPs (as hap.py
does). Then they are matched: ``matching="allele"`` on ``(chrom, pos, ref, alt)`` only (an indel written at
a different place in a repeat, or with extra padding bases, still matches after left-alignment);
``matching="haplotype"`` (the default of :func:`evaluate_vcfs`, needs the reference) does that first and
then replays the clusters of what is left as vcfeval does (:mod:`raygen.eval.haplotype`), so a complex
record on one side matches the indel + SNV the other side writes, at allele level (ploidy squashed) and at
genotype level (both haplotypes, phasings tried). A record counts inside the confident regions when its
normalized 0-based start lies in a BED interval (BED is 0-based half-open); the matching sees only those.

Query records count only when FILTER is PASS or ``.`` and the sample's genotype carries the allele (so
DeepVariant-style ``RefCall`` and ``0/0`` records are ignored).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pysam

from raygen.config import DEFAULTS, EvaluateConfig
from raygen.errors import InputError, UsageError
from raygen.eval.haplotype import MATCHING, MatchResult, exact_pass, match_haplotypes
from raygen.eval.qualcurve import qual_curve
from raygen.io.fasta import Reference
from raygen.io.vcf import read_header
from raygen.normalize import normalize_allele
from raygen.normalize.checkref import is_sequence_allele
from raygen.regions import Region, RegionSet, as_region

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Allele:
    """One normalized biallelic call. ``pos`` is 1-based; ``zyg`` is 1 (het), 2 (hom-alt) or 0 (unknown);
    ``qual``: the record's QUAL (None for ``.``)."""

    chrom: str
    pos: int
    ref: str
    alt: str
    zyg: int
    qual: float | None = None

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.chrom, self.pos, self.ref, self.alt)

    @property
    def kind(self) -> str:
        return "SNP" if len(self.ref) == len(self.alt) else "INDEL"


@dataclass
class Counts:
    """Concordance counts for one variant class (or stratum). ``tp`` counts truth alleles matched (hap.py's
    TRUTH.TP), ``tp_query`` query alleles matched (QUERY.TP); they differ where one side writes as one record
    what the other writes as several. Precision is QUERY.TP / (QUERY.TP + FP), recall TRUTH.TP / (TRUTH.TP
    + FN). ``gt_match`` / ``gt_compared``: truth TPs whose genotype also agrees / was compared (both sides
    have one); ``gt_compared - gt_match`` are the genotype mismatches (hap.py's FP.gt, which hap.py also
    counts as FP and FN; here they stay TPs)."""

    truth_total: int = 0
    query_total: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    gt_match: int = 0
    gt_compared: int = 0
    tp_query: int = 0

    @property
    def precision(self) -> float:
        return self.tp_query / (self.tp_query + self.fp) if self.tp_query + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else float("nan")

    @property
    def gt_concordance(self) -> float:
        return self.gt_match / self.gt_compared if self.gt_compared else float("nan")

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(precision=self.precision, recall=self.recall, f1=self.f1, gt_concordance=self.gt_concordance,
                 gt_mismatch=self.gt_compared - self.gt_match)
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}


@dataclass
class Report:
    """Counts per class plus the mismatching records (for inspection). ``matching``: what the matching
    did (:class:`raygen.eval.haplotype.MatchResult` ``stats``); ``strata``: stratification -> level ->
    counts; ``qual_curve``: :func:`raygen.eval.qualcurve.qual_curve`. ``truth``, ``query`` and ``match``
    are the compared alleles and their per-allele outcome (not serialized)."""

    counts: dict[str, Counts]
    false_positives: list[Allele] = field(default_factory=list)
    false_negatives: list[Allele] = field(default_factory=list)
    genotype_mismatches: list[tuple[Allele, Allele]] = field(default_factory=list)
    matching: dict = field(default_factory=dict)
    strata: dict[str, dict[str, Counts]] = field(default_factory=dict)
    qual_curve: dict = field(default_factory=dict)
    truth: list[Allele] = field(default_factory=list, repr=False)
    query: list[Allele] = field(default_factory=list, repr=False)
    match: MatchResult | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {
            "counts": {k: c.as_dict() for k, c in self.counts.items()},
            "matching": self.matching,
            "strata": {s: {lv: c.as_dict() for lv, c in levels.items()} for s, levels in self.strata.items()},
            "qual_curve": self.qual_curve,
            "false_positives": [str_allele(a) for a in self.false_positives],
            "false_negatives": [str_allele(a) for a in self.false_negatives],
            "genotype_mismatches": [f"{str_allele(t)} truth={t.zyg} query={q.zyg}" for t, q in self.genotype_mismatches],
        }


def str_allele(a: Allele) -> str:
    return f"{a.chrom}:{a.pos}:{a.ref}>{a.alt}"


def _open_vcf(path: str | os.PathLike[str]) -> pysam.VariantFile:
    if not os.path.exists(path):
        raise InputError(f"VCF {str(path)!r} does not exist")
    try:
        return pysam.VariantFile(str(path))
    except (OSError, ValueError) as exc:
        read_header(path)  # raises the reader's own FILE:LINE: reason where it finds one
        raise InputError(f"cannot read VCF {str(path)!r}: {exc}") from None


def read_alleles(
    path: str | os.PathLike[str],
    reference=None,
    *,
    sample: str | None = None,
    pass_only: bool = True,
    atomize: bool = True,
    regions: Sequence[Region] | None = None,
) -> list[Allele]:
    """Normalized biallelic called alleles of one VCF sample (first sample by default).

    ``reference`` is a :class:`raygen.io.fasta.Reference` (or None: trim only, no left shift). Records
    with a failing FILTER (when ``pass_only``), a genotype that does not carry the allele, or symbolic
    ALTs are dropped. A sites-only VCF yields zygosity 0 (unknown). With ``atomize`` an MNP (REF and ALT
    of equal length > 1) becomes its differing SNPs, as hap.py's decomposition does, so a caller that
    writes two adjacent SNVs matches a truth MNP. ``regions`` (0-based half-open): an indexed VCF is read only
    there, :data:`FETCH_PAD` bp wider (a record normalizes into a region from outside it), so a 100 kb call set
    is evaluated against a whole-genome truth in a second; the caller still selects alleles by their
    normalized position. Unindexed, or None: every record.
    """
    vf = _open_vcf(path)
    samples = list(vf.header.samples)
    if sample is not None and sample not in samples:
        raise InputError(f"sample {sample!r} is not in {str(path)!r} (samples: {', '.join(samples) or 'none'})")
    sname = sample or (samples[0] if samples else None)
    out: dict[tuple, Allele] = {}
    n_read, last = 0, None
    try:
        for rec in _records(vf, regions):
            n_read, last = n_read + 1, f"{rec.chrom}:{rec.pos}"
            if pass_only:
                filters = list(rec.filter.keys())
                if filters and filters != ["PASS"]:
                    continue
            alts = rec.alts or ()
            gt = None
            if sname is not None:
                gt = rec.samples[sname].get("GT")
                if gt is None or all(g is None for g in gt):
                    gt = None
            for i, alt in enumerate(alts, start=1):
                if not is_sequence_allele(alt):
                    continue
                if gt is not None:
                    zyg = sum(1 for g in gt if g == i)
                    if zyg == 0:
                        continue
                    zyg = 2 if zyg >= 2 and len(gt) >= 2 else 1
                else:
                    zyg = 0
                pos, ref, a = normalize_allele(rec.chrom, rec.pos, rec.ref, alt, reference)
                qual = None if rec.qual is None else float(rec.qual)
                for al in (_atomize(rec.chrom, pos, ref, a, zyg, qual) if atomize
                           else [Allele(rec.chrom, pos, ref, a, zyg, qual)]):
                    prev = out.get(al.key)
                    # Duplicate records of the same allele: keep the stronger genotype claim.
                    if prev is None or al.zyg > prev.zyg:
                        out[al.key] = al
    except (OSError, ValueError) as exc:
        after = f" (the one after {last})" if last else ""
        raise InputError(f"{path}: record {n_read + 1}{after} is unreadable ({exc}); `raygen normalize` "
                         "names its line and files such records as rejects") from None
    finally:
        vf.close()
    return sorted(out.values(), key=lambda a: (a.chrom, a.pos, a.ref, a.alt))


#: bp read beyond each region by :func:`read_alleles` (left-alignment moves a record left by its repeat's span,
#: trimming moves it right by its length; both are far below this).
FETCH_PAD = 10_000


def _records(vf: pysam.VariantFile, regions: Sequence[Region] | None):
    """``vf``'s records, only those within :data:`FETCH_PAD` of ``regions`` where it has an index (a region on
    a contig the index lacks holds none)."""
    if regions is None or vf.index is None:
        yield from vf
        return
    contigs = set(vf.index)
    for r in regions:
        if r.chrom in contigs:
            yield from vf.fetch(r.chrom, max(0, r.start - FETCH_PAD), None if r.end is None else r.end + FETCH_PAD)


def _atomize(chrom: str, pos: int, ref: str, alt: str, zyg: int, qual: float | None) -> list[Allele]:
    if len(ref) == len(alt) and len(ref) > 1:
        return [Allele(chrom, pos + i, r, a, zyg, qual) for i, (r, a) in enumerate(zip(ref, alt)) if r != a]
    return [Allele(chrom, pos, ref, alt, zyg, qual)]


def count(truth: list[Allele], query: list[Allele], res: MatchResult, t_sel: Iterable[int],
          q_sel: Iterable[int]) -> Counts:
    """The counts of the truth alleles ``t_sel`` and query alleles ``q_sel`` (indices) under ``res``."""
    c = Counts()
    for i in t_sel:
        c.truth_total += 1
        if res.truth_tp[i]:
            c.tp += 1
            if res.truth_gt[i] is not None:
                c.gt_compared += 1
                c.gt_match += int(res.truth_gt[i])
        else:
            c.fn += 1
    for i in q_sel:
        c.query_total += 1
        if res.query_tp[i]:
            c.tp_query += 1
        else:
            c.fp += 1
    return c


def tally(truth: list[Allele], query: list[Allele], res: MatchResult) -> Report:
    """Counts per class (SNP, INDEL, ALL) and the mismatching records of a matching."""
    counts = {k: count(truth, query, res, [i for i, a in enumerate(truth) if k in (a.kind, "ALL")],
                       [i for i, a in enumerate(query) if k in (a.kind, "ALL")]) for k in ("SNP", "INDEL", "ALL")}
    return Report(counts,
                  false_positives=[a for a, m in zip(query, res.query_tp) if not m],
                  false_negatives=[a for a, m in zip(truth, res.truth_tp) if not m],
                  genotype_mismatches=[(truth[t], query[q]) for t, q in sorted(res.gt_pairs)],
                  matching=res.stats, truth=truth, query=query, match=res)


def compare(truth: list[Allele], query: list[Allele], confident: RegionSet | None = None, *,
            reference: Reference | None = None, matching: str = "allele",
            config: EvaluateConfig = DEFAULTS.evaluate) -> Report:
    """Match normalized alleles; count TP/FP/FN and genotype agreement per class (SNP, INDEL, ALL).

    ``matching``: ``"allele"`` (equal ``(chrom, pos, ref, alt)``) or ``"haplotype"`` (that first, then
    :func:`raygen.eval.haplotype.match_haplotypes` over ``reference``; without one, allele matching and
    ``report.matching`` says so)."""
    if matching not in MATCHING:
        raise UsageError(f"matching must be one of {', '.join(MATCHING)}, not {matching!r}")
    if confident is not None:
        truth = [a for a in truth if confident.contains(a.chrom, a.pos - 1)]
        query = [a for a in query if confident.contains(a.chrom, a.pos - 1)]
    if matching == "haplotype" and reference is not None:
        res = match_haplotypes(truth, query, reference.fetch, reference, window=config.window,
                               max_side=config.max_cluster_side, max_genotype_side=config.max_genotype_side)
    else:
        res = exact_pass(truth, query)
        if matching == "haplotype":
            res.stats["note"] = ("no reference (-f): haplotype replay needs one, alleles matched on "
                                 "(chrom, pos, ref, alt)")
    return tally(truth, query, res)


def evaluate_vcfs(
    truth_vcf: str | os.PathLike[str],
    query_vcf: str | os.PathLike[str],
    *,
    confident_bed: str | os.PathLike[str] | None = None,
    reference: str | os.PathLike[str] | None = None,
    truth_sample: str | None = None,
    query_sample: str | None = None,
    region: Region | tuple[str, int, int | None] | None = None,
    matching: str = "haplotype",
    config: EvaluateConfig = DEFAULTS.evaluate,
) -> Report:
    """Read, normalize and compare two VCFs. ``region`` (a :class:`Region` or ``(chrom, start0, end0)``,
    0-based half-open; end None: to the contig's end) restricts both sides to records whose normalized start
    lies in it. ``matching``: see :func:`compare`. The report carries the QUAL curve
    (:func:`raygen.eval.qualcurve.qual_curve`); :func:`raygen.eval.strata.report_strata` adds the strata."""
    ref = Reference(reference) if reference else None
    try:
        region = as_region(region) if region is not None else None
        near = [region] if region is not None else None
        truth = read_alleles(truth_vcf, ref, sample=truth_sample, pass_only=False, regions=near)
        query = read_alleles(query_vcf, ref, sample=query_sample, pass_only=True, regions=near)
        if region is not None:
            _check_region_contig(region, (truth_vcf, truth), (query_vcf, query))
            truth = [a for a in truth if _in_region(a, region)]
            query = [a for a in query if _in_region(a, region)]
        else:
            _warn_outside_query(truth, query)
        bed = RegionSet.from_bed(confident_bed) if confident_bed else None
        rep = compare(truth, query, bed, reference=ref, matching=matching, config=config)
        rep.qual_curve = qual_curve(rep, config.qual_curve_points)
    finally:
        if ref is not None:
            ref.close()
    return rep


def _warn_outside_query(truth: list[Allele], query: list[Allele]) -> None:
    """Warn when most truth alleles lie outside the span the query's calls cover on each contig: a call set of
    one region scored against a whole-genome truth, whose every other allele would count as a false negative."""
    span: dict[str, tuple[int, int]] = {}
    for a in query:
        lo, hi = span.get(a.chrom, (a.pos, a.pos))
        span[a.chrom] = (min(lo, a.pos), max(hi, a.pos))
    outside = sum(1 for a in truth if not (a.chrom in span and span[a.chrom][0] <= a.pos <= span[a.chrom][1]))
    if query and 2 * outside > len(truth):
        where = ", ".join(f"{c}:{lo:,}-{hi:,}" for c, (lo, hi) in list(span.items())[:3])
        log.warning("%d of %d truth alleles lie outside the span of the query's calls (%s%s): they count as false "
                    "negatives; give --region (or a --confident BED of the called regions) to evaluate a region",
                    outside, len(truth), where, ", ..." if len(span) > 3 else "")


def _check_region_contig(region: Region, *sides: tuple[str | os.PathLike[str], list[Allele]]) -> None:
    """A region on a contig that neither VCF declares nor holds is a typo (``20`` for ``chr20``), not a region
    without variants: say so rather than report zero counts."""
    known: set[str] = set()
    for path, alleles in sides:
        known |= {a.chrom for a in alleles} | set(read_header(path).contigs)
    if region.chrom not in known:
        shown = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
        raise UsageError(f"--region: contig {region.chrom!r} is in neither VCF (their contigs: {shown or 'none'})")


def _in_region(a: Allele, region: Region) -> bool:
    return a.chrom == region.chrom and region.start <= a.pos - 1 and (region.end is None or a.pos - 1 < region.end)


def format_table(report: Report, title: str | None = None) -> str:
    """Fixed-width table: one row per class (TP: TRUTH.TP, TP.q: QUERY.TP)."""
    head = (f"{'type':<6} {'truth':>6} {'query':>6} {'TP':>6} {'TP.q':>6} {'FP':>5} {'FN':>5} {'prec':>7} {'recall':>7} "
            f"{'F1':>7} {'GTconc':>7}")
    lines = [title] if title else []
    lines.append(head)

    def f(x: float) -> str:
        return "    n/a" if np.isnan(x) else f"{x:7.4f}"

    for k in ("SNP", "INDEL", "ALL"):
        c = report.counts[k]
        lines.append(
            f"{k:<6} {c.truth_total:>6} {c.query_total:>6} {c.tp:>6} {c.tp_query:>6} {c.fp:>5} {c.fn:>5} "
            f"{f(c.precision)} {f(c.recall)} {f(c.f1)} {f(c.gt_concordance)}"
        )
    return "\n".join(lines)


def format_side_by_side(reports: list[tuple[str, Report]], title: str | None = None) -> str:
    """One row per labelled report: SNP and INDEL TP/FP/FN/F1, then F1 and genotype concordance of all."""
    width = max([22, *(len(name) for name, _ in reports)])

    def f(x: float) -> str:
        return "   n/a" if np.isnan(x) else f"{x:6.4f}"

    lines = [title] if title else []
    lines.append(f"{'caller':<{width}} {'SNP':>4} {'FP':>3} {'FN':>3} {'F1':>6}   {'IND':>4} {'FP':>3} {'FN':>3} "
                 f"{'F1':>6}   {'F1all':>6} {'GTconc':>6}")
    for name, rep in reports:
        sn, ind, a = rep.counts["SNP"], rep.counts["INDEL"], rep.counts["ALL"]
        lines.append(f"{name:<{width}} {sn.tp:>4} {sn.fp:>3} {sn.fn:>3} {f(sn.f1)}   {ind.tp:>4} {ind.fp:>3} "
                     f"{ind.fn:>3} {f(ind.f1)}   {f(a.f1)} {f(a.gt_concordance)}")
    return "\n".join(lines)


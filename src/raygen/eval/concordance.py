"""hap.py-style concordance of a query VCF against a truth VCF, SNPs and indels counted separately.

Both sides are split into biallelic records, trimmed and left-aligned against the reference as
``bcftools norm -f`` does (:func:`raygen.normalize.normalize_allele`; a record whose REF disagrees with the
reference, or every record without one, is only trimmed), then matched allele-aware on ``(chrom, pos, ref, alt)``; so an indel
written at a different place in a repeat, or with extra padding bases, still matches. Genotypes are
compared per matched allele as zygosity (het / hom-alt). A record counts inside the confident regions when
its normalized 0-based start lies in a BED interval (BED is 0-based half-open).

Query records count only when FILTER is PASS or ``.`` and the sample's genotype carries the allele (so
DeepVariant-style ``RefCall`` and ``0/0`` records are ignored). This is allele matching, not haplotype
replay: MNPs are decomposed into SNPs on both sides (as hap.py does), but a complex indel+SNV that one
side writes as one record and the other as two does not match (vcfeval would match it).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np
import pysam

from raygen.errors import InputError
from raygen.io.fasta import Reference
from raygen.io.vcf import read_header
from raygen.normalize import normalize_allele
from raygen.normalize.checkref import is_sequence_allele
from raygen.regions import Region, RegionSet, as_region


@dataclass(frozen=True, slots=True)
class Allele:
    """One normalized biallelic call. ``pos`` is 1-based; ``zyg`` is 1 (het), 2 (hom-alt) or 0 (unknown)."""

    chrom: str
    pos: int
    ref: str
    alt: str
    zyg: int

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.chrom, self.pos, self.ref, self.alt)

    @property
    def kind(self) -> str:
        return "SNP" if len(self.ref) == len(self.alt) else "INDEL"


@dataclass
class Counts:
    """Concordance counts for one variant class."""

    truth_total: int = 0
    query_total: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    gt_match: int = 0  # TPs whose zygosity also agrees (where both sides have a genotype)
    gt_compared: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

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
        d.update(precision=self.precision, recall=self.recall, f1=self.f1, gt_concordance=self.gt_concordance)
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}


@dataclass
class Report:
    """Counts per class plus the mismatching records (for inspection)."""

    counts: dict[str, Counts]
    false_positives: list[Allele] = field(default_factory=list)
    false_negatives: list[Allele] = field(default_factory=list)
    genotype_mismatches: list[tuple[Allele, Allele]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "counts": {k: c.as_dict() for k, c in self.counts.items()},
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
) -> list[Allele]:
    """Normalized biallelic called alleles of one VCF sample (first sample by default).

    ``reference`` is a :class:`raygen.io.fasta.Reference` (or None: trim only, no left shift). Records
    with a failing FILTER (when ``pass_only``), a genotype that does not carry the allele, or symbolic
    ALTs are dropped. A sites-only VCF yields zygosity 0 (unknown). With ``atomize`` an MNP (REF and ALT
    of equal length > 1) becomes its differing SNPs, as hap.py's decomposition does, so a caller that
    writes two adjacent SNVs matches a truth MNP.
    """
    vf = _open_vcf(path)
    samples = list(vf.header.samples)
    if sample is not None and sample not in samples:
        raise InputError(f"sample {sample!r} is not in {str(path)!r} (samples: {', '.join(samples) or 'none'})")
    sname = sample or (samples[0] if samples else None)
    out: dict[tuple, Allele] = {}
    n_read, last = 0, None
    try:
        for rec in vf:
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
                for al in _atomize(rec.chrom, pos, ref, a, zyg) if atomize else [Allele(rec.chrom, pos, ref, a, zyg)]:
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


def _atomize(chrom: str, pos: int, ref: str, alt: str, zyg: int) -> list[Allele]:
    if len(ref) == len(alt) and len(ref) > 1:
        return [Allele(chrom, pos + i, r, a, zyg) for i, (r, a) in enumerate(zip(ref, alt)) if r != a]
    return [Allele(chrom, pos, ref, alt, zyg)]


def compare(truth: list[Allele], query: list[Allele], confident: RegionSet | None = None) -> Report:
    """Match normalized alleles; count TP/FP/FN and zygosity agreement per class (SNP, INDEL, ALL)."""
    if confident is not None:
        truth = [a for a in truth if confident.contains(a.chrom, a.pos - 1)]
        query = [a for a in query if confident.contains(a.chrom, a.pos - 1)]
    tmap = {a.key: a for a in truth}
    qmap = {a.key: a for a in query}
    counts = {k: Counts() for k in ("SNP", "INDEL", "ALL")}
    rep = Report(counts)
    for a in truth:
        for k in (a.kind, "ALL"):
            counts[k].truth_total += 1
        q = qmap.get(a.key)
        for k in (a.kind, "ALL"):
            c = counts[k]
            if q is None:
                c.fn += 1
            else:
                c.tp += 1
                if a.zyg and q.zyg:
                    c.gt_compared += 1
                    c.gt_match += int(a.zyg == q.zyg)
        if q is None:
            rep.false_negatives.append(a)
        elif a.zyg and q.zyg and a.zyg != q.zyg:
            rep.genotype_mismatches.append((a, q))
    for q in query:
        for k in (q.kind, "ALL"):
            counts[k].query_total += 1
            if q.key not in tmap:
                counts[k].fp += 1
        if q.key not in tmap:
            rep.false_positives.append(q)
    return rep


def evaluate_vcfs(
    truth_vcf: str | os.PathLike[str],
    query_vcf: str | os.PathLike[str],
    *,
    confident_bed: str | os.PathLike[str] | None = None,
    reference: str | os.PathLike[str] | None = None,
    truth_sample: str | None = None,
    query_sample: str | None = None,
    region: Region | tuple[str, int, int | None] | None = None,
) -> Report:
    """Read, normalize and compare two VCFs. ``region`` (a :class:`Region` or ``(chrom, start0, end0)``,
    0-based half-open; end None: to the contig's end) restricts both sides to records whose normalized start
    lies in it."""
    ref = Reference(reference) if reference else None
    try:
        truth = read_alleles(truth_vcf, ref, sample=truth_sample, pass_only=False)
        query = read_alleles(query_vcf, ref, sample=query_sample, pass_only=True)
    finally:
        if ref is not None:
            ref.close()
    if region is not None:
        region = as_region(region)
        truth = [a for a in truth if _in_region(a, region)]
        query = [a for a in query if _in_region(a, region)]
    bed = RegionSet.from_bed(confident_bed) if confident_bed else None
    return compare(truth, query, bed)


def _in_region(a: Allele, region: Region) -> bool:
    return a.chrom == region.chrom and region.start <= a.pos - 1 and (region.end is None or a.pos - 1 < region.end)


def format_table(report: Report, title: str | None = None) -> str:
    """Fixed-width table: one row per class."""
    head = f"{'type':<6} {'truth':>6} {'query':>6} {'TP':>6} {'FP':>5} {'FN':>5} {'prec':>7} {'recall':>7} {'F1':>7} {'GTconc':>7}"
    lines = [title] if title else []
    lines.append(head)

    def f(x: float) -> str:
        return "    n/a" if np.isnan(x) else f"{x:7.4f}"

    for k in ("SNP", "INDEL", "ALL"):
        c = report.counts[k]
        lines.append(
            f"{k:<6} {c.truth_total:>6} {c.query_total:>6} {c.tp:>6} {c.fp:>5} {c.fn:>5} "
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


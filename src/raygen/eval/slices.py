"""Slice labels of variants for per-slice metrics and drift features (pure; positions 1-based VCF POS).

Each function returns one label (a short string) per allele, so metrics can be grouped by it:

- :func:`variant_class`: ``SNV``, ``MNV`` (equal-length substitution of several bases), ``insertion``,
  ``deletion`` or ``complex`` (after trimming shared bases, as htslib classifies alleles);
- :func:`gc_bins` of the reference window around the variant (``gc_window`` bases centred on REF);
- :func:`repeat_labels`: ``repeat`` when REF's first base lies in a homopolymer of at least 6 bp or a
  tandem repeat of a 2-6 bp unit with at least 3 copies, or in soft-masked (lower-case) reference; else
  ``non-repeat``;
- :func:`splice_distance_bins`: distance from the variant to the nearest exon boundary of a BED of exons
  (0-based half-open; both ends of every exon count as splice sites);
- :func:`af_bins` of an allele-frequency annotation (``novel`` where absent);
- :func:`consequences` from an annotation field (VEP ``CSQ``, snpEff ``ANN``, or any plain field).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

import numpy as np

from raygen.calling.repeats import repeat_span
from raygen.normalize.records import htslib_type
from raygen.regions import read_bed

GC_EDGES = (0.35, 0.45, 0.55)
SPLICE_EDGES = (2, 10, 50, 200)
AF_EDGES = (0.001, 0.01, 0.05)
HOMOPOLYMER_MIN = 6
STR_MIN_COPIES = 3


def level_key(label: str) -> tuple:
    """Sort key that puts binned levels in the order of their bins (``< 0.35`` before ``0.35-0.45`` before
    ``>= 0.55``; ``<= 2 bp`` before ``3-10 bp``); levels without a number sort last, alphabetically."""
    m = re.search(r"(<=|<|>=|>)?\s*(\d+(?:\.\d+)?)", label)
    if not m:
        return (2, 0.0, label)
    rank = {"<": -1.0, "<=": -0.5, ">": 1.0, ">=": 1.0}.get(m.group(1) or "", 0.0)
    return (1, float(m.group(2)) + rank * 1e-9, label)


def variant_class(ref: str, alt: str) -> str:
    """``SNV``, ``MNV``, ``insertion``, ``deletion`` or ``complex`` (``other`` for symbolic alleles)."""
    kind = htslib_type(ref.upper(), alt.upper())
    if kind == "snp":
        return "SNV"
    if kind == "mnp":
        return "MNV"
    if kind == "indel":
        return "insertion" if len(alt) > len(ref) else "deletion"
    return "complex" if kind == "other" and not alt.startswith("<") else "other"


def _bin_label(x: float, edges: Sequence[float], fmt: str = "{:g}") -> str:
    i = bisect.bisect_right(list(edges), x)
    lo = "" if i == 0 else fmt.format(edges[i - 1])
    hi = "" if i == len(edges) else fmt.format(edges[i])
    return f"< {hi}" if not lo else (f">= {lo}" if not hi else f"{lo}-{hi}")


def gc_fraction(reference, chrom: str, pos: int, ref_len: int, window: int) -> float:
    """GC fraction of the ``window`` bases centred on REF (N bases not counted; NaN if none are ACGT)."""
    centre0 = pos - 1 + ref_len // 2
    start = max(0, centre0 - window // 2)
    seq = reference.fetch(chrom, start, start + window).upper()
    acgt = sum(seq.count(b) for b in "ACGT")
    return (seq.count("G") + seq.count("C")) / acgt if acgt else float("nan")


def gc_bins(reference, chroms, positions, refs, window: int = 100) -> list[str]:
    """GC bin of each variant's window: ``< 0.35``, ``0.35-0.45``, ``0.45-0.55``, ``>= 0.55`` (``unknown``
    for a window without A/C/G/T or a contig the reference lacks)."""
    out = []
    for c, p, r in zip(chroms, positions, refs):
        g = gc_fraction(reference, c, int(p), len(r), window) if c in reference else float("nan")
        out.append("unknown" if not np.isfinite(g) else "GC " + _bin_label(g, GC_EDGES, "{:.2f}"))
    return out


def in_repeat(seq: str, i: int) -> bool:
    """Whether index ``i`` of ``seq`` lies in a homopolymer (>= 6 bp) or a 2-6 bp unit tandem repeat (>= 3
    copies), or is soft-masked (lower case)."""
    if seq[i].islower():
        return True
    up = seq.upper()
    for k in range(1, 7):
        for off in range(k):
            start = i - off
            if start < 0:
                continue
            unit = up[start:start + k]
            if len(unit) < k or "N" in unit or (k > 1 and len(set(unit)) == 1):
                continue
            while start - k >= 0 and up[start - k:start] == unit:  # back to the first copy
                start -= k
            span = repeat_span(up, start, unit)
            need = HOMOPOLYMER_MIN if k == 1 else STR_MIN_COPIES * k
            if span >= need and start <= i < start + span:
                return True
    return False


def repeat_labels(reference, chroms, positions, flank: int = 40) -> list[str]:
    """``repeat`` / ``non-repeat`` for each variant's first REF base (see :func:`in_repeat`)."""
    out = []
    for c, p in zip(chroms, positions):
        if c not in reference:
            out.append("unknown")
            continue
        start = max(0, int(p) - 1 - flank)
        seq = reference.fetch(c, start, int(p) - 1 + flank + 1, keep_case=True)
        out.append("repeat" if in_repeat(seq, int(p) - 1 - start) else "non-repeat")
    return out


def splice_sites(exons_bed: str) -> dict[str, np.ndarray]:
    """Sorted 0-based splice-site coordinates (both ends of every exon) per contig of a BED of exons."""
    sites: dict[str, list[int]] = {}
    for region in read_bed(exons_bed):
        sites.setdefault(region.chrom, []).extend([region.start, region.end])
    return {c: np.unique(np.array(v, dtype=np.int64)) for c, v in sites.items()}


def splice_distance_bins(sites: dict[str, np.ndarray], chroms, positions) -> list[str]:
    """Distance of each variant (its 0-based start) to the nearest splice site, binned: ``<= 2 bp``,
    ``3-10 bp``, ``11-50 bp``, ``51-200 bp``, ``> 200 bp`` (``no exon on contig`` without one)."""
    out = []
    for c, p in zip(chroms, positions):
        s = sites.get(c)
        if s is None or not len(s):
            out.append("no exon on contig")
            continue
        x = int(p) - 1
        j = np.searchsorted(s, x)
        d = min(abs(x - s[k]) for k in (j - 1, j) if 0 <= k < len(s))
        i = bisect.bisect_left(list(SPLICE_EDGES), d)
        out.append(["<= 2 bp", "3-10 bp", "11-50 bp", "51-200 bp", "> 200 bp"][i])
    return out


def af_bins(values: np.ndarray) -> list[str]:
    """Allele-frequency bins: ``novel`` (missing), ``AF < 0.001``, ``0.001-0.01``, ``0.01-0.05``, ``>= 0.05``."""
    return ["novel" if not np.isfinite(v) else "AF " + _bin_label(float(v), AF_EDGES) for v in np.asarray(values, float)]


def consequence_field_index(description: str) -> int:
    """Where the consequence sits in a ``|``-separated annotation: from VEP's ``Format: Allele|Consequence|...``
    description, else 1 (snpEff ``ANN``: ``Allele|Annotation|...``)."""
    if "Format:" in description:
        names = [x.strip().lower() for x in description.split("Format:", 1)[1].strip().strip("'\"").split("|")]
        for i, name in enumerate(names):
            if name in ("consequence", "annotation"):
                return i
    return 1


def consequences(values: Sequence[str | None], alts: Sequence[str], index: int) -> list[str]:
    """The consequence of each allele: of the annotation entry for that ALT (else the first entry); its
    first ``&`` term; ``unannotated`` where missing. Plain (non-``|``) values are taken as they are."""
    out = []
    for v, alt in zip(values, alts):
        if not v:
            out.append("unannotated")
            continue
        entries = [e.split("|") for e in v.split(",")]
        if len(entries[0]) == 1:
            out.append(entries[0][0])
            continue
        entry = next((e for e in entries if e and e[0] == alt), entries[0])
        out.append((entry[index] if index < len(entry) else "").split("&")[0] or "unannotated")
    return out

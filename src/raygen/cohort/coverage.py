"""Mean read depth per bin from a BAM, counted the way ``cnvkit.py coverage`` counts it.

Default ("depth") mode, as CNVkit's ``samtools bedcov`` call: a read counts when none of the flags
unmapped / secondary / QC-fail / duplicate (0x704) is set and its MAPQ >= ``min_mapq``; it contributes
every reference base its alignment spans (matches, deletions and N skips; not clips or insertions) that
lies inside the bin. ``depth = bases / bin length`` and ``log2 = log2(depth)`` (-20 for no reads). Mates
that overlap are both counted, as samtools does.

``--count`` mode, as CNVkit's read-counting alternative: the same read filter, but only aligned (M/=/X)
bases count, so deletions and skips add nothing.

Counting is exact integer arithmetic: with read spans ``[s, e)`` the bases inside ``[0, x)`` are
``sum(clip(x - s, 0, e - s))``, evaluated for all bin edges at once from sorted starts and ends with
prefix sums, so a shard costs one pass over its reads. Bins are 0-based half-open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pysam

from raygen.calling.candidates import open_bam
from raygen.cohort.cnvfiles import NULL_LOG2, CopyNumTable, sample_id_from_path
from raygen.errors import InputError
from raygen.regions import naming_hint

log = logging.getLogger(__name__)

#: unmapped (0x4) | secondary (0x100) | QC fail (0x200) | duplicate (0x400): samtools bedcov's default.
EXCLUDE_FLAGS = 0x704
#: Reads whose start is further than this from the next bin start a new fetch window (bp).
FETCH_GAP_BP = 50_000


@dataclass(frozen=True)
class CoverageOptions:
    """How reads are counted (see the module docstring)."""

    min_mapq: int = 0
    by_count: bool = False


def span_bases(read_starts: np.ndarray, read_ends: np.ndarray, bin_starts: np.ndarray, bin_ends: np.ndarray) -> np.ndarray:
    """Bases of the intervals ``[read_starts, read_ends)`` that fall inside each bin (int64, exact)."""
    s = np.sort(read_starts.astype(np.int64))
    e = np.sort(read_ends.astype(np.int64))
    cs = np.concatenate([[0], np.cumsum(s)])
    ce = np.concatenate([[0], np.cumsum(e)])

    def inside_before(x: np.ndarray) -> np.ndarray:
        ks = np.searchsorted(s, x, side="left")
        ke = np.searchsorted(e, x, side="left")
        return (x * ks - cs[ks]) - (x * ke - ce[ke])

    b0 = bin_starts.astype(np.int64)
    b1 = bin_ends.astype(np.int64)
    return np.where(b1 > b0, inside_before(b1) - inside_before(b0), 0)


def _read_intervals(bam: pysam.AlignmentFile, chrom: str, start0: int, end0: int, opts: CoverageOptions
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Spans (or, with ``by_count``, aligned blocks) of the counted reads overlapping ``[start0, end0)``."""
    starts: list[int] = []
    ends: list[int] = []
    min_mapq = opts.min_mapq
    for read in bam.fetch(chrom, start0, end0):
        if read.flag & EXCLUDE_FLAGS or read.mapping_quality < min_mapq:
            continue
        if opts.by_count:
            for a, b in read.get_blocks():
                starts.append(a)
                ends.append(b)
        else:
            rs, re = read.reference_start, read.reference_end
            if re is not None and re > rs:
                starts.append(rs)
                ends.append(re)
    return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def fetch_windows(starts: np.ndarray, ends: np.ndarray, gap: int = FETCH_GAP_BP) -> list[tuple[int, int, int, int]]:
    """Group bins (sorted by start, one chromosome) into fetch windows: (first bin, last bin + 1,
    window start, window end); a new window begins where the next bin starts more than ``gap`` bp after
    the furthest end so far, so sparse panels do not read the reads between targets."""
    if not len(starts):
        return []
    reach = np.maximum.accumulate(ends)
    cut = np.flatnonzero(starts[1:] > reach[:-1] + gap) + 1
    bounds = np.concatenate([[0], cut, [len(starts)]])
    return [(int(a), int(b), int(starts[a:b].min()), int(ends[a:b].max())) for a, b in zip(bounds[:-1], bounds[1:])]


def count_bases(bam: pysam.AlignmentFile, chrom: str, starts: np.ndarray, ends: np.ndarray,
                opts: CoverageOptions) -> np.ndarray:
    """Counted bases per bin of one chromosome (bins in any order, possibly overlapping)."""
    order = np.argsort(starts, kind="mergesort")
    s, e = starts[order], ends[order]
    out = np.zeros(len(starts), dtype=np.int64)
    for a, b, w0, w1 in fetch_windows(s, e):
        if w1 <= w0:
            continue
        rs, re = _read_intervals(bam, chrom, w0, w1, opts)
        out[order[a:b]] = span_bases(rs, re, s[a:b], e[a:b])
    return out


def depth_table(bins: CopyNumTable, bases: np.ndarray, opts: CoverageOptions, sample_id: str) -> CopyNumTable:
    """The ``.cnn`` of counted bases per bin: depth = bases / bin length, log2 (-20 where no reads).
    Column order as CNVkit writes each mode."""
    span = (bins.end - bins.start).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(span > 0, bases / np.where(span > 0, span, 1.0), 0.0)
        log2 = np.where(depth > 0, np.log2(np.where(depth > 0, depth, 1.0)), NULL_LOG2)
    cols = {"chromosome": bins.chrom, "start": bins.start, "end": bins.end, "gene": bins.gene}
    cols.update({"log2": log2, "depth": depth} if opts.by_count else {"depth": depth, "log2": log2})
    return CopyNumTable(cols, sample_id)


def bam_contigs(path: str) -> dict[str, int]:
    """Contig name -> length from a BAM header."""
    with pysam.AlignmentFile(path, "rb") as bam:
        return dict(zip(bam.references, bam.lengths))


def check_sorted(path: str, span: int = 50) -> None:
    """InputError unless the first ``span`` reads are in coordinate order (CNVkit's check)."""
    with pysam.AlignmentFile(path, "rb") as bam:
        prev = None
        for read in islice(bam, span):
            if prev is not None and read.reference_id == prev[0] and read.reference_start < prev[1]:
                raise InputError(f"BAM {path!r} is not sorted by coordinate: run `samtools sort`")
            prev = (read.reference_id, read.reference_start)


def bins_on_bam(bins: CopyNumTable, contigs: dict[str, int], path: str) -> CopyNumTable:
    """Bins whose contig the BAM has; the others are dropped with a counted warning (all missing: error)."""
    present = np.isin(bins.chrom, list(contigs))
    if present.all():
        return bins
    missing = sorted(set(bins.chrom[~present].tolist()))
    if not present.any():
        hint = ""
        if naming_hint(missing, contigs):  # same contigs, other naming (20 vs chr20)
            hint = " The BED and the BAM name contigs differently (with / without 'chr'): rename the BED's contigs."
        raise InputError(f"no bin lies on a contig of BAM {path!r} (bins on {', '.join(missing[:4])}; BAM has "
                         f"{', '.join(list(contigs)[:4])}...).{hint}")
    log.warning("%s: dropped %d of %d bins on %d contigs the BAM lacks (e.g. %s)", path, int((~present).sum()),
                len(bins), len(missing), missing[0])
    return bins.take(present)


def sample_coverage(path: str, bins: CopyNumTable, opts: CoverageOptions | None = None,
                    sample_id: str | None = None) -> CopyNumTable:
    """The ``.cnn`` of one BAM over ``bins`` in one process (no Ray): bins on contigs the BAM lacks are
    dropped (counted in a warning); the rest keep the input order."""
    opts = opts or CoverageOptions()
    bam = open_bam(path)
    try:
        check_sorted(path)
        bins = bins_on_bam(bins, dict(zip(bam.references, bam.lengths)), path)
        bases = np.zeros(len(bins), dtype=np.int64)
        for c in dict.fromkeys(bins.chrom.tolist()):
            idx = np.flatnonzero(bins.chrom == c)
            bases[idx] = count_bases(bam, c, bins.start[idx], bins.end[idx], opts)
    finally:
        bam.close()
    return depth_table(bins, bases, opts, sample_id or sample_id_from_path(path))

"""Helpers on a sample's log2 column shared by reference, fix, segment and call: low-coverage bins,
centring on the autosomes, per-chromosome residuals, chromosome-arm splits.

log2 values are log2 ratios (or log2 depths for raw coverage); bins 0-based half-open, in genome order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from raygen.cohort import chromosomes, robust
from raygen.cohort.cnvfiles import NULL_LOG2, CopyNumTable

#: Bins whose reference log2 is below this (or above its negation) are unusable (CNVkit MIN_REF_COVERAGE).
MIN_REF_COVERAGE = -5.0
#: Bins whose reference spread exceeds this are unusable.
MAX_REF_SPREAD = 1.0
#: log2 below this counts as "no coverage" (-15: 5 above the -20 written for empty bins).
LOW_COVERAGE_LOG2 = NULL_LOG2 - MIN_REF_COVERAGE


def low_coverage_mask(table: CopyNumTable) -> np.ndarray:
    """Bins with (near) no coverage: log2 < -15 or NaN, or depth 0 / NaN where a depth column exists."""
    log2 = table.log2
    with np.errstate(invalid="ignore"):
        bad = (log2 < LOW_COVERAGE_LOG2) | np.isnan(log2)
    if "depth" in table:
        depth = table["depth"]
        bad |= (depth == 0) | np.isnan(depth)
    return bad


def autosomes_mask(table: CopyNumTable, parx_build: str | None = None) -> np.ndarray:
    """Autosomal bins (plus the chrX PARs with ``parx_build``)."""
    mask = chromosomes.autosome_mask(table.chrom)
    if parx_build is not None and not mask.all():
        mask |= chromosomes.parx_mask(table.chrom, table.start, table.end, parx_build)
    return mask


def _nanmedian(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.median(values)) if len(values) else float("nan")


ESTIMATORS: dict[str, Callable[[np.ndarray], float]] = {
    "median": _nanmedian,
    "mean": lambda v: float(np.nanmean(v)) if (~np.isnan(v)).any() else float("nan"),
    "biweight": lambda v: float(robust.biweight_location(v)),
}


def center_shift(table: CopyNumTable, estimator: str = "median", skip_low: bool = False,
                 parx_build: str | None = None, by_chrom: bool = True) -> float:
    """The amount to add to log2 so the autosomes centre on 0: minus the estimator of the per-chromosome
    estimates (``by_chrom``), computed without low-coverage bins when ``skip_low``. 0 for no bins."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown centring estimator {estimator!r}")
    est = ESTIMATORS[estimator]
    keep = autosomes_mask(table, parx_build)
    if skip_low:
        keep &= ~low_coverage_mask(table)
    if not keep.any():
        return 0.0
    chrom, log2 = table.chrom[keep], table.log2[keep]
    if by_chrom:
        values = np.asarray([est(log2[chrom == c]) for c in dict.fromkeys(chrom.tolist())])
    else:
        values = log2
    return -est(values)


def centered(table: CopyNumTable, **kwargs) -> CopyNumTable:
    """``table`` with log2 shifted by :func:`center_shift`."""
    return table.with_columns(log2=table.log2 + center_shift(table, **kwargs))


def residuals(table: CopyNumTable) -> np.ndarray:
    """log2 minus its chromosome's median, concatenated chromosome by chromosome (first-seen order)."""
    parts = []
    for c in dict.fromkeys(table.chrom.tolist()):
        v = table.log2[table.chrom == c]
        parts.append(v - _nanmedian(v))
    return np.concatenate(parts) if parts else np.zeros(0)


def chromosome_slices(chrom: np.ndarray) -> Iterator[tuple[str, slice]]:
    """(name, slice) of each run of one chromosome, in order (bins sorted by genome position)."""
    if not len(chrom):
        return
    change = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
    bounds = np.concatenate([[0], change, [len(chrom)]])
    for a, b in zip(bounds[:-1], bounds[1:]):
        yield str(chrom[a]), slice(int(a), int(b))


def arm_slices(table: CopyNumTable, min_gap: float = 1e5, min_arm_bins: int = 50) -> Iterator[tuple[str, slice]]:
    """Chromosome arms as CNVkit infers them: split a chromosome at its largest gap between bins when
    that gap is at least ``min_gap`` bp and lies at least ``max(min_arm_bins, 10%)`` bins from each end."""
    for c, sl in chromosome_slices(table.chrom):
        n = sl.stop - sl.start
        margin = max(min_arm_bins, round(0.1 * n))
        if n > 2 * margin + 1:
            s, e = table.start[sl], table.end[sl]
            gaps = s[margin + 1: n - margin] - e[margin: n - margin - 1]
            cut = int(gaps.argmax()) + margin + 1
            if gaps[cut - margin - 1] >= min_gap:
                yield c, slice(sl.start, sl.start + cut)
                yield c, slice(sl.start + cut, sl.stop)
                continue
        yield c, sl

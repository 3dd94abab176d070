"""Chromosomal sex from coverage, and the expected log2 of sex chromosomes, as CNVkit reasons about them.

A *male reference* (``-y``, haploid X) expects log2 -1 on chrX and chrY; a female (diploid-X) reference
expects 0 on chrX and -1 on chrY (chrY there is noise, given one "flat" copy). A sample is called male
when its chrX median (relative to the autosomes) is closer to the male than to the female expectation
*and* (where chrY bins exist) its chrY median is closer to "present" (autosome level) than to "absent"
(the -20 no-coverage value). When it cannot tell (no chrX bins) the sample counts as female.
"""

from __future__ import annotations

import logging

import numpy as np

from raygen.cohort import chromosomes, robust
from raygen.cohort.cnvfiles import NULL_LOG2, CopyNumTable
from raygen.cohort.ratios import autosomes_mask, low_coverage_mask

log = logging.getLogger(__name__)


def _median(values: np.ndarray, weights: np.ndarray | None) -> float:
    if weights is not None and len(values):
        return robust.weighted_median(values, weights)
    return float(np.median(values))


def compare_sex_chromosomes(table: CopyNumTable, haploid_x_reference: bool = False,
                            parx_build: str | None = None, skip_low: bool = False) -> tuple[bool | None, dict]:
    """(is_male, stats) from chrX and chrY log2 medians relative to the autosomes (weighted medians when
    the table has a ``weight`` column); ``(None, {})`` when there are no chrX bins.

    ``stats`` holds ``chrx_ratio``, ``chry_ratio`` (median differences) and the "maleness" ratios
    ``chrx_male_lr``/``chry_male_lr`` (> 1: closer to the male expectation).
    """
    if not len(table):
        return None, {}
    is_x = chromosomes.x_mask(table.chrom, table.start, table.end, parx_build)
    if not is_x.any():
        return None, {}
    auto = autosomes_mask(table, parx_build)
    low = low_coverage_mask(table) if skip_low else np.zeros(len(table), dtype=bool)
    x_keep, auto_keep = is_x & ~low, auto & ~low
    w = table["weight"] if "weight" in table else None

    def med(mask):
        return _median(table.log2[mask], None if w is None else w[mask])

    auto_med = med(auto_keep)

    def maleness(observed, female_shift, male_shift):
        ratio = observed - auto_med
        return abs(ratio + female_shift) / max(abs(ratio + male_shift), 1e-6)

    x_med = med(x_keep)
    fx, mx = (-1, 0) if haploid_x_reference else (0, 1)
    x_lr = maleness(x_med, fx, mx)
    is_y = chromosomes.y_mask(table.chrom, table.start, table.end, parx_build) & ~low
    if is_y.any():
        y_med = med(is_y)
        y_lr = maleness(y_med, -NULL_LOG2, 0.0)
        male = x_lr > 1.0 and y_lr > 1.0
        y_ratio = y_med - auto_med
    else:
        y_lr = y_ratio = float("nan")
        male = x_lr > 1.0
    return bool(male), {"chrx_ratio": x_med - auto_med, "chry_ratio": y_ratio,
                        "chrx_male_lr": x_lr, "chry_male_lr": y_lr}


def guess_is_female(table: CopyNumTable, haploid_x_reference: bool = False, parx_build: str | None = None) -> bool | None:
    """True (female), False (male) or None (cannot tell) from :func:`compare_sex_chromosomes`."""
    male, _ = compare_sex_chromosomes(table, haploid_x_reference, parx_build)
    return None if male is None else not male


def reconcile(target_guess: tuple[bool | None, float], anti_guess: tuple[bool | None, float]) -> bool | None:
    """One sex call (True: female) from the target and antitarget guesses ``(is_female, chrx_male_lr)``.

    Agreement (or one side only) stands; on disagreement the antitarget call wins only when its chrX signal
    is strictly more decisive (``|log chrx_male_lr|``), and then by its chrX alone, because off-target chrY
    is usually too sparse to carry signal.
    """
    t_xx, t_lr = target_guess
    a_xx, a_lr = anti_guess
    if t_xx is None:
        return a_xx
    if a_xx is None or a_xx == t_xx:
        return t_xx

    def confidence(lr):
        return abs(float(np.log(lr))) if lr > 0 and np.isfinite(lr) else 0.0

    return bool(a_lr <= 1.0) if confidence(a_lr) > confidence(t_lr) else t_xx


def sample_guess(table: CopyNumTable, parx_build: str | None = None) -> tuple[bool | None, float]:
    """``(is_female or None, chrx_male_lr)`` of raw coverage, for :func:`reconcile`."""
    male, stats = compare_sex_chromosomes(table, False, parx_build)
    if male is None:
        return None, float("nan")
    return (not male), stats["chrx_male_lr"]


def expect_flat_log2(table: CopyNumTable, haploid_x_reference: bool, parx_build: str | None = None) -> np.ndarray:
    """Neutral log2 of each bin in a reference: 0 on autosomes; -1 on chrX (male reference only, PARs
    excluded with ``parx_build``) and on chrY (always, PARs included for a female reference)."""
    out = np.zeros(len(table))
    if haploid_x_reference:
        idx = (chromosomes.x_mask(table.chrom, table.start, table.end, parx_build)
               | chromosomes.y_mask(table.chrom, table.start, table.end, parx_build))
    else:
        idx = chromosomes.y_mask(table.chrom, table.start, table.end)
    out[idx] = -1.0
    return out

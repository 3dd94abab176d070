"""Integer copy numbers of segments (or bins) from log2 ratios (``cnvkit.py call``): ``.cns`` in,
``.call.cns`` out (the input columns plus ``cn``).

* ``threshold``: the first of the thresholds (default -1.1, -0.25, 0.2, 0.7) that log2 does not exceed
  gives copy number 0, 1, 2, 3; above the last, ``ceil(ref_copies * 2**log2)``. On chromosomes with
  fewer reference copies (chrY; chrX of a male reference) the call is scaled by ``ref_copies / ploidy``.
* ``clonal``: ``round(ref_copies * 2**log2)``, after rescaling for ``purity`` when given:
  ``n = (r 2^v - x (1 - p)) / p`` with ``r`` reference and ``x`` expected copies (clamped at 0).
* ``none``: no ``cn`` column (only centring / purity rescaling).

``--purity`` below 1 rescales log2 itself with the clonal formula for every method. log2 values are
log2 ratios; segments 0-based half-open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from raygen.cohort import chromosomes, sex
from raygen.cohort.cnvfiles import CopyNumTable
from raygen.cohort.ratios import center_shift
from raygen.errors import UsageError

log = logging.getLogger(__name__)

METHODS = ("threshold", "clonal", "none")
DEFAULT_THRESHOLDS = (-1.1, -0.25, 0.2, 0.7)


@dataclass(frozen=True)
class CallOptions:
    """``raygen cohort call`` settings (CNVkit's flags)."""

    method: str = "threshold"
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    ploidy: float = 2
    purity: float | None = None
    haploid_x_reference: bool = False  # -y
    sample_sex: str | None = None  # -x: m/y/male or f/x/female; None = guess from coverage
    center: str | None = None  # --center: median / mean / biweight
    center_at: float | None = None  # --center-at: subtract this constant
    drop_low_coverage: bool = False
    parx_build: str | None = None


def _ref_copies(chrom: np.ndarray, ploidy: float, haploid_x_reference: bool) -> np.ndarray:
    """Copies in the reference per row (by name, as CNVkit's pure-sample rule: chrY always, chrX with a
    male reference, get ploidy / 2)."""
    low = np.char.lower(chrom.astype(str))
    half = np.isin(low, ("chry", "y"))
    if haploid_x_reference:
        half |= np.isin(low, ("chrx", "x"))
    return np.where(half, ploidy / 2, float(ploidy))


def reference_and_expected(table: CopyNumTable, ploidy: float, haploid_x_reference: bool, is_female: bool,
                           parx_build: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(copies in the reference, copies expected in this sample) per row, sex chromosomes included."""
    ref = np.full(len(table), float(ploidy))
    exp = np.full(len(table), float(ploidy))
    on_x = chromosomes.x_mask(table.chrom, table.start, table.end, parx_build)
    on_y = chromosomes.y_mask(table.chrom, table.start, table.end, parx_build)
    ref[on_x] = ploidy // 2 if haploid_x_reference else ploidy
    exp[on_x] = ploidy if is_female else ploidy // 2
    ref[on_y] = ploidy // 2
    exp[on_y] = 0 if is_female else ploidy // 2
    if parx_build is not None:
        par_y = chromosomes.pary_mask(table.chrom, table.start, table.end, parx_build)
        ref[par_y] = 0
        exp[par_y] = 0
    return ref, exp


def absolute_threshold(log2: np.ndarray, ref_copies: np.ndarray, ploidy: float,
                       thresholds: tuple[float, ...]) -> np.ndarray:
    """Copy numbers by hard thresholds (see the module docstring); NaN log2 gets the reference copies."""
    out = np.zeros(len(log2))
    for i, (v, r) in enumerate(zip(log2.tolist(), ref_copies.tolist())):
        if v != v:
            log.warning("log2 = NaN; using the neutral copy number %s", r)
            out[i] = r
            continue
        for cn, t in enumerate(thresholds):
            if v <= t:
                out[i] = int(cn * r / ploidy) if r != ploidy else cn
                break
        else:
            out[i] = int(np.ceil(r * 2.0 ** v))
    return out


def absolute_clonal(log2: np.ndarray, ref_copies: np.ndarray, expect: np.ndarray, purity: float | None) -> np.ndarray:
    """Absolute (unrounded) copies, rescaled for purity when it is below 1 (clamped at 0, NaN kept)."""
    if purity and purity < 1.0:
        n = (ref_copies * 2.0 ** log2 - expect * (1 - purity)) / purity
        return np.where(np.isnan(n), n, np.maximum(n, 0.0))
    return ref_copies * 2.0 ** log2


def log2_from_absolute(table: CopyNumTable, absolutes: np.ndarray, ploidy: float, haploid_x_reference: bool,
                       parx_build: str | None, min_abs: float = 1e-3) -> np.ndarray:
    """log2 ratios of absolute copies relative to the reference (sex chromosomes shifted back)."""
    ratios = np.log2(np.maximum(absolutes / ploidy, min_abs))
    if haploid_x_reference:
        ratios[chromosomes.x_mask(table.chrom, table.start, table.end, parx_build)] += 1.0
    ratios[chromosomes.y_mask(table.chrom, table.start, table.end, parx_build)] += 1.0
    return ratios


def sample_is_female(table: CopyNumTable, opts: CallOptions) -> bool:
    """The sample's sex: ``--sample-sex`` when given (warning on a clear disagreement with coverage), else
    the coverage guess, female when undetermined."""
    guess = sex.guess_is_female(table, opts.haploid_x_reference, opts.parx_build)
    female = True if guess is None else guess
    if opts.sample_sex:
        given = opts.sample_sex.lower() not in ("y", "m", "male")
        if guess is not None and given != female:
            log.warning("sample sex given as %s but chrX/chrY coverage looks %s", "female" if given else "male",
                        "female" if female else "male")
        female = given
    return female


def call_sample(table: CopyNumTable, opts: CallOptions | None = None) -> CopyNumTable:
    """The ``.call.cns`` of one ``.cns`` (or ``.cnr``); see the module docstring."""
    opts = opts or CallOptions()
    if opts.method not in METHODS:
        raise UsageError(f"call method {opts.method!r}: choose one of {', '.join(METHODS)}")
    if opts.method == "threshold" and len(opts.thresholds) < 1:
        raise UsageError("give at least one threshold")
    out = table
    if opts.center_at is not None:
        out = out.with_columns(log2=out.log2 - opts.center_at)
    elif opts.center:
        shift = center_shift(out, opts.center, skip_low=opts.drop_low_coverage, parx_build=opts.parx_build)
        log.info("shifting log2 ratios by %f", shift)
        out = out.with_columns(log2=out.log2 + shift)
    female = sample_is_female(out, opts)
    absolutes = None
    if opts.purity and opts.purity < 1.0:
        ref, exp = reference_and_expected(out, opts.ploidy, opts.haploid_x_reference, female, opts.parx_build)
        absolutes = absolute_clonal(out.log2, ref, exp, opts.purity)
        out = out.with_columns(log2=log2_from_absolute(out, absolutes, opts.ploidy, opts.haploid_x_reference,
                                                       opts.parx_build))
    elif opts.method == "clonal":
        absolutes = _ref_copies(out.chrom, opts.ploidy, opts.haploid_x_reference) * 2.0 ** out.log2
    if opts.method == "threshold":
        absolutes = absolute_threshold(out.log2, _ref_copies(out.chrom, opts.ploidy, opts.haploid_x_reference),
                                       opts.ploidy, tuple(opts.thresholds))
    if opts.method != "none":
        if np.isnan(absolutes).any():
            raise UsageError(f"{int(np.isnan(absolutes).sum())} rows have no log2 value: cannot call them")
        out = out.with_columns(cn=np.round(absolutes).astype(np.int64))
    return out.ordered()

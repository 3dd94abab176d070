"""A sample's copy ratios against a reference (``cnvkit.py fix``): ``.cnn`` coverage in, ``.cnr`` out.

For targets and antitargets separately: keep the bins the reference deems usable (and whose own log2 is
not NaN), centre on the autosomes, correct GC (both), edge (targets) and RepeatMasker (antitargets) bias
with a rolling median over ``max(1%, 1/sqrt(bins))`` of the bins; then join both blocks, subtract the
reference log2, weight each bin and centre again.

Weights estimate 1 - variance of each bin's log2 ratio: ``1 - var / (sqrt(size) / mean sqrt(size))`` per
block from the sample's own residual noise, mixed 90:10 with ``1 - spread^2`` of a pooled reference,
clipped to [1e-4, 1]. log2 values are log2 ratios; bins 0-based half-open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from raygen.cohort import bias, robust
from raygen.cohort.chromosomes import genome_order
from raygen.cohort.cnvfiles import CopyNumTable, concat
from raygen.cohort.pooling import bad_bin_mask
from raygen.cohort.ratios import LOW_COVERAGE_LOG2, center_shift, low_coverage_mask, residuals
from raygen.errors import InputError

log = logging.getLogger(__name__)

WEIGHT_EPSILON = 1e-4


@dataclass(frozen=True)
class FixOptions:
    """What ``raygen cohort fix`` corrects."""

    do_gc: bool = True
    do_edge: bool = True
    do_rmask: bool = True
    parx_build: str | None = None
    smoother: str = "median"
    window_fraction: float | None = None  # --smoothing-window-fraction; None = max(0.01, bins ** -0.5)


def match_reference(ref: CopyNumTable, sample: CopyNumTable) -> CopyNumTable:
    """The reference rows of the sample's bins, in the sample's order (matched on chromosome, start, end).

    Raises :class:`InputError` for duplicated bins or bins missing from the reference.
    """
    def keys(t):
        return list(zip(t.chrom.tolist(), t.start.tolist(), t.end.tolist()))

    skeys, rkeys = keys(sample), keys(ref)
    for name, k in (("sample " + sample.sample_id, skeys), ("reference", rkeys)):
        if len(set(k)) != len(k):
            raise InputError(f"duplicated bin coordinates in the {name} ({len(k) - len(set(k))} duplicates)")
    where = {k: i for i, k in enumerate(rkeys)}
    idx = np.fromiter((where.get(k, -1) for k in skeys), dtype=np.int64, count=len(skeys))
    missing = int((idx < 0).sum())
    if missing == len(skeys) and missing:
        raise InputError(f"the reference shares no bins with {sample.sample_id}: is it a reference .cnn built "
                         "by 'reference' (not a coverage file or another panel's reference)?")
    if missing:
        raise InputError(f"the reference lacks {missing} of {len(skeys)} bins of {sample.sample_id}; it was "
                         "probably built for a different target panel")
    return ref.take(idx)


def adjust_block(sample: CopyNumTable, ref: CopyNumTable, is_target: bool, opts: FixOptions
                 ) -> tuple[CopyNumTable, CopyNumTable]:
    """One block's usable bins, centred and bias-corrected, with the matching reference rows."""
    if "gc" in sample:  # Picard imports carry gc (and ratio): keep only what a coverage file has
        sample = sample.select(("chromosome", "start", "end", "gene", "log2", "depth"))
    if not len(sample):
        return sample, ref.take(slice(0, 0))
    matched = match_reference(ref, sample)
    keep = ~(bad_bin_mask(matched) | np.isnan(sample.log2))
    log.info("%s %s: keeping %d of %d bins", sample.sample_id, "targets" if is_target else "antitargets",
             int(keep.sum()), len(keep))
    sample, matched = sample.take(keep), matched.take(keep)
    log2 = sample.log2 + center_shift(sample, skip_low=is_target, parx_build=opts.parx_build)
    if (log2 > LOW_COVERAGE_LOG2).sum() <= len(log2) // 2:
        log.warning("%s: most %s bins have no or very low coverage; bias corrections skipped -- check that the "
                    "right BED file was used", sample.sample_id, "target" if is_target else "antitarget")
        return sample.with_columns(log2=log2), matched
    frac = opts.window_fraction or max(0.01, len(log2) ** -0.5)
    if opts.do_gc:
        if "gc" in matched:
            log2 = bias.center_by_window(log2, frac, matched["gc"], opts.smoother)
        else:
            log.info("the reference has no gc column: GC correction skipped")
    if is_target and opts.do_edge:
        log2 = bias.center_by_window(log2, frac, bias.edge_bias(sample.chrom, sample.start, sample.end), opts.smoother)
    if not is_target and opts.do_rmask:
        if "rmask" in matched:
            log2 = bias.center_by_window(log2, frac, matched["rmask"], opts.smoother)
        else:
            log.info("the reference has no rmask column: RepeatMasker correction skipped")
    return sample.with_columns(log2=log2), matched


def _block_weights(block: CopyNumTable) -> tuple[np.ndarray, float]:
    ok = block.take(~low_coverage_mask(block))
    var = robust.biweight_midvariance(residuals(ok)) ** 2
    size = np.sqrt((block.end - block.start).astype(np.float64))
    return 1 - var / (size / size.mean()), var


def bin_weights(cnr: CopyNumTable, ref: CopyNumTable) -> np.ndarray:
    """Weights of the bins of ``cnr`` (see the module docstring); ``ref`` is aligned row by row."""
    simple = np.zeros(len(cnr))
    anti = cnr.is_antitarget()
    if (~anti).any():
        simple[~anti], t_var = _block_weights(cnr.take(~anti))
    else:
        t_var = float("nan")
    if anti.any():
        anti_tab = cnr.take(anti)
        low = low_coverage_mask(anti_tab).mean()
        if low > 0.5:
            log.warning("most antitarget bins (%.2f%%, %d/%d) have low or no coverage; is this amplicon/WGS?",
                        100 * low, int(round(low * len(anti_tab))), len(anti_tab))
        simple[anti], a_var = _block_weights(anti_tab)
        ratio = max(t_var, 0.01) / max(a_var, 0.01)
        log.info("targets are %.2f x more variable than antitargets" if ratio > 1 else
                 "antitargets are %.2f x more variable than targets", ratio if ratio > 1 else 1 / ratio)
    spread = ref["spread"] if "spread" in ref else np.zeros(len(ref))
    if (spread > WEIGHT_EPSILON).any() and (np.abs(np.mod(ref.log2, 1)) > WEIGHT_EPSILON).any():
        weights = 0.9 * (1.0 - spread ** 2) + 0.1 * simple
    else:
        weights = simple
    nan = np.isnan(weights)
    if nan.any():
        log.info("replaced %d NaN weights with %g", int(nan.sum()), WEIGHT_EPSILON)
        weights = np.where(nan, WEIGHT_EPSILON, weights)
    return np.clip(weights, WEIGHT_EPSILON, 1.0)


def fix_sample(target: CopyNumTable, antitarget: CopyNumTable | None, ref: CopyNumTable,
               opts: FixOptions | None = None) -> CopyNumTable:
    """The ``.cnr`` of one sample: columns chromosome, start, end, gene, log2, [depth,] weight."""
    opts = opts or FixOptions()
    if "spread" not in ref or "log2" not in ref:
        raise InputError(f"{ref.meta.get('path', 'the reference')} is not a reference (no spread column): build one "
                         "with `raygen cohort reference` (or -t/-a for a flat one)")
    if antitarget is not None and len(antitarget) and antitarget.sample_id != target.sample_id:
        raise InputError(f"sample ids differ: {target.sample_id!r} (target) vs {antitarget.sample_id!r} (antitarget)")
    t, t_ref = adjust_block(target, ref, True, opts)
    parts, refs = [t], [t_ref]
    if antitarget is not None and len(antitarget):
        a, a_ref = adjust_block(antitarget, ref, False, opts)
        if len(a):
            parts.append(a)
            refs.append(a_ref)
    if not sum(len(p) for p in parts):
        raise InputError(f"no bin of sample {target.sample_id} passes the reference filters (all {len(target)} target "
                         "bins are marked unusable in the reference)")
    cnr = concat(parts, target.sample_id)
    matched = concat(refs, "reference")
    # both blocks in genome order; the reference rows follow the same permutation
    idx = genome_order(cnr.chrom, cnr.start, cnr.end)
    cnr, matched = cnr.take(idx), matched.take(idx)
    cnr = cnr.with_columns(log2=cnr.log2 - matched.log2)
    cnr = cnr.with_columns(weight=bin_weights(cnr, matched))
    cnr = cnr.with_columns(log2=cnr.log2 + center_shift(cnr, skip_low=True, parx_build=opts.parx_build))
    return cnr.ordered()

"""Copy-number segments from bin log2 ratios (``cnvkit.py segment``): ``.cnr`` in, ``.cns`` out.

Per chromosome arm (CNVkit's arm split): drop bins with non-finite log2, optionally low-coverage bins,
outliers (``|log2 - trend| > factor x`` the rolling 95th percentile of those distances over 50 bins) and
zero-weight bins; segment what remains with ``haar`` (CNVkit's HaarSeg, exact), ``cbs`` (raygen's native
CBS, :mod:`raygen.cohort.cbs`) or ``none`` (one segment per arm); then give each segment the gene names,
summed weight and weighted mean depth of *all* the arm's bins it spans, stretch the first and last segment
to the arm's first and last bin, and write columns chromosome, start, end, gene, log2, depth, probes,
weight (``probes``: bins used). log2 of a segment is the weighted mean of its bins' log2 ratios; bins and
segments are 0-based half-open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from raygen.cohort import cbs, haar, robust
from raygen.cohort.cnvfiles import ANTITARGET_NAMES, IGNORE_GENE_NAMES, CopyNumTable, concat
from raygen.cohort.ratios import arm_slices, chromosome_slices, low_coverage_mask
from raygen.errors import UsageError

log = logging.getLogger(__name__)

METHODS = ("cbs", "haar", "none")
DEFAULT_THRESHOLD = {"cbs": 1e-4, "haar": 1e-4}


@dataclass(frozen=True)
class SegmentOptions:
    """``raygen cohort segment`` settings (CNVkit's flags)."""

    method: str = "cbs"
    threshold: float | None = None  # p-value (cbs) or FDR q (haar); None = 1e-4
    drop_low_coverage: bool = False
    drop_outliers: float = 10.0  # 0 = keep outliers


def outlier_mask(log2: np.ndarray, width: int = 50, quantile: float = 0.95, factor: float = 10.0) -> np.ndarray:
    """Bins further from the smoothed trend than ``factor`` x the rolling ``quantile`` of such distances."""
    if len(log2) <= width:
        return np.zeros(len(log2), dtype=bool)
    dists = np.abs(log2 - robust.savgol(log2, width))
    return dists > robust.rolling_quantile(dists, width, quantile) * factor


def _filtered(arm: CopyNumTable, opts: SegmentOptions) -> CopyNumTable:
    out = arm.take(np.isfinite(arm.log2))
    if opts.drop_low_coverage:
        out = out.take(~low_coverage_mask(out))
    if opts.drop_outliers:
        mask = np.zeros(len(out), dtype=bool)
        for _, sl in chromosome_slices(out.chrom):
            mask[sl] = outlier_mask(out.log2[sl], 50, 0.95, opts.drop_outliers)
        if mask.any():
            log.info("dropped %d outlier bins", int(mask.sum()))
        out = out.take(~mask)
    if "weight" in out:
        w = out["weight"]
        out = out.take(~(np.isnan(w) | (w == 0)))
    return out


def _segments_from_breaks(arm: CopyNumTable, breaks: np.ndarray) -> dict[str, np.ndarray]:
    n = len(arm)
    starts = np.insert(breaks, 0, 0).astype(np.int64)
    ends = np.append(breaks, n).astype(np.int64)
    weights = arm["weight"] if "weight" in arm else None
    means = haar.segment_means(arm.log2, breaks, weights)
    return {"chromosome": np.full(len(starts), arm.chrom[0], dtype=object), "start": arm.start[starts],
            "end": arm.end[ends - 1], "log2": means, "gene": np.full(len(starts), "-", dtype=object),
            "probes": ends - starts}


def _none_segments(arm: CopyNumTable) -> dict[str, np.ndarray]:
    rows = []
    for _, sl in arm_slices(arm):
        part = arm.take(sl)
        if not len(part):
            continue
        w = part["weight"] if "weight" in part else None
        if w is not None and w.any() and (~np.isnan(w)).any():
            ok = ~np.isnan(w)
            mean = float(np.average(part.log2[ok], weights=w[ok]))
        else:
            mean = float(np.mean(part.log2))
        rows.append((part.chrom[0], part.start[0], part.end[-1], mean, len(part)))
    return {"chromosome": np.asarray([r[0] for r in rows], dtype=object),
            "start": np.asarray([r[1] for r in rows], dtype=np.int64), "end": np.asarray([r[2] for r in rows], dtype=np.int64),
            "log2": np.asarray([r[3] for r in rows]), "gene": np.full(len(rows), "-", dtype=object),
            "probes": np.asarray([r[4] for r in rows], dtype=np.int64)}


def _segment_arm_bins(arm: CopyNumTable, opts: SegmentOptions, threshold: float) -> dict[str, np.ndarray]:
    if opts.method == "none":
        return _none_segments(arm)
    parts = []
    # HaarSeg in CNVkit splits the (filtered) arm at its own largest gap again; CBS does not
    slices = arm_slices(arm) if opts.method == "haar" else [(arm.chrom[0], slice(0, len(arm)))]
    for _, sl in slices:
        sub = arm.take(sl)
        if not len(sub):
            continue
        w = sub["weight"] if "weight" in sub else None
        if opts.method == "haar":
            breaks = haar.haar_breakpoints(sub.log2, threshold, w)
        else:
            breaks = cbs.cbs_breakpoints(sub.log2, w, threshold)
        parts.append(_segments_from_breaks(sub, breaks))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


def join_genes(genes: np.ndarray) -> str:
    """Distinct gene names in order, comma-joined, without placeholders and antitarget labels ('-' if none)."""
    skip = set(IGNORE_GENE_NAMES) | set(ANTITARGET_NAMES)
    names = dict.fromkeys(g for g in genes.tolist() if isinstance(g, str) and g not in skip)
    return ",".join(names) or "-"


def transfer_fields(seg: dict[str, np.ndarray], arm: CopyNumTable) -> dict[str, np.ndarray]:
    """Stretch the end segments to the arm's bins and give each segment the genes, weight and depth of all
    the arm's bins it overlaps."""
    seg = {k: v.copy() for k, v in seg.items()}
    seg["start"][0] = arm.start[0]
    seg["end"][-1] = arm.end[-1]
    depth = arm["depth"] if "depth" in arm else np.exp2(arm.log2)
    weights = arm["weight"] if "weight" in arm else None
    if np.all(np.diff(arm.end) >= 0):
        lo = np.searchsorted(arm.end, seg["start"], side="right")
        hi = np.searchsorted(arm.start, seg["end"], side="left")
        members = [np.arange(a, b) for a, b in zip(lo, hi)]
    else:  # nested bins: test every bin
        members = [np.flatnonzero((arm.end > s) & (arm.start < e)) for s, e in zip(seg["start"], seg["end"])]
    genes, wsum, dmean = [], np.zeros(len(members)), np.zeros(len(members))
    for k, idx in enumerate(members):
        if weights is not None:
            wt = weights[idx]
            wsum[k] = float(np.nansum(wt))
            ok = ~np.isnan(wt)
            dmean[k] = np.average(depth[idx][ok], weights=wt[ok]) if wsum[k] > 0 else 0.0
        else:
            wsum[k] = float(len(idx))
            dmean[k] = depth[idx].mean() if len(idx) else float("nan")
        genes.append(join_genes(arm.gene[idx]))
    seg.update(gene=np.asarray(genes, dtype=object), weight=wsum, depth=dmean)
    return seg


def segment_sample(cnr: CopyNumTable, opts: SegmentOptions | None = None) -> CopyNumTable:
    """The ``.cns`` of one ``.cnr`` (see the module docstring)."""
    opts = opts or SegmentOptions()
    if opts.method not in METHODS:
        raise UsageError(f"segmentation method {opts.method!r}: choose one of {', '.join(METHODS)}")
    threshold = opts.threshold if opts.threshold is not None else DEFAULT_THRESHOLD.get(opts.method, 0.0)
    bad = int((~np.isfinite(cnr.log2)).sum())
    if bad:
        log.warning("%s: dropped %d bins with non-finite log2 from the segmentation", cnr.sample_id, bad)
    pieces = []
    for _, sl in arm_slices(cnr):
        arm = cnr.take(sl)
        kept = _filtered(arm, opts)
        if not len(kept):
            continue
        seg = _segment_arm_bins(kept, opts, threshold)
        if seg and len(seg["start"]):
            pieces.append(CopyNumTable(transfer_fields(seg, arm), cnr.sample_id))
    if not pieces:
        cols = ("chromosome", "start", "end", "gene", "log2", "depth", "probes", "weight")
        return CopyNumTable({c: np.zeros(0, dtype=object if c in ("chromosome", "gene") else np.float64) for c in cols},
                            cnr.sample_id)
    return concat(pieces, cnr.sample_id).sorted().ordered()

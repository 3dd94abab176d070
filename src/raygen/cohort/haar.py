"""HaarSeg (Ben-Yaacov & Eldar 2008) as CNVkit runs it: breakpoints of a 1-D log2 signal from the local
maxima of its undecimated Haar wavelet transform at levels 1-5, each level's peaks thresholded by an FDR
rule (Benjamini-Hochberg on two-sided normal p-values, noise from the median absolute level-1
coefficient), peaks within ``2**(level-1)`` bins of a kept one merged.

The signal is one chromosome arm's log2 ratios in genome order; weights (CNVkit bin weights) enter the
wavelet convolution. Indices are 0-based bin positions; a breakpoint ``b`` starts a segment at bin ``b``.
"""

from __future__ import annotations

import math

import numpy as np

#: Lower bound on the noise estimate, so a flat signal cannot make every wiggle significant.
SIGMA_FLOOR = 1e-10


def _mirror_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Indices reflected into [0, n): -1 -> 0, -2 -> 1, n -> n-1, n+1 -> n-2."""
    idx = idx.copy()
    low = idx < 0
    idx[low] = -idx[low] - 1
    high = idx >= n
    idx[high] = n - 1 - (idx[high] - n)
    return idx


def haar_conv(signal: np.ndarray, weight: np.ndarray | None, half: int) -> np.ndarray:
    """The Haar wavelet (step of ``half`` bins each side) convolved with ``signal``, mirrored at the ends;
    zeros when the step is longer than the signal."""
    n = len(signal)
    if half > n:
        return np.zeros(n)
    k = np.arange(1, n)
    hi = _mirror_index(k + half - 1, n)
    lo = _mirror_index(k - half - 1, n)
    out = np.zeros(n)
    if weight is None:
        out[1:] = np.cumsum(signal[hi] + signal[lo] - 2 * signal[k - 1]) / math.sqrt(2.0 * half)
        return out
    ws = weight * signal
    high_w0 = weight[:half].sum()
    high_s0 = ws[:half].sum()
    # running sums, added in the same order as HaarSeg's C loop
    low_s = np.cumsum(np.concatenate([[-high_s0], ws[lo] - ws[k - 1]]))[1:]
    high_s = np.cumsum(np.concatenate([[high_s0], ws[hi] - ws[k - 1]]))[1:]
    low_w = np.cumsum(np.concatenate([[high_w0], weight[k - 1] - weight[lo]]))[1:]
    high_w = np.cumsum(np.concatenate([[high_w0], weight[hi] - weight[k - 1]]))[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = math.sqrt(half / 2) * (low_s / low_w + high_s / high_w)
    return out


def local_peaks(signal: np.ndarray) -> np.ndarray:
    """Local maxima of positive values and minima of negative values (first and last index excluded; of a
    plateau, its first index)."""
    peaks = []
    max_suspect = min_suspect = None
    s = signal.tolist()
    for k in range(1, len(s) - 1):
        prev, cur, nxt = s[k - 1], s[k], s[k + 1]
        if cur > 0:
            if cur > prev and cur > nxt:
                peaks.append(k)
            elif cur > prev and cur == nxt:
                max_suspect = k
            elif cur == prev and cur > nxt:
                if max_suspect is not None:
                    peaks.append(max_suspect)
                    max_suspect = None
            elif cur == prev and cur < nxt:
                max_suspect = None
        elif cur < 0:
            if cur < prev and cur < nxt:
                peaks.append(k)
            elif cur < prev and cur == nxt:
                min_suspect = k
            elif cur == prev and cur < nxt:
                if min_suspect is not None:
                    peaks.append(min_suspect)
                    min_suspect = None
            elif cur == prev and cur > nxt:
                min_suspect = None
    return np.asarray(peaks, dtype=np.int64)


def _norm_sf2(x: np.ndarray, sd: float) -> np.ndarray:
    """Two-sided normal p-value 2 * (1 - Phi(x / sd)), computed as CNVkit does (1 - cdf)."""
    cdf = np.asarray([0.5 * math.erfc(-v / (sd * math.sqrt(2.0))) for v in x.tolist()])
    return 2 * (1 - cdf)


def fdr_threshold(values: np.ndarray, q: float, sd: float) -> float:
    """Smallest peak magnitude kept by the Benjamini-Hochberg rule at level ``q`` (above the largest peak
    when none passes; 0 for fewer than two peaks or no noise)."""
    m = len(values)
    if m < 2:
        return 0.0
    if sd <= 0:
        return 0.0
    x = np.sort(np.abs(values))[::-1]
    p = _norm_sf2(x, sd)
    ok = np.flatnonzero(p <= np.arange(1, m + 1) / m * q)
    return float(x[ok[-1]]) if len(ok) else float(np.nextafter(x[0], np.inf))


def unify_levels(base: np.ndarray, addon: np.ndarray, window: int) -> np.ndarray:
    """``base`` plus the ``addon`` breakpoints further than ``window`` bins from every base one, sorted."""
    if not len(addon):
        return base
    if not len(base):
        return addon.copy()
    pos = np.searchsorted(base, addon)
    left = (pos > 0) & ((addon - base[np.clip(pos - 1, 0, len(base) - 1)]) <= window)
    right = (pos < len(base)) & ((base[np.clip(pos, 0, len(base) - 1)] - addon) <= window)
    return np.sort(np.concatenate([base, addon[~(left | right)]]))


def segment_means(data: np.ndarray, breaks: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Mean (weighted where weights are given and sum > 0) of each segment, one value per segment."""
    bounds = np.concatenate([[0], breaks, [len(data)]]).astype(np.int64)
    out = np.empty(len(bounds) - 1)
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        seg = data[a:b]
        w = None if weights is None else weights[a:b]
        if w is not None and np.nansum(w) > 0:
            ok = ~np.isnan(w)
            out[i] = np.average(seg[ok], weights=w[ok])
        else:
            out[i] = np.mean(seg)
    return out


def haar_breakpoints(signal: np.ndarray, fdr_q: float, weights: np.ndarray | None = None,
                     start_level: int = 1, end_level: int = 5) -> np.ndarray:
    """Breakpoints (indices starting a new segment) of ``signal`` at FDR ``fdr_q``."""
    diff = haar_conv(signal, None, 1)
    sigma = max(float(np.median(np.abs(diff))) * 1.4826 if len(diff) else 0.0, SIGMA_FLOOR)
    breaks = np.zeros(0, dtype=np.int64)
    for level in range(start_level, end_level + 1):
        conv = haar_conv(signal, weights, 2 ** level)
        peaks = local_peaks(conv)
        thresh = fdr_threshold(conv[peaks], fdr_q, sigma)
        kept = peaks[np.abs(conv[peaks]) >= thresh]
        breaks = unify_levels(breaks, kept, 2 ** (level - 1))
    return breaks

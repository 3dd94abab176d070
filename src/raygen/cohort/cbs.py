"""Circular binary segmentation (Olshen et al. 2004; Venkatraman & Olshen 2007), raygen's native version
(no R): recursively split a segment where the arc ``[i, j)`` whose weighted mean differs most from the
rest is significant.

For bins with log2 ``y`` and weights ``w`` (normalised to mean 1), the weighted between-arc sum of squares
of arc ``[i, j)`` is ``BSS = (S_in W - S W_in)^2 / (W W_in (W - W_in))`` (``S``: weighted sums, ``W``:
weight sums). The arc maximising it is tested with ``b = sqrt(n BSS / TSS)`` -- the statistic DNAcopy uses,
standardised by the segment's own total sum of squares ``TSS`` -- against the Siegmund (1988)
approximation for the maximum of such a Gaussian random field over the arcs of an ``n``-bin segment:

    P(max > b) ~ b^3 phi(b) / 2 * integral_{d}^{1/2} nu(b / sqrt(n t (1-t)))^2 / (t (1-t))^2 dt

(``d = min_width / n``, ``nu``: Siegmund's discreteness correction); the split is kept when that p-value
is below ``alpha``, and each piece is segmented again. ``tests/cohort/test_cbs.py`` checks the
approximation against simulation. DNAcopy instead takes p-values from permutations (with R's random
numbers) for segments of up to 200 bins and for short arcs, so raygen's breakpoints are a close superset
of DNAcopy's on heavy-tailed real data, and equal on most Gaussian data (see the README).

The maximum is exact (all arcs) up to ``EXACT_MAX_BINS`` bins; above it a coarse grid of arc ends is
searched first and the best coarse arcs are refined bin by bin (DNAcopy also uses a hybrid search).
Indices are 0-based bin positions; a breakpoint ``b`` starts a segment at bin ``b``.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_MAX_BINS = 1500
MIN_WIDTH = 2
_GRID_POINTS = 600
_REFINE_CANDIDATES = 4


def _nu(x: np.ndarray) -> np.ndarray:
    """Siegmund's discreteness correction nu(x) (Siegmund & Yakir 2007, eq. 2.15 approximation)."""
    x = np.asarray(x, dtype=np.float64)
    h = x / 2
    cdf = 0.5 * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
    pdf = np.exp(-h * h / 2) / math.sqrt(2 * math.pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (2 / x) * (cdf - 0.5) / (h * cdf + pdf)
    return np.where(x > 1e-8, out, 1.0)


def tail_probability(b: float, n: int, min_width: int = MIN_WIDTH, grid: int = 400, shortest: int | None = None) -> float:
    """Approximate P(max |Z| > b) over the arcs of an ``n``-bin segment whose shorter side has at least
    ``shortest`` bins (default ``min_width``); see the module docstring."""
    if n < 2 * min_width or not np.isfinite(b):
        return 1.0 if not np.isfinite(b) or b <= 0 else 0.0
    lo = min(max((shortest or min_width) / n, 1e-12), 0.5)
    if lo >= 0.5:
        return 1.0
    t = lo + (np.arange(grid) + 0.5) * (0.5 - lo) / grid
    tt = t * (1 - t)
    integrand = _nu(b / np.sqrt(n * tt)) ** 2 / tt ** 2
    phi = math.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    return float(min(1.0, b ** 3 * phi / 2 * integrand.sum() * (0.5 - lo) / grid))


def _arc_z(ps: np.ndarray, pw: np.ndarray, i: np.ndarray, j: np.ndarray, sigma: float) -> np.ndarray:
    S, W = ps[-1], pw[-1]
    s_in = ps[j] - ps[i]
    w_in = pw[j] - pw[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (s_in * W - S * w_in) / (sigma * np.sqrt(W * w_in * (W - w_in)))
    return np.where(np.isfinite(z), np.abs(z), 0.0)


def _valid(i: np.ndarray, j: np.ndarray, n: int, min_width: int) -> np.ndarray:
    """Arcs whose inside and both outside pieces are empty or at least ``min_width`` bins, and not whole."""
    inside = j - i
    left, right = i, n - j
    ok = (inside >= min_width) & (inside <= n - min_width)
    ok &= ((left == 0) | (left >= min_width)) & ((right == 0) | (right >= min_width))
    return ok


def _best_over(ps, pw, i_vals, j_vals, n, min_width, sigma) -> tuple[float, int, int]:
    I, J = np.meshgrid(i_vals, j_vals, indexing="ij")
    I, J = I.ravel(), J.ravel()
    keep = (I < J) & _valid(I, J, n, min_width)
    if not keep.any():
        return 0.0, 0, 0
    I, J = I[keep], J[keep]
    z = _arc_z(ps, pw, I, J, sigma)
    k = int(np.argmax(z))
    return float(z[k]), int(I[k]), int(J[k])


def best_arc(y: np.ndarray, w: np.ndarray, sigma: float, min_width: int = MIN_WIDTH) -> tuple[float, int, int]:
    """(max |Z|, i, j) over the arcs ``[i, j)`` of one segment."""
    n = len(y)
    ps = np.concatenate([[0.0], np.cumsum(w * y)])
    pw = np.concatenate([[0.0], np.cumsum(w)])
    if n <= EXACT_MAX_BINS:
        best = (0.0, 0, 0)
        ends = np.arange(n + 1)
        for i in range(0, n - min_width + 1):
            j = ends[i + min_width:]
            ok = _valid(np.full(len(j), i), j, n, min_width)
            if not ok.any():
                continue
            z = _arc_z(ps, pw, np.full(int(ok.sum()), i), j[ok], sigma)
            k = int(np.argmax(z))
            if z[k] > best[0]:
                best = (float(z[k]), i, int(j[ok][k]))
        return best
    step = max(1, n // _GRID_POINTS)
    grid = np.unique(np.concatenate([np.arange(0, n + 1, step), [n]]))
    I, J = np.meshgrid(grid, grid, indexing="ij")
    I, J = I.ravel(), J.ravel()
    keep = (I < J) & _valid(I, J, n, min_width)
    z = _arc_z(ps, pw, I[keep], J[keep], sigma)
    best = (0.0, 0, 0)
    for k in np.argsort(z)[::-1][:_REFINE_CANDIDATES]:
        gi, gj = int(I[keep][k]), int(J[keep][k])
        ii = np.arange(max(0, gi - step), min(n, gi + step) + 1)
        jj = np.arange(max(0, gj - step), min(n, gj + step) + 1)
        cand = _best_over(ps, pw, ii, jj, n, min_width, sigma)
        if cand[0] > best[0]:
            best = cand
    return best


def arc_statistic(y: np.ndarray, w: np.ndarray, z_raw: float) -> float:
    """The best arc's statistic standardised by the segment's own spread: ``sqrt(n * BSS / TSS)`` with the
    weighted between-arc sum of squares ``BSS = z_raw^2`` (``z_raw``: the arc statistic at sigma 1) and
    the weighted total sum of squares ``TSS`` of the segment. Approximately N(0, 1) for one arc under no
    change; other changes inside the segment inflate TSS, which makes splits conservative, as in DNAcopy."""
    n = len(y)
    mean = np.average(y, weights=w)
    tss = float(np.sum(w * (y - mean) ** 2))
    return 0.0 if tss <= 0 else math.sqrt(n * min(z_raw * z_raw / tss, 1.0))


def cbs_breakpoints(y: np.ndarray, weights: np.ndarray | None, alpha: float, min_width: int = MIN_WIDTH,
                    ) -> np.ndarray:
    """Breakpoints of ``y`` (one chromosome arm, genome order) at significance ``alpha``."""
    n = len(y)
    w = np.ones(n) if weights is None else np.where(np.isfinite(weights) & (weights > 0), weights, 0.0)
    if n < 2 * min_width or not (w > 0).any():
        return np.zeros(0, dtype=np.int64)
    w = np.where(w > 0, w, w[w > 0].min())
    w = w / w.mean()
    breaks: list[int] = []
    stack = [(0, n)]
    while stack:
        a, b = stack.pop()
        if b - a < 2 * min_width or np.ptp(y[a:b]) == 0:
            continue
        z, i, j = best_arc(y[a:b], w[a:b], 1.0, min_width)
        if z <= 0:
            continue
        if tail_probability(arc_statistic(y[a:b], w[a:b], z), b - a, min_width) >= alpha:
            continue
        cuts = [c for c in (a + i, a + j) if a < c < b]
        breaks.extend(cuts)
        edges = [a, *cuts, b]
        stack.extend(zip(edges[:-1], edges[1:]))
    return np.asarray(sorted(set(breaks)), dtype=np.int64)

"""Robust estimators and smoothers, with CNVkit's exact definitions (its quirks included, so results match).

* :func:`biweight_location` / :func:`biweight_midvariance` work on 1-D arrays or column-wise on 2-D
  arrays (``samples x bins``: one estimate per bin), ignoring NaN, so a panel of normals reduces per bin in
  one vectorised pass.
* :func:`rolling_median`, :func:`rolling_quantile` and :func:`savgol` smooth 1-D signals with mirrored
  edges, as CNVkit's ``smoothing`` module does.

Units are whatever the input carries (log2 ratios, depths).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd


def _median(a: np.ndarray, axis: int | None) -> np.ndarray:
    return np.nanmedian(a, axis=axis) if np.isnan(a).any() else np.median(a, axis=axis)


def _columns(a: np.ndarray) -> tuple[np.ndarray, bool]:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return a[~np.isnan(a)].reshape(-1, 1), True
    if a.ndim != 2:
        raise ValueError("expected a 1-D array or a 2-D samples x bins array")
    return a, False


def _small_cases(a: np.ndarray, one_value_default: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Results for columns with 0 or 1 values (NaN / the value or ``default``) and a mask of the rest."""
    count = (~np.isnan(a)).sum(axis=0)
    out = np.full(a.shape[1], np.nan)
    if (count == 1).any():
        ones = count == 1
        out[ones] = np.nanmax(a[:, ones], axis=0) if one_value_default is None else one_value_default
    return out, count >= 2


def biweight_location(a: np.ndarray, initial: np.ndarray | None = None, c: float = 6.0, epsilon: float = 1e-3,
                      max_iter: int = 5) -> np.ndarray | float:
    """Tukey's biweight location, per column of a 2-D array (or of a 1-D array), NaN ignored.

    CNVkit's definition: start at the median; each step weights ``w = (1 - (d / (c * MAD))**2)**2`` and
    averages the residuals ``d`` of the points with ``w < 1`` (so exact ties with the current estimate
    drop out); stop when the step is at most ``epsilon * c * MAD`` or after ``max_iter`` steps. A column
    whose MAD is 0 returns its median. One value returns itself, none returns NaN.
    """
    x, flat = _columns(a)
    out, todo = _small_cases(x, None)
    if todo.any():
        xs = x[:, todo]
        init = _median(xs, 0) if initial is None else np.asarray(initial, dtype=np.float64).reshape(-1)[todo]
        out[todo] = _biloc_iterate(xs, init, c, epsilon, max_iter)
    return float(out[0]) if flat else out


def _biloc_iterate(x: np.ndarray, initial: np.ndarray, c: float, epsilon: float, max_iter: int) -> np.ndarray:
    result = initial.copy()
    active = np.ones(x.shape[1], dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        xs, init = x[:, idx], initial[idx]
        d = xs - init
        mad = _median(np.abs(d), 0)
        scale = c * mad
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            w = (1 - (d / scale) ** 2) ** 2
        mask = w < 1  # NaN (missing values, MAD 0) compares False
        wsum = np.where(mask, w, 0.0).sum(axis=0)
        moved = (mad != 0) & (wsum != 0)
        step = np.zeros(len(idx))
        step[moved] = np.where(mask[:, moved], d[:, moved] * w[:, moved], 0.0).sum(axis=0) / wsum[moved]
        res = np.where(moved, init + step, init)
        done = ~moved | (np.abs(res - init) <= epsilon * np.where(moved, scale, 0.0))
        result[idx] = res
        initial = initial.copy()
        initial[idx[~done]] = res[~done]
        active[idx[done]] = False
    return result


def biweight_midvariance(a: np.ndarray, initial: np.ndarray | float | None = None, c: float = 9.0,
                         epsilon: float = 1e-3) -> np.ndarray | float:
    """The biweight midvariance (a robust SD, despite the name), per column, NaN ignored.

    CNVkit's definition: residuals from ``initial`` (default: the biweight location), ``u = d / max(c *
    MAD, epsilon)``, points with ``|u| < 1`` enter ``sqrt(n * sum(d^2 (1-u^2)^4)) / |sum((1-u^2)(1-5u^2))|``;
    when the kept ``u`` sum to exactly 0 it falls back to ``1.4826 * MAD``. One value gives 0, none NaN.
    """
    x, flat = _columns(a)
    out, todo = _small_cases(x, 0.0)
    if todo.any():
        xs = x[:, todo]
        if initial is None:
            init = np.asarray(biweight_location(xs), dtype=np.float64)
        else:
            init = np.broadcast_to(np.asarray(initial, dtype=np.float64).reshape(-1), (x.shape[1],))[todo]
        out[todo] = _midvar(xs, init, c, epsilon)
    return float(out[0]) if flat else out


def _midvar(x: np.ndarray, init: np.ndarray, c: float, epsilon: float) -> np.ndarray:
    d = x - init
    mad = _median(np.abs(d), 0)
    u = d / np.maximum(c * mad, epsilon)
    with np.errstate(invalid="ignore"):
        mask = np.abs(u) < 1
    u2 = np.where(mask, u * u, 0.0)
    n = mask.sum(axis=0)
    num = n * np.where(mask, d * d * (1 - u2) ** 4, 0.0).sum(axis=0)
    den = np.where(mask, (1 - u2) * (1 - 5 * u2), 0.0).sum(axis=0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        val = np.sqrt(num / den)
    fallback = np.where(mask, u, 0.0).sum(axis=0) == 0
    return np.where(fallback, mad * 1.4826, val)


def weighted_median(a: np.ndarray, weights: np.ndarray) -> float:
    """Weighted median of a 1-D array (CNVkit's rule: a point with more than half the weight wins; an exact
    half-way split averages the two neighbours). NaN values are dropped, NaN weights count as 0."""
    a = np.asarray(a, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if len(a) != len(w):
        raise ValueError("values and weights differ in length")
    keep = ~np.isnan(a)
    a, w = a[keep], np.where(np.isnan(w[keep]), 0.0, w[keep])
    if not len(a):
        return float("nan")
    if len(a) == 1:
        return float(a[0])
    order = a.argsort()
    a, w = a[order], w[order]
    mid = 0.5 * w.sum()
    if (w > mid).any():
        return float(a[w.argmax()])
    cum = w.cumsum()
    i = int(cum.searchsorted(mid))
    if i < len(a) - 1 and abs(cum[i] - mid) < sys.float_info.epsilon:
        return float(a[i: i + 2].mean())
    return float(a[i])


# -- smoothers ------------------------------------------------------------------------------------------

def window_wing(width: float, n: int, min_wing: int = 3) -> int:
    """Half-window size from a fraction of ``n`` (``0 < width < 1``) or a whole window size (``>= 2``)."""
    if 0 < width < 1:
        wing = math.ceil(n * width * 0.5)
    elif width >= 2 and int(width) == width:
        wing = int(min(width, n - 1) // 2)
    else:
        raise ValueError(f"width must be a fraction in (0, 1) or a whole number >= 2 (got {width})")
    wing = min(max(wing, min_wing), n - 1)
    if wing < 1:
        raise ValueError(f"signal of {n} values is too short to smooth")
    return wing


def mirror_pad(x: np.ndarray, wing: int) -> np.ndarray:
    """``x`` with ``wing`` values mirrored onto each end (the edge value itself repeated first)."""
    return np.concatenate((x[wing - 1::-1], x, x[: -wing - 1:-1]))


def rolling_median(x: np.ndarray, width: float) -> np.ndarray:
    """Centred rolling median with mirrored edges; window ``2 * wing + 1`` (see :func:`window_wing`).
    NaN values are skipped inside a window."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return x.copy()
    wing = window_wing(width, len(x))
    rolled = pd.Series(mirror_pad(x, wing)).rolling(2 * wing + 1, min_periods=1, center=True).median()
    return rolled.to_numpy()[wing:-wing]


def rolling_quantile(x: np.ndarray, width: float, quantile: float) -> np.ndarray:
    """Centred rolling quantile (linear interpolation) with mirrored edges."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return x.copy()
    wing = window_wing(width, len(x))
    rolled = pd.Series(mirror_pad(x, wing)).rolling(2 * wing + 1, min_periods=2, center=True).quantile(quantile)
    return rolled.to_numpy()[wing:-wing]


def _savgol_coeffs(window: int, order: int) -> np.ndarray:
    half = window // 2
    pos = half if window % 2 else half - 0.5
    t = np.arange(-pos, window - pos, dtype=np.float64)[::-1]
    A = t ** np.arange(order + 1).reshape(-1, 1)
    y = np.zeros(order + 1)
    y[0] = 1.0
    return np.linalg.lstsq(A, y, rcond=None)[0]


def savgol_filter(x: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay smoothing (order-``order`` polynomial over ``window`` points); the first and last
    ``window // 2`` values come from a polynomial fitted to the edge window (scipy's ``mode="interp"``)."""
    n = len(x)
    if window > n:
        raise ValueError("window longer than the signal")
    y = np.convolve(x, _savgol_coeffs(window, order), mode="same")
    half = window // 2
    for lo, hi, a, b in ((0, window, 0, half), (n - window, n, n - half, n)):
        coeffs = np.polyfit(np.arange(hi - lo), x[lo:hi], order)
        y[a:b] = np.polyval(coeffs, np.arange(a - lo, b - lo))
    return y


def savgol(x: np.ndarray, total_width: int, window: int = 7, order: int = 3) -> np.ndarray:
    """CNVkit's smoother: repeated Savitzky-Golay passes (``window`` points, cubic) over a mirror-padded
    signal until their combined width reaches ``total_width``."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return x.copy()
    wing = window_wing(total_width, len(x))
    y = mirror_pad(x, wing)
    total = 2 * wing + 1
    window = min(window, total)
    order = min(order, window // 2)
    for _ in range(max(1, min(1000, total // window))):
        y = savgol_filter(y, window, order)
    return y[wing:-wing]

"""Ranking metrics with frequency weights, so a bootstrap is one matrix pass: AUROC, AUPRC and their CIs.

Every function takes ``weights`` of shape ``(B, n)`` (B weightings of the same n items; weight = how many
times an item is counted) and returns ``B`` values. With all weights 1 they are the plain metrics of
:mod:`raygen.train.metrics`, which calls them. Scores are oriented so that a larger score means "more likely
positive"; items are sorted once and every weighting reuses that order.

- AUROC: the Mann-Whitney probability that a positive outranks a negative, ties counted one half.
- AUPRC: average precision, step-wise over the ranking by decreasing score (stable order among ties, as
  scikit-learn's ``average_precision_score`` is not: ties here keep input order), ``sum_i w_i y_i P_i / sum_i w_i y_i``
  with ``P_i`` the precision of the top of the ranking down to item i. An item of weight k counts as k tied
  copies, all scored with the precision after the last of them.

The bootstrap (:func:`bootstrap_ci`) is the Poisson bootstrap: each item gets an independent Poisson(1) count
per replicate, which approximates resampling n items with replacement and needs no n x n work.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Bootstrap replicates evaluated per chunk (bounds memory to chunk x n floats).
CHUNK = 250


def _sorted(y, score, weights, descending: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, labels, ``(B, n)`` weights) in score order (stable among ties)."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    order = np.argsort(-score if descending else score, kind="mergesort")
    return score[order], y[order], w[:, order]


def auroc_weighted(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC under each weighting (rows of ``weights``); NaN where a class has no weight."""
    s, yy, w = _sorted(y, score, weights, descending=False)
    if len(yy) == 0:
        return np.full(w.shape[0], np.nan)
    starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))  # tie groups
    gpos = np.add.reduceat(w * yy, starts, axis=1)
    gneg = np.add.reduceat(w * ~yy, starts, axis=1)
    neg_below = np.cumsum(gneg, axis=1) - gneg
    num = np.sum(gpos * (neg_below + 0.5 * gneg), axis=1)
    den = gpos.sum(axis=1) * gneg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def auprc_weighted(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision under each weighting; NaN where positives have no weight."""
    _, yy, w = _sorted(y, score, weights, descending=True)
    if len(yy) == 0:
        return np.full(w.shape[0], np.nan)
    wy = w * yy
    tp = np.cumsum(wy, axis=1)
    seen = np.cumsum(w, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(seen > 0, tp / np.where(seen > 0, seen, 1), 0.0)
        total = wy.sum(axis=1)
        return np.where(total > 0, np.sum(wy * precision, axis=1) / np.where(total > 0, total, 1), np.nan)


def poisson_weights(n: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """``(replicates, n)`` Poisson(1) counts: one bootstrap weighting per row."""
    return rng.poisson(1.0, size=(replicates, n)).astype(np.float32)


def bootstrap_ci(metric: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], y: np.ndarray,
                 score: np.ndarray, *, replicates: int = 1000, level: float = 0.95, seed: int = 0
                 ) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the metric on the data and the percentile interval of ``level`` over
    ``replicates`` Poisson-bootstrap weightings (seeded: the same data give the same interval)."""
    n = len(y)
    est = float(metric(y, score, np.ones((1, n)))[0])
    if n == 0 or replicates <= 0:
        return est, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = []
    for start in range(0, replicates, CHUNK):
        vals.append(metric(y, score, poisson_weights(n, min(CHUNK, replicates - start), rng)))
    v = np.concatenate(vals)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return est, float("nan"), float("nan")
    alpha = (1 - level) / 2
    return est, float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))


def curve_points(y: np.ndarray, score: np.ndarray, max_points: int = 200) -> dict[str, list[float]]:
    """ROC (``fpr``, ``tpr``) and precision-recall (``recall``, ``precision``) points of a ranking, at most
    ``max_points`` evenly spaced cut-offs (distinct scores only), for drawing."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=float)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    tp, fp = np.cumsum(ys), np.cumsum(~ys)
    last = np.flatnonzero(np.concatenate([ss[1:] != ss[:-1], [True]]))  # the end of every tie group
    if len(last) > max_points:
        last = last[np.unique(np.linspace(0, len(last) - 1, max_points).round().astype(int))]
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    tpr, fpr = tp[last] / n_pos, fp[last] / n_neg
    precision = tp[last] / (last + 1)
    return {"fpr": [0.0, *fpr.round(5).tolist()], "tpr": [0.0, *tpr.round(5).tolist()],
            "recall": tpr.round(5).tolist(), "precision": precision.round(5).tolist()}

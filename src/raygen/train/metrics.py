"""Classification and ranking metrics in numpy (no scikit-learn/scipy dependency): AUROC, AUPRC, Spearman.

AUROC and AUPRC are :mod:`raygen.eval.ranking`'s weighted metrics with unit weights (one implementation).
"""

from __future__ import annotations

import numpy as np

from raygen.eval.ranking import auprc_weighted, auroc_weighted


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # Tie groups: start index of each run of equal values.
    starts = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1]]))
    ends = np.concatenate([starts[1:], [len(xs)]])
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction); NaN if one class is absent."""
    return float(auroc_weighted(y, score, np.ones((1, len(y))))[0])


def auprc(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise); NaN without positives."""
    return float(auprc_weighted(y, score, np.ones((1, len(y))))[0])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; NaN when either side is constant."""
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])

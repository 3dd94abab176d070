"""Weighted AUROC / AUPRC and the Poisson bootstrap, against scipy's Mann-Whitney U and direct formulas."""

from __future__ import annotations

import numpy as np
from scipy import stats

from raygen.eval.ranking import auprc_weighted, auroc_weighted, bootstrap_ci, curve_points
from raygen.train.metrics import auprc, auroc


def _ap_direct(y, s):
    """Average precision by its definition: mean over positives of precision at each positive's rank."""
    order = np.argsort(-s, kind="mergesort")
    ys = y[order]
    return np.mean([ys[: i + 1].mean() for i in np.flatnonzero(ys)])


def test_auroc_is_mann_whitney_with_ties():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 200))
        y = rng.integers(0, 2, n)
        if y.all() or not y.any():
            continue
        s = rng.integers(0, 6, n).astype(float)  # many ties
        u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
        assert np.isclose(auroc(y, s), u / (y.sum() * (n - y.sum())))


def test_auprc_matches_definition():
    rng = np.random.default_rng(2)
    for _ in range(20):
        n = int(rng.integers(5, 200))
        y = rng.integers(0, 2, n)
        if not y.any():
            continue
        s = rng.normal(size=n)
        assert np.isclose(auprc(y, s), _ap_direct(y, s))


def _ap_tie_groups(y, s):
    """Average precision with precision taken at the end of each tie group (scikit-learn's convention)."""
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    tp = np.cumsum(ys)
    end = {v: i for i, v in enumerate(ss)}  # last index of each score
    return np.mean([tp[end[ss[i]]] / (end[ss[i]] + 1) for i in np.flatnonzero(ys)])


def test_integer_weights_equal_repeated_items():
    """A weight of k counts an item k times; its k copies are one tie group (precision after all of them)."""
    rng = np.random.default_rng(3)
    y, s = rng.integers(0, 2, 60), rng.normal(size=60)  # distinct scores
    w = rng.integers(0, 4, 60)
    rep_y, rep_s = np.repeat(y, w), np.repeat(s, w)
    assert np.isclose(auroc_weighted(y, s, w[None])[0], auroc(rep_y, rep_s))
    assert np.isclose(auprc_weighted(y, s, w[None])[0], _ap_tie_groups(rep_y, rep_s))


def test_bootstrap_interval_covers_and_is_seeded():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    s = y + rng.normal(scale=1.5, size=400)
    est, lo, hi = bootstrap_ci(auroc_weighted, y, s, replicates=300, seed=7)
    assert lo < est < hi and hi - lo < 0.2
    assert bootstrap_ci(auroc_weighted, y, s, replicates=300, seed=7) == (est, lo, hi)
    # the interval narrows with more data
    y4, s4 = np.tile(y, 4), np.tile(s, 4)
    _, lo4, hi4 = bootstrap_ci(auroc_weighted, y4, s4, replicates=300, seed=7)
    assert hi4 - lo4 < (hi - lo) * 0.7


def test_curve_points_end_at_one():
    y = np.array([1, 0, 1, 0, 1, 1, 0])
    c = curve_points(y, np.arange(7.0))
    assert c["fpr"][0] == 0 and c["fpr"][-1] == 1 and c["tpr"][-1] == 1
    assert np.isclose(c["precision"][-1], y.mean())

"""PP3 / BP4 thresholds from the local likelihood ratio (Pejaver et al. 2022 strengths)."""

from __future__ import annotations

import numpy as np

from raygen.eval.thresholds import STRENGTHS, choose_thresholds, local_lr, strength_of


def _labelled(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.uniform(size=n) < 0.3
    score = np.where(y, rng.normal(2.0, 1.0, n), rng.normal(0.0, 1.0, n))
    return y.astype(int), score


def test_local_lr_by_hand():
    y = np.array([0, 0, 1, 0, 1, 1])
    s, lr = local_lr(y, np.arange(6.0), np.ones((1, 6)), half=1)
    # window of index 0 is items 0..1: 0 positives -> LR 0; of index 5 is items 4..5: 2/3 pos, 0 neg -> inf
    assert lr[0, 0] == 0 and np.isinf(lr[0, 5])
    # index 2: items 1..3 = 1 pos (1/3), 2 neg (2/3) -> 0.5
    assert np.isclose(lr[0, 2], 0.5)


def test_thresholds_are_ordered_and_hold_on_fresh_data():
    y, s = _labelled()
    t = choose_thresholds(y, s, source="synthetic", replicates=200)
    pp3 = [t["pp3"][k] for k in STRENGTHS if t["pp3"][k] is not None]
    bp4 = [t["bp4"][k] for k in STRENGTHS if t["bp4"][k] is not None]
    assert len(pp3) >= 2 and len(bp4) >= 1
    assert pp3 == sorted(pp3) and bp4 == sorted(bp4, reverse=True)  # stronger = further out
    assert max(bp4) < min(pp3)
    # on fresh data from the same generator, variants past the supporting PP3 threshold are enriched >= 2.08x
    y2, s2 = _labelled(seed=1)
    above = s2 >= t["pp3"]["supporting"]
    lr = (y2[above].sum() / y2.sum()) / ((~y2.astype(bool))[above].sum() / (1 - y2).sum())
    assert lr >= STRENGTHS["supporting"]


def test_uninformative_score_gets_no_thresholds():
    rng = np.random.default_rng(2)
    y, s = rng.integers(0, 2, 3000), rng.normal(size=3000)
    t = choose_thresholds(y, s, source="noise", replicates=200)
    assert all(v is None for v in t["pp3"].values()) and all(v is None for v in t["bp4"].values())


def test_too_few_labels_say_so():
    t = choose_thresholds(np.array([0, 1] * 10), np.arange(20.0), source="tiny", min_window=50)
    assert "too few" in t["note"] and t["pp3"]["supporting"] is None


def test_strength_of_picks_the_strongest():
    t = {"pp3": {"supporting": 0.5, "moderate": 0.7, "strong": None},
         "bp4": {"supporting": 0.2, "moderate": 0.1, "strong": None}}
    assert strength_of(0.75, t) == ("PP3", "moderate")
    assert strength_of(0.55, t) == ("PP3", "supporting")
    assert strength_of(0.3, t) == (None, None)
    assert strength_of(0.05, t) == ("BP4", "moderate")
    assert strength_of(float("nan"), t) == (None, None)

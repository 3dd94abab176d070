"""Score thresholds for the computational evidence codes PP3 / BP4, chosen on labelled data.

The strengths are ClinGen's Bayesian ones (Tavtigian et al. 2018, Genet Med 20:1054; applied to
predictors by Pejaver et al. 2022, AJHG 109:2163): evidence of a strength holds where the likelihood ratio
of pathogenicity (OddsPath) reaches ``2.08`` (supporting), ``4.33`` (moderate) or ``18.7`` (strong) for
PP3, and falls to ``1/2.08``, ``1/4.33``, ``1/18.7`` for BP4. As in Pejaver et al., the ratio is the
**local** one: at each score, among the labelled variants nearest to it in rank (a window of
``window_fraction`` of them, at least ``min_window``), ``LR = (positives in window / positives) /
(negatives in window / negatives)``, which does not depend on how many positives the labelled set holds.
A threshold must hold with 95% confidence (the one-sided 5th percentile of a Poisson bootstrap for PP3, the
95th for BP4) and from there on: the PP3 threshold of a strength is the lowest score from which every
higher score reaches it, the BP4 threshold the highest score up to which every lower score does. Where no
score reaches a strength, that code has no threshold: the labelled data cannot support it.

These thresholds are fitted parameters: ``raygen assess`` fits them on ``--calibration-labels`` only and
never on the variants it reports.
"""

from __future__ import annotations

import numpy as np

from raygen.eval.ranking import poisson_weights

#: OddsPath of each evidence strength (Tavtigian et al. 2018).
STRENGTHS = {"supporting": 2.08, "moderate": 4.33, "strong": 18.7}


def local_lr(y: np.ndarray, score: np.ndarray, weights: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted scores, ``(B, n)`` local likelihood ratios): window of ranks ``[i - half, i + half]``."""
    order = np.argsort(score, kind="mergesort")
    s, yy = np.asarray(score, dtype=float)[order], np.asarray(y).astype(bool)[order]
    w = np.atleast_2d(weights)[:, order].astype(np.float64)
    n = len(s)
    cpos = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w * yy, axis=1)], axis=1)
    cneg = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w * ~yy, axis=1)], axis=1)
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    pos = cpos[:, hi] - cpos[:, lo]
    neg = cneg[:, hi] - cneg[:, lo]
    tot_pos, tot_neg = cpos[:, -1:], cneg[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = (pos / tot_pos) / (neg / tot_neg)
    return s, np.where(np.isnan(lr), 1.0, lr)


def choose_thresholds(y: np.ndarray, score: np.ndarray, *, source: str, window_fraction: float = 0.1,
                      min_window: int = 50, replicates: int = 500, seed: int = 0) -> dict:
    """PP3 / BP4 thresholds per strength on labelled ``(y, score)`` (higher score = more likely positive).

    Returns ``{"method", "source", "n", "positives", "pp3": {strength: threshold or None}, "bp4": {...}}``.
    """
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    n = len(y)
    out: dict = {"method": "local likelihood ratio (Pejaver et al. 2022), 95% one-sided Poisson bootstrap bound",
                 "source": source, "n": int(n), "positives": int(y.sum()),
                 "window": int(max(min_window, round(window_fraction * n))), "pp3": {}, "bp4": {}}
    if n < 2 * min_window or y.all() or not y.any():
        out["pp3"] = {k: None for k in STRENGTHS}
        out["bp4"] = {k: None for k in STRENGTHS}
        out["note"] = f"too few labelled variants ({n}, {int(y.sum())} positive) to choose thresholds"
        return out
    half = out["window"] // 2
    rng = np.random.default_rng(seed)
    s, lr = local_lr(y, score, poisson_weights(n, replicates, rng), half)
    lower = np.quantile(lr, 0.05, axis=0)
    upper = np.quantile(lr, 0.95, axis=0)
    for name, odds in STRENGTHS.items():
        ok_up = np.flip(np.logical_and.accumulate(np.flip(lower >= odds)))  # this score and every higher one
        ok_down = np.logical_and.accumulate(upper <= 1 / odds)  # this score and every lower one
        out["pp3"][name] = float(s[np.argmax(ok_up)]) if ok_up.any() else None
        out["bp4"][name] = float(s[len(s) - 1 - np.argmax(np.flip(ok_down))]) if ok_down.any() else None
    return out


def spliceai_thresholds(pp3: float, bp4: float) -> dict:
    """The published SpliceAI thresholds (ClinGen SVI Splicing Subgroup, Walker et al. 2023, AJHG 110:1046):
    max delta score ``>= pp3`` (0.2) gives PP3 and ``<= bp4`` (0.1) BP4, both at supporting strength. In
    the shape of :func:`choose_thresholds`' result; nothing is fitted."""
    return {"method": "published (not fitted)", "source": "ClinGen SVI Splicing Subgroup, Walker et al. 2023 "
            f"(AJHG 110:1046): SpliceAI max delta >= {pp3} PP3, <= {bp4} BP4, supporting",
            "pp3": {"supporting": pp3, "moderate": None, "strong": None},
            "bp4": {"supporting": bp4, "moderate": None, "strong": None}}


def strength_of(value: float | None, thresholds: dict) -> tuple[str | None, str | None]:
    """``("PP3" | "BP4" | None, strength)`` of a score under :func:`choose_thresholds`' result: the
    strongest strength whose threshold the score reaches."""
    if value is None or not np.isfinite(value):
        return None, None
    for name in reversed(list(STRENGTHS)):
        t = thresholds.get("pp3", {}).get(name)
        if t is not None and value >= t:
            return "PP3", name
    for name in reversed(list(STRENGTHS)):
        t = thresholds.get("bp4", {}).get(name)
        if t is not None and value <= t:
            return "BP4", name
    return None, None

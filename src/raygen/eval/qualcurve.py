"""Precision, recall and F1 of a call set at each QUAL threshold: the curve a user picks a threshold from.

A threshold ``t`` keeps the query alleles with QUAL >= ``t`` (QUAL ``.`` is below every threshold). At
``t``, QUERY.TP and FP are the kept matched and unmatched query alleles; TRUTH.TP the truth alleles whose
score (the QUAL of the query alleles that recover them, the weakest of them:
:attr:`raygen.eval.haplotype.MatchResult.truth_score`) is >= ``t``; FN the other truth alleles. The
matching is the one of all calls, not redone per threshold (as vcfeval's ROC). The first row (``qual``
None) keeps every call.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("SNP", "INDEL", "ALL")


def _scores(values) -> np.ndarray:
    return np.array([-np.inf if v is None else float(v) for v in values], dtype=float)


def thresholds(quals: np.ndarray, max_points: int) -> np.ndarray:
    """The distinct finite QUAL values, ascending; at most ``max_points`` of them, evenly spaced in rank."""
    u = np.unique(quals[np.isfinite(quals)])
    if len(u) > max_points:
        u = u[np.unique(np.linspace(0, len(u) - 1, max_points).round().astype(int))]
    return u


def _row(t, tp: int, tpq: int, fp: int, fn: int) -> dict:
    p = tpq / (tpq + fp) if tpq + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else None
    return {"qual": t, "tp": tp, "tp_query": tpq, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}


def _at_least(sorted_values: np.ndarray, t: np.ndarray) -> np.ndarray:
    return len(sorted_values) - np.searchsorted(sorted_values, t, side="left")


def qual_curve(rep, max_points: int = 200) -> dict:
    """``{"SNP": rows, "INDEL": rows, "ALL": rows, "best_f1": {class: row}}`` of a
    :class:`raygen.eval.concordance.Report` (rows as :func:`_row`; ``qual`` None: no threshold)."""
    res = rep.match
    qq, tq = _scores(a.qual for a in rep.query), _scores(res.truth_score)
    q_tp, t_tp = np.array(res.query_tp, bool), np.array(res.truth_tp, bool)
    q_kind, t_kind = np.array([a.kind for a in rep.query]), np.array([a.kind for a in rep.truth])
    ts = thresholds(qq, max_points)
    out: dict = {"best_f1": {}}
    for k in CLASSES:
        qs = q_kind == k if k != "ALL" else np.ones(len(qq), bool)
        tsel = t_kind == k if k != "ALL" else np.ones(len(tq), bool)
        q_tp_s, q_fp_s = np.sort(qq[qs & q_tp]), np.sort(qq[qs & ~q_tp])
        t_tp_s = np.sort(tq[tsel & t_tp])
        n_truth = int(tsel.sum())
        rows = [_row(None, len(t_tp_s), len(q_tp_s), len(q_fp_s), n_truth - len(t_tp_s))]
        tp, tpq, fp = _at_least(t_tp_s, ts), _at_least(q_tp_s, ts), _at_least(q_fp_s, ts)
        rows += [_row(float(t), int(a), int(b), int(c), n_truth - int(a)) for t, a, b, c in zip(ts, tp, tpq, fp)]
        out[k] = rows
        scored = [r for r in rows if r["f1"] is not None]
        if scored:
            out["best_f1"][k] = max(scored, key=lambda r: (r["f1"], -(r["qual"] or 0.0)))
    return out


def format_curve(curve: dict, klass: str = "ALL", rows: int = 12) -> str:
    """A short fixed-width table of one class's curve: about ``rows`` thresholds evenly spaced in rank, and
    the best-F1 threshold."""
    pts = curve.get(klass, [])
    if len(pts) <= 1:
        return f"QUAL curve ({klass}): no QUAL values in the calls"
    pick = sorted(set(np.linspace(0, len(pts) - 1, min(rows, len(pts))).round().astype(int)))

    def f(x) -> str:
        return "    n/a" if x is None else f"{x:7.4f}"

    lines = [f"QUAL curve ({klass}; {len(pts) - 1} thresholds, --json has all)",
             f"{'QUAL>=':>9} {'TP':>6} {'FP':>5} {'FN':>5} {'prec':>7} {'recall':>7} {'F1':>7}"]
    for r in [pts[i] for i in pick]:
        q = "all" if r["qual"] is None else f"{r['qual']:.4g}"
        lines.append(f"{q:>9} {r['tp']:>6} {r['fp']:>5} {r['fn']:>5} {f(r['precision'])} {f(r['recall'])} {f(r['f1'])}")
    b = curve["best_f1"].get(klass)
    if b is not None:
        q = "no QUAL threshold" if b["qual"] is None else f"QUAL >= {b['qual']:.4g}"
        lines.append(f"best F1 {b['f1']:.4f} at {q} (precision {f(b['precision']).strip()}, recall "
                     f"{f(b['recall']).strip()})")
    return "\n".join(lines)

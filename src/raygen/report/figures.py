"""Pictures of an assessment (matplotlib, Agg): ROC and precision-recall curves, the reliability diagram,
per-slice AUROC with confidence intervals, call-set precision/recall per stratum, drift histograms, and
`raygen evaluate`'s precision-recall curve over QUAL.

Each function takes the JSON-ready dicts :mod:`raygen.eval.assess` produces and returns PNG bytes.
"""

from __future__ import annotations

import numpy as np

from raygen.report.page import figure_png, plt

COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f"]


def curves_png(scores: list[dict]) -> bytes:
    """ROC and precision-recall curves of every score that has them, with AUROC / AUPRC in the legend."""
    fig, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4.2))
    prevalence = None
    for i, s in enumerate(scores):
        o = s["overall"]
        if "curves" not in o:
            continue
        c, col = o["curves"], COLOURS[i % len(COLOURS)]
        roc.plot(c["fpr"], c["tpr"], color=col, lw=2,
                 label=f"{s['label']}  AUROC {o['auroc']['value']:.3f} [{o['auroc']['ci_low']:.3f}, {o['auroc']['ci_high']:.3f}]")
        pr.plot(c["recall"], c["precision"], color=col, lw=2,
                label=f"{s['label']}  AUPRC {o['auprc']['value']:.3f} [{o['auprc']['ci_low']:.3f}, {o['auprc']['ci_high']:.3f}]")
        prevalence = o["auprc"]["random"]
    roc.plot([0, 1], [0, 1], ls="--", color="#999", lw=1)
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC", xlim=(0, 1), ylim=(0, 1.01))
    if prevalence is not None:
        pr.axhline(prevalence, ls="--", color="#999", lw=1, label=f"random ({prevalence:.3f})")
    pr.set(xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.01))
    for ax in (roc, pr):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right" if ax is roc else "upper right")
        ax.grid(alpha=0.3)
    return figure_png(fig)


def reliability_png(score: dict) -> bytes:
    """Reliability diagram: observed fraction with effect (95% Wilson interval) against mean predicted
    probability per bin, point size by count, the diagonal for perfect calibration; counts below."""
    rows = score["overall"].get("reliability", [])
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.2, 5.6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], ls="--", color="#999", lw=1, label="perfect calibration")
    if rows:
        x = np.array([r["mean_p"] for r in rows])
        y = np.array([r["frac_pos"] for r in rows])
        lo = y - np.array([r["ci_low"] for r in rows])
        hi = np.array([r["ci_high"] for r in rows]) - y
        n = np.array([r["n"] for r in rows])
        ax.errorbar(x, y, yerr=[lo, hi], fmt="none", ecolor="#555", lw=1)
        ax.scatter(x, y, s=20 + 180 * n / n.max(), color=COLOURS[0], zorder=3, label="bins (size: variants)")
        hist.bar([(r["lo"] + r["hi"]) / 2 for r in rows], n, width=0.09, color=COLOURS[0])
    o = score["overall"]
    ax.set(ylabel="observed fraction with effect", xlim=(0, 1), ylim=(0, 1),
           title=f"Reliability of {score['label']}{' (Platt-mapped)' if 'mapping' in score else ''}: "
                 f"ECE {o.get('ece', float('nan')):.3f}, Brier {o.get('brier', float('nan')):.3f}")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    hist.set(xlabel="predicted probability of an effect", ylabel="variants")
    return figure_png(fig)


def slices_png(score: dict) -> bytes:
    """AUROC with its confidence interval for every slice level; levels with too few variants say so."""
    rows = [(name, level, m) for name, levels in score["slices"].items() for level, m in levels.items()]
    overall = score["overall"].get("auroc", {}).get("value")
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.2))
    for i, (name, level, m) in enumerate(rows):
        y = len(rows) - 1 - i
        if "auroc" in m:
            a = m["auroc"]
            ax.errorbar(a["value"], y, xerr=[[a["value"] - a["ci_low"]], [a["ci_high"] - a["value"]]], fmt="o",
                        color=COLOURS[list(score["slices"]).index(name) % len(COLOURS)], capsize=3)
            ax.text(1.01, y, f"n={m['n']}", va="center", fontsize=7, transform=ax.get_yaxis_transform())
        else:
            ax.text(0.5, y, f"too few variants (n={m['n']}, {m['positives']} with effect)", va="center",
                    ha="center", fontsize=7, color="#8a6d3b", style="italic")
    ax.set_yticks(range(len(rows)), [f"{name}: {level}" for name, level, _ in reversed(rows)], fontsize=8)
    if overall is not None:
        ax.axvline(overall, color="#999", ls="--", lw=1, label=f"all variants ({overall:.3f})")
        ax.legend(fontsize=7, loc="lower left")
    ax.axvline(0.5, color="#ccc", lw=1)
    ax.set(xlim=(0, 1), xlabel=f"AUROC of {score['label']} (95% CI)", title=f"{score['label']} by slice")
    ax.grid(axis="x", alpha=0.3)
    return figure_png(fig)


def strata_png(strata: dict, title: str) -> bytes:
    """Call-set precision and recall (95% Wilson intervals) per level of each stratification."""
    rows = [(name, level, m) for name, levels in strata.items() for level, m in levels.items()]
    fig, ax = plt.subplots(figsize=(7.5, 0.34 * len(rows) + 1.2))
    for i, (name, level, m) in enumerate(rows):
        y = len(rows) - 1 - i
        if "too_few" in m:
            ax.text(0.5, y, f"too few variants (truth {m['truth']}, calls {m['calls']})", va="center", ha="center",
                    fontsize=7, color="#8a6d3b", style="italic")
            continue
        for key, col, dy in (("precision", COLOURS[0], 0.12), ("recall", COLOURS[1], -0.12)):
            v = m[key]
            if v["value"] is None:
                continue
            ax.errorbar(v["value"], y + dy, xerr=[[v["value"] - v["ci_low"]], [v["ci_high"] - v["value"]]], fmt="o",
                        color=col, capsize=2, ms=4, label=key if i == 0 else None)
    ax.set_yticks(range(len(rows)), [f"{name}: {level}" for name, level, _ in reversed(rows)], fontsize=8)
    ax.set(xlim=(0, 1.02), xlabel="precision / recall (95% Wilson interval)", title=title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower left")
    ax.grid(axis="x", alpha=0.3)
    return figure_png(fig)


def _bin_labels(edges: list[float], n: int) -> list[str]:
    if not edges:
        return [str(i) for i in range(n)]
    labels = [f"<= {edges[0]:.3g}"] + [f"{a:.3g} to {b:.3g}" for a, b in zip(edges[:-1], edges[1:])] + [f"> {edges[-1]:.3g}"]
    return labels[:n]


def drift_png(result: dict) -> bytes:
    """One panel per feature of a :func:`raygen.eval.profile.compare` result: the baseline's and the current
    run's share of values in each baseline bin (categorical features: per class), PSI and KS in the title,
    drifted features in red."""
    feats = [(k, v) for k, v in result["features"].items() if v.get("baseline") is not None]
    cols = 2
    rows = max(1, -(-len(feats) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.9 * rows), squeeze=False)
    for ax, (name, s) in zip(axes.flat, feats):
        if isinstance(s["baseline"], dict):
            labels = list(s["baseline"])
            base, cur = [s["baseline"][k] for k in labels], [s["current"][k] for k in labels]
        else:
            base, cur = s["baseline"], s["current"]
            labels = _bin_labels(s.get("edges", []), len(base))
        x = np.arange(len(base))
        drifted = s["status"] == "drift"
        ax.bar(x - 0.2, base, 0.4, label="baseline", color="#90a4ae")
        ax.bar(x + 0.2, cur, 0.4, label="current", color=COLOURS[1] if drifted else COLOURS[0])
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        ks = "" if s.get("ks") is None else f", KS {s['ks']:.3f}"
        ax.set_title(f"{name}: PSI {s['psi']:.3f}{ks} ({s['status']})", fontsize=9,
                     color=COLOURS[1] if drifted else "#1b1b1b")
        ax.set_ylabel("share of values", fontsize=8)
    for ax in list(axes.flat)[len(feats):]:
        ax.axis("off")
    t = result["thresholds"]
    fig.suptitle(f"Drift against the baseline profile (drift: PSI > {t['psi']} or KS > {t['ks']}); grey: baseline, "
                 "blue: current, red: current where it drifted", fontsize=10)
    fig.tight_layout()
    return figure_png(fig)


def qual_curve_png(curve: dict, title: str) -> bytes:
    """The QUAL curve of ``raygen evaluate`` (:func:`raygen.eval.qualcurve.qual_curve`): precision against
    recall per class with the best-F1 threshold marked, and precision, recall and F1 of all variants against
    the QUAL threshold."""
    fig, (pr, th) = plt.subplots(1, 2, figsize=(10, 4.2))
    for i, k in enumerate(("SNP", "INDEL", "ALL")):
        rows = [r for r in curve.get(k, []) if r["precision"] is not None and r["recall"] is not None]
        if not rows:
            continue
        col = COLOURS[i]
        pr.plot([r["recall"] for r in rows], [r["precision"] for r in rows], color=col, lw=2, marker=".", ms=3,
                label=k)
        b = curve["best_f1"].get(k)
        if b is not None:
            q = "no threshold" if b["qual"] is None else f"QUAL >= {b['qual']:.3g}"
            pr.scatter([b["recall"]], [b["precision"]], s=60, color=col, edgecolor="black", zorder=3,
                       label=f"{k} best F1 {b['f1']:.3f} at {q}")
    rows = [r for r in curve.get("ALL", [])[1:] if r["qual"] is not None]
    if rows:
        x = [r["qual"] for r in rows]
        for key, col in (("precision", COLOURS[0]), ("recall", COLOURS[1]), ("f1", COLOURS[2])):
            th.step(x, [np.nan if r[key] is None else r[key] for r in rows], where="post", color=col, lw=2,
                    label=key if key != "f1" else "F1")
        if max(x) > 200:  # bcftools-style QUAL spans decades; DeepVariant's stays within 0-100
            th.set_xscale("symlog", linthresh=10.0)
        th.set_xlim(left=0)
    lo = min([r["precision"] for k in ("SNP", "INDEL", "ALL") for r in curve.get(k, [])
              if r["precision"] is not None] + [1.0])
    fig.suptitle(title, fontsize=10)
    pr.set(xlabel="recall (TRUTH.TP / truth)", ylabel="precision (QUERY.TP / calls)",
           title="Precision-recall over QUAL thresholds", xlim=(0, 1.01), ylim=(max(0.0, lo - 0.05), 1.005))
    th.set(xlabel="QUAL threshold (calls with QUAL >= it kept)", ylabel="fraction", ylim=(0, 1.02),
           title="All variants against the threshold")
    for ax in (pr, th):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    return figure_png(fig)


def qual_curves_png(curves: list[tuple[str, dict]], title: str) -> bytes:
    """Several call sets' QUAL curves (all variants): precision against recall with each best-F1 threshold
    marked, and F1 against the QUAL threshold."""
    fig, (pr, th) = plt.subplots(1, 2, figsize=(10, 4.2))
    lo = 1.0
    for i, (label, curve) in enumerate(curves):
        col = COLOURS[i % len(COLOURS)]
        rows = [r for r in curve.get("ALL", []) if r["precision"] is not None and r["recall"] is not None]
        if not rows:
            continue
        lo = min([lo] + [r["precision"] for r in rows])
        pr.plot([r["recall"] for r in rows], [r["precision"] for r in rows], color=col, lw=2, label=label)
        b = curve["best_f1"].get("ALL")
        if b is not None:
            q = "no threshold" if b["qual"] is None else f"QUAL >= {b['qual']:.3g}"
            pr.scatter([b["recall"]], [b["precision"]], s=60, color=col, edgecolor="black", zorder=3,
                       label=f"{label} best F1 {b['f1']:.3f} at {q}")
        pts = [r for r in rows if r["qual"] is not None and r["f1"] is not None]
        th.step([r["qual"] for r in pts], [r["f1"] for r in pts], where="post", color=col, lw=2, label=label)
    fig.suptitle(title, fontsize=10)
    pr.set(xlabel="recall (TRUTH.TP / truth)", ylabel="precision (QUERY.TP / calls)",
           title="Precision-recall over QUAL thresholds (all variants)", xlim=(0, 1.01),
           ylim=(max(0.0, lo - 0.05), 1.005))
    th.set(xlabel="QUAL threshold (calls with QUAL >= it kept)", ylabel="F1", ylim=(0, 1.02),
           title="F1 against the threshold")
    if th.get_xlim()[1] > 200:
        th.set_xscale("symlog", linthresh=10.0)
    th.set_xlim(left=0)
    for ax in (pr, th):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    return figure_png(fig)

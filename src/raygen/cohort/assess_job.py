"""``raygen cohort assess``: mixing and biology metrics side by side with a PCA picture, and drift checks.

:func:`assess_matrices` scores in-memory matrices (the benchmark calls it directly); :func:`run_assess`
reads files and prints the table; :func:`run_drift` compares new samples, corrected with a fitted ComBat
model, with that model's per-feature reference distribution (PSI, location and scale shift).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np

from raygen.cohort.combat import apply_fit
from raygen.cohort.design import code_covariates, match_batches
from raygen.cohort.matrix import align_sheet, read_matrix, read_sheet
from raygen.cohort.mixing import classifier_auroc, kbet_acceptance, lisi, pca_embedding, silhouette
from raygen.cohort.params import load_model
from raygen.config import CohortBatchConfig
from raygen.errors import InputError, UsageError
from raygen.eval.drift import bin_fractions, psi, quantile_edges
from raygen.io.atomic import atomic_path

log = logging.getLogger("raygen.cohort.assess")
C = CohortBatchConfig()

#: Table columns: key, header, which direction is better.
METRICS = (
    ("kbet", "kBET accept", "higher = mixed"),
    ("ilisi", "iLISI", "higher = mixed"),
    ("asw_batch", "ASW batch", "lower = mixed"),
    ("auroc_batch", "batch AUROC", "lower = mixed"),
    ("asw_label", "ASW label", "higher = kept"),
    ("clisi", "cLISI", "lower = kept"),
    ("auroc_label", "label AUROC", "higher = kept"),
)


def score_embedding(emb: np.ndarray, batch: np.ndarray, label: np.ndarray | None, seed: int = 0) -> dict[str, float]:
    """Every metric of one embedding (samples x dims)."""
    out = {
        "kbet": kbet_acceptance(emb, batch, alpha=C.kbet_alpha, groups=label),
        "ilisi": lisi(emb, batch, C.lisi_perplexity),
        "asw_batch": silhouette(emb, batch),
        "auroc_batch": classifier_auroc(emb, batch, C.classifier_folds, seed),
    }
    if label is not None:
        out.update(asw_label=silhouette(emb, label), clisi=lisi(emb, label, C.lisi_perplexity),
                   auroc_label=classifier_auroc(emb, label, C.classifier_folds, seed))
    return out


def assess_matrices(matrices: Sequence[tuple[str, np.ndarray]], batch: np.ndarray, label: np.ndarray | None,
                    components: int = C.pca_components, seed: int = 0) -> tuple[list[dict], list[np.ndarray]]:
    """(one row of metrics per named matrix, the PCA embeddings) for features x samples matrices."""
    rows, embs = [], []
    for name, y in matrices:
        emb = pca_embedding(y, components)
        rows.append({"name": name, **score_embedding(emb, batch, label, seed)})
        embs.append(emb)
    return rows, embs


def format_table(rows: list[dict], with_label: bool) -> str:
    cols = [m for m in METRICS if with_label or m[0] in ("kbet", "ilisi", "asw_batch", "auroc_batch")]
    width = max(10, *(len(r["name"]) for r in rows))
    head = f"{'matrix':<{width}}  " + "  ".join(f"{h:>11}" for _, h, _ in cols)
    sense = f"{'':<{width}}  " + "  ".join(f"{s:>11}" for _, _, s in cols)
    lines = [head, sense]
    for r in rows:
        lines.append(f"{r['name']:<{width}}  " + "  ".join(f"{r[k]:>11.3f}" for k, _, _ in cols))
    return "\n".join(lines)


def draw_pca(path: str, names: list[str], embs: list[np.ndarray], batch: np.ndarray, label: np.ndarray | None) -> None:
    """PC1 vs PC2 for each matrix (rows), coloured by batch and by label (columns); written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("batch", batch)] + ([("label", label)] if label is not None else [])
    size = 22 if batch.size <= 200 else 9  # small cohorts: larger points
    fig, axes = plt.subplots(len(embs), len(keys), figsize=(4.2 * len(keys), 3.4 * len(embs)), squeeze=False)
    for i, (name, emb) in enumerate(zip(names, embs)):
        for j, (kname, values) in enumerate(keys):
            ax = axes[i, j]
            levels = np.unique(values)
            cmap = plt.get_cmap("tab10" if levels.size <= 10 else "tab20")
            for k, lev in enumerate(levels):
                sel = values == lev
                ax.scatter(emb[sel, 0], emb[sel, 1], s=size, alpha=0.75, color=cmap(k % cmap.N), label=str(lev),
                           linewidths=0)
            ax.set_title(f"{name}: coloured by {kname}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("PC1", fontsize=8)
            ax.set_ylabel("PC2", fontsize=8)
            if i == 0:
                ax.legend(fontsize=7, markerscale=1.5, loc="best", frameon=False, ncol=1 + levels.size // 8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)


def _read_aligned(path: str, samples: list[str], feature_col: str | None) -> np.ndarray:
    m = read_matrix(path, feature_col, known_samples=samples)
    missing = set(samples) - set(m.samples)
    if missing:
        raise InputError(f"{path}: lacks {len(missing)} of the uncorrected matrix's samples "
                         f"({', '.join(sorted(missing)[:5])}); every matrix must have the same samples")
    pos = {s: j for j, s in enumerate(m.samples)}
    return m.values[:, [pos[s] for s in samples]]


def run_assess(matrix: str, sheet_path: str, batch_col: str, label_col: str | None, corrected: list[tuple[str, str]],
               components: int, picture: str | None, json_out: str | None, sample_col: str | None,
               feature_col: str | None, seed: int) -> dict:
    sheet = read_sheet(sheet_path)
    ids = [v for col in sheet.values() for v in col]
    base = read_matrix(matrix, feature_col, known_samples=ids)
    aligned = align_sheet(sheet, base.samples, sample_col, path=sheet_path)
    for col in (batch_col, label_col):
        if col is not None and col not in aligned:
            raise UsageError(f"{sheet_path}: no column {col!r} (columns: {', '.join(aligned)})")
    batch = np.asarray(aligned[batch_col])
    label = None if label_col is None else np.asarray(aligned[label_col])
    mats = [("uncorrected", base.values)] + [(n, _read_aligned(p, base.samples, feature_col)) for n, p in corrected]
    rows, embs = assess_matrices(mats, batch, label, components, seed)
    text = format_table(rows, label is not None)
    text += f"\n{base.values.shape[1]} samples, {len(np.unique(batch))} batches" + (
        f", {len(np.unique(label))} labels" if label is not None else "") + f"; metrics on {components} PCs"
    if picture:
        draw_pca(picture, [n for n, _ in mats], embs, batch, label)
        text += f"\npicture: {picture}"
    if json_out:
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps({"rows": rows, "components": components}, indent=2))
    return {"text": text, "rows": rows}


# ------------------------------------------------------------------------------------------ drift


def _merged_bins(edges: np.ndarray, fracs: np.ndarray, n_new: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Deciles for >= 100 new samples, quintiles for >= 25, halves below (PSI's noise grows as bins / n)."""
    if n_new >= 100:
        return edges, fracs, 10
    if n_new >= 25:
        return edges[:, 1::2], fracs.reshape(fracs.shape[0], 5, 2).sum(axis=2), 5
    return edges[:, [4]], np.stack([fracs[:, :5].sum(axis=1), fracs[:, 5:].sum(axis=1)], axis=1), 2


def null_psi_cut(n_new: int, n_ref: int, quantile: float = C.drift_null_quantile, reps: int = C.drift_null_reps,
                 seed: int = C.seed) -> float:
    """The ``quantile`` of a feature's PSI when nothing drifted: ``n_new`` values against the reference built
    from ``n_ref`` values of the same distribution (deciles, merged as :func:`_merged_bins` merges them for
    ``n_new``), simulated. Small batches give large PSIs by chance alone (4 of 5 values on one side of the
    median gives PSI 0.42, and happens to 38% of drift-free features), so a fixed alert level would flag
    drift-free batches; this cut is what chance allows."""
    rng = np.random.default_rng(seed)
    m = min(n_ref, 2000)  # beyond, the reference's own noise is negligible (and a smaller m only raises the cut)
    ref = rng.random((reps, m))
    edges = quantile_edges(ref, C.drift_bins)
    edges, fracs, _ = _merged_bins(edges, bin_fractions(ref, edges), n_new)
    return float(np.quantile(psi(fracs, bin_fractions(rng.random((reps, n_new)), edges)), quantile))


def drift_report(y: np.ndarray, bidx: np.ndarray, covariates: np.ndarray, model, psi_alert: float,
                 max_fraction: float) -> list[dict]:
    """Per batch of the new samples: PSI of each adjusted feature's standardised residual (covariate effects
    removed, so other biology is not drift) against the model's reference, the fraction of features past
    the cut (``psi_alert`` or, if higher, what chance gives for the batch's size: :func:`null_psi_cut`),
    the median location shift (pooled-SD units) and scale ratio (inter-quintile range)."""
    fit = model.fit
    if model.ref_edges is None:
        raise InputError("the parameter file has no reference distribution (refit with this raygen version)")
    keep = fit.reason == 0
    sm = model.stand_mean(slice(None), covariates)
    corrected = (apply_fit(y, bidx, fit, sm) - sm) / np.sqrt(fit.var_pooled)[:, None]
    m_ref = int(sum(model.batch_sizes))
    rows = []
    for b in np.unique(bidx):
        cols = bidx == b
        n = int(cols.sum())
        edges, fracs, bins = _merged_bins(model.ref_edges[keep], model.ref_fractions[keep], n)
        vals = corrected[keep][:, cols]
        p = psi(fracs, bin_fractions(vals, edges))
        med_ref = model.ref_edges[keep][:, 4]
        iqr_ref = model.ref_edges[keep][:, 7] - model.ref_edges[keep][:, 1]
        q = np.nanquantile(vals, [0.2, 0.5, 0.8], axis=1)
        loc = q[1] - med_ref
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = (q[2] - q[0]) / iqr_ref
        cut = max(psi_alert, null_psi_cut(n, m_ref))
        judged = cut <= C.drift_judge_max_psi
        frac = float(np.mean(p > cut))
        rows.append({"batch": model.batches[b], "samples": n, "bins": bins, "features": int(keep.sum()),
                     "psi_median": float(np.nanmedian(p)), "psi_cut": cut, "drifted_fraction": frac,
                     "judged": judged, "location_shift_median": float(np.nanmedian(np.abs(loc))),
                     "scale_ratio_median": float(np.nanmedian(scale)),
                     "passed": frac <= max_fraction or not judged})
    return rows


def _verdict(r: dict) -> str:
    if not r["judged"]:
        return "too few samples"
    return "ok" if r["passed"] else "DRIFT"


def run_drift(matrix: str, sheet_path: str, batch_col: str, params: str, sample_col: str | None,
              feature_col: str | None, psi_alert: float, max_fraction: float, json_out: str | None) -> dict:
    model = load_model(params)
    sheet = read_sheet(sheet_path)
    m = read_matrix(matrix, feature_col, known_samples=[v for col in sheet.values() for v in col])
    if m.features != model.features:
        raise InputError(f"{matrix}: its features are not the model's ({len(m.features)} vs {len(model.features)}, "
                         "or in another order)")
    aligned = align_sheet(sheet, m.samples, sample_col, path=sheet_path)
    col = batch_col or model.batch_column
    if col not in aligned:
        raise UsageError(f"{sheet_path}: no batch column {col!r}")
    cov = code_covariates(aligned, model.coding)  # the model's covariates are needed to remove their effects
    rows = drift_report(m.values, match_batches(aligned[col], model.batches, col), cov, model, psi_alert, max_fraction)
    lines = [f"drift against {params} (a feature drifts past the cut: PSI {psi_alert} or its batch size's chance "
             f"level; at most {max_fraction:.0%} of features may):",
             f"{'batch':<12} {'samples':>7} {'bins':>4} {'median PSI':>10} {'PSI cut':>9} {'drifted':>8} "
             f"{'|shift| SD':>10} {'scale':>6}  verdict"]
    for r in rows:
        lines.append(f"{r['batch']:<12} {r['samples']:>7} {r['bins']:>4} {r['psi_median']:>10.3f} "
                     f"{r['psi_cut']:>9.3f} {r['drifted_fraction']:>8.1%} {r['location_shift_median']:>10.3f} "
                     f"{r['scale_ratio_median']:>6.2f}  {_verdict(r)}")
        if not r["judged"]:
            lines.append(f"  note: with {r['samples']} samples a drift-free feature's PSI reaches {r['psi_cut']:.2f} "
                         f"by chance (1 in {1 / (1 - C.drift_null_quantile):.0f}): this batch is reported but not judged")
    passed = all(r["passed"] for r in rows)
    lines.append("PASSED" if passed else "FAILED: drift past the threshold (exit 3)")
    if json_out:
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps({"batches": rows, "passed": passed}, indent=2))
    return {"text": "\n".join(lines), "passed": passed, "rows": rows}

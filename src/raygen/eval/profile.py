"""Drift profiles of scored variant sets: what a validation run looked like, and how far a new run is from it.

A **profile** (JSON, ``raygen assess --write-profile P``) holds, for the models named in the scored file:

- per score key and variant class (``RAYGEN_LLR | SNV``, ``... | all``): the baseline's decile edges and the
  share of values in each decile bin (for PSI), and :attr:`AssessConfig.profile_quantiles` quantiles (the
  baseline's empirical CDF, for the Kolmogorov-Smirnov statistic);
- input features: the variant-class mix (shares, categorical), indel length (ALT minus REF length, indels
  only) and, with a reference, the GC fraction of the window around each variant.

:func:`compare` measures a new allele set against it with the statistics of :mod:`raygen.eval.drift`:
PSI over the baseline's bins (categorical: over the classes) and the KS statistic between the new values
and the baseline quantiles. A feature drifts when PSI > ``psi_threshold`` or KS > ``ks_threshold``;
features with fewer than ``min_drift_values`` values on either side are shown but not judged.
"""

from __future__ import annotations

import numpy as np

from raygen.config import DEFAULTS, AssessConfig
from raygen.errors import InputError, UsageError
from raygen.eval.drift import bin_fractions, ks_statistic, psi, quantile_edges
from raygen.eval.slices import gc_fraction, variant_class

FORMAT = "raygen-drift-profile/1"
CLASS_FEATURE = "variant class"
ALL = "all"


def feature_values(alleles, keys: list[str], reference=None, gc_window: int = 100) -> dict[str, object]:
    """Numeric features (name -> float array) and the class labels (``variant class`` -> list of str)."""
    ref, alt = alleles["ref"].to_pylist(), alleles["alt"].to_pylist()
    classes = np.array([variant_class(r, a) for r, a in zip(ref, alt)], dtype=object)
    out: dict[str, object] = {CLASS_FEATURE: classes.tolist()}
    for k in keys:
        v = np.asarray(alleles[k].to_numpy(zero_copy_only=False), dtype=float)
        out[f"{k} | {ALL}"] = v
        for c in sorted(set(classes.tolist())):
            out[f"{k} | {c}"] = v[classes == c]
    indel = np.isin(classes, ["insertion", "deletion"])
    out["indel length"] = np.array([len(a) - len(r) for r, a in zip(ref, alt)], dtype=float)[indel]
    if reference is not None:
        chrom, pos = alleles["chrom"].to_pylist(), alleles["pos"].to_pylist()
        out["GC of the window"] = np.array([gc_fraction(reference, c, int(p), len(r), gc_window) if c in reference
                                            else np.nan for c, p, r in zip(chrom, pos, ref)], dtype=float)
    return out


def _numeric(v: np.ndarray, cfg: AssessConfig) -> dict:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"kind": "numeric", "n": 0}
    edges = np.unique(quantile_edges(v, cfg.profile_bins))
    return {"kind": "numeric", "n": int(v.size), "edges": edges.tolist(),
            "fractions": bin_fractions(v, edges)[0].tolist(),
            "quantiles": np.quantile(v, np.linspace(0, 1, cfg.profile_quantiles)).tolist()}


def _categorical(labels: list[str]) -> dict:
    levels, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    n = int(counts.sum())
    return {"kind": "categorical", "n": n, "fractions": {str(k): (c / n if n else 0.0) for k, c in zip(levels, counts)}}


def build_profile(features: dict[str, object], models: list[str], source: dict, cfg: AssessConfig = DEFAULTS.assess
                  ) -> dict:
    """The profile of a baseline's features (see module docstring)."""
    out = {}
    for name, v in features.items():
        out[name] = _categorical(v) if name == CLASS_FEATURE else _numeric(np.asarray(v, dtype=float), cfg)
    return {"format": FORMAT, "models": models, "source": source,
            "thresholds": {"psi": cfg.psi_threshold, "ks": cfg.ks_threshold}, "features": out}


def check_profile(profile: dict, models: list[str], where: str, profile_path: str) -> None:
    """Refuse a profile that is not one, or that was made for other models than ``models``."""
    if profile.get("format") != FORMAT:
        raise InputError(f"{profile_path} is not a raygen drift profile (format {profile.get('format')!r}, "
                         f"expected {FORMAT!r}); write one with `raygen assess --write-profile`")
    base = sorted(profile.get("models") or [])
    if base != sorted(models):
        raise UsageError(f"the profile {profile_path} was made for model(s) {', '.join(base) or '(none named)'} but "
                         f"{where} was scored by {', '.join(sorted(models)) or '(none named)'}: compare runs of "
                         "the same model, or write a profile for this one")


def _judge(stats: dict, n_base: int, n_cur: int, cfg: AssessConfig) -> str:
    if min(n_base, n_cur) < cfg.min_drift_values:
        return f"not judged (fewer than {cfg.min_drift_values} values)"
    drifted = stats["psi"] > cfg.psi_threshold or (stats.get("ks") is not None and stats["ks"] > cfg.ks_threshold)
    return "drift" if drifted else "stable"


def compare_feature(base: dict, values, categorical: bool, cfg: AssessConfig) -> dict:
    """PSI (and KS for numeric features) of ``values`` against one feature of a profile."""
    if categorical:
        levels = sorted(set(base["fractions"]) | {str(x) for x in values})
        n = len(values)
        cur = {lv: sum(1 for x in values if str(x) == lv) / n if n else 0.0 for lv in levels}
        e = np.array([base["fractions"].get(lv, 0.0) for lv in levels])
        a = np.array([cur[lv] for lv in levels])
        stats = {"psi": float(psi(e, a)), "ks": None, "n": n, "baseline": dict(zip(levels, e.tolist())),
                 "current": dict(zip(levels, a.tolist()))}
    else:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        if base.get("n", 0) == 0 or v.size == 0:
            return {"psi": None, "ks": None, "n": int(v.size), "status": "not judged (no values on one side)"}
        edges = np.asarray(base["edges"])
        frac = bin_fractions(v, edges)[0]
        stats = {"psi": float(psi(np.asarray(base["fractions"]), frac)),
                 "ks": ks_statistic(np.asarray(base["quantiles"]), v), "n": int(v.size),
                 "edges": base["edges"], "baseline": base["fractions"], "current": frac.tolist()}
    stats["status"] = _judge(stats, base.get("n", 0), stats["n"], cfg)
    return stats


def compare(profile: dict, features: dict[str, object], cfg: AssessConfig = DEFAULTS.assess) -> dict:
    """Every profiled feature against the current values: ``{"features": {...}, "drifted": [names]}``."""
    out = {}
    for name, base in profile["features"].items():
        if name not in features:
            out[name] = {"psi": None, "ks": None, "n": 0, "status": "not judged (absent from the current run)"}
            continue
        out[name] = compare_feature(base, features[name], base["kind"] == "categorical", cfg)
    return {"features": out, "drifted": [k for k, v in out.items() if v["status"] == "drift"],
            "thresholds": {"psi": cfg.psi_threshold, "ks": cfg.ks_threshold}}


def format_table(result: dict) -> str:
    """Fixed-width table: one line per feature (PSI, KS, values, status)."""
    lines = [f"{'feature':<34} {'PSI':>8} {'KS':>7} {'n':>8}  status"]
    for name, s in result["features"].items():
        p = "n/a" if s.get("psi") is None else f"{s['psi']:.4f}"
        k = "n/a" if s.get("ks") is None else f"{s['ks']:.4f}"
        lines.append(f"{name[:34]:<34} {p:>8} {k:>7} {s.get('n', 0):>8}  {s['status']}")
    t = result["thresholds"]
    verdict = (f"DRIFT in {len(result['drifted'])} feature(s): {', '.join(result['drifted'])}" if result["drifted"]
               else "no drift")
    lines.append(f"{verdict} (thresholds: PSI > {t['psi']}, KS > {t['ks']})")
    return "\n".join(lines)

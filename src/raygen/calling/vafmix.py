"""How allele counts scatter at the sites of one BAM: a four-part mixture fitted by EM, without a truth set.

Every site with depth ``n`` shows its most frequent non-reference base ``k`` times. Four kinds of site:

- *clean hom-ref*: ``k ~ Binomial(n, e)`` (sequencing errors only);
- *artifact*: ``k ~ Binomial(n, f)``, ``f`` in [0.03, 0.35]: systematic errors and mis-mapped reads that show
  an allele in a fixed fraction of the reads (the caller's artifact model, :func:`raygen.calling.classical.with_artifacts`);
- *het*: ``k ~ BetaBinomial(n, kappa/2, kappa/2)`` (allele balance 0.5, over-dispersed: ``kappa`` small = wide);
- *hom-alt*: ``n - k ~ Binomial(n, h)``.

The fit gives the caller per-sample priors instead of hand-set constants: ``artifact_weight`` (artifact sites
per hom-ref site), ``artifact_fraction`` and ``het_concentration``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

KAPPA_GRID = np.geomspace(2.0, 2000.0, 41)


def fit_vaf_mixture(depth: np.ndarray, alt: np.ndarray, *, min_depth: int = 8, iters: int = 200) -> dict:
    """EM fit over sites (arrays of equal length); sites below ``min_depth`` or above 4x the median are skipped.

    Returns ``{"sites", "error", "artifact_weight", "artifact_fraction", "het_concentration", "weights"}``
    (``weights`` = mixture weights of clean, artifact, het, hom-alt), or ``{}`` with fewer than 1000 sites.
    """
    depth, alt = np.asarray(depth, np.int64), np.asarray(alt, np.int64)
    ok = depth >= min_depth
    if ok.sum() < 1000:
        return {}
    med = np.median(depth[ok])
    ok &= depth <= 4 * med
    pairs, w = np.unique(np.stack([depth[ok], alt[ok]], axis=1), axis=0, return_counts=True)
    n, k, w = pairs[:, 0], pairs[:, 1], w.astype(np.float64)
    pi = np.array([0.99, 0.004, 0.004, 0.002])
    e, f, kappa, h = 0.003, 0.1, 50.0, 0.01
    # The het log-pmf depends on kappa alone (not on the other parameters): computed once per grid value
    # instead of once per value and iteration (the same call on the same arrays, so the same numbers).
    het = [stats.betabinom.logpmf(k, n, g / 2, g / 2) for g in KAPPA_GRID]
    het_ll = stats.betabinom.logpmf(k, n, kappa / 2, kappa / 2)
    for _ in range(iters):
        ll = _component_loglik(n, k, e, f, het_ll, h) + np.log(pi)[None, :]
        r = np.exp(ll - np.logaddexp.reduce(ll, axis=1, keepdims=True)) * w[:, None]
        pi_new = np.maximum(r.sum(axis=0) / w.sum(), 1e-9)
        e = float(np.clip((r[:, 0] * k).sum() / max((r[:, 0] * n).sum(), 1e-9), 1e-5, 0.05))
        f = float(np.clip((r[:, 1] * k).sum() / max((r[:, 1] * n).sum(), 1e-9), max(0.03, 3 * e), 0.35))
        h = float(np.clip((r[:, 3] * (n - k)).sum() / max((r[:, 3] * n).sum(), 1e-9), 1e-4, 0.1))
        best = int(np.argmax([(r[:, 2] * lp).sum() for lp in het]))
        kappa, het_ll = float(KAPPA_GRID[best]), het[best]
        done = np.abs(pi_new - pi).max() < 1e-7
        pi = pi_new
        if done:
            break
    return {"sites": int(w.sum()), "error": e, "artifact_weight": float(pi[1] / (pi[0] + pi[1])),
            "artifact_fraction": f, "het_concentration": kappa, "weights": [float(x) for x in pi]}


def _component_loglik(n: np.ndarray, k: np.ndarray, e: float, f: float, het_ll: np.ndarray, h: float) -> np.ndarray:
    """Per site: log-pmf of clean, artifact, het (``het_ll``, the beta-binomial's at the current kappa), hom-alt."""
    return np.stack([
        stats.binom.logpmf(k, n, e),
        stats.binom.logpmf(k, n, f),
        het_ll,
        stats.binom.logpmf(n - k, n, h),
    ], axis=1)


def het_dispersion_penalty(ref: int, alt: int, kappa: float | None) -> float:
    """log BetaBinomial(alt | n, kappa/2, kappa/2) - log Binomial(alt | n, 1/2): what over-dispersion changes in
    a het's likelihood (0 without a fitted ``kappa``). Added to the het log-likelihood of a candidate."""
    if not kappa:
        return 0.0
    n = ref + alt
    return float(stats.betabinom.logpmf(alt, n, kappa / 2, kappa / 2) - stats.binom.logpmf(alt, n, 0.5))

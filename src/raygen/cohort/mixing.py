"""Batch-mixing and biology-conservation metrics on a low-dimensional embedding (samples x dims), numpy only.

- :func:`kbet_acceptance` (Buttner et al. 2019): each sample's neighbourhood (itself and its k-1 nearest
  neighbours) is tested against the cohort's batch proportions with a chi-square test; the acceptance
  rate is the fraction of neighbourhoods with p >= alpha. 1 = batches mixed everywhere. Given labels, it
  runs within each label (scIB's practice).
- :func:`lisi` (Korsunsky et al. 2019): the inverse Simpson index of labels among each sample's
  neighbours, weighted by a Gaussian kernel whose width gives the chosen perplexity; median over
  samples. iLISI (batch labels): higher = better mixed (at most the number of batches); cLISI
  (biological labels): 1 = neighbourhoods of one label.
- :func:`silhouette` (Rousseeuw 1987): mean silhouette width of a labelling; ASW of batch near 0 or below
  = batches not separated; ASW of label high = biology separated.
- :func:`classifier_auroc`: cross-validated macro one-vs-rest AUROC of an L2 logistic regression
  predicting the labels from the embedding (out-of-fold predictions only, folds stratified and seeded).
- :func:`pca_embedding`: the embedding itself: top principal components of the centred features.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats


def pca_embedding(y: np.ndarray, components: int) -> np.ndarray:
    """Samples x ``components`` principal-component scores of ``y`` (features x samples): features centred,
    missing values replaced by the feature mean, constant features dropped."""
    x = np.asarray(y, dtype=float).T.copy()
    mean = np.nanmean(x, axis=0)
    x = np.where(np.isnan(x), mean, x) - mean
    x = x[:, np.nanstd(x, axis=0) > 0]
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    k = min(components, s.size)
    return u[:, :k] * s[:k]


def _sq_dist(emb: np.ndarray) -> np.ndarray:
    sq = np.sum(emb ** 2, axis=1)
    d = sq[:, None] + sq[None, :] - 2 * emb @ emb.T
    return np.maximum(d, 0.0)


def neighbours(emb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and squared distances of each sample's ``k`` nearest other samples (ascending)."""
    d = _sq_dist(emb)
    np.fill_diagonal(d, np.inf)
    k = min(k, emb.shape[0] - 1)
    idx = np.argpartition(d, k - 1, axis=1)[:, :k]
    dk = np.take_along_axis(d, idx, axis=1)
    order = np.argsort(dk, axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dk, order, axis=1)


def default_kbet_k(n: int) -> int:
    """Neighbourhood size for kBET: a tenth of the cohort, within [10, 50] (and below the cohort size)."""
    return max(2, min(n - 1, max(10, min(50, n // 10))))


def kbet_acceptance(emb: np.ndarray, batch: np.ndarray, k: int | None = None, alpha: float = 0.05,
                    groups: np.ndarray | None = None) -> float:
    """kBET acceptance rate; with ``groups`` (biological labels) it is computed within each group against
    that group's own batch proportions and averaged weighted by group size (as scIB does), so batches that
    hold different mixtures of labels are not counted as unmixed. Groups with < 10 samples or one batch
    are skipped."""
    if groups is not None:
        groups = np.asarray(groups)
        rates, weights = [], []
        for g in np.unique(groups):
            sel = groups == g
            if sel.sum() >= 10 and np.unique(np.asarray(batch)[sel]).size >= 2:
                rates.append(kbet_acceptance(emb[sel], np.asarray(batch)[sel], None if k is None else min(k, sel.sum() - 1), alpha))
                weights.append(sel.sum())
        return float(np.average(rates, weights=weights)) if rates else float("nan")
    batch = np.asarray(batch)
    levels, codes = np.unique(batch, return_inverse=True)
    if levels.size < 2:
        return float("nan")
    k = k or default_kbet_k(emb.shape[0])
    idx, _ = neighbours(emb, k - 1)
    hood = np.concatenate([np.arange(emb.shape[0])[:, None], idx], axis=1)
    counts = np.stack([np.bincount(codes[h], minlength=levels.size) for h in hood])
    expected = hood.shape[1] * np.bincount(codes, minlength=levels.size) / codes.size
    chi2 = np.sum((counts - expected) ** 2 / expected, axis=1)
    p = stats.chi2.sf(chi2, df=levels.size - 1)
    return float(np.mean(p >= alpha))


def _kernel_weights(d: np.ndarray, perplexity: float, iters: int = 50) -> np.ndarray:
    """Row-wise Gaussian weights of squared distances ``d`` with entropy log(perplexity) (binary search)."""
    target = np.log(perplexity)
    w = np.empty_like(d)
    for i in range(d.shape[0]):
        row = d[i] - d[i].min()
        lo, hi, beta = 0.0, np.inf, 1.0
        for _ in range(iters):
            p = np.exp(-row * beta)
            total = p.sum()
            p /= total
            h = -np.sum(p[p > 0] * np.log(p[p > 0]))
            if abs(h - target) < 1e-5:
                break
            if h > target:
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        w[i] = p
    return w


def lisi(emb: np.ndarray, labels: np.ndarray, perplexity: float = 30.0) -> float:
    """Median LISI of ``labels``; the perplexity is capped at (samples - 1) / 3 for small cohorts."""
    labels = np.asarray(labels)
    _, codes = np.unique(labels, return_inverse=True)
    n = emb.shape[0]
    perplexity = min(perplexity, (n - 1) / 3)
    idx, d = neighbours(emb, int(min(n - 1, 3 * perplexity)))
    w = _kernel_weights(d, perplexity)
    n_lab = codes.max() + 1
    simpson = np.zeros(n)
    for lab in range(n_lab):
        p = np.sum(w * (codes[idx] == lab), axis=1)
        simpson += p ** 2
    return float(np.median(1.0 / simpson))


def silhouette(emb: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels)
    levels, codes = np.unique(labels, return_inverse=True)
    if levels.size < 2:
        return float("nan")
    d = np.sqrt(_sq_dist(emb))
    n = emb.shape[0]
    sums = np.stack([d[:, codes == c].sum(axis=1) for c in range(levels.size)], axis=1)
    sizes = np.bincount(codes, minlength=levels.size).astype(float)
    own = sizes[codes] - 1
    a = np.where(own > 0, sums[np.arange(n), codes] / np.maximum(own, 1), 0.0)
    other = sums / sizes[None, :]
    other[np.arange(n), codes] = np.inf
    b = other.min(axis=1)
    s = np.where(own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-300), 0.0)
    return float(np.mean(s))


def _fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float) -> np.ndarray:
    """Multinomial logistic regression weights ((d+1) x classes) by L-BFGS, L2 penalty on non-intercepts."""
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    onehot = np.eye(n_classes)[y]

    def loss(wflat):
        w = wflat.reshape(xb.shape[1], n_classes)
        z = xb @ w
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        pen = 0.5 * l2 * np.sum(w[:-1] ** 2)
        grad = xb.T @ (np.exp(logp) - onehot) / x.shape[0]
        grad[:-1] += l2 * w[:-1]
        return -np.sum(onehot * logp) / x.shape[0] + pen, grad.ravel()

    res = optimize.minimize(loss, np.zeros(xb.shape[1] * n_classes), jac=True, method="L-BFGS-B",
                            options={"maxiter": 500})
    return res.x.reshape(xb.shape[1], n_classes)


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    pos = np.asarray(positive, dtype=bool)
    n1, n0 = pos.sum(), (~pos).sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(score)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number of every sample: each label's samples spread evenly over the folds (seeded)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(labels.size, dtype=int)
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        rng.shuffle(idx)
        fold[idx] = np.arange(idx.size) % folds
    return fold


def classifier_auroc(emb: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0, l2: float = 1e-2) -> float:
    """Cross-validated macro one-vs-rest AUROC of a logistic-regression classifier of ``labels``."""
    levels, y = np.unique(np.asarray(labels), return_inverse=True)
    if levels.size < 2:
        return float("nan")
    folds = max(2, min(folds, int(np.bincount(y).min())))
    fold = stratified_folds(y, folds, seed)
    prob = np.zeros((y.size, levels.size))
    for f in range(folds):
        tr, te = fold != f, fold == f
        mu, sd = emb[tr].mean(axis=0), emb[tr].std(axis=0) + 1e-12
        w = _fit_logistic((emb[tr] - mu) / sd, y[tr], levels.size, l2)
        z = np.hstack([(emb[te] - mu) / sd, np.ones((te.sum(), 1))]) @ w
        prob[te] = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    return float(np.nanmean([auroc(prob[:, c], y == c) for c in range(levels.size)]))

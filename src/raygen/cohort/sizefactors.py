"""Count normalization for sequencing counts (features x samples): size factors as DESeq2 and edgeR compute them.

- :func:`deseq2_size_factors`: DESeq2's median-of-ratios (``estimateSizeFactorsForMatrix``, type "ratio"):
  the median over features with no zero count of ``count / geometric mean of the feature``.
- :func:`tmm_factors` / :func:`upper_quartile_factors`: edgeR's ``calcNormFactors`` normalization factors
  (TMM with edgeR's default trims and weights, or the 75% quantile), scaled to geometric mean 1; the
  *effective library size* of a sample is ``library size x factor``.
- :func:`log_cpm`: edgeR's ``cpm(log=TRUE, prior.count)``: the prior count is scaled by each library's
  size relative to the mean and the library grows by twice that prior.

Quantiles are R's type 7 (numpy's default ``linear``); ranks are average ranks, as R's ``rank``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from raygen.errors import InputError

LOG_MILLION = np.log(1e6)


def check_counts(counts: np.ndarray, what: str = "count matrix") -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    if np.isnan(c).any():
        r, s = np.argwhere(np.isnan(c))[0]
        raise InputError(f"{what}: missing value at feature row {r + 1}, sample column {s + 1} (counts cannot be NA)")
    if (c < 0).any():
        r, s = np.argwhere(c < 0)[0]
        raise InputError(f"{what}: negative count {c[r, s]:g} at feature row {r + 1}, sample column {s + 1}")
    return c


def deseq2_size_factors(counts: np.ndarray) -> np.ndarray:
    """DESeq2 median-of-ratios size factors (one per sample)."""
    c = check_counts(counts)
    with np.errstate(divide="ignore"):
        log_c = np.log(c)
    log_geo = log_c.mean(axis=1)
    usable = np.isfinite(log_geo)
    if not usable.any():
        raise InputError("every feature has at least one zero count: DESeq2's geometric means are undefined "
                         "(DESeq2 suggests type='poscounts' for such data)")
    sf = np.empty(c.shape[1])
    for j in range(c.shape[1]):
        ok = usable & (c[:, j] > 0)
        sf[j] = np.exp(np.median(log_c[ok, j] - log_geo[ok]))
    return sf


def library_sizes(counts: np.ndarray) -> np.ndarray:
    return check_counts(counts).sum(axis=0)


def _quantile_factors(x: np.ndarray, lib: np.ndarray, p: float) -> np.ndarray:
    # an all-zero sample gives 0/0 = NaN, handled as edgeR does by the caller; numpy's warning is noise to users
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.quantile(x, p, axis=0) / lib


def _tmm_one(obs, ref, n_obs, n_ref, logratio_trim=0.3, sum_trim=0.05, a_cutoff=-1e10) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_r = np.log2((obs / n_obs) / (ref / n_ref))
        abs_e = (np.log2(obs / n_obs) + np.log2(ref / n_ref)) / 2
        v = (n_obs - obs) / n_obs / obs + (n_ref - ref) / n_ref / ref
    fin = np.isfinite(log_r) & np.isfinite(abs_e) & (abs_e > a_cutoff)
    log_r, abs_e, v = log_r[fin], abs_e[fin], v[fin]
    if log_r.size == 0 or np.max(np.abs(log_r)) < 1e-6:
        return 1.0
    n = log_r.size
    lo_l = np.floor(n * logratio_trim) + 1
    hi_l = n + 1 - lo_l
    lo_s = np.floor(n * sum_trim) + 1
    hi_s = n + 1 - lo_s
    rl, re = rankdata(log_r), rankdata(abs_e)
    keep = (rl >= lo_l) & (rl <= hi_l) & (re >= lo_s) & (re <= hi_s)
    f = np.nansum(log_r[keep] / v[keep]) / np.nansum(1 / v[keep])
    return float(2 ** (0.0 if np.isnan(f) else f))


def _prepare(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = check_counts(counts)
    lib = c.sum(axis=0)
    return c[(c > 0).any(axis=1)], lib


def _scale(f: np.ndarray) -> np.ndarray:
    return f / np.exp(np.mean(np.log(f)))


def tmm_factors(counts: np.ndarray, ref_column: int | None = None) -> np.ndarray:
    """edgeR TMM normalization factors (``calcNormFactors(method="TMM")``)."""
    x, lib = _prepare(counts)
    if x.shape[0] == 0 or x.shape[1] == 1:
        return np.ones(x.shape[1])
    if ref_column is None:
        f75 = _quantile_factors(x, lib, 0.75)
        ref_column = int(np.argmax(np.sqrt(x).sum(axis=0))) if np.median(f75) < 1e-20 else int(np.argmin(np.abs(f75 - f75.mean())))
    f = np.array([_tmm_one(x[:, j], x[:, ref_column], lib[j], lib[ref_column]) for j in range(x.shape[1])])
    return _scale(f)


def upper_quartile_factors(counts: np.ndarray, p: float = 0.75) -> np.ndarray:
    """edgeR upper-quartile normalization factors (``calcNormFactors(method="upperquartile")``)."""
    x, lib = _prepare(counts)
    if x.shape[0] == 0 or x.shape[1] == 1:
        return np.ones(x.shape[1])
    f = _quantile_factors(x, lib, p)
    if np.min(f) == 0 or np.isnan(f).any():  # NaN: a sample without counts (0/0), whose quantile is zero too
        raise InputError(f"the {p:.0%} quantile of some sample is zero: upper-quartile factors are undefined "
                         "(use TMM, or drop mostly-zero features)")
    return _scale(f)


def log_cpm(counts: np.ndarray, lib_sizes: np.ndarray, prior_count: float = 2.0) -> np.ndarray:
    """edgeR ``cpm(counts, lib.size=lib_sizes, log=TRUE, prior.count=prior_count)`` (log2 counts per million)."""
    c = check_counts(counts)
    lib = np.asarray(lib_sizes, dtype=np.float64)
    if not np.all(np.isfinite(lib)) or np.any(lib <= 0):
        raise InputError("library sizes must be positive (a sample with no counts cannot be normalized)")
    prior = prior_count * lib / lib.mean()
    return (np.log(c + prior[None, :]) - np.log(lib + 2 * prior)[None, :] + LOG_MILLION) / np.log(2)


METHODS = ("deseq2", "tmm", "upperquartile", "none")


def size_factor_table(counts: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """Library sizes, the method's factors and effective library sizes per sample.

    For the edgeR methods the factor is the normalization factor (effective library = library x factor);
    for DESeq2 it is the size factor (normalized counts = counts / factor; effective library = factor x the
    geometric mean of the library sizes, so that the two kinds are comparable).
    """
    lib = library_sizes(counts)
    if method == "deseq2":
        f = deseq2_size_factors(counts)
        eff = f * np.exp(np.mean(np.log(lib)))
    elif method == "tmm":
        f = tmm_factors(counts)
        eff = lib * f
    elif method == "upperquartile":
        f = upper_quartile_factors(counts)
        eff = lib * f
    elif method == "none":
        f = np.ones_like(lib)
        eff = lib
    else:
        raise ValueError(method)
    return {"lib_size": lib, "factor": f, "effective_lib_size": eff}

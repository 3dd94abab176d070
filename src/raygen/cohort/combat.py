"""ComBat batch correction (Johnson, Li & Rabinovic 2007) as R ``sva::ComBat`` 3.46.0 computes it.

Matrices are features x samples (float64, NaN = missing), as R's ComBat takes them. The algorithm is cut
into pieces that shard by feature, so the Ray pipeline and the in-memory :func:`combat` run the same code:

1. :func:`feature_stats` (per block of features, needs only those rows): least-squares coefficients of
   ``[batch | covariates]``, residual variances, and per-(feature, batch) moments of the data minus the
   standardisation mean. Features sva cannot adjust are flagged here (see ``REASONS``).
2. :func:`standardize` (driver, small arrays): sva's ``var.pooled`` and the standardised batch effects
   ``gamma.hat`` / ``delta.hat``; :func:`priors`: the per-batch hyper-priors pooled over features.
3. Posteriors: :func:`posterior_parametric` (driver: sva iterates every feature of a batch until the
   largest relative change is below ``conv``, a global stopping rule), :func:`posterior_nonparametric`
   (any block of features; it needs every feature's ``gamma.hat``/``delta.hat`` for the leave-one-out
   integral), or :func:`posterior_noeb` (neuroCombat's ``eb=FALSE``).
4. :func:`adjust` (per block of features): remove the posterior batch effects and rescale.

Everything per feature is computed from moments, so ``it.sol``'s residual sums and ``int.eprior``'s
likelihoods need no second look at the data. The non-parametric likelihoods are evaluated in log space:
identical where R's products are representable, finite where R's underflow to 0/0 (large batches).

Where sva would stop with an error or turn a whole batch into NaN (a feature missing in a batch, fewer
than two values in a batch when scale is adjusted, no residual variance, all values missing), the feature
is excluded instead: it comes out unchanged, as sva's own "uniform expression" features do, and is listed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import numpy as np

from raygen.cohort.design import Design, rank
from raygen.config import CohortBatchConfig
from raygen.errors import InputError

log = logging.getLogger("raygen.cohort.combat")

KEEP, ALL_MISSING, CONSTANT_IN_BATCH, TOO_FEW_VALUES, NO_RESIDUAL_VARIANCE = range(5)
#: Why a feature was left unadjusted (code -> words for the exclusions file).
REASONS = {
    ALL_MISSING: "all values missing",
    CONSTANT_IN_BATCH: "constant within a batch (sva leaves such features unadjusted)",
    TOO_FEW_VALUES: "too few observed values in a batch to estimate its effect",
    NO_RESIDUAL_VARIANCE: "no residual variance after the design is fitted",
}


@dataclass(frozen=True)
class ComBatOptions:
    """sva's switches: ``par.prior`` (parametric), ``mean.only``; neuroCombat's ``eb``; ``it.sol``'s ``conv``."""

    parametric: bool = True
    mean_only: bool = False
    eb: bool = True
    conv: float = CohortBatchConfig.conv
    max_iter: int = 100_000  # it.sol has no cap in sva; ours only stops a loop that would never end


@dataclass(frozen=True)
class ComBatDesign:
    """The design arrays of one run (every process of a sharded run holds the same copy)."""

    x: np.ndarray  # (N, p) [batch | covariates], reference column all ones
    batch_index: np.ndarray  # (N,)
    sizes: np.ndarray  # (B,) samples per batch
    ref: int | None
    pooled: np.ndarray  # (N,) bool: samples whose residuals define var.pooled (all, or the reference batch)
    mean_weights: np.ndarray  # (p,): grand.mean = mean_weights @ beta
    cov_part: np.ndarray  # (N, p): the design with its batch columns zeroed
    mean_only: bool  # as requested, or forced by a single-sample batch (as sva does)

    @property
    def n_batches(self) -> int:
        return int(self.sizes.shape[0])


def combat_design(design: Design, opts: ComBatOptions) -> ComBatDesign:
    """Arrays of ``design`` for ComBat; a single-sample batch switches the whole run to mean-only (sva)."""
    x = design.matrix()
    b = design.n_batches
    sizes = design.batch_sizes()
    mean_only = opts.mean_only
    if design.ref is not None and sizes[design.ref] < 2:
        # var.pooled comes from the reference batch's residuals alone, and one sample's residual is exactly 0
        # (R stops on the singular system; we used to leave nearly every feature unchanged, the rest garbage)
        raise InputError(f"reference batch {design.batches[design.ref]!r} has a single sample: ComBat's pooled "
                         "variance comes from the reference batch alone and needs at least two samples")
    if np.any(sizes == 1) and not mean_only:
        single = [design.batches[i] for i in np.flatnonzero(sizes == 1)]
        log.warning("batch(es) %s have a single sample: using the mean-only adjustment for every batch, as sva "
                    "does (a batch's variance cannot be estimated from one sample)", ", ".join(single))
        mean_only = True
    weights = np.zeros(x.shape[1])
    if design.ref is None:
        weights[:b] = sizes / sizes.sum()
        pooled = np.ones(design.n_samples, dtype=bool)
    else:
        weights[design.ref] = 1.0
        pooled = design.batch_index == design.ref
    cov_part = x.copy()
    cov_part[:, :b] = 0.0
    return ComBatDesign(x, design.batch_index, sizes, design.ref, pooled, weights, cov_part, mean_only)


# ------------------------------------------------------------------------------------------ pass 1


@dataclass
class FeatureStats:
    """Pass-1 results for F features (rows in input order). Excluded features carry NaN."""

    reason: np.ndarray  # (F,) int8, KEEP or a REASONS code
    has_na: np.ndarray  # (F,) bool
    beta: np.ndarray  # (F, p) sva's B.hat, transposed
    var_plain: np.ndarray  # (F,) mean squared residual over the pooled samples (sva without NA)
    var_na: np.ndarray  # (F,) variance (n-1) of the pooled residuals, NaN ignored (sva with NA)
    n_obs: np.ndarray  # (F, B) observed values per batch
    mean_r: np.ndarray  # (F, B) per-batch mean of data - stand.mean
    m2_r: np.ndarray  # (F, B) per-batch centred sum of squares of data - stand.mean

    @classmethod
    def concat(cls, parts: list[FeatureStats]) -> FeatureStats:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def to_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def take(self, rows) -> FeatureStats:
        return FeatureStats(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def _flag_constant(y: np.ndarray, cd: ComBatDesign) -> np.ndarray:
    """sva's zero-variance rule: a batch of >= 2 samples, no missing value there, all values equal."""
    flag = np.zeros(y.shape[0], dtype=bool)
    for b in range(cd.n_batches):
        cols = cd.batch_index == b
        if cols.sum() > 1:
            yb = y[:, cols]
            with np.errstate(invalid="ignore"):
                flag |= (~np.isnan(yb).any(axis=1)) & (np.nanmax(yb, axis=1) == np.nanmin(yb, axis=1))
    return flag


def _solve_beta(y: np.ndarray, obs: np.ndarray, x: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """B.hat by the normal equations as sva does (``solve(crossprod(X), crossprod(X, y))``), per missing-value
    pattern for features with NA (sva's Beta.NA); a pattern whose design is singular sets TOO_FEW_VALUES."""
    beta = np.full((y.shape[0], x.shape[1]), np.nan)
    todo = reason == KEEP
    full = todo & obs.all(axis=1)
    if full.any():
        beta[full] = np.linalg.solve(x.T @ x, x.T @ y[full].T).T
    partial = np.flatnonzero(todo & ~full)
    if partial.size:
        patterns, inverse = np.unique(obs[partial], axis=0, return_inverse=True)
        for k, pat in enumerate(patterns):
            rows = partial[inverse.ravel() == k]
            xo = x[pat]
            if rank(xo) < x.shape[1]:
                reason[rows] = TOO_FEW_VALUES
                continue
            beta[rows] = np.linalg.solve(xo.T @ xo, xo.T @ y[rows][:, pat].T).T
    return beta


def _row_var_na(e: np.ndarray) -> np.ndarray:
    """genefilter::rowVars(e, na.rm=TRUE): centred, divided by n - 1, NaN where n <= 1."""
    n = np.sum(~np.isnan(e), axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(e, axis=1) / n
        out = np.nansum((e - mean[:, None]) ** 2, axis=1) / (n - 1)
    out[n <= 1] = np.nan
    return out


def feature_stats(y: np.ndarray, cd: ComBatDesign) -> FeatureStats:
    """Pass 1 on a block of features ``y`` (F x N, NaN = missing): everything per feature that ComBat needs."""
    y = np.asarray(y, dtype=np.float64)
    f, nb = y.shape[0], cd.n_batches
    obs = ~np.isnan(y)
    n_obs = np.stack([obs[:, cd.batch_index == b].sum(axis=1) for b in range(nb)], axis=1)
    reason = np.zeros(f, dtype=np.int8)
    reason[n_obs.sum(axis=1) == 0] = ALL_MISSING
    reason[(reason == KEEP) & _flag_constant(y, cd)] = CONSTANT_IN_BATCH
    if not cd.mean_only:
        reason[(reason == KEEP) & (n_obs < 2).any(axis=1)] = TOO_FEW_VALUES
    beta = _solve_beta(y, obs, cd.x, reason)
    with np.errstate(invalid="ignore"):
        e = (y - beta @ cd.x.T)[:, cd.pooled]
        var_plain = (e ** 2) @ np.full(e.shape[1], 1.0 / e.shape[1])
        var_na = _row_var_na(e)
        r = y - beta @ (cd.mean_weights[:, None] + cd.cov_part.T)
        mean_r = np.full((f, nb), np.nan)
        m2_r = np.full((f, nb), np.nan)
        for b in range(nb):
            rb = r[:, cd.batch_index == b]
            mean_r[:, b] = np.nansum(rb, axis=1) / n_obs[:, b]
            m2_r[:, b] = np.nansum((rb - mean_r[:, b, None]) ** 2, axis=1)
    has_na = ~obs.all(axis=1)
    var = np.where(has_na, var_na, var_plain)
    bad_var = (reason == KEEP) & ~(var > 0)
    reason[bad_var] = NO_RESIDUAL_VARIANCE
    stats = FeatureStats(reason, has_na, beta, var_plain, var_na, n_obs.astype(float), mean_r, m2_r)
    drop = reason != KEEP
    for name in ("beta", "var_plain", "var_na", "mean_r", "m2_r"):
        getattr(stats, name)[drop] = np.nan
    return stats


# ------------------------------------------------------------------------------------------ driver


@dataclass
class Standardized:
    """Standardised batch effects of the K kept features (rows = kept features in input order)."""

    rows: np.ndarray  # (K,) positions of the kept features among all F
    var_pooled: np.ndarray  # (K,)
    gamma_hat: np.ndarray  # (K, B)
    delta_hat: np.ndarray  # (K, B) (ones with mean-only)
    n_obs: np.ndarray  # (K, B)
    mean_s: np.ndarray  # (K, B) per-batch mean of the standardised data
    m2_s: np.ndarray  # (K, B) per-batch centred sum of squares of the standardised data
    na_mode: bool  # sva's NAs: some kept feature has a missing value


def standardize(stats: FeatureStats, cd: ComBatDesign) -> Standardized:
    """sva's var.pooled (its formula depends on whether any kept value is missing) and gamma/delta.hat."""
    rows = np.flatnonzero(stats.reason == KEEP)
    na_mode = bool(stats.has_na[rows].any())
    var = (stats.var_na if na_mode else stats.var_plain)[rows]
    sd = np.sqrt(var)[:, None]
    mean_s = stats.mean_r[rows] / sd
    m2_s = stats.m2_r[rows] / sd ** 2
    gamma = mean_s.copy()
    if cd.ref is not None:  # the reference column is all ones: the others are differences to the reference
        others = np.arange(cd.n_batches) != cd.ref
        gamma[:, others] -= mean_s[:, [cd.ref]]
    n_obs = stats.n_obs[rows]
    if cd.mean_only:
        delta = np.ones_like(gamma)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = m2_s / (n_obs - 1)
    return Standardized(rows, var, gamma, delta, n_obs, mean_s, m2_s, na_mode)


@dataclass(frozen=True)
class Priors:
    """Per-batch hyper-priors pooled over the kept features (sva's gamma.bar, t2, a.prior, b.prior)."""

    gamma_bar: np.ndarray
    t2: np.ndarray
    a: np.ndarray
    b: np.ndarray


def priors(st: Standardized) -> Priors:
    gamma_bar = st.gamma_hat.mean(axis=0)
    t2 = st.gamma_hat.var(axis=0, ddof=1)
    m = st.delta_hat.mean(axis=0)
    s2 = st.delta_hat.var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # mean-only: s2 = 0, the priors are unused
        a = (2 * s2 + m ** 2) / s2
        b = (m * s2 + m ** 3) / s2
    return Priors(gamma_bar, t2, a, b)


def _it_sol(n, mean_s, m2_s, g_hat, d_hat, g_bar, t2, a, b, opts: ComBatOptions) -> tuple[np.ndarray, np.ndarray]:
    """sva's it.sol for one batch, all features at once; stops when the largest relative change (sva's
    signed ``abs(new - old) / old``, over every feature) is <= conv."""
    g_old, d_old = g_hat, d_hat
    for _ in range(opts.max_iter):
        g_new = (t2 * n * g_hat + d_old * g_bar) / (t2 * n + d_old)
        sum2 = m2_s + n * (mean_s - g_new) ** 2
        d_new = (0.5 * sum2 + b) / (n / 2 + a - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            change = np.nanmax(np.concatenate([np.abs(g_new - g_old) / g_old, np.abs(d_new - d_old) / d_old]))
        g_old, d_old = g_new, d_new
        if not change > opts.conv:
            return g_new, d_new
    log.warning("it.sol did not converge in %d iterations (last relative change %.3g)", opts.max_iter, change)
    return g_new, d_new


def posterior_parametric(st: Standardized, pr: Priors, opts: ComBatOptions, mean_only: bool):
    """Parametric EB posteriors (K x B) of gamma and delta."""
    if mean_only:  # sva calls postmean(g.hat, g.bar, 1, 1, t2): n = 1 and d.star = 1 whatever the batch size
        gamma = (pr.t2 * st.gamma_hat + pr.gamma_bar) / (pr.t2 + 1)
        return gamma, np.ones_like(gamma)
    gamma = np.empty_like(st.gamma_hat)
    delta = np.empty_like(st.delta_hat)
    for j in range(gamma.shape[1]):
        gamma[:, j], delta[:, j] = _it_sol(st.n_obs[:, j], st.mean_s[:, j], st.m2_s[:, j], st.gamma_hat[:, j],
                                           st.delta_hat[:, j], pr.gamma_bar[j], pr.t2[j], pr.a[j], pr.b[j], opts)
    return gamma, delta


def posterior_nonparametric(st: Standardized, start: int = 0, stop: int | None = None,
                            chunk_elements: int = 1 << 22):
    """sva's int.eprior for the kept features ``start:stop`` (positions in ``st``): the posterior means of
    gamma and delta under the empirical distribution of every *other* feature's (gamma.hat, delta.hat),
    weighted by the likelihood of this feature's standardised data in the batch."""
    stop = st.gamma_hat.shape[0] if stop is None else stop
    k = st.gamma_hat.shape[0]
    gamma = np.empty((stop - start, st.gamma_hat.shape[1]))
    delta = np.empty_like(gamma)
    step = max(1, chunk_elements // max(k, 1))
    for j in range(gamma.shape[1]):
        g, d = st.gamma_hat[:, j], st.delta_hat[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_d = np.log(2 * np.pi * d)
        for lo in range(start, stop, step):
            hi = min(stop, lo + step)
            n = st.n_obs[lo:hi, j, None]
            sum2 = st.m2_s[lo:hi, j, None] + n * (st.mean_s[lo:hi, j, None] - g[None, :]) ** 2
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                log_lh = -0.5 * n * log_d[None, :] - sum2 / (2 * d[None, :])
            log_lh[np.isnan(log_lh)] = -np.inf  # sva: LH[LH == "NaN"] = 0
            log_lh[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf  # leave this feature out
            top = log_lh.max(axis=1, keepdims=True)
            w = np.exp(log_lh - np.where(np.isfinite(top), top, 0.0))
            total = w.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                gamma[lo - start:hi - start, j] = (w @ g) / total
                delta[lo - start:hi - start, j] = (w @ d) / total
    return gamma, delta


def posterior_noeb(st: Standardized):
    """neuroCombat's ``eb=FALSE``: the per-feature estimates themselves, no shrinkage."""
    return st.gamma_hat.copy(), st.delta_hat.copy()


def finish_posteriors(gamma: np.ndarray, delta: np.ndarray, cd: ComBatDesign):
    """The reference batch is not moved (sva: gamma.star[ref, ] <- 0, delta.star[ref, ] <- 1)."""
    if cd.ref is not None:
        gamma[:, cd.ref] = 0.0
        delta[:, cd.ref] = 1.0
    return gamma, delta


# ------------------------------------------------------------------------------------------ pass 2


def adjust(y: np.ndarray, beta: np.ndarray, var_pooled: np.ndarray, gamma: np.ndarray, delta: np.ndarray,
           cd: ComBatDesign) -> np.ndarray:
    """Pass 2 on a block: the adjusted values of features ``y`` (F x N). Rows whose ``var_pooled`` is NaN
    (excluded features) and the reference batch's samples come back unchanged; missing values stay missing."""
    y = np.asarray(y, dtype=np.float64)
    stand_mean = beta @ (cd.mean_weights[:, None] + cd.cov_part.T)
    sd = np.sqrt(var_pooled)[:, None]
    s = (y - stand_mean) / sd
    out = (s - gamma[:, cd.batch_index]) / np.sqrt(delta[:, cd.batch_index]) * sd + stand_mean
    keep_rows = ~np.isnan(var_pooled)
    out[~keep_rows] = y[~keep_rows]
    if cd.ref is not None:
        ref_cols = cd.batch_index == cd.ref
        out[:, ref_cols] = y[:, ref_cols]
    return out


def standardized_residuals(out: np.ndarray, beta: np.ndarray, var_pooled: np.ndarray, cd: ComBatDesign) -> np.ndarray:
    """``(adjusted - stand.mean) / sqrt(var.pooled)``: corrected values on the standardised scale with the
    covariate effects removed (what drift checks compare, so a batch of other biology is not "drift")."""
    stand_mean = beta @ (cd.mean_weights[:, None] + cd.cov_part.T)
    return (out - stand_mean) / np.sqrt(var_pooled)[:, None]


# ------------------------------------------------------------------------------------------ whole runs


@dataclass
class ComBatFit:
    """A fitted ComBat: per feature (all F, NaN where excluded) what :func:`adjust` and combat-apply need."""

    reason: np.ndarray  # (F,)
    beta: np.ndarray  # (F, p)
    var_pooled: np.ndarray  # (F,)
    gamma_star: np.ndarray  # (F, B)
    delta_star: np.ndarray  # (F, B)
    stand_mean_mean: np.ndarray  # (F,) mean over the training samples of stand.mean (neuroCombat's apply)
    na_mode: bool
    mean_only: bool


def posteriors(st: Standardized, cd: ComBatDesign, opts: ComBatOptions):
    """gamma.star, delta.star (K x B) of the kept features, by the method ``opts`` asks for (whole run)."""
    if not opts.eb:
        g, d = posterior_noeb(st)
    elif opts.parametric:
        g, d = posterior_parametric(st, priors(st), opts, cd.mean_only)
    else:
        g, d = posterior_nonparametric(st)
    return finish_posteriors(g, d, cd)


def assemble_fit(stats: FeatureStats, st: Standardized, gamma: np.ndarray, delta: np.ndarray,
                 cd: ComBatDesign) -> ComBatFit:
    """Spread the kept features' posteriors back over all F features."""
    f, nb = stats.reason.shape[0], cd.n_batches
    var = np.full(f, np.nan)
    var[st.rows] = st.var_pooled
    g_all = np.full((f, nb), np.nan)
    d_all = np.full((f, nb), np.nan)
    g_all[st.rows], d_all[st.rows] = gamma, delta
    smm = stats.beta @ (cd.mean_weights + cd.cov_part.mean(axis=0))
    return ComBatFit(stats.reason, stats.beta, var, g_all, d_all, smm, st.na_mode, cd.mean_only)


def check_adjustable(st: Standardized, opts: ComBatOptions, n_features: int) -> None:
    """InputError when nothing can be adjusted, or too little for empirical Bayes to pool."""
    from raygen.errors import InputError

    if st.rows.size == 0:
        raise InputError(f"none of the {n_features} features can be adjusted (see the exclusions list)")
    if opts.eb and st.rows.size < 2:
        raise InputError("empirical Bayes pools features: at least two adjustable features are needed")


def fit_combat(y: np.ndarray, design: Design, opts: ComBatOptions = ComBatOptions()) -> tuple[ComBatFit, ComBatDesign]:
    """Fit ComBat on a whole in-memory matrix (features x samples)."""
    cd = combat_design(design, opts)
    stats = feature_stats(y, cd)
    st = standardize(stats, cd)
    check_adjustable(st, opts, y.shape[0])
    gamma, delta = posteriors(st, cd, opts)
    return assemble_fit(stats, st, gamma, delta, cd), cd


def combat(y: np.ndarray, design: Design, opts: ComBatOptions = ComBatOptions()) -> tuple[np.ndarray, ComBatFit]:
    """``sva::ComBat(y, batch, mod, par.prior, mean.only, ref.batch)`` on an in-memory matrix."""
    fit, cd = fit_combat(y, design, opts)
    return adjust(y, fit.beta, fit.var_pooled, fit.gamma_star, fit.delta_star, cd), fit


def log_exclusions(reason: np.ndarray) -> None:
    for code, words in REASONS.items():
        n = int(np.sum(reason == code))
        if n:
            log.warning("%d feature(s) left unadjusted: %s", n, words)


def apply_fit(y: np.ndarray, batch_index: np.ndarray, fit: ComBatFit, stand_mean: np.ndarray | None = None) -> np.ndarray:
    """neuroCombatFromTraining: adjust new samples of known batches (``batch_index`` into the training batches)
    with a fitted model. ``stand_mean`` (F x N) is the standardisation mean of each new sample; by default the
    training samples' mean (neuroCombat's choice, which ignores the new samples' covariates)."""
    y = np.asarray(y, dtype=np.float64)
    sm = fit.stand_mean_mean[:, None] if stand_mean is None else stand_mean
    sd = np.sqrt(fit.var_pooled)[:, None]
    out = ((y - sm) / sd - fit.gamma_star[:, batch_index]) / np.sqrt(fit.delta_star[:, batch_index]) * sd + sm
    keep_rows = ~np.isnan(fit.var_pooled)
    out[~keep_rows] = y[~keep_rows]
    return out



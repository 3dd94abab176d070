"""Seeded synthetic cohorts (features x samples) for ComBat differential tests and batch-correction benchmarks.

- :func:`combat_case`: a random ComBat problem of the kinds sva must handle: batches of different sizes,
  numeric and categorical covariates, missing values, a single-sample batch, features constant in a batch.
- :func:`simulate_cohort`: a cohort with biology (labels = cell types or conditions, in proportions that
  differ by batch) and a batch effect that is either *linear* (ComBat's own model: an additive and a
  multiplicative effect per batch and feature) or *non-linear* (the batch scales each label's biology
  differently, bends values through a batch-specific saturation, and drops low values out), the kind a
  location/scale model cannot remove.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ComBatCase:
    y: np.ndarray  # features x samples, NaN = missing
    batch: list[str]
    covariates: dict[str, list[str]] = field(default_factory=dict)
    numeric: tuple[str, ...] = ()  # covariates that are numbers (the rest categorical)


def combat_case(seed: int, n_features: int = 120, sizes=(6, 9, 4), covariates: str = "both",
                na_fraction: float = 0.0, constant_features: int = 0, min_obs: int = 2) -> ComBatCase:
    """A random ComBat input. ``covariates``: none, numeric, categorical or both. Missing values are placed
    so every (feature, batch) keeps at least ``min_obs`` values (sva fails otherwise); ``constant_features``
    rows are made constant within their first batch of two or more samples (sva leaves them unadjusted)."""
    rng = np.random.default_rng(seed)
    b = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(b)
    n = b.size
    scale = rng.uniform(0.5, 2.0, (n_features, 1))
    base = rng.normal(5, 2, (n_features, 1))
    shift = rng.normal(0, 1.5, (n_features, len(sizes)))
    spread = rng.uniform(0.6, 1.8, (1, len(sizes)))
    y = base + shift[:, b] + rng.normal(size=(n_features, n)) * scale * spread[:, b]
    cov: dict[str, list[str]] = {}
    numeric: tuple[str, ...] = ()
    if covariates in ("numeric", "both"):
        age = rng.normal(50, 12, n).round(1)
        y += np.outer(rng.normal(0, 0.05, n_features), age - 50)
        cov["age"] = [repr(float(a)) for a in age]
        numeric = ("age",)
    if covariates in ("categorical", "both"):
        grp = rng.choice(np.array(["ctl", "treat_a", "treat_b"]), n)
        while len(set(grp)) < 3:
            grp = rng.choice(np.array(["ctl", "treat_a", "treat_b"]), n)
        y += rng.normal(0, 1, (n_features, 3))[:, np.searchsorted(["ctl", "treat_a", "treat_b"], grp)]
        cov["group"] = [str(g) for g in grp]
    if constant_features:
        big = [k for k, s in enumerate(sizes) if s >= 2][0]
        y[:constant_features][:, b == big] = np.round(rng.normal(5, 1, (constant_features, 1)), 3)
    if na_fraction > 0:
        mask = rng.random(y.shape) < na_fraction
        mask[:constant_features] = False
        for k in range(len(sizes)):
            cols = np.flatnonzero(b == k)
            short = (~mask[:, cols]).sum(axis=1) < min(min_obs, cols.size)
            mask[np.ix_(short, cols)] = False
        y[mask] = np.nan
    return ComBatCase(y, [str(v + 1) for v in b], cov, numeric)


@dataclass
class Cohort:
    """A simulated cohort: ``y`` features x samples, the batch and label of every sample, and the values
    before the batch effect (``clean``, same shape) for reference."""

    y: np.ndarray
    batch: np.ndarray  # (N,) int
    label: np.ndarray  # (N,) int
    clean: np.ndarray
    kind: str
    seed: int

    def sheet(self) -> dict[str, list[str]]:
        return {"sample": [f"s{j}" for j in range(self.y.shape[1])],
                "batch": [f"b{v}" for v in self.batch], "label": [f"type{v}" for v in self.label]}


def simulate_cohort(kind: str, seed: int, n_samples: int = 600, n_features: int = 400, n_labels: int = 4,
                    n_batches: int = 3, latent: int = 6, separation: float = 0.8) -> Cohort:
    """A cohort with ``n_labels`` biological groups in ``n_batches`` batches of unequal size and composition,
    with a ``kind`` ("linear" or "nonlinear") batch effect; values are on a log-expression-like scale.
    ``separation`` is the SD of the label centres in latent units (within-label SD 1): small values make
    labels overlap, so how much biology a correction keeps shows in the metrics instead of saturating."""
    if kind not in ("linear", "nonlinear"):
        raise ValueError(kind)
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(n_batches, 4.0))
    batch = rng.choice(n_batches, n_samples, p=sizes)
    comp = rng.dirichlet(np.full(n_labels, 2.0), size=n_batches)  # label proportions differ by batch
    label = np.array([rng.choice(n_labels, p=comp[b]) for b in batch])
    centers = rng.normal(0, separation, (n_labels, latent))
    z = centers[label] + rng.normal(0, 1.0, (n_samples, latent))
    loadings = rng.normal(0, 1, (n_features, latent)) * (rng.random((n_features, latent)) < 0.4)
    mean = rng.normal(6, 1.5, (n_features, 1))
    signal = loadings @ z.T  # features x samples
    noise = rng.normal(0, 0.7, (n_features, n_samples))
    clean = mean + signal + noise
    gamma = rng.normal(0, 1.0, (n_features, n_batches))
    delta = 1.0 / rng.gamma(8.0, 1 / 7.0, (n_features, n_batches))
    if kind == "linear":
        y = mean + signal + gamma[:, batch] + np.sqrt(delta[:, batch]) * noise
        return Cohort(y, batch, label, clean, kind, seed)
    # Non-linear: the batch rescales each label's biology differently (batch x label interaction) ...
    s = rng.uniform(0.35, 1.9, (n_batches, n_labels))
    y = mean + s[batch, label][None, :] * signal + gamma[:, batch] + np.sqrt(delta[:, batch]) * noise
    # ... bends the scale through a batch-specific saturation ...
    knee = rng.uniform(-1.0, 1.0, n_batches)
    bend = rng.uniform(0.0, 0.8, n_batches)
    centred = y - mean
    y = mean + centred + bend[batch][None, :] * (np.tanh(centred - knee[batch][None, :]) - centred / 2)
    # ... and drops low values out (to the feature's floor) with a batch-specific rate.
    rate = rng.uniform(0.0, 0.35, n_batches)
    floor = mean - 3.0
    p_drop = rate[batch][None, :] / (1 + np.exp(2.0 * (y - mean)))
    y = np.where(rng.random(y.shape) < p_drop, np.broadcast_to(floor, y.shape), y)
    return Cohort(y, batch, label, clean, kind, seed)

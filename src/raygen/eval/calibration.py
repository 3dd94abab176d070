"""Calibration of probabilities against 0/1 labels, and the one fitted mapping from a raw score to one.

- Brier score: ``mean((p - y)^2)``.
- Expected calibration error (ECE): ``sum_b (n_b / n) |mean(y in b) - mean(p in b)|`` over ``bins``
  equal-width bins of p on [0, 1] (the last bin closed).
- Reliability table: per bin its range, count, mean predicted probability, observed fraction of positives
  and that fraction's 95% Wilson interval (what the reliability diagram draws).
- Platt mapping: ``p = 1 / (1 + exp(-(a * s + b)))`` fitted by Newton's method on the log loss (a tiny
  ridge on ``a`` and ``b`` keeps separable data finite). It is only ever fitted on labels that the assessed
  data does not contain (``raygen assess --calibration-labels``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: z of a two-sided 95% interval.
Z95 = 1.959963984540054


def brier(y: np.ndarray, p: np.ndarray) -> float:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


def _bin_index(p: np.ndarray, bins: int) -> np.ndarray:
    return np.clip((np.asarray(p, dtype=float) * bins).astype(int), 0, bins - 1)


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width bins (see module docstring)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    idx = _bin_index(p, bins)
    n = np.bincount(idx, minlength=bins)
    sum_y = np.bincount(idx, weights=y, minlength=bins)
    sum_p = np.bincount(idx, weights=p, minlength=bins)
    used = n > 0
    return float(np.sum(np.abs(sum_y[used] - sum_p[used])) / len(y))


def wilson(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n (NaN for n = 0)."""
    if n <= 0:
        return float("nan"), float("nan")
    phat = k / n
    den = 1 + z * z / n
    mid = (phat + z * z / (2 * n)) / den
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / den
    # rounding may put a bound a hair past phat at k = 0 or k = n: the interval always contains phat
    return float(min(phat, max(0.0, mid - half))), float(max(phat, min(1.0, mid + half)))


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """One row per non-empty bin: ``lo, hi, n, mean_p, frac_pos, ci_low, ci_high``."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    idx = _bin_index(p, bins)
    rows = []
    for b in range(bins):
        m = idx == b
        n = int(m.sum())
        if n == 0:
            continue
        k = float(y[m].sum())
        lo, hi = wilson(k, n)
        rows.append({"lo": b / bins, "hi": (b + 1) / bins, "n": n, "mean_p": float(p[m].mean()),
                     "frac_pos": k / n, "ci_low": lo, "ci_high": hi})
    return rows


@dataclass(frozen=True)
class PlattMapping:
    """``p = sigmoid(a * score + b)``, fitted on ``n`` labelled variants of ``source``."""

    a: float
    b: float
    n: int
    source: str

    def __call__(self, score: np.ndarray) -> np.ndarray:
        z = self.a * np.asarray(score, dtype=float) + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def as_dict(self) -> dict:
        return {"kind": "platt", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "PlattMapping":
        return cls(float(d["a"]), float(d["b"]), int(d["n"]), str(d["source"]))


def fit_platt(y: np.ndarray, score: np.ndarray, source: str, ridge: float = 1e-6, iters: int = 100,
              weights: np.ndarray | None = None) -> PlattMapping:
    """Logistic regression of ``y`` on ``score`` (Newton-Raphson; see module docstring); ``weights`` per row
    (default 1: e.g. to weigh each data source alike)."""
    y = np.asarray(y, dtype=float)
    s = np.asarray(score, dtype=float)
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=float)
    mu, sd = float(s.mean()), float(s.std()) or 1.0
    x = np.stack([(s - mu) / sd, np.ones_like(s)], axis=1)  # standardised for a well-conditioned Hessian
    beta = np.zeros(2)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -50, 50)))
        grad = x.T @ (w * (p - y)) + ridge * beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    a = beta[0] / sd
    return PlattMapping(float(a), float(beta[1] - a * mu), int(len(y)), source)

"""Design matrices for batch correction, coded as R's ``model.matrix`` codes them, and confounding checks.

ComBat regresses every feature on ``[batch indicators | covariates]``. Batch levels and categorical
covariate levels are ordered as R's ``factor`` orders them for the usual inputs (numerically when every
value is a number, else by string); a categorical covariate with k levels becomes k-1 indicator columns
named ``<column><level>`` (the first level is the base), a numeric covariate one column of its values.
ComBat's output depends only on the column space of the design, not on which level is the base, so this
coding reproduces R whatever its locale sorts first.

With a reference batch, the reference's indicator column is all ones (sva's ``batchmod[, ref] <- 1``), so
the other batch coefficients are differences to the reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from raygen.errors import InputError, UsageError

#: Relative singular-value tolerance of the rank checks (R's ``qr`` uses 1e-7 on pivoted column norms).
RANK_TOL = 1e-7


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def is_numeric(values: Sequence[str]) -> bool:
    """Whether every value parses as a finite number (then the column is numeric, as in R)."""
    nums = [_as_number(v) for v in values]
    return all(n is not None and np.isfinite(n) for n in nums)


def factor_levels(values: Sequence[str]) -> list[str]:
    """Distinct values in R ``factor`` order: numeric order when all are numbers, else string order."""
    distinct = set(values)
    if is_numeric(list(distinct)):
        return sorted(distinct, key=lambda v: (float(v), v))
    return sorted(distinct)


@dataclass(frozen=True)
class Design:
    """The ComBat design of one cohort: which batch every sample is in and the covariate columns.

    ``covariates`` is samples x q (float64) and ``covariate_names``/``covariate_sources`` name each of its
    columns and the sheet column it came from. ``ref`` indexes ``batches``; None without a reference batch.
    """

    batch_column: str
    batches: tuple[str, ...]
    batch_index: np.ndarray  # (n_samples,) int, index into batches
    covariates: np.ndarray  # (n_samples, q) float64
    covariate_names: tuple[str, ...]
    covariate_sources: tuple[str, ...]
    ref: int | None = None
    #: How each covariate column of the sheet was coded: (column, None) numeric, (column, levels) categorical.
    coding: tuple[tuple[str, tuple[str, ...] | None], ...] = ()

    @property
    def n_samples(self) -> int:
        return int(self.batch_index.shape[0])

    @property
    def n_batches(self) -> int:
        return len(self.batches)

    def batch_sizes(self) -> np.ndarray:
        return np.bincount(self.batch_index, minlength=self.n_batches)

    def batch_matrix(self) -> np.ndarray:
        """Samples x batches indicators (the reference column all ones, as sva codes it)."""
        m = np.zeros((self.n_samples, self.n_batches))
        m[np.arange(self.n_samples), self.batch_index] = 1.0
        if self.ref is not None:
            m[:, self.ref] = 1.0
        return m

    def matrix(self) -> np.ndarray:
        """The full design ``[batch indicators | covariates]`` (samples x (batches + q))."""
        return np.hstack([self.batch_matrix(), self.covariates])


def rank(x: np.ndarray) -> int:
    if x.size == 0:
        return 0
    s = np.linalg.svd(x, compute_uv=False)
    return int(np.sum(s > s[0] * RANK_TOL)) if s[0] > 0 else 0


def _code_covariate(name: str, values: Sequence[str], levels: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    if levels is None:
        return np.asarray([float(v) for v in values])[:, None], [name]
    cols = [np.asarray([v == lev for v in values], dtype=float) for lev in levels[1:]]
    return (np.stack(cols, axis=1) if cols else np.zeros((len(values), 0))), [f"{name}{lev}" for lev in levels[1:]]


def _covariate_values(sheet: Mapping[str, Sequence[str]], col: str) -> list[str]:
    vals = [str(v) for v in sheet[col]]
    if any(v in ("", "NA", "NaN", "nan") for v in vals):
        raise InputError(f"covariate {col!r} has missing values (ComBat needs a value for every sample)")
    return vals


def code_covariates(sheet: Mapping[str, Sequence[str]], coding) -> np.ndarray:
    """Covariate columns of new samples coded as a training design coded them (``Design.coding``); a
    categorical level the training never saw is an InputError."""
    blocks = []
    for col, levels in coding:
        if col not in sheet:
            raise UsageError(f"covariate column {col!r} of the fitted model is not in the sample sheet")
        vals = _covariate_values(sheet, col)
        if levels is None and not is_numeric(vals):
            raise InputError(f"covariate {col!r} was numeric in the training cohort but has non-numeric values here")
        unseen = sorted(set(vals) - set(levels or vals))
        if unseen:
            raise InputError(f"covariate {col!r}: level(s) {', '.join(unseen)} were not in the training cohort")
        blocks.append(_code_covariate(col, vals, levels)[0])
    n = len(next(iter(sheet.values()))) if sheet else 0
    return np.hstack(blocks) if blocks else np.zeros((n, 0))


def build_design(sheet: Mapping[str, Sequence[str]], batch_column: str, covariates: Sequence[str] = (),
                 categorical: Sequence[str] = (), ref_batch: str | None = None) -> Design:
    """Code the design from sheet columns (already in matrix sample order, values as strings).

    Raises UsageError for a missing column or an unknown reference batch, InputError for a batch column
    with fewer than two levels, missing covariate values or a confounded design (naming the columns).
    """
    for col in (batch_column, *covariates, *categorical):
        if col not in sheet:
            raise UsageError(f"column {col!r} is not in the sample sheet (columns: {', '.join(sheet)})")
    bvals = [str(v) for v in sheet[batch_column]]
    if any(v == "" for v in bvals):
        raise InputError(f"batch column {batch_column!r} has empty values")
    levels = factor_levels(bvals)
    if len(levels) < 2:
        raise InputError(f"batch column {batch_column!r} has a single level ({levels[0]!r}): nothing to correct")
    ref = None
    if ref_batch is not None:
        matches = [i for i, lev in enumerate(levels) if lev == str(ref_batch)
                   or (_as_number(lev) is not None and _as_number(lev) == _as_number(str(ref_batch)))]
        if not matches:
            raise UsageError(f"reference batch {ref_batch!r} is not a level of {batch_column!r} ({', '.join(levels)})")
        ref = matches[0]
    index = {lev: i for i, lev in enumerate(levels)}
    cov_cols, names, sources, coding = [], [], [], []
    for col in list(dict.fromkeys([*covariates, *categorical])):
        vals = _covariate_values(sheet, col)
        lev = None if col not in categorical and is_numeric(vals) else tuple(factor_levels(vals))
        block, cnames = _code_covariate(col, vals, lev)
        cov_cols.append(block)
        names += cnames
        sources += [col] * len(cnames)
        coding.append((col, lev))
    cov = np.hstack(cov_cols) if cov_cols else np.zeros((len(bvals), 0))
    design = Design(batch_column, tuple(levels), np.asarray([index[v] for v in bvals]), cov, tuple(names),
                    tuple(sources), ref, tuple(coding))
    check_confounding(design)
    return design


def check_confounding(design: Design) -> None:
    """Raise InputError naming the columns when the design is rank-deficient (batch collinear with a
    covariate, or covariates collinear with each other)."""
    x = design.matrix()
    if rank(x) == x.shape[1]:
        return
    batch = design.batch_matrix()
    sources = list(dict.fromkeys(design.covariate_sources))
    for src in sources:
        cols = [i for i, s in enumerate(design.covariate_sources) if s == src]
        block = design.covariates[:, cols]
        if block.shape[1] and rank(np.hstack([batch, block])) < batch.shape[1] + block.shape[1]:
            if np.ptp(block, axis=0).max() == 0:
                raise InputError(f"covariate {src!r} is constant: it carries no information beyond batch; drop it")
            raise InputError(f"covariate {src!r} is confounded with batch column {design.batch_column!r} "
                             "(its values are determined by the batch): ComBat cannot separate the two; drop it")
    raise InputError(f"the covariates {', '.join(repr(s) for s in sources)} are confounded with each other or, "
                     f"together, with batch column {design.batch_column!r}: drop one or more of them")


def match_batches(values: Sequence[str], batches: Sequence[str], column: str = "batch") -> np.ndarray:
    """Indices into ``batches`` (a fitted model's batch levels) of new samples' batch labels; labels that
    are numerically equal match (``1`` and ``1.0``). A batch the model never saw is an InputError."""
    lookup: dict[str, int] = {}
    for i, lev in enumerate(batches):
        lookup[lev] = i
        num = _as_number(lev)
        if num is not None:
            lookup.setdefault(repr(num), i)
    out, unknown = [], set()
    for v in values:
        v = str(v)
        num = _as_number(v)
        i = lookup.get(v, lookup.get(repr(num)) if num is not None else None)
        if i is None:
            unknown.add(v)
        out.append(-1 if i is None else i)
    if unknown:
        raise InputError(f"batch(es) {', '.join(sorted(unknown))} of column {column!r} are not in the fitted model "
                         f"(its batches: {', '.join(batches)}); refit ComBat with them")
    return np.asarray(out, dtype=int)

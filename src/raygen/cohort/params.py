"""A fitted ComBat model on disk (``--save-params``): one Parquet file, one row per feature.

Columns: ``feature``, ``reason`` (0 = adjusted, else a ``combat.REASONS`` code), ``var_pooled``,
``stand_mean_mean``, ``beta:<design column>``, ``gamma:<batch>``, ``delta:<batch>`` (posterior batch effects
on the standardised scale) and ``ref_q<i>`` / ``ref_p<i>``: the reference distribution of each feature
after correction (inner decile edges of the standardised residuals, ``combat.standardized_residuals``,
and the fraction of training samples per bin) that ``raygen cohort assess --against`` measures drift
against. The design (batch levels, covariate coding,
reference batch) and the options travel as JSON in the file's metadata under ``raygen.combat``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from raygen import __version__
from raygen.cohort.combat import ComBatFit, ComBatOptions
from raygen.errors import InputError
from raygen.io.atomic import atomic_path

META_KEY = b"raygen.combat"
FORMAT = 1


@dataclass
class ComBatModel:
    """What combat-apply and drift checks need from a fitted run."""

    features: list[str]
    fit: ComBatFit
    batch_column: str
    batches: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    design_columns: tuple[str, ...]  # names of beta's columns: batches then covariate columns
    coding: tuple  # Design.coding
    ref_batch: str | None
    options: ComBatOptions
    ref_edges: np.ndarray | None = None  # (F, 9)
    ref_fractions: np.ndarray | None = None  # (F, 10)
    extra: dict = field(default_factory=dict)

    @property
    def n_covariates(self) -> int:
        return len(self.design_columns) - len(self.batches)

    def mean_weights(self) -> np.ndarray:
        """grand.mean = weights @ beta: batch sizes over the total, or the reference batch's column."""
        nb = len(self.batches)
        w = np.zeros(len(self.design_columns))
        if self.ref_batch is None:
            sizes = np.asarray(self.batch_sizes, dtype=float)
            w[:nb] = sizes / sizes.sum()
        else:
            w[list(self.batches).index(self.ref_batch)] = 1.0
        return w

    def stand_mean(self, rows: slice, covariates: np.ndarray) -> np.ndarray:
        """sva's stand.mean (features ``rows`` x new samples) from the samples' coded covariates."""
        part = np.hstack([np.zeros((covariates.shape[0], len(self.batches))), covariates])
        return self.fit.beta[rows] @ (self.mean_weights()[:, None] + part.T)


def save_model(path: str | Path, m: ComBatModel) -> None:
    f = m.fit
    cols: dict[str, pa.Array] = {
        "feature": pa.array(m.features, pa.string()),
        "reason": pa.array(f.reason.astype(np.int8)),
        "var_pooled": pa.array(f.var_pooled),
        "stand_mean_mean": pa.array(f.stand_mean_mean),
    }
    for j, name in enumerate(m.design_columns):
        cols[f"beta:{name}"] = pa.array(f.beta[:, j])
    for j, b in enumerate(m.batches):
        cols[f"gamma:{b}"] = pa.array(f.gamma_star[:, j])
        cols[f"delta:{b}"] = pa.array(f.delta_star[:, j])
    if m.ref_edges is not None:
        for j in range(m.ref_edges.shape[1]):
            cols[f"ref_q{j + 1}"] = pa.array(m.ref_edges[:, j])
        for j in range(m.ref_fractions.shape[1]):
            cols[f"ref_p{j}"] = pa.array(m.ref_fractions[:, j])
    meta = {
        "format": FORMAT, "raygen": __version__, "batch_column": m.batch_column, "batches": list(m.batches),
        "batch_sizes": [int(v) for v in m.batch_sizes], "design_columns": list(m.design_columns),
        "coding": [[c, None if lev is None else list(lev)] for c, lev in m.coding], "ref_batch": m.ref_batch,
        "options": asdict(m.options), "na_mode": bool(f.na_mode), "mean_only": bool(f.mean_only), "extra": m.extra,
    }
    table = pa.table(cols).replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, str(tmp))


def load_model(path: str | Path) -> ComBatModel:
    path = str(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable ComBat parameter file ({exc})") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise InputError(f"{path}: not a raygen ComBat parameter file (no {META_KEY.decode()} metadata)")
    meta = json.loads(raw)
    col = lambda name: table.column(name).to_numpy(zero_copy_only=False).astype(float)  # noqa: E731
    batches = tuple(meta["batches"])
    fit = ComBatFit(
        reason=table.column("reason").to_numpy().astype(np.int8),
        beta=np.stack([col(f"beta:{c}") for c in meta["design_columns"]], axis=1),
        var_pooled=col("var_pooled"),
        gamma_star=np.stack([col(f"gamma:{b}") for b in batches], axis=1),
        delta_star=np.stack([col(f"delta:{b}") for b in batches], axis=1),
        stand_mean_mean=col("stand_mean_mean"),
        na_mode=meta["na_mode"], mean_only=meta["mean_only"],
    )
    names = table.schema.names
    edges = fracs = None
    if "ref_q1" in names:
        edges = np.stack([col(n) for n in names if n.startswith("ref_q")], axis=1)
        fracs = np.stack([col(n) for n in names if n.startswith("ref_p")], axis=1)
    coding = tuple((c, None if lev is None else tuple(lev)) for c, lev in meta["coding"])
    return ComBatModel([str(v) for v in table.column("feature").to_pylist()], fit, meta["batch_column"], batches,
                       tuple(meta["batch_sizes"]), tuple(meta["design_columns"]), coding, meta["ref_batch"],
                       ComBatOptions(**meta["options"]), edges, fracs, meta.get("extra", {}))

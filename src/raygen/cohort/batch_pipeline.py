"""``raygen cohort combat`` / ``combat-apply`` end to end: read, fit, adjust, write; in memory or on Ray Data.

The Ray engine never holds the matrix in one process. The driver streams the input once into feature
shards (``.npy`` blocks of rows, beside the output so every node that sees the output sees them), then:

- pass 1, one Ray Data task per shard: :func:`raygen.cohort.combat.feature_stats` (per-feature
  coefficients, residual variances, per-(feature, batch) moments), a few numbers per feature back;
- the driver: sva's standardisation, the priors, and the parametric posteriors (sva's ``it.sol`` stops on
  the largest change over *all* features, so it runs where all features are); non-parametric posteriors
  run as Ray Data tasks over ranges of features (each needs every feature's estimates, not the data);
- pass 2, one task per shard: the adjusted rows and each feature's reference distribution (deciles),
  written to an output shard; the driver streams the shards into the output file in order (atomically).

The in-memory engine runs the same functions on one block. ``--engine auto`` picks Ray for inputs of at
least ``CohortBatchConfig.ray_min_bytes``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from raygen.cohort.combat import (
    REASONS, ComBatDesign, ComBatFit, ComBatOptions, FeatureStats, Standardized, adjust, apply_fit, assemble_fit,
    check_adjustable, combat_design, feature_stats, finish_posteriors, log_exclusions, posterior_nonparametric,
    posteriors, standardize, standardized_residuals,
)
from raygen.cohort.design import Design, build_design, code_covariates, match_batches
from raygen.cohort.matrix import Layout, MatrixWriter, align_sheet, iter_blocks, read_sheet, sniff_layout
from raygen.cohort.params import ComBatModel, load_model, save_model
from raygen.config import CohortBatchConfig
from raygen.errors import InputError, raygen_cause
from raygen.eval.drift import bin_fractions, quantile_edges
from raygen.io.atomic import atomic_path

log = logging.getLogger("raygen.cohort.batch_pipeline")
C = CohortBatchConfig()


@dataclass
class CombatJob:
    """One ``raygen cohort combat`` run (paths and switches as the command line gives them)."""

    matrix: str
    sheet: str
    batch: str
    out: str
    covariates: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    ref_batch: str | None = None
    options: ComBatOptions = field(default_factory=ComBatOptions)
    sample_col: str | None = None
    feature_col: str | None = None
    params_out: str | None = None
    exclusions_out: str | None = None  # default: OUT.excluded.tsv when any feature is excluded
    engine: str = "auto"  # auto, memory or ray
    shard_bytes: int = C.shard_bytes
    quiet: bool = False


def load_design(job: CombatJob) -> tuple[Layout, Design]:
    sheet = read_sheet(job.sheet)
    ids = sheet[job.sample_col] if job.sample_col in sheet else [v for col in sheet.values() for v in col]
    layout = sniff_layout(job.matrix, job.feature_col, known_samples=ids)
    aligned = align_sheet(sheet, layout.samples, job.sample_col, path=job.sheet)
    design = build_design(aligned, job.batch, job.covariates, job.categorical, job.ref_batch)
    return layout, design


def shard_rows(n_samples: int, shard_bytes: int) -> int:
    return max(16, shard_bytes // (8 * max(1, n_samples)))


def choose_engine(job: CombatJob) -> str:
    if job.engine != "auto":
        return job.engine
    return "ray" if os.path.getsize(job.matrix) >= C.ray_min_bytes else "memory"


# ------------------------------------------------------------------------------------------ shared steps


def reference_distribution(z: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature decile edges and bin fractions of the standardised residuals (the drift reference)."""
    edges = np.full((z.shape[0], C.drift_bins - 1), np.nan)
    fracs = np.full((z.shape[0], C.drift_bins), np.nan)
    if keep.any():
        edges[keep] = quantile_edges(z[keep], C.drift_bins)
        fracs[keep] = bin_fractions(z[keep], edges[keep])
    return edges, fracs


def _write_exclusions(path: str, features: list[str], reason: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("feature\trow\treason\n")
        for i in np.flatnonzero(reason != 0):
            fh.write(f"{features[i]}\t{i + 1}\t{REASONS[int(reason[i])]}\n")


def _summary(job: CombatJob, design: Design, fit: ComBatFit, features: list[str], engine: str, t0: float) -> dict:
    reason = fit.reason
    excl = {REASONS[c]: int(np.sum(reason == c)) for c in REASONS if np.sum(reason == c)}
    return {
        "features_in": len(features), "features_out": len(features), "adjusted": int(np.sum(reason == 0)),
        "excluded": int(np.sum(reason != 0)), "excluded_by_reason": excl,
        "samples": design.n_samples, "batches": dict(zip(design.batches, design.batch_sizes().tolist())),
        "covariate_columns": list(design.covariate_names), "ref_batch": job.ref_batch,
        "mode": ("no-EB" if not job.options.eb else "parametric" if job.options.parametric else "non-parametric")
        + (" mean-only" if fit.mean_only else ""), "missing_values": bool(fit.na_mode), "engine": engine,
        "output": job.out, "wall_s": round(time.time() - t0, 2),
    }


def _finish(job: CombatJob, design: Design, fit: ComBatFit, features: list[str], edges, fracs) -> str | None:
    excl_path = None
    if np.any(fit.reason != 0) or job.exclusions_out:
        excl_path = job.exclusions_out or f"{job.out}.excluded.tsv"
        _write_exclusions(excl_path, features, fit.reason)
    if job.params_out:
        cols = tuple(f"batch:{b}" for b in design.batches) + tuple(design.covariate_names)
        save_model(job.params_out, ComBatModel(
            features, fit, design.batch_column, design.batches, tuple(design.batch_sizes().tolist()), cols,
            design.coding, None if design.ref is None else design.batches[design.ref], job.options, edges, fracs,
            {"matrix": str(Path(job.matrix).resolve()), "samples": design.n_samples}))
    return excl_path


def run_combat(job: CombatJob) -> dict:
    """Fit ComBat on ``job.matrix`` and write the adjusted matrix (same features, samples, order and layout);
    returns a summary (counts in/out/excluded, batches, mode, where the files went)."""
    t0 = time.time()
    layout, design = load_design(job)
    engine = choose_engine(job)
    runner = _run_ray if engine == "ray" else _run_memory
    fit, features, edges, fracs = runner(job, layout, design)
    log_exclusions(fit.reason)
    summary = _summary(job, design, fit, features, engine, t0)
    summary["exclusions_file"] = _finish(job, design, fit, features, edges, fracs)
    summary["params_file"] = job.params_out
    summary["wall_s"] = round(time.time() - t0, 2)
    return summary


def _run_memory(job: CombatJob, layout: Layout, design: Design):
    features, blocks = [], []
    for _, f, v in iter_blocks(layout):
        features += f
        blocks.append(v)
    y = np.vstack(blocks)
    del blocks
    cd = combat_design(design, job.options)
    stats = feature_stats(y, cd)
    st = standardize(stats, cd)
    check_adjustable(st, job.options, len(features))
    gamma, delta = posteriors(st, cd, job.options)
    fit = assemble_fit(stats, st, gamma, delta, cd)
    out = adjust(y, fit.beta, fit.var_pooled, fit.gamma_star, fit.delta_star, cd)
    z = standardized_residuals(out, fit.beta, fit.var_pooled, cd)
    edges, fracs = reference_distribution(z, fit.reason == 0)
    with MatrixWriter(job.out, layout) as w:
        w.write(features, out)
    return fit, features, edges, fracs


# ------------------------------------------------------------------------------------------ Ray engine


def _stage(layout: Layout, rows: int, folder: Path) -> tuple[list[dict], list[str]]:
    """Stream the input into ``folder/in_<start>.npy`` shards; the driver holds one shard at a time."""
    shards, features = [], []
    for start, f, v in iter_blocks(layout, rows):
        path = folder / f"in_{start:012d}.npy"
        np.save(path, v)
        shards.append({"path": str(path), "start": start, "rows": v.shape[0]})
        features += f
    return shards, features


def _pass1(batch: dict, cd: ComBatDesign) -> dict:
    parts, index = [], []
    for path, start in zip(batch["path"], batch["start"]):
        y = np.load(str(path))
        parts.append(feature_stats(y, cd))
        index.append(np.arange(int(start), int(start) + y.shape[0]))
    out = FeatureStats.concat(parts).to_dict()
    out["row"] = np.concatenate(index)
    return out


def _nonparametric_task(batch: dict, st_ref) -> dict:
    import ray

    st = ray.get(st_ref)
    gs, ds, idx = [], [], []
    for lo, hi in zip(batch["lo"], batch["hi"]):
        g, d = posterior_nonparametric(st, int(lo), int(hi))
        gs.append(g)
        ds.append(d)
        idx.append(np.arange(int(lo), int(hi)))
    return {"k": np.concatenate(idx), "gamma": np.concatenate(gs), "delta": np.concatenate(ds)}


def _pass2(batch: dict, cd: ComBatDesign, fit_ref, folder: str) -> dict:
    import ray

    fit: ComBatFit = ray.get(fit_ref)
    rows, edges, fracs = [], [], []
    for path, start in zip(batch["path"], batch["start"]):
        y = np.load(str(path))
        sl = slice(int(start), int(start) + y.shape[0])
        out = adjust(y, fit.beta[sl], fit.var_pooled[sl], fit.gamma_star[sl], fit.delta_star[sl], cd)
        np.save(Path(folder) / f"out_{int(start):012d}.npy", out)
        z = standardized_residuals(out, fit.beta[sl], fit.var_pooled[sl], cd)
        e, f = reference_distribution(z, fit.reason[sl] == 0)
        rows.append(np.arange(sl.start, sl.stop))
        edges.append(e)
        fracs.append(f)
    return {"row": np.concatenate(rows), "edges": np.concatenate(edges), "fracs": np.concatenate(fracs)}


def _collect(ds) -> dict[str, np.ndarray]:
    try:
        parts = list(ds.iter_batches(batch_size=None, batch_format="numpy"))
    except Exception as exc:  # our own errors raised inside a task come back wrapped by Ray
        cause = raygen_cause(exc)
        if cause is not None:
            raise type(cause)(str(cause)) from None
        raise
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged.get("row", merged.get("k")), kind="stable")
    return {k: v[order] for k, v in merged.items()}


def _map(ds, fn, **kwargs):
    return ds.map_batches(fn, batch_size=1, batch_format="numpy", num_cpus=C.cpus_per_task, fn_kwargs=kwargs)


def _run_ray(job: CombatJob, layout: Layout, design: Design):
    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = not job.quiet
    if not log.isEnabledFor(logging.DEBUG):  # Ray Data's per-dataset INFO lines drown the summary
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    cd = combat_design(design, job.options)
    out_dir = Path(job.out).resolve().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = out_dir / f".{Path(job.out).name}.shards-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        shards, features = _stage(layout, shard_rows(design.n_samples, job.shard_bytes), folder)
        log.info("staged %d features in %d shard(s)", len(features), len(shards))
        src = ray.data.from_items(shards, override_num_blocks=len(shards))
        stats_d = _collect(_map(src, _pass1, cd=cd))
        stats = FeatureStats(**{k: v for k, v in stats_d.items() if k != "row"})
        st = standardize(stats, cd)
        check_adjustable(st, job.options, len(features))
        if job.options.eb and not job.options.parametric:
            gamma, delta = _nonparametric_ray(st, cd)
        else:
            gamma, delta = posteriors(st, cd, job.options)
        fit = assemble_fit(stats, st, gamma, delta, cd)
        res = _collect(_map(src, _pass2, cd=cd, fit_ref=ray.put(fit), folder=str(folder)))
        with MatrixWriter(job.out, layout) as w:
            for sh in shards:
                start = sh["start"]
                w.write(features[start:start + sh["rows"]], np.load(folder / f"out_{start:012d}.npy"))
        return fit, features, res["edges"], res["fracs"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _nonparametric_ray(st: Standardized, cd: ComBatDesign):
    import ray

    k = st.gamma_hat.shape[0]
    step = max(1, -(-k // max(1, int(ray.cluster_resources().get("CPU", 1)) * 4)))
    ranges = [{"lo": lo, "hi": min(k, lo + step)} for lo in range(0, k, step)]
    ds = ray.data.from_items(ranges, override_num_blocks=len(ranges))
    res = _collect(_map(ds, _nonparametric_task, st_ref=ray.put(st)))
    return finish_posteriors(res["gamma"], res["delta"], cd)


# ------------------------------------------------------------------------------------------ apply


@dataclass
class ApplyJob:
    """One ``raygen cohort combat-apply`` run."""

    matrix: str
    params: str
    sheet: str
    batch: str | None
    out: str
    sample_col: str | None = None
    feature_col: str | None = None
    use_covariates: bool = False


def load_apply_inputs(job: ApplyJob):
    """(model, layout, aligned sheet, batch indices) with the feature rows checked against the model."""
    model = load_model(job.params)
    sheet = read_sheet(job.sheet)
    ids = [v for col in sheet.values() for v in col]
    layout = sniff_layout(job.matrix, job.feature_col, known_samples=ids)
    aligned = align_sheet(sheet, layout.samples, job.sample_col, path=job.sheet)
    col = job.batch or model.batch_column
    if col not in aligned:
        raise InputError(f"{job.sheet}: no batch column {col!r} (the model was fitted with {model.batch_column!r})")
    return model, layout, aligned, match_batches(aligned[col], model.batches, col)


def run_apply(job: ApplyJob) -> dict:
    """Adjust new samples of known batches with a fitted model (neuroCombatFromTraining), streaming by rows."""
    t0 = time.time()
    model, layout, aligned, bidx = load_apply_inputs(job)
    cov = code_covariates(aligned, model.coding) if job.use_covariates else None
    if job.use_covariates and model.n_covariates == 0:
        log.warning("--use-covariates: the model was fitted without covariates; nothing to use")
    n = 0
    with MatrixWriter(job.out, layout) as w:
        for start, feats, y in iter_blocks(layout):
            sl = slice(start, start + y.shape[0])
            _check_features(model, feats, start, job.matrix)
            fit = _slice_fit(model.fit, sl)
            sm = None if cov is None else model.stand_mean(sl, cov)
            w.write(feats, apply_fit(y, bidx, fit, sm))
            n += y.shape[0]
    if n != len(model.features):
        raise InputError(f"{job.matrix}: {n} features, the model has {len(model.features)}")
    return {"features_in": n, "features_out": n, "adjusted": int(np.sum(model.fit.reason == 0)),
            "samples": len(layout.samples), "output": job.out, "wall_s": round(time.time() - t0, 2),
            "batches": {b: int(np.sum(bidx == i)) for i, b in enumerate(model.batches) if np.any(bidx == i)}}


def _check_features(model: ComBatModel, feats: list[str], start: int, path: str) -> None:
    expect = model.features[start:start + len(feats)]
    if feats != expect:
        bad = next((i for i, (a, b) in enumerate(zip(feats, expect)) if a != b), len(expect))
        got = feats[bad] if bad < len(feats) else "(end of file)"
        want = expect[bad] if bad < len(expect) else "(no more features)"
        raise InputError(f"{path}: feature row {start + bad + 1} is {got!r}, the model has {want!r} there "
                         "(the new matrix must have the training features in the training order)")


def _slice_fit(fit: ComBatFit, sl: slice) -> ComBatFit:
    return ComBatFit(fit.reason[sl], fit.beta[sl], fit.var_pooled[sl], fit.gamma_star[sl], fit.delta_star[sl],
                     fit.stand_mean_mean[sl], fit.na_mode, fit.mean_only)

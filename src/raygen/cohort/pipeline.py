"""The cohort steps on Ray: the only module of ``raygen.cohort`` that imports Ray.

* :func:`coverage_many`: one Ray Data job over every (BAM, bin shard) pair. Bin shards are
  :func:`raygen.regions.make_shards` of each contig's bin extent; an actor pool holding the bins once
  counts bases per shard (:func:`raygen.cohort.coverage.count_bases`); the driver gathers shards per
  sample and writes each sample's ``.cnn`` as soon as all of its shards are in.
* :func:`reference_many`: a map over normals (each task reads a normal's target and antitarget files,
  guesses its sex and returns its bias-corrected log2 and depth cut into bin chunks) and a reduce per bin
  chunk (:func:`raygen.cohort.pooling.pool_bins`). Memory bound: the driver holds only the bin columns of
  the result (``bins x ~8 x 8 B``); a reduce task holds ``normals x chunk_bins x 2 x 8 B`` plus ~4x that in
  temporaries (1000 normals x 20,000 bins: 320 MB + temporaries); the object store holds every normal's
  corrected values (``normals x bins x 16 B``) and spills to disk beyond its size.
* :func:`map_samples`: ``fix`` / ``segment`` / ``call`` over a cohort, one task per sample.

Results equal the in-process functions bit for bit (same pure functions, same order of operations).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import ray

from raygen.calling.candidates import open_bam
from raygen.cohort import bias, coverage, pooling
from raygen.cohort.cnvfiles import CopyNumTable, read_cnvkit, sample_id_from_path, write_cnvkit
from raygen.config import CohortConfig
from raygen.errors import InputError, raygen_cause
from raygen.regions import Region, make_shards

log = logging.getLogger(__name__)


def _progress(total: int, desc: str, unit: str, enabled: bool):
    from tqdm import tqdm  # imported here: only long runs show a bar

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False)


def _reraise(exc: BaseException) -> None:
    ours = raygen_cause(exc)
    if ours is not None:
        raise ours from None
    raise exc


# -- coverage -------------------------------------------------------------------------------------------

@dataclass
class CoverageJob:
    """What to count: BAMs (sample id, path), the bins, and the bins of each shard."""

    samples: list[tuple[str, str]]
    bins: CopyNumTable
    shard_bins: list[np.ndarray] = field(default_factory=list)  # bin indices per shard
    present: list[np.ndarray] = field(default_factory=list)  # per sample: bins on contigs the BAM has


def shard_bins(bins: CopyNumTable, shard_bp: int) -> list[np.ndarray]:
    """Bin indices per shard: each contig's bin extent cut by :func:`make_shards`; a bin belongs to the
    shard that owns its start."""
    regions = []
    for c in dict.fromkeys(bins.chrom.tolist()):
        on = bins.chrom == c
        regions.append(Region(c, int(bins.start[on].min()), int(bins.end[on].max()) + 1))
    out = []
    for shard in make_shards(regions, shard_bp):
        on = np.flatnonzero(bins.chrom == shard.chrom)
        idx = on[shard.owns(bins.start[on])]
        if len(idx):
            out.append(idx)
    return out


def prepare_coverage(samples: Sequence[tuple[str, str]], bins: CopyNumTable, cfg: CohortConfig) -> CoverageJob:
    """Check every BAM in the driver (exists, sorted, indexed -- an index is built if missing) and note
    which bins each can count."""
    job = CoverageJob(list(samples), bins, shard_bins(bins, cfg.shard_bp))
    for _, path in samples:
        bam = open_bam(path)
        contigs = dict(zip(bam.references, bam.lengths))
        bam.close()
        coverage.check_sorted(path)
        kept = coverage.bins_on_bam(bins, contigs, path)
        job.present.append(np.isin(bins.chrom, list(set(kept.chrom.tolist()))))
    return job


class _ShardCounter:
    """Ray Data actor: holds the bins once, counts bases of one (sample, shard) row per call."""

    def __init__(self, bins_ref, paths: list[str], shards: list[np.ndarray], opts: coverage.CoverageOptions):
        self.chrom, self.start, self.end = ray.get(bins_ref)
        self.paths, self.shards, self.opts = paths, shards, opts
        self._open: tuple[int, object] | None = None

    def _bam(self, sample: int):
        if self._open is None or self._open[0] != sample:
            if self._open is not None:
                self._open[1].close()
            self._open = (sample, open_bam(self.paths[sample]))
        return self._open[1]

    def __call__(self, row: dict) -> dict:
        s, k = int(row["sample"]), int(row["shard"])
        idx = self.shards[k]
        bases = coverage.count_bases(self._bam(s), str(self.chrom[idx[0]]), self.start[idx], self.end[idx], self.opts)
        return {"sample": s, "shard": k, "bases": bases.astype(np.int64).tobytes()}


def coverage_many(samples: Sequence[tuple[str, str]], bins: CopyNumTable, out_paths: Sequence[str],
                  opts: coverage.CoverageOptions | None = None, cfg: CohortConfig | None = None,
                  actors: int | None = None, progress: bool = True) -> list[str]:
    """Count every BAM over ``bins`` as one Ray Data job and write ``out_paths[i]`` (atomically) for sample
    ``i``; returns the paths written. The embedded or joined Ray must already be initialised."""
    opts, cfg = opts or coverage.CoverageOptions(), cfg or CohortConfig()
    job = prepare_coverage(samples, bins, cfg)
    items = [{"sample": i, "shard": k} for i in range(len(samples)) for k, idx in enumerate(job.shard_bins)
             if job.present[i][idx[0]]]
    expected = {i: sum(1 for it in items if it["sample"] == i) for i in range(len(samples))}
    bases = {i: np.zeros(len(bins), dtype=np.int64) for i in range(len(samples))}
    written: list[str] = []
    for i in [i for i, n in expected.items() if n == 0]:
        written.append(_write_coverage(job, i, bases.pop(i), opts, out_paths[i]))
    if not items:
        return written
    cpus = max(1.0, float(ray.cluster_resources().get("CPU", 1)))
    n_actors = actors or max(1, min(len(items), int(cpus / cfg.cpus_per_task) - 1, 16))
    bins_ref = ray.put((bins.chrom, bins.start, bins.end))
    ds = ray.data.from_items(items, override_num_blocks=min(len(items), 4 * n_actors)).map(
        _ShardCounter, fn_constructor_args=(bins_ref, [p for _, p in samples], job.shard_bins, opts),
        concurrency=n_actors, num_cpus=cfg.cpus_per_task)
    bar = _progress(len(items), "coverage", "shard", progress)
    try:
        for row in ds.iter_rows():
            i, k = int(row["sample"]), int(row["shard"])
            bases[i][job.shard_bins[k]] = np.frombuffer(row["bases"], dtype=np.int64)
            expected[i] -= 1
            bar.update(1)
            if expected[i] == 0:  # all shards of this sample are in: write it and free its counts
                written.append(_write_coverage(job, i, bases.pop(i), opts, out_paths[i]))
    except Exception as exc:  # noqa: BLE001 - surface our own errors from inside Ray's wrappers
        _reraise(exc)
    finally:
        bar.close()
    return written


def _write_coverage(job: CoverageJob, i: int, bases: np.ndarray, opts, path: str) -> str:
    keep = job.present[i]
    table = coverage.depth_table(job.bins.take(keep), bases[keep], opts, job.samples[i][0])
    write_cnvkit(table, path)
    return path


# -- reference ------------------------------------------------------------------------------------------

def _chunks(n: int, size: int) -> list[slice]:
    return [slice(a, min(n, a + size)) for a in range(0, n, size)] or [slice(0, 0)]


@ray.remote
def _correct_normal(target_path: str, anti_path: str | None, blocks: list[pooling.BlockBins],
                    opts: pooling.ReferenceOptions, chunk_bins: int):
    """One normal: its sex, then per block the corrected log2 and depth, cut into bin chunks."""
    tgt = read_cnvkit(target_path)
    anti = read_cnvkit(anti_path) if anti_path else None
    tables = [tgt] + ([anti] if anti is not None else [])
    female = pooling.infer_sexes([tgt], [anti] if anti is not None else [], opts)[tgt.sample_id]
    out = []
    for table, block in zip(tables, blocks):
        log2, depth = pooling.correct_sample(table, block, female, opts)
        pair = np.vstack([log2, depth])
        out.extend(pair[:, sl] for sl in _chunks(len(log2), chunk_bins))
    return tuple(out) if len(out) > 1 else out[0]


@ray.remote
def _pool_chunk(flat: np.ndarray, *pairs: np.ndarray) -> dict[str, np.ndarray]:
    stacked = np.stack(pairs)  # normals x 2 x chunk
    return pooling.pool_bins(stacked[:, 0, :], stacked[:, 1, :], flat)


def reference_many(target_paths: Sequence[str], anti_paths: Sequence[str], fasta: str | None,
                   opts: pooling.ReferenceOptions, cfg: CohortConfig | None = None, progress: bool = True
                   ) -> CopyNumTable:
    """The pooled reference of many normals on Ray (see the module docstring for the memory bound)."""
    cfg = cfg or CohortConfig()
    if len(target_paths) == 1:
        log.warning("building a reference from a single normal: its spread is not a panel estimate and each "
                    "bin's log2 is pulled half-way to the flat expectation")
    targets = sorted(target_paths, key=sample_id_from_path)
    antis = sorted(anti_paths, key=sample_id_from_path)
    if antis and [sample_id_from_path(a) for a in antis] != [sample_id_from_path(t) for t in targets]:
        raise InputError("target and antitarget files do not pair up by sample name")
    blocks = []
    for first_path, is_target in ((targets[0], True), (antis[0] if antis else None, False)):
        if first_path is None:
            continue
        first = read_cnvkit(first_path)
        stats = bias.fasta_gc_rmask(fasta, first.chrom, first.start, first.end) if fasta and len(first) else None
        blocks.append(pooling.block_bins(first, is_target, opts, stats))
    sizes = [len(b.bins) for b in blocks]
    n_chunks = [len(_chunks(n, cfg.reference_chunk_bins)) for n in sizes]
    total = sum(n_chunks)
    refs = [
        _correct_normal.options(num_returns=total, num_cpus=cfg.cpus_per_task).remote(
            t, antis[i] if antis else None, blocks, opts, cfg.reference_chunk_bins)
        for i, t in enumerate(targets)
    ]
    refs = [r if isinstance(r, list) else [r] for r in refs]
    pooled_refs, k = [], 0
    for block, n in zip(blocks, n_chunks):
        for c, sl in enumerate(_chunks(len(block.bins), cfg.reference_chunk_bins)):
            pooled_refs.append(_pool_chunk.options(num_cpus=cfg.cpus_per_task).remote(
                block.flat_log2[sl], *[r[k + c] for r in refs]))
        k += n
    bar = _progress(len(pooled_refs), "reference", "chunk", progress)
    try:
        pooled = []
        for ref in pooled_refs:
            pooled.append(ray.get(ref))
            bar.update(1)
    except Exception as exc:  # noqa: BLE001
        _reraise(exc)
    finally:
        bar.close()
    out, k = [], 0
    for block, n in zip(blocks, n_chunks):
        parts = pooled[k:k + n]
        k += n
        out.append((block, {c: np.concatenate([p[c] for p in parts]) for c in ("log2", "depth", "spread")}))
    ref = pooling.assemble(out)
    pooling.report_bad_bins(ref)
    return ref


# -- per-sample maps ------------------------------------------------------------------------------------

@ray.remote
def _run_one(func: Callable, args: tuple):
    return func(*args)


def map_samples(func: Callable, arg_list: Sequence[tuple], cfg: CohortConfig | None = None, desc: str = "samples",
                progress: bool = True) -> list:
    """``[func(*args) for args in arg_list]`` as one Ray task each (results in input order)."""
    cfg = cfg or CohortConfig()
    refs = [_run_one.options(num_cpus=cfg.cpus_per_task).remote(func, tuple(a)) for a in arg_list]
    bar = _progress(len(refs), desc, "sample", progress)
    results: dict = {}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for d in done:
                results[d] = ray.get(d)
                bar.update(1)
    except Exception as exc:  # noqa: BLE001
        _reraise(exc)
    finally:
        bar.close()
    return [results[r] for r in refs]


def output_name(out_dir: str, sample: str, suffix: str) -> str:
    """``out_dir/sample + suffix``."""
    return os.path.join(out_dir, sample + suffix)

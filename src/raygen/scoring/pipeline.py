"""``raygen score``: read -> (normalize) -> score -> VCF (+ Parquet), as a Ray Data job on an actor pool or, for
small inputs on one machine, in this process (:func:`should_score_on_ray`); both paths run the same pure
functions and the same scorer (:func:`raygen.scoring.base.make_scorer`), so their outputs are identical.

- **read**: a VCF/BCF through the region-sharded datasource (:func:`raygen.io.datasource.read_vcf_dataset`,
  every record exactly once, malformed lines in-band as rejects), or a Parquet dataset written by raygen.
- **normalize** (optional): ``bcftools norm -f REF -c w`` semantics, as a stage of the same dataset
  (:func:`raygen.normalize.pipeline.normalize_dataset`: the pure ``normalize_block`` on an actor pool; left-
  align and trim against the same FASTA; REF mismatches are kept and later skipped as ``ref_mismatch``;
  records it cannot process become in-band reject rows). No temporary files.
- **score**: ``map_batches(ScorerActor, compute=ActorPoolStrategy(size=actors), num_cpus=cpus_per_actor,
  num_gpus=gpus_per_actor)``: each actor loads the model once (a language model or SpliceAI, through the one
  scorer interface of :mod:`raygen.scoring.base`). Scores do not depend on the actor count or batch sizes.
- **write**: records back in input order (SHARD, SHARD_ROW), or after normalize in ``bcftools norm``'s order
  (contig, POS, input order); INFO ``RAYGEN_LLR``/``RAYGEN_SKIP`` with header lines and a ``##raygen_score``
  line; sorted, atomic, indexed VCF; optional contig-partitioned Parquet; the reject rows to ``--rejects``.

In process (``use_ray=False``, or auto for a small input): the same blocks from
:func:`raygen.io.blocks.read_shard`, :func:`raygen.normalize.pipeline.normalize_block`, the scorer's
``annotate`` on batches of ``rows_per_batch`` records, torch on every core this process may use. It skips
what only pays off for big inputs: Ray's start, actor processes (each importing torch and loading the
model), Ray Data's stages.

Counts: ``records_in = records_out + rejected``; every record read is written, scored or with a reason.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from raygen.config import DEFAULTS, RuntimeConfig, ScoreConfig, SpliceAIConfig
from raygen.errors import InputError, UsageError, raygen_cause
from raygen.io.blocks import as_block, read_shard, split_rejects
from raygen.io.fasta import ensure_fasta_index
from raygen.io.header import VcfHeader
from raygen.io.vcf import output_kind, read_header, report_rejects, write_vcf
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.pipeline import contig_ranks, finish, normalize_block, normalize_dataset, prepare_header
from raygen.normalize.postprocess import sort_records
from raygen.normalize.records import RecordNormalizer
from raygen.provenance import Provenance, model_record
from raygen.schema import BLOCK_SCHEMA, NORMALIZED_BLOCK_SCHEMA
from raygen.regions import Shard, naming_hint
from raygen.runtime import init_ray, resolve_address
from raygen.scoring.annotate import count_outcomes
from raygen.scoring.base import SCORER_ENV, ScorerActor, ScorerSpec, make_scorer, scorer_spec

if TYPE_CHECKING:
    import ray

log = logging.getLogger("raygen.score")


@dataclass
class ScoreSummary:
    """What one run did. Records are VCF lines; alleles are the ALTs in them."""

    records_in: int = 0
    records_out: int = 0
    rejected: int = 0
    records_scored: int = 0  # records with at least one scored ALT
    records_skipped: int = 0  # records with no scored ALT (each has a RAYGEN_SKIP reason)
    alleles_scored: int = 0
    alleles_skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    output: str = ""
    parquet: str | None = None
    rejects: str | None = None
    notes: list[str] = field(default_factory=list)  # what the user can do about skips (contig naming)
    engine: str = ""  # "ray" (a Ray Data job on an actor pool) or "in-process"
    stages: dict[str, float] = field(default_factory=dict)  # wall seconds per stage, in order (see score_vcf)

    def lines(self) -> list[str]:
        rate = self.alleles_scored / self.seconds if self.seconds > 0 else 0.0
        out = [
            f"records in: {self.records_in}  out: {self.records_out}  rejected: {self.rejected}",
            f"records scored: {self.records_scored}  skipped: {self.records_skipped}  "
            f"(alleles scored: {self.alleles_scored}, skipped: {self.alleles_skipped})",
        ]
        if self.skip_reasons:
            out.append("skip reasons: " + ", ".join(f"{k}={v}" for k, v in sorted(self.skip_reasons.items())))
        out += self.notes
        out.append(f"wrote {self.output}" + (f" and {self.parquet}" if self.parquet else "")
                   + f" in {self.seconds:.1f} s ({rate:.1f} alleles/s)")
        if self.stages:
            out.append(f"time ({self.engine}): " + ", ".join(f"{k} {v:.1f} s" for k, v in self.stages.items()))
        return out


def threads_per_actor(cfg: ScoreConfig) -> int:
    """torch CPU threads of each scorer actor: ``cfg.threads_per_actor``, or on a one-node Ray its CPUs shared
    among the actors, on a multi-node cluster ``round(cpus_per_actor)``; at least 1."""
    import ray  # the Ray path only (start-up time of the in-process path)

    if cfg.threads_per_actor > 0:
        return cfg.threads_per_actor
    if len([n for n in ray.nodes() if n.get("Alive")]) == 1:
        # the cores this process may run on (taskset, cgroup cpusets), which Ray's CPU count may exceed
        cores = min(int(ray.cluster_resources().get("CPU", 1)), len(os.sched_getaffinity(0)))
        return max(1, cores // cfg.actors)
    return max(1, round(cfg.cpus_per_actor))


def _check_gpus(gpus_per_actor: float) -> None:
    import ray  # the Ray path only

    if gpus_per_actor <= 0:
        return
    have = float(ray.cluster_resources().get("GPU", 0.0))
    if have <= 0:
        raise UsageError(
            f"--gpus-per-actor {gpus_per_actor:g} but the Ray cluster has no GPU; drop --gpus-per-actor to "
            "score on CPU, or run against a cluster with GPUs (--address / $RAY_ADDRESS)"
        )
    if gpus_per_actor > have:
        raise UsageError(f"--gpus-per-actor {gpus_per_actor:g} exceeds the cluster's {have:g} GPU(s)")


#: Options of the ``--normalize`` stage: ``bcftools norm -f REF -c w`` (the FASTA is filled in per run).
NORMALIZE_CHECK_REF = "w"
#: Parquet input: rows per Ray block (at most 64 blocks).
PARQUET_BLOCK_ROWS = 2000


def should_score_on_ray(use_ray: bool | None, cfg: ScoreConfig, runtime: RuntimeConfig | None) -> bool | None:
    """True: a Ray Data job; False: in this process; None: by input size (:func:`_local_blocks`).

    ``use_ray`` (``--ray``/``--no-ray``) decides when given. Otherwise Ray when the run asks for what only
    Ray gives: a cluster (``--address``/``$RAY_ADDRESS``, or a Ray this process already joined), GPU actors,
    more than one actor; else the input size decides (``cfg.ray_min_records``)."""
    if use_ray is not None:
        return use_ray
    ray = sys.modules.get("ray")  # joined already (a library user, a test session): never imported here for it
    if (ray is not None and ray.is_initialized()) or resolve_address(runtime.address if runtime else None):
        return True
    return True if cfg.gpus_per_actor > 0 or cfg.actors > 1 else None


def _local_blocks(inp: str, limit: int | None) -> list[pa.Table] | None:
    """Every block of ``inp`` (:data:`raygen.schema.BLOCK_SCHEMA`, input order) when it holds fewer than
    ``limit`` rows (None: no limit), else None (read only up to the limit). A Parquet directory: one block."""
    p = Path(inp)
    if p.is_dir():
        from raygen.io.parquet import read_parquet  # pyarrow.dataset imports pandas (start-up): Parquet only

        table = read_parquet(str(p))[1]
        return [as_block(table)] if limit is None or table.num_rows < limit else None
    blocks, n = [], 0
    for block in read_shard(str(p), read_header(str(p)), Shard(None)):
        n += block.num_rows
        if limit is not None and n >= limit:
            return None
        blocks.append(block)
    return blocks


def _read(inp: str, shard_bp: int) -> tuple[ray.data.Dataset, VcfHeader, str]:
    """(dataset of blocks, header, source name) for a VCF/BCF file or a raygen Parquet directory."""
    import ray  # the Ray path only

    from raygen.io.datasource import read_vcf_dataset  # imports Ray

    p = Path(inp)
    if p.is_dir():
        from raygen.io.parquet import read_parquet  # pyarrow.dataset imports pandas (start-up): Parquet only

        header, table = read_parquet(str(p))
        blocks = max(1, min(64, table.num_rows // PARQUET_BLOCK_ROWS))
        return ray.data.from_arrow(as_block(table)).repartition(blocks), header, str(p)
    return read_vcf_dataset(str(p), shard_bp=shard_bp), read_header(str(p)), str(p)


def _input_header(inp: str) -> VcfHeader:
    p = Path(inp)
    if not p.exists():
        raise InputError(f"input {inp!r} does not exist")
    if p.is_dir():
        from raygen.io.parquet import read_parquet  # pyarrow.dataset imports pandas (start-up): Parquet only

        return read_parquet(str(p))[0]
    return read_header(str(p))


def _check_inputs(inp: str, reference: str, model: str, out: str, cfg: ScoreConfig, normalize: bool,
                  revision: str | None, trust_remote_code: bool, spliceai: SpliceAIConfig,
                  rename_contigs: str | None) -> ScorerSpec:
    """Fail fast, before any actor starts; returns the checked model (:func:`raygen.scoring.base.scorer_spec`)."""
    output_kind(out)
    if cfg.actors < 1:
        raise UsageError(f"--actors must be at least 1, not {cfg.actors}")
    if cfg.window < 8 or cfg.batch_size < 1 or cfg.rows_per_batch < 1:
        raise UsageError("--window must be >= 8 and --batch-size >= 1")
    if normalize and Path(inp).is_dir():
        raise UsageError("--normalize needs a VCF/BCF input (normalize Parquet by re-exporting it as VCF)")
    ensure_fasta_index(reference)
    return scorer_spec(model, str(Path(reference).resolve()), score=cfg, spliceai=spliceai, revision=revision,
                       trust_remote_code=trust_remote_code, rename_contigs=rename_contigs)


def _scored(ds: ray.data.Dataset, spec: ScorerSpec, cfg: ScoreConfig, empty: pa.Schema) -> pa.Table:
    """The score stage (an actor pool of :class:`ScorerActor`), gathered on the driver as one table."""
    import ray  # the Ray path only

    actor_spec = spec.with_runtime(device="cuda" if cfg.gpus_per_actor > 0 else "cpu", threads=threads_per_actor(cfg))
    scored = ds.map_batches(ScorerActor, fn_constructor_kwargs={"spec": actor_spec}, batch_size=cfg.rows_per_batch,
                            batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=cfg.actors),
                            num_cpus=cfg.cpus_per_actor, num_gpus=cfg.gpus_per_actor or None,
                            runtime_env={"env_vars": SCORER_ENV})
    try:
        blocks = [ray.get(ref) for ref in scored.to_arrow_refs()]
    except Exception as exc:  # noqa: BLE001 - surface our own errors raised inside actors as themselves
        cause = raygen_cause(exc)
        if cause is not None:
            raise type(cause)(str(cause)) from None
        raise
    blocks = [b for b in blocks if b.num_rows]
    return pa.concat_tables(blocks) if blocks else empty.empty_table()


def _in_order(table: pa.Table, source: str, header: VcfHeader, opts: NormalizeOptions | None
              ) -> tuple[pa.Table, pa.Table]:
    """(records as a text table, rejects) in output order: the input's, or after normalize bcftools norm's."""
    if opts is None:
        table = table.sort_by([("SHARD", "ascending"), ("SHARD_ROW", "ascending")])
        records, rejects = split_rejects(table, source)
        return _indexable(records.drop_columns(["SHARD", "SHARD_ROW"])), rejects
    result = finish([table], Counts(), header, opts, source)
    records = result.records.drop_columns(["KEY"])
    # normalized records have no source line (as in `raygen normalize --parquet`)
    return records.append_column("LINE", pa.nulls(records.num_rows, pa.int64())), result.rejects


def _indexable(records: pa.Table) -> pa.Table:
    """Records in input order, unless that order cannot be indexed (POS going back within a contig, a contig
    coming back after another): then sorted as ``raygen normalize`` sorts (contigs in order of first
    appearance, POS, input order), so the .tbi/.csi can be built instead of failing after all the work."""
    keyed = records.append_column("KEY", pa.array(np.arange(records.num_rows, dtype=np.int64)))
    return sort_records(keyed, contig_ranks(keyed)).drop_columns(["KEY"])


def _model_records(spec: ScorerSpec) -> list[dict[str, str]]:
    """Provenance records of the model a run scored with: SpliceAI's five wheel networks, each hashed, or the
    language model's directory / hub id."""
    if spec.kind == "spliceai":
        from raygen.models.spliceai_weights import LICENCE, model_paths

        return [model_record(str(p), licence=LICENCE, display=f"spliceai/{p.name}") for p in model_paths()]
    return [model_record(spec.model, spec.revision)]


def _scored_header(header: VcfHeader, spec: ScorerSpec) -> VcfHeader:
    header = header.copy()
    header.meta = [m for m in header.meta if not m.startswith("##raygen_score=")]
    spec.add_header_lines(header)
    return header


def _naming_note(records: pa.Table, reference: str, n_unknown: int) -> str | None:
    """What to do about ALTs skipped as unknown_contig when the names differ only by style (chr17 vs 17)."""
    from raygen.io.fasta import Reference

    with Reference(reference) as ref:
        hint = naming_hint(set(records["CHROM"].to_pylist()) - set(ref.contigs), ref.lengths)
    return f"{n_unknown} ALT(s) on contigs the FASTA lacks." + hint if hint else None


def _summary(records: pa.Table, n_rejected: int, records_in: int, out: str, parquet_dir: str | None,
             rejects_written: str | None) -> ScoreSummary:
    counts = count_outcomes(records)
    summary = ScoreSummary(output=out, parquet=parquet_dir, rejects=rejects_written, records_in=records_in,
                           records_out=records.num_rows, rejected=n_rejected,
                           records_scored=counts["records_scored"], records_skipped=counts["records_skipped"],
                           alleles_scored=counts["alleles_scored"], alleles_skipped=counts["alleles_skipped"],
                           skip_reasons={k[5:]: v for k, v in counts.items() if k.startswith("skip:")})
    if summary.records_in != summary.records_out + summary.rejected:
        log.warning("record count mismatch: %d in, %d out, %d rejected (normalize may split, join or drop "
                    "records)", summary.records_in, summary.records_out, summary.rejected)
    return summary


class _Clock:
    """Wall seconds of consecutive stages (:attr:`ScoreSummary.stages`)."""

    def __init__(self):
        self.t, self.stages = time.perf_counter(), {}

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self.t
        self.t = now


def _score_on_ray(inp: str, spec: ScorerSpec, cfg: ScoreConfig, header: VcfHeader, opts: NormalizeOptions | None,
                  progress: bool, runtime: RuntimeConfig | None, clock: _Clock) -> pa.Table:
    """Read (-> normalize) -> score as one Ray Data job; the table of every scored row (any order)."""
    import ray  # the Ray path only

    init_ray(runtime)  # joins the Ray this process already has, if any
    _check_gpus(cfg.gpus_per_actor)
    clock("ray start")
    ray.data.DataContext.get_current().enable_progress_bars = progress
    ds, _, source = _read(inp, cfg.shard_bp)
    if opts is not None:
        ds = normalize_dataset(ds, header, opts, source, with_counts=False)
    table = _scored(ds, spec, cfg, NORMALIZED_BLOCK_SCHEMA if opts else BLOCK_SCHEMA)
    clock("read + score (actor start, model load, Ray Data)")
    return table


def _score_here(blocks: list[pa.Table], spec: ScorerSpec, cfg: ScoreConfig, header: VcfHeader,
                opts: NormalizeOptions | None, source: str, clock: _Clock) -> pa.Table:
    """The Ray path's stages in this process, over the same blocks: ``normalize_block`` (one normalizer, as
    one actor has), then the scorer's ``annotate`` on ``cfg.rows_per_batch`` records at a time."""
    for key, value in SCORER_ENV.items():  # read by libgomp when torch loads: effective before torch's import
        os.environ.setdefault(key, value)
    import torch  # noqa: F401 - imported here, not at module top: the Ray driver never needs it; timed apart

    clock("import torch")
    device = "cuda" if cfg.gpus_per_actor > 0 else "cpu"
    threads = cfg.threads_per_actor or len(os.sched_getaffinity(0))
    scorer = make_scorer(spec.with_runtime(device=device, threads=threads))
    clock("model load")
    if opts is not None:
        normalizer = RecordNormalizer(header, opts, Counts(), source=source)
        blocks = [normalize_block(b, normalizer) for b in blocks]
    n = cfg.rows_per_batch
    out = [scorer.annotate(b.slice(i, n)) for b in blocks for i in range(0, b.num_rows, n)]
    clock("score")
    out = [b for b in out if b.num_rows]
    return pa.concat_tables(out) if out else (NORMALIZED_BLOCK_SCHEMA if opts else BLOCK_SCHEMA).empty_table()


def score_vcf(
    inp: str,
    reference: str,
    model: str,
    out: str,
    *,
    cfg: ScoreConfig = DEFAULTS.score,
    parquet_dir: str | None = None,
    rejects_path: str | None = None,
    normalize: bool = False,
    revision: str | None = None,
    trust_remote_code: bool = False,
    progress: bool = True,
    spliceai: SpliceAIConfig = DEFAULTS.spliceai,
    rename_contigs: str | None = None,
    use_ray: bool | None = None,
    runtime: RuntimeConfig | None = None,
) -> ScoreSummary:
    """Score every ALT of ``inp`` (VCF/BCF file or raygen Parquet dir) with ``model`` (a language model, or
    ``spliceai`` with the ``spliceai`` settings); write ``out``. ``rename_contigs``: add-chr, strip-chr or a
    TSV file mapping the input's contig names to the FASTA's.

    ``use_ray``: True a Ray Data job (Ray started or joined by ``raygen.runtime.init_ray(runtime)`` unless this
    process has joined one), False in this process, None chosen by :func:`should_score_on_ray` and the input
    size. Fails fast, before any model loads, on a bad model (:func:`raygen.scoring.base.scorer_spec`), a
    missing FASTA, or GPUs requested where none exist. With ``normalize`` the records are normalized first
    (``bcftools norm -f reference -c w``), in the same pipeline. The summary's ``stages`` say where the
    time went.
    """
    clock = _Clock()
    t0 = clock.t
    spec = _check_inputs(inp, reference, model, out, cfg, normalize, revision, trust_remote_code, spliceai,
                         rename_contigs)
    header, source = _input_header(inp), str(Path(inp))
    opts = None
    if normalize:
        opts = NormalizeOptions(fasta=reference, check_ref=NORMALIZE_CHECK_REF).validate()
        header = prepare_header(header, opts)
    on_ray = should_score_on_ray(use_ray, cfg, runtime)
    blocks = None if on_ray else _local_blocks(inp, None if on_ray is False else cfg.ray_min_records)
    clock("check + read")
    if blocks is None:
        table = _score_on_ray(inp, spec, cfg, header, opts, progress, runtime, clock)
    else:
        table = _score_here(blocks, spec, cfg, header, opts, source, clock)
    records, rejects = _in_order(table, source, header, opts)
    header = _scored_header(header, spec)
    prov = Provenance.for_run(models=_model_records(spec), reference=reference)
    write_vcf(header, records, out, provenance=prov)
    if parquet_dir:
        from raygen.io.parquet import write_parquet  # pyarrow.dataset imports pandas (start-up): when asked

        write_parquet(records, header, parquet_dir, provenance=prov)
    written = report_rejects(rejects, rejects_path, log, write_empty=False)
    # records_in: the rows the read stage gave (records + in-band rejects); normalize keeps one row each
    summary = _summary(records, rejects.num_rows, table.num_rows, out, parquet_dir, written)
    if summary.skip_reasons.get("unknown_contig") and not rename_contigs:
        note = _naming_note(records, reference, summary.skip_reasons["unknown_contig"])
        summary.notes += [note] if note else []
    clock("write")
    summary.engine = "ray" if blocks is None else "in-process"
    summary.stages = clock.stages
    summary.seconds = time.perf_counter() - t0
    return summary

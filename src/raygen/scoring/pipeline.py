"""``raygen score`` as a Ray Data job: read -> (normalize) -> score on an actor pool -> VCF (+ Parquet).

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

Counts: ``records_in = records_out + rejected``; every record read is written, scored or with a reason.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import ray

from raygen.config import DEFAULTS, ScoreConfig, SpliceAIConfig
from raygen.errors import InputError, UsageError, raygen_cause
from raygen.io.blocks import as_block, split_rejects
from raygen.io.datasource import read_vcf_dataset
from raygen.io.fasta import ensure_fasta_index
from raygen.io.header import VcfHeader
from raygen.io.parquet import read_parquet, write_parquet
from raygen.io.vcf import output_kind, read_header, report_rejects, write_vcf
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.pipeline import contig_ranks, finish, normalize_dataset, prepare_header
from raygen.normalize.postprocess import sort_records
from raygen.provenance import Provenance, model_record
from raygen.schema import BLOCK_SCHEMA, NORMALIZED_BLOCK_SCHEMA
from raygen.regions import naming_hint
from raygen.scoring.annotate import count_outcomes
from raygen.scoring.base import SCORER_ENV, ScorerActor, ScorerSpec, scorer_spec

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
        return out


def threads_per_actor(cfg: ScoreConfig) -> int:
    """torch CPU threads of each scorer actor: ``cfg.threads_per_actor``, or on a one-node Ray its CPUs shared
    among the actors, on a multi-node cluster ``round(cpus_per_actor)``; at least 1."""
    if cfg.threads_per_actor > 0:
        return cfg.threads_per_actor
    if len([n for n in ray.nodes() if n.get("Alive")]) == 1:
        # the cores this process may run on (taskset, cgroup cpusets), which Ray's CPU count may exceed
        cores = min(int(ray.cluster_resources().get("CPU", 1)), len(os.sched_getaffinity(0)))
        return max(1, cores // cfg.actors)
    return max(1, round(cfg.cpus_per_actor))


def _check_gpus(gpus_per_actor: float) -> None:
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


def _read(inp: str, shard_bp: int) -> tuple[ray.data.Dataset, VcfHeader, str]:
    """(dataset of blocks, header, source name) for a VCF/BCF file or a raygen Parquet directory."""
    p = Path(inp)
    if not p.exists():
        raise InputError(f"input {inp!r} does not exist")
    if p.is_dir():
        header, table = read_parquet(str(p))
        blocks = max(1, min(64, table.num_rows // PARQUET_BLOCK_ROWS))
        return ray.data.from_arrow(as_block(table)).repartition(blocks), header, str(p)
    return read_vcf_dataset(str(p), shard_bp=shard_bp), read_header(str(p)), str(p)


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
    spec = scorer_spec(model, str(Path(reference).resolve()), score=cfg, spliceai=spliceai, revision=revision,
                       trust_remote_code=trust_remote_code, rename_contigs=rename_contigs)
    _check_gpus(cfg.gpus_per_actor)
    return spec


def _scored(ds: ray.data.Dataset, spec: ScorerSpec, cfg: ScoreConfig, empty: pa.Schema) -> pa.Table:
    """The score stage (an actor pool of :class:`ScorerActor`), gathered on the driver as one table."""
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
) -> ScoreSummary:
    """Score every ALT of ``inp`` (VCF/BCF file or raygen Parquet dir) with ``model`` (a language model, or
    ``spliceai`` with the ``spliceai`` settings); write ``out``. ``rename_contigs``: add-chr, strip-chr or a
    TSV file mapping the input's contig names to the FASTA's.

    Ray must be initialised (``raygen.runtime.init_ray``). Fails fast, before any actor starts, on a bad
    model (:func:`raygen.scoring.base.scorer_spec`), a missing FASTA, or GPUs requested where none exist.
    With ``normalize`` the records are normalized first (``bcftools norm -f reference -c w``), in the same
    Ray Data pipeline.
    """
    t0 = time.perf_counter()
    spec = _check_inputs(inp, reference, model, out, cfg, normalize, revision, trust_remote_code, spliceai,
                         rename_contigs)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    ds, header, source = _read(inp, cfg.shard_bp)
    opts = None
    if normalize:
        opts = NormalizeOptions(fasta=reference, check_ref=NORMALIZE_CHECK_REF).validate()
        header = prepare_header(header, opts)
        ds = normalize_dataset(ds, header, opts, source, with_counts=False)
    table = _scored(ds, spec, cfg, NORMALIZED_BLOCK_SCHEMA if normalize else BLOCK_SCHEMA)
    records, rejects = _in_order(table, source, header, opts)
    header = _scored_header(header, spec)
    prov = Provenance.for_run(models=_model_records(spec), reference=reference)
    write_vcf(header, records, out, provenance=prov)
    if parquet_dir:
        write_parquet(records, header, parquet_dir, provenance=prov)
    written = report_rejects(rejects, rejects_path, log, write_empty=False)
    # records_in: the rows the read stage gave (records + in-band rejects); normalize keeps one row each
    summary = _summary(records, rejects.num_rows, table.num_rows, out, parquet_dir, written)
    if summary.skip_reasons.get("unknown_contig") and not rename_contigs:
        note = _naming_note(records, reference, summary.skip_reasons["unknown_contig"])
        summary.notes += [note] if note else []
    summary.seconds = time.perf_counter() - t0
    return summary

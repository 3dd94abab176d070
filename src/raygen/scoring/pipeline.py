"""``raygen score`` as a Ray Data job: read -> (normalize) -> score on an actor pool -> VCF (+ Parquet).

- **read**: a VCF/BCF through the region-sharded datasource (:func:`raygen.io.datasource.read_vcf_dataset`,
  every record exactly once, malformed lines in-band as rejects), or a Parquet dataset written by raygen.
- **normalize** (optional): ``bcftools norm -f REF -c w`` semantics via :mod:`raygen.normalize` (left-align
  and trim against the same FASTA; REF mismatches are kept and later skipped as ``ref_mismatch``).
- **score**: ``map_batches(Scorer, compute=ActorPoolStrategy(size=actors), num_cpus=cpus_per_actor,
  num_gpus=gpus_per_actor)``: each actor loads the model once. The Scorer batches only equal-length token
  sequences, so scores do not depend on the actor count or batch sizes.
- **write**: records back in input order (SHARD, SHARD_ROW), INFO ``RAYGEN_LLR``/``RAYGEN_SKIP`` with header
  lines and a ``##raygen_score`` line; sorted, atomic, indexed VCF; optional contig-partitioned Parquet.

Counts: ``records_in = records_out + rejected``; every record read is written, scored or with a reason.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from raygen.config import ScoreConfig
from raygen.errors import InputError, RaygenError, UsageError, raygen_cause

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

    def lines(self) -> list[str]:
        rate = self.alleles_scored / self.seconds if self.seconds > 0 else 0.0
        out = [
            f"records in: {self.records_in}  out: {self.records_out}  rejected: {self.rejected}",
            f"records scored: {self.records_scored}  skipped: {self.records_skipped}  "
            f"(alleles scored: {self.alleles_scored}, skipped: {self.alleles_skipped})",
        ]
        if self.skip_reasons:
            out.append("skip reasons: " + ", ".join(f"{k}={v}" for k, v in sorted(self.skip_reasons.items())))
        out.append(f"wrote {self.output}" + (f" and {self.parquet}" if self.parquet else "")
                   + f" in {self.seconds:.1f} s ({rate:.1f} alleles/s)")
        return out


def threads_per_actor(cfg: ScoreConfig) -> int:
    """torch CPU threads of each scorer actor: ``cfg.threads_per_actor``, or on a one-node Ray its CPUs shared
    among the actors, on a multi-node cluster ``round(cpus_per_actor)``; at least 1."""
    import ray

    if cfg.threads_per_actor > 0:
        return cfg.threads_per_actor
    if len([n for n in ray.nodes() if n.get("Alive")]) == 1:
        return max(1, int(ray.cluster_resources().get("CPU", 1)) // cfg.actors)
    return max(1, round(cfg.cpus_per_actor))


def _check_gpus(gpus_per_actor: float) -> None:
    import ray

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


def _normalized_input(inp: str, reference: str, workdir: Path) -> tuple[str, pa.Table | None, int]:
    """Normalize ``inp`` into ``workdir`` (bgzipped + indexed): (path, its rejects, records read)."""
    from raygen.normalize.options import NormalizeOptions
    from raygen.normalize.pipeline import run_normalize

    out = workdir / "normalized.vcf.gz"
    rejects = workdir / "normalize.rejects.tsv"
    counts = run_normalize(inp, str(out), NormalizeOptions(fasta=reference, check_ref="w"), rejects_path=str(rejects))
    rej = None
    if rejects.exists():
        import pyarrow.csv as pacsv

        rej = pacsv.read_csv(rejects, parse_options=pacsv.ParseOptions(delimiter="\t"),
                             convert_options=pacsv.ConvertOptions(column_types={"LINE": pa.int64(), "TEXT": pa.string()}))
    return str(out), rej, counts.total


def _read(inp: str, shard_bp: int):
    """(dataset, header, source name) for a VCF/BCF file or a raygen Parquet directory."""
    import ray

    p = Path(inp)
    if not p.exists():
        raise InputError(f"input {inp!r} does not exist")
    if p.is_dir():
        try:
            from raygen.io.parquet import read_parquet
        except ImportError:
            raise RaygenError("Parquet input needs raygen.io.parquet, which this installation lacks") from None
        header, table = read_parquet(str(p))
        n = table.num_rows
        table = table.append_column("SHARD", pa.array(np.zeros(n, dtype=np.int64)))
        table = table.append_column("SHARD_ROW", pa.array(np.arange(n, dtype=np.int64)))
        table = table.append_column("REJECT_REASON", pa.nulls(n, pa.string()))
        table = table.append_column("REJECT_TEXT", pa.nulls(n, pa.string()))
        blocks = max(1, min(64, n // 2000))
        return ray.data.from_arrow(table).repartition(blocks), header, str(p)
    from raygen.io.datasource import dataset_header, read_vcf_dataset

    return read_vcf_dataset(str(p), shard_bp=shard_bp), dataset_header(str(p)), str(p)


def score_vcf(
    inp: str,
    reference: str,
    model: str,
    out: str,
    *,
    cfg: ScoreConfig = ScoreConfig(),
    parquet_dir: str | None = None,
    rejects_path: str | None = None,
    normalize: bool = False,
    revision: str | None = None,
    trust_remote_code: bool = False,
    progress: bool = True,
) -> ScoreSummary:
    """Score every ALT of ``inp`` (VCF/BCF file or raygen Parquet dir) with ``model``; write ``out``.

    Ray must be initialised (``raygen.runtime.init_ray``). Fails fast, before any actor starts, on a bad
    model (:func:`raygen.models.load.describe_model`), a missing FASTA, or GPUs requested where none exist.
    """
    import ray

    from raygen.io.blocks import split_rejects
    from raygen.io.fasta import ensure_fasta_index
    from raygen.io.vcf import output_kind, write_rejects, write_vcf
    from raygen.models.load import describe_model
    from raygen.scoring.annotate import add_header_lines, count_outcomes
    from raygen.scoring.scorer import SCORE_DEFINITION, Scorer

    t0 = time.perf_counter()
    output_kind(out)
    if cfg.actors < 1:
        raise UsageError(f"--actors must be at least 1, not {cfg.actors}")
    if cfg.window < 8 or cfg.batch_size < 1 or cfg.rows_per_batch < 1:
        raise UsageError("--window must be >= 8 and --batch-size >= 1")
    ensure_fasta_index(reference)
    desc = describe_model(model, revision=revision, trust_remote_code=trust_remote_code)
    _check_gpus(cfg.gpus_per_actor)
    ray.data.DataContext.get_current().enable_progress_bars = progress

    with tempfile.TemporaryDirectory(prefix=".raygen-score-", dir=Path(out).resolve().parent) as tmp:
        pre_rejects, normalized_in = None, None
        src_in = inp
        if normalize:
            if Path(inp).is_dir():
                raise UsageError("--normalize needs a VCF/BCF input (normalize Parquet by re-exporting it as VCF)")
            src_in, pre_rejects, normalized_in = _normalized_input(inp, reference, Path(tmp))
        ds, header, source = _read(src_in, cfg.shard_bp)
        kwargs = dict(model=model, reference=str(Path(reference).resolve()), window=cfg.window, revision=revision,
                      trust_remote_code=trust_remote_code, device="cuda" if cfg.gpus_per_actor > 0 else "cpu",
                      batch_size=cfg.batch_size, reverse_complement=cfg.reverse_complement,
                      threads=threads_per_actor(cfg))
        scored = ds.map_batches(
            Scorer,
            fn_constructor_kwargs=kwargs,
            batch_size=cfg.rows_per_batch,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=cfg.actors),
            num_cpus=cfg.cpus_per_actor,
            num_gpus=cfg.gpus_per_actor or None,
        )
        try:
            blocks = [ray.get(ref) for ref in scored.to_arrow_refs()]
        except Exception as exc:  # noqa: BLE001 - surface our own errors raised inside actors as themselves
            cause = raygen_cause(exc)
            if cause is not None:
                raise type(cause)(str(cause)) from None
            raise
        table = pa.concat_tables(blocks) if blocks else None
        if table is None or table.num_rows == 0:
            from raygen.schema import BLOCK_SCHEMA

            table = BLOCK_SCHEMA.empty_table()
        table = table.sort_by([("SHARD", "ascending"), ("SHARD_ROW", "ascending")])
        records, rejects = split_rejects(table, source)
        if pre_rejects is not None and pre_rejects.num_rows:
            rejects = pa.concat_tables([pre_rejects.select(rejects.column_names).cast(rejects.schema), rejects])
        records = records.drop_columns(["SHARD", "SHARD_ROW"])

        header = header.copy()
        header.meta = [m for m in header.meta if not m.startswith("##raygen_score=")]
        info = {"model": model, "revision": revision, "kind": desc["kind"], "scheme": desc["scheme"], "k": desc["k"],
                "window": cfg.window, "reverse_complement": cfg.reverse_complement, "definition": SCORE_DEFINITION,
                "head": desc["head"]}
        add_header_lines(header, info)
        write_vcf(header, records, out)
        summary = ScoreSummary(output=out, parquet=parquet_dir)
        if parquet_dir:
            try:
                from raygen.io.parquet import write_parquet
            except ImportError:
                raise RaygenError("--parquet needs raygen.io.parquet, which this installation lacks") from None
            write_parquet(records, header, parquet_dir)
        if rejects.num_rows:
            if rejects_path:
                write_rejects(rejects, rejects_path)
                summary.rejects = rejects_path
            else:
                first = rejects.slice(0, 1).to_pylist()[0]
                log.warning("%d record(s) rejected (first: %s line %s: %s); pass --rejects FILE to keep them",
                            rejects.num_rows, first["SOURCE"], first["LINE"], first["REASON"])

    counts = count_outcomes(records)
    summary.records_out = records.num_rows
    summary.rejected = rejects.num_rows
    # Rows that came out of the read stage (records + in-band rejects), or what normalize read.
    summary.records_in = normalized_in if normalized_in is not None else table.num_rows
    if summary.records_in != summary.records_out + summary.rejected:
        log.warning("record count mismatch: %d in, %d out, %d rejected (normalize may split, join or drop "
                    "records)", summary.records_in, summary.records_out, summary.rejected)
    summary.records_scored = counts["records_scored"]
    summary.records_skipped = counts["records_skipped"]
    summary.alleles_scored = counts["alleles_scored"]
    summary.alleles_skipped = counts["alleles_skipped"]
    summary.skip_reasons = {k[5:]: v for k, v in counts.items() if k.startswith("skip:")}
    summary.seconds = time.perf_counter() - t0
    return summary

"""``raygen annotate`` end to end: prepare the sources, normalize the query, join per shard, write.

The query runs through ``raygen normalize``'s machinery with :data:`raygen.annotate.sources.SOURCE_OPTIONS`
and the same reference as the sources: small or unindexed queries in this process
(:func:`raygen.normalize.pipeline.normalize_tables`), large indexed ones (or ``use_ray=True``) as a Ray Data
job sharded by region (:func:`raygen.normalize.pipeline.normalize_ray`) with one more stage,
:class:`BlockAnnotator`, that joins each normalized block against the slice of every source covering the
block's contig and positions. Both paths call the same pure function, :func:`annotate_records`. Output
records are the normalized query records (split and left-aligned as ``raygen normalize -m -any -f REF``
writes them) with the source fields added to INFO; rejects of the query go to ``--rejects``
(in = written - split-off records + rejected).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from raygen.annotate.join import annotate_info, lookup_table
from raygen.annotate.sources import SOURCE_OPTIONS, PreparedSource, SourceSlices, SourceSpec, prepare_source
from raygen.config import DEFAULTS, AnnotateConfig, NormalizeConfig
from raygen.io.blocks import read_shard
from raygen.io.header import VcfHeader
from raygen.io.vcf import format_lines, read_header, report_rejects, write_vcf
from raygen.normalize.options import Counts
from raygen.normalize.pipeline import normalize_ray, normalize_tables, should_use_ray
from raygen.provenance import Provenance, stamp_header
from raygen.regions import Shard

log = logging.getLogger("raygen.annotate")


@dataclass
class AnnotateSummary:
    """What a run did: the query's counters, records annotated per source, the prepared sources."""

    counts: Counts
    annotated: dict[str, int]
    sources: list[PreparedSource]

    def summary_line(self) -> str:
        c = self.counts
        per = "; ".join(f"{s.spec.name}: {self.annotated[s.spec.name]} annotated (source {s.counts['total']} records, "
                        f"{s.counts['rejected']} rejected)" for s in self.sources)
        return (f"annotate: {c.total} records in, {c.written} written ({c.split} multi-allelic split), "
                f"{c.rejected} rejected; {per}")


# --------------------------------------------------------------------------------------------------
# The join over record tables (pure but for reading the source slices)
# --------------------------------------------------------------------------------------------------
def annotate_records(records: pa.Table, sources: list[PreparedSource], slices: list[SourceSlices]) -> pa.Table:
    """``records`` (normalized text records, any contigs) with each source's fields added to INFO
    (:func:`raygen.annotate.join.annotate_info` per contig, against the source slice covering its positions)."""
    if records.num_rows == 0 or not sources:
        return records
    chrom = records["CHROM"].combine_chunks()
    info = pc.fill_null(records["INFO"], ".").combine_chunks()
    for contig in pc.unique(chrom).to_pylist():
        mask = pc.equal(chrom, contig)
        sub = records.filter(mask)
        mm = pc.min_max(sub["POS"]).as_py()
        lookups = [lookup_table(sl.slice(contig, mm["min"], mm["max"]), s.spec.name, s.fields, s.header, wanted=sub)
                   for s, sl in zip(sources, slices)]
        new, _ = annotate_info(sub, lookups)
        info = pc.replace_with_mask(info, mask, new)
    return records.set_column(records.schema.get_field_index("INFO"), "INFO", info)


class BlockAnnotator:
    """Ray Data ``map_batches`` callable after the normalize stage: :func:`annotate_records` on the record rows
    of each block (reject rows and the per-block COUNTS row pass through unchanged)."""

    def __init__(self, sources: list[PreparedSource]):
        self.sources = sources
        self.slices: list[SourceSlices] | None = None

    def __call__(self, block: pa.Table) -> pa.Table:
        if self.slices is None:
            self.slices = [SourceSlices(s.records_dir) for s in self.sources]
        is_record = pc.and_(pc.is_null(block["REJECT_REASON"]), pc.is_valid(block["POS"])).combine_chunks()
        if not pc.any(is_record).as_py():
            return block
        done = annotate_records(block.filter(is_record), self.sources, self.slices)
        info = pc.replace_with_mask(block["INFO"].combine_chunks(), is_record, done["INFO"].combine_chunks())
        return block.set_column(block.schema.get_field_index("INFO"), "INFO", info)


def _annotate_stage(sources: list[PreparedSource], cfg: AnnotateConfig):
    import ray  # pipeline layer only; the in-process path never imports Ray

    def add(ds):
        return ds.map_batches(BlockAnnotator, fn_constructor_args=(sources,), batch_size=None, batch_format="pyarrow",
                              num_cpus=cfg.cpus_per_task,
                              compute=ray.data.ActorPoolStrategy(min_size=1, max_size=cfg.max_actors))
    return add


# --------------------------------------------------------------------------------------------------
# Header and outputs
# --------------------------------------------------------------------------------------------------
def annotated_header(header: VcfHeader, sources: list[PreparedSource]) -> VcfHeader:
    """``header`` with one ``##INFO`` line per source field (the source's Number and Type, its Description
    plus where it came from) and one ``##raygen_annotate_source`` line per source (name, file, date, sha256)."""
    out = header.copy()
    for s in sources:
        r = s.record
        for f in s.fields:
            decl = s.header.info[f]
            desc = (f"{decl.get('Description', '')} (from {s.spec.name}: {r['file']}, date {r['date']}, "
                    f"sha256 {r['sha256'][:16]})")
            out.add_info(s.spec.out_key(f), decl.get("Number", "."), decl.get("Type", "String"), desc)
        fname = r["file"].replace('"', "'")
        out.add_meta(f'##raygen_annotate_source=<ID={s.spec.name},File="{fname}",Date="{r["date"]}",'
                     f'SHA256="{r["sha256"]}",Fields="{",".join(s.fields)}">')
    return out


def _count_annotated(records: pa.Table, sources: list[PreparedSource]) -> dict[str, int]:
    info = pc.fill_null(records["INFO"], ".")
    out = {}
    for s in sources:
        keys = "|".join(k for k in s.out_keys())
        out[s.spec.name] = int(pc.sum(pc.match_substring_regex(info, f"(?:^|;)(?:{keys})(?:[=;]|$)")).as_py() or 0) \
            if keys else 0
    return out


def run_annotate(inp: str, out: str | None, specs: list[SourceSpec], fasta: str, *, rejects_path: str | None = None,
                 parquet_dir: str | None = None, use_ray: bool | None = None, cfg: AnnotateConfig = DEFAULTS.annotate,
                 ncfg: NormalizeConfig = DEFAULTS.normalize, index: bool = True, runtime=None,
                 provenance: bool = True) -> AnnotateSummary:
    """Annotate ``inp`` with ``specs`` (normalized against ``fasta``) into ``out`` (``None``/``-``: VCF on stdout)."""
    sources = [prepare_source(s, fasta, cfg, ncfg) for s in specs]
    opts = replace(SOURCE_OPTIONS, fasta=fasta).validate()
    header = read_header(inp)
    ncfg = replace(ncfg, shard_bp=cfg.shard_bp)
    if should_use_ray(inp, use_ray, cfg.ray_min_bytes):
        from raygen.runtime import init_ray  # imports Ray: only on the Ray path (start-up time)

        init_ray(runtime)
        result = normalize_ray(inp, header, opts, ncfg, then=_annotate_stage(sources, cfg))
    else:
        result = normalize_tables(read_shard(inp, header, Shard(None), ncfg.batch_rows), header, opts, source=inp)
        result.records = annotate_records(result.records, sources, [SourceSlices(s.records_dir) for s in sources])
    records = result.records.drop_columns(["KEY"])
    out_header = annotated_header(result.header, sources)
    prov = Provenance.for_run(reference=fasta, sources=[s.record for s in sources]) if provenance else None
    if out in (None, "-"):
        sys.stdout.buffer.write(stamp_header(out_header, prov).to_text().encode())
        sys.stdout.buffer.write(format_lines(records, out_header).to_pybytes())
        sys.stdout.buffer.flush()
    else:
        write_vcf(out_header, records, out, index=index, provenance=prov)
    if parquet_dir:
        from raygen.io import parquet as pq_io  # pyarrow.dataset start-up only when asked (as raygen normalize)

        recs = records.append_column("LINE", pa.nulls(records.num_rows, pa.int64()))
        pq_io.write_parquet(recs, out_header, parquet_dir, provenance=prov)
    report_rejects(result.rejects, rejects_path, log)
    return AnnotateSummary(result.counts, _count_annotated(records, sources), sources)


__all__ = ["AnnotateSummary", "BlockAnnotator", "annotate_records", "annotated_header", "run_annotate"]

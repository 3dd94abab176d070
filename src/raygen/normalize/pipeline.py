"""``raygen normalize`` end to end: read, normalize (in-process or as a sharded Ray Data job), order, write.

Small or unindexed inputs are normalized in this process (starting Ray costs more than the work). Large
bgzipped+indexed inputs (or ``use_ray=True``) become a Ray Data job: one row per genomic shard, ``map_batches``
reads each shard through the index and normalizes it on a worker (each record belongs to the shard holding
its POS); the driver then sorts the union, which puts records that left-alignment moved across a shard
boundary back in order, applies -d / -m + on the sorted stream and writes the output atomically.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
import pyarrow as pa

from raygen.errors import InputError
from raygen.normalize.fast import OUT_SCHEMA, normalize_batch
from raygen.normalize.header import HeaderInfo
from raygen.normalize.htsfmt import fill_table
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.postprocess import contig_ranks, sort_records
from raygen.normalize.records import RecordNormalizer

log = logging.getLogger("raygen.normalize")

OLD_REC_DESCRIPTION = "Original variant. Format: CHR|POS|REF|ALT|USED_ALT_IDX"
REJECT_SCHEMA = pa.schema([("SOURCE", pa.string()), ("LINE", pa.int64()), ("REASON", pa.string()),
                           ("TEXT", pa.string())])


@dataclass
class NormalizeResult:
    """What a run produced: the sorted records, rejects and counters."""

    records: pa.Table
    rejects: pa.Table
    counts: Counts
    header: object  # raygen.io.header.VcfHeader
    ranks: dict[str, int] = field(default_factory=dict)


def prepare_header(header, opts: NormalizeOptions):
    """Copy of the input header with the lines this run adds (``--old-rec-tag``)."""
    if opts.keep_sum:
        hdr = HeaderInfo.parse(header.to_text())
        if "AD" not in hdr.info_type and "AD" not in hdr.format_type:
            raise InputError("--keep-sum AD requested but the tag AD is not in the header (bcftools stops too)")
    header = header.copy()
    if opts.old_rec_tag:
        header.add_info(opts.old_rec_tag, "1", "String", OLD_REC_DESCRIPTION)
    return header


def _rejects_table(source: str, rows: list[tuple[int | None, str, str]]) -> pa.Table:
    return pa.table({"SOURCE": pa.array([source] * len(rows), pa.string()),
                     "LINE": pa.array([r[0] for r in rows], pa.int64()),
                     "REASON": pa.array([r[1] for r in rows], pa.string()),
                     "TEXT": pa.array([r[2] for r in rows], pa.string())}, schema=REJECT_SCHEMA)


def normalize_tables(batches, header, opts: NormalizeOptions, source: str) -> NormalizeResult:
    """Normalize an iterable of ``(records, rejects)`` text-table batches in this process (pure, no Ray)."""
    opts.validate()
    out_header = prepare_header(header, opts)
    hdr = HeaderInfo.parse(out_header.to_text())
    counts = Counts()
    normalizer = RecordNormalizer(hdr, opts, counts, source=source)
    ranks: dict[str, int] = {}
    outs, rejects = [], []
    for bi, (recs, rejs) in enumerate(batches):
        counts.total += recs.num_rows + rejs.num_rows
        if rejs.num_rows:
            rejects.append(rejs.select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA))
        if recs.num_rows == 0:
            continue
        contig_ranks(ranks, recs["CHROM"])
        res = normalize_batch(recs, normalizer, bi << 32)
        outs.append(res.records)
        if res.rejects:
            rejects.append(_rejects_table(source, res.rejects))
    return _finish(outs, rejects, counts, out_header, hdr, opts, ranks)


def _finish(outs, rejects, counts: Counts, out_header, hdr: HeaderInfo, opts: NormalizeOptions,
            ranks: dict[str, int]) -> NormalizeResult:
    from raygen.normalize.rmdup import join_and_dedup

    table = pa.concat_tables(outs) if outs else OUT_SCHEMA.empty_table()
    table = sort_records(table, ranks, opts.sort)
    table = join_and_dedup(table, hdr, opts, counts)
    table = fill_table(table, len(hdr.samples))  # htslib prints every FORMAT field of every sample
    rej = pa.concat_tables(rejects) if rejects else REJECT_SCHEMA.empty_table()
    counts.rejected = rej.num_rows
    counts.written = table.num_rows
    return NormalizeResult(table, rej, counts, out_header, ranks)


# --------------------------------------------------------------------------------------------------
# Ray Data path
# --------------------------------------------------------------------------------------------------
class _BlockNormalizer:
    """Ray Data ``map_batches`` callable: normalize blocks of :class:`raygen.io.datasource.VcfDatasource`.

    Output rows are normalized records (``KIND='rec'``), rejects (``KIND='rej'``, JSON in ``PAYLOAD``) and one
    counters row per block (``KIND='counts'``), so everything reaches the driver through the dataset.
    """

    def __init__(self, opts: NormalizeOptions, header_text: str, source: str):
        self.opts = opts
        self.hdr = HeaderInfo.parse(header_text)
        self.source = source
        self.normalizer: RecordNormalizer | None = None

    def __call__(self, block: pa.Table) -> pa.Table:
        import pyarrow.compute as pc

        from raygen.io.datasource import split_rejects

        counts = Counts()
        if self.normalizer is None:
            self.normalizer = RecordNormalizer(self.hdr, self.opts, counts, source=self.source)
        self.normalizer.counts = counts
        records, rejs = split_rejects(block, self.source)
        counts.total += records.num_rows + rejs.num_rows
        rejects = [(r["LINE"], r["REASON"], r["TEXT"]) for r in rejs.to_pylist()]
        outs = []
        for shard in pc.unique(records["SHARD"]).to_pylist() if records.num_rows else []:
            part = records.filter(pc.equal(records["SHARD"], shard))
            first = int(pc.min(part["SHARD_ROW"]).as_py())
            res = normalize_batch(part, self.normalizer, (int(shard) << 40) + first * 256)
            outs.append(res.records)
            rejects.extend(res.rejects)
        table = pa.concat_tables(outs) if outs else OUT_SCHEMA.empty_table()
        n = table.num_rows
        pad = pa.table({k: pa.nulls(len(rejects) + 1, OUT_SCHEMA.field(k).type) for k in OUT_SCHEMA.names})
        full = pa.concat_tables([table, pad])
        kind = ["rec"] * n + ["rej"] * len(rejects) + ["counts"]
        payload = [None] * n + [json.dumps(list(r)) for r in rejects] + [json.dumps(counts.as_dict())]
        full = full.append_column("KIND", pa.array(kind, pa.string()))
        return full.append_column("PAYLOAD", pa.array(payload, pa.string()))


def normalize_ray(path: str, header, opts: NormalizeOptions, shard_bp: int, cpus_per_task: float = 0.5
                  ) -> NormalizeResult:
    """Normalize a VCF/BCF as a Ray Data job: region shards from the datasource, ``map_batches`` per block."""
    import pyarrow.compute as pc
    import ray

    from raygen.io.datasource import read_vcf_dataset

    opts.validate()
    out_header = prepare_header(header, opts)
    header_text = out_header.to_text()
    hdr = HeaderInfo.parse(header_text)
    ds = read_vcf_dataset(path, shard_bp=shard_bp)
    ds = ds.map_batches(_BlockNormalizer, fn_constructor_args=(opts, header_text, path), batch_size=None,
                        batch_format="pyarrow", num_cpus=cpus_per_task, concurrency=(1, 2))
    counts = Counts()
    outs, rejects = [], []
    first_key: dict[str, int] = {}
    for ref in ds.to_arrow_refs():
        t = ray.get(ref)
        kind = t["KIND"]
        recs = t.filter(pc.equal(kind, "rec")).select(OUT_SCHEMA.names).cast(OUT_SCHEMA)
        if recs.num_rows:
            outs.append(recs)
            # contig order = order of the shards (file/genome order), whatever order blocks arrive in
            for c, k in zip(*_min_key_by_chrom(recs)):
                first_key[c] = min(first_key.get(c, k), k)
        for p in t.filter(pc.equal(kind, "rej"))["PAYLOAD"].to_pylist():
            rejects.append(tuple(json.loads(p)))
        for p in t.filter(pc.equal(kind, "counts"))["PAYLOAD"].to_pylist():
            counts.add(Counts(**json.loads(p)))
    ranks = {c: i for i, c in enumerate(sorted(first_key, key=first_key.get))}
    rej = [_rejects_table(path, rejects)] if rejects else []
    return _finish(outs, rej, counts, out_header, hdr, opts, ranks)


def _min_key_by_chrom(t: pa.Table) -> tuple[list[str], list[int]]:
    g = t.group_by("CHROM").aggregate([("KEY", "min")])
    return g["CHROM"].to_pylist(), g["KEY_min"].to_pylist()


# --------------------------------------------------------------------------------------------------
# Whole command
# --------------------------------------------------------------------------------------------------
def should_use_ray(path: str, use_ray: bool | None, min_bytes: int) -> bool:
    """Ray pays off for big indexed inputs; ``use_ray`` forces either way (unindexed input then streams)."""
    from raygen.io.vcf import detect_format, index_path

    if use_ray is not None:
        return use_ray
    if path == "-" or detect_format(path) not in ("bgzf", "bcf") or index_path(path) is None:
        return False
    return os.path.getsize(path) >= min_bytes


def run_normalize(inp: str, out: str | None, opts: NormalizeOptions, *, rejects_path: str | None = None,
                  parquet_dir: str | None = None, use_ray: bool | None = None, shard_bp: int = 5_000_000,
                  ray_min_bytes: int = 1 << 30, index: bool = True, runtime=None) -> Counts:
    """Normalize ``inp`` into ``out`` (``None``/``-``: VCF on stdout); returns the counters."""
    from raygen.io.vcf import iter_text_batches, read_header, write_rejects, write_vcf, format_lines

    stdin_tmp = None
    if inp == "-":
        import tempfile

        stdin_tmp = tempfile.NamedTemporaryFile(prefix="raygen-norm-stdin-", suffix=".vcf", delete=False)
        with stdin_tmp as fh:
            fh.write(sys.stdin.buffer.read())
        inp = stdin_tmp.name
    try:
        header = read_header(inp)
        if should_use_ray(inp, use_ray, ray_min_bytes):
            from raygen.runtime import init_ray

            init_ray(runtime)
            result = normalize_ray(inp, header, opts, shard_bp)
        else:
            result = normalize_tables(iter_text_batches(inp, header=header), header, opts, source=inp)
    finally:
        if stdin_tmp is not None:
            os.unlink(stdin_tmp.name)
    if out in (None, "-"):
        sys.stdout.buffer.write(result.header.to_text().encode())
        sys.stdout.buffer.write(format_lines(result.records.drop_columns(["KEY"]), result.header).to_pybytes())
        sys.stdout.buffer.flush()
    else:
        write_vcf(result.header, result.records.drop_columns(["KEY"]), out, index=index)
    if parquet_dir:
        from raygen.io import parquet as pq_io

        recs = result.records.drop_columns(["KEY"])
        recs = recs.append_column("LINE", pa.nulls(recs.num_rows, pa.int64()))  # output records have no source line
        pq_io.write_parquet(recs, result.header, parquet_dir)
    if rejects_path:
        write_rejects(result.rejects, rejects_path)
    elif result.rejects.num_rows:
        first = result.rejects.slice(0, 1).to_pylist()[0]
        log.warning("%d record(s) rejected (first: %s line %s: %s); pass --rejects FILE to keep them",
                    result.rejects.num_rows, first["SOURCE"], first["LINE"], first["REASON"])
    return result.counts

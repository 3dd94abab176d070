"""``raygen normalize`` end to end: read, normalize (in-process or as a sharded Ray Data job), order, write.

One pure function does the per-record work on both paths: :func:`normalize_block` takes a block of the
region-sharded reader (:data:`raygen.schema.BLOCK_SCHEMA`: records plus in-band reject rows) and returns
the normalized records plus reject rows (:data:`raygen.schema.NORMALIZED_BLOCK_SCHEMA`), each row keyed by
its input row (``KEY``). Small or unindexed inputs are normalized in this process (starting Ray costs more
than the work): :func:`normalize_tables` runs it over the blocks of :func:`raygen.io.blocks.read_shard`.
Large bgzipped+indexed inputs (or ``use_ray=True``) become a Ray Data job: :func:`normalize_dataset` adds
it as a ``map_batches`` stage to the region-sharded dataset (``raygen score --normalize`` adds the same
stage to its pipeline). :func:`finish` then sorts the union, which puts records that left-alignment moved
across a shard boundary back in order, applies -d / -m + on the sorted stream and separates the rejects.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.config import DEFAULTS, NormalizeConfig
from raygen.errors import InputError
from raygen.expr import Expression
from raygen.io.arrowstart import skip_pandas_probe
from raygen.io.blocks import is_indexed, read_shard, split_rejects
from raygen.io.header import VcfHeader
from raygen.io.readahead import read_ahead
from raygen.io.vcf import (detect_format, empty_rejects, format_lines, index_path, output_kind, read_header,
                           report_rejects, write_vcf)
from raygen.normalize.fast import SUB_SLOTS, normalize_batch
from raygen.normalize.htsfmt import fill_table
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.postprocess import sort_records
from raygen.normalize.records import RecordNormalizer
from raygen.normalize.rmdup import join_and_dedup
from raygen.provenance import Provenance, stamp_header
from raygen.regions import Shard
from raygen.schema import COUNTS_FIELD, NORMALIZED_BLOCK_SCHEMA

log = logging.getLogger("raygen.normalize")

OLD_REC_DESCRIPTION = "Original variant. Format: CHR|POS|REF|ALT|USED_ALT_IDX"
#: Bits of KEY below the shard ordinal: (SHARD << SHARD_SHIFT) + SHARD_ROW * SUB_SLOTS + sub.
SHARD_SHIFT = 40


@dataclass
class NormalizeResult:
    """What a run produced: the sorted records (:data:`NORMALIZED_SCHEMA`), rejects and counters."""

    records: pa.Table
    rejects: pa.Table
    counts: Counts
    header: VcfHeader
    ranks: dict[str, int] = field(default_factory=dict)


def prepare_header(header: VcfHeader, opts: NormalizeOptions) -> VcfHeader:
    """Copy of the input header with the lines this run adds (``--old-rec-tag``)."""
    if opts.keep_sum and "AD" not in header.info_type and "AD" not in header.format_type:
        raise InputError("--keep-sum AD requested but the tag AD is not in the header (bcftools stops too)")
    header = header.copy()
    if opts.old_rec_tag:
        header.add_info(opts.old_rec_tag, "1", "String", OLD_REC_DESCRIPTION)
    return header


# --------------------------------------------------------------------------------------------------
# The per-block work (pure)
# --------------------------------------------------------------------------------------------------
def block_keys(block: pa.Table) -> np.ndarray:
    """KEY of each input row of a block: ``(SHARD << 40) + SHARD_ROW * 256`` (increasing in input order)."""
    shard = block["SHARD"].to_numpy(zero_copy_only=False).astype(np.int64)
    row = block["SHARD_ROW"].to_numpy(zero_copy_only=False).astype(np.int64)
    return (shard << SHARD_SHIFT) + row * SUB_SLOTS


def _reject_rows(keys, chrom, lines, reasons, texts) -> pa.Table:
    n = len(keys)
    cols = {f.name: pa.nulls(n, f.type) for f in NORMALIZED_BLOCK_SCHEMA}
    cols.update(CHROM=pa.array(chrom, pa.string()), KEY=pa.array(keys, pa.int64()), LINE=pa.array(lines, pa.int64()),
                REJECT_REASON=pa.array(reasons, pa.string()), REJECT_TEXT=pa.array(texts, pa.string()))
    return pa.table(cols, schema=NORMALIZED_BLOCK_SCHEMA)


def normalize_block(block: pa.Table, normalizer: RecordNormalizer) -> pa.Table:
    """Normalize one block (:data:`raygen.schema.BLOCK_SCHEMA`) into :data:`NORMALIZED_BLOCK_SCHEMA` rows.

    Out come the normalized records, then the block's reject rows: the reader's (passed through) and the
    records normalization could not process (CHROM kept, so contig order counts them). Every row carries its
    input row's KEY. ``normalizer.counts`` counts the block (``total`` = every input row, rejects included).
    """
    normalizer.counts.total += block.num_rows
    is_rej = pc.is_valid(block["REJECT_REASON"]).to_numpy(zero_copy_only=False)
    keys = block_keys(block)
    parts = []
    records = block.filter(pa.array(~is_rej)) if is_rej.any() else block  # no copy when nothing was rejected
    if records.num_rows:
        res = normalize_batch(records, normalizer, keys=keys[~is_rej])
        n = res.records.num_rows
        parts.append(res.records.append_column("LINE", pa.nulls(n, pa.int64()))
                     .append_column("REJECT_REASON", pa.nulls(n, pa.string()))
                     .append_column("REJECT_TEXT", pa.nulls(n, pa.string())))
        if res.rejects:
            key, line, reason, text = zip(*res.rejects)
            parts.append(_reject_rows(key, [t.split("\t", 1)[0] for t in text], line, reason, text))
    if is_rej.any():
        rej = block.filter(pa.array(is_rej))
        parts.append(_reject_rows(keys[is_rej], rej["CHROM"], rej["LINE"], rej["REJECT_REASON"], rej["REJECT_TEXT"]))
    return pa.concat_tables(parts) if parts else NORMALIZED_BLOCK_SCHEMA.empty_table()


def contig_ranks(table: pa.Table) -> dict[str, int]:
    """Contig -> rank in input order: contigs ordered by the smallest KEY of their rows (reject rows with a
    CHROM count, so the order is the input's whatever normalization rejected)."""
    first: dict[str, int] = {}
    for batch in table.select(["CHROM", "KEY"]).to_batches():
        # per batch, not a group-by over the whole table: a block holds one contig or a few (cheap to test)
        chrom, key = batch.column(0), batch.column(1)
        codes = pc.dictionary_encode(chrom)
        names = codes.dictionary.to_pylist()
        idx = codes.indices.to_numpy(zero_copy_only=False)
        keys = key.to_numpy(zero_copy_only=False)
        valid = pc.is_valid(chrom).to_numpy(zero_copy_only=False) if chrom.null_count else None
        for i, c in enumerate(names):
            sel = idx == i if len(names) > 1 else valid
            k = int(keys.min() if sel is None else keys[sel].min())
            if c not in first or k < first[c]:
                first[c] = k
    return {c: i for i, c in enumerate(sorted(first, key=first.get))}


def finish(tables: Iterable[pa.Table], counts: Counts, header: VcfHeader, opts: NormalizeOptions,
           source: str) -> NormalizeResult:
    """Normalized blocks (any order, extra columns kept on records) -> sorted records, then -m + and -d, and
    the rejects in input order (by LINE, then KEY); ``counts`` gets ``joined``, ``dup_removed``, ``rejected``
    and ``written``."""
    tables = [t for t in tables if t.num_rows]
    table = pa.concat_tables(tables) if tables else NORMALIZED_BLOCK_SCHEMA.empty_table()
    ranks = contig_ranks(table)
    rej_first = table.filter(pc.is_valid(table["REJECT_REASON"]))
    rej_first = rej_first.sort_by([("LINE", "ascending"), ("KEY", "ascending")]) if rej_first.num_rows else rej_first
    _, rejects = split_rejects(rej_first, source)
    records, _ = split_rejects(table, source)
    records = sort_records(records.drop_columns(["LINE"]), ranks, opts.sort)
    records = join_and_dedup(records, header, opts, counts)
    records = fill_table(records, len(header.samples))  # htslib prints every FORMAT field of every sample
    counts.rejected = rejects.num_rows
    counts.written = records.num_rows
    return NormalizeResult(records, rejects, counts, header, ranks)


def normalize_tables(blocks: Iterable[pa.Table], header: VcfHeader, opts: NormalizeOptions, source: str
                     ) -> NormalizeResult:
    """Normalize blocks (:data:`raygen.schema.BLOCK_SCHEMA`, e.g. :func:`raygen.io.blocks.read_shard`) in this
    process (pure, no Ray)."""
    opts.validate()
    out_header = prepare_header(header, opts)
    normalizer = RecordNormalizer(out_header, opts, Counts(), source=source)
    outs = [normalize_block(b, normalizer) for b in blocks]
    return finish(outs, normalizer.counts, out_header, opts, source)


def _print_warning(msg: str) -> None:
    print(msg, file=sys.stderr)


def normalized_blocks(blocks: Iterable[pa.Table], header: VcfHeader, opts: NormalizeOptions, source: str,
                      counts: Counts, workers: int = 1, say: Callable[[str], None] | None = None
                      ) -> Iterator[tuple[pa.Table, pa.Table]]:
    """``(block, normalize_block(block))`` for each block, in input order; ``counts`` gets what the normalizers
    counted (at the end).

    ``workers > 1``: on that many threads, each block with one of ``workers`` normalizers (made here, used by
    one thread at a time), at most ``workers + 1`` blocks in flight. Blocks are independent (as for Ray's
    actors) unless options carry state from record to record (:func:`carries_state`: callers keep 1 then);
    Arrow and numpy release the GIL, so on two cores the blocks normalize side by side while this thread
    finishes and writes. A normalizer's warnings (``-c w``, ``ALT_DUP``) go to ``say`` (default: printed on
    stderr) in block order."""
    say = say or _print_warning
    if workers <= 1:
        normalizer = RecordNormalizer(header, opts, counts, source=source)
        normalizer.warn = say
        for block in blocks:
            yield block, normalize_block(block, normalizer)
        return
    made = [RecordNormalizer(header, opts, Counts(), source=source) for _ in range(workers)]
    free: queue.Queue = queue.Queue()
    for n in made:
        free.put(n)

    def work(block: pa.Table) -> tuple[pa.Table | None, list[str], BaseException | None]:
        normalizer = free.get()
        said: list[str] = []
        normalizer.warn = said.append
        try:
            return normalize_block(block, normalizer), said, None
        except Exception as exc:  # raised in order, after the warnings before it (-c we)
            return None, said, exc
        finally:
            free.put(normalizer)

    def result(item) -> tuple[pa.Table, pa.Table]:
        block, future = item
        out, said, exc = future.result()
        for msg in said:
            say(msg)
        if exc is not None:
            raise exc
        return block, out

    pending: deque = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="raygen-normalize") as pool:
        try:
            for block in blocks:
                pending.append((block, pool.submit(work, block)))
                if len(pending) > workers:
                    yield result(pending.popleft())
            while pending:
                yield result(pending.popleft())
        finally:
            for _, future in pending:
                future.cancel()
    for n in made:
        counts.add(n.counts)


class Reordered(Exception):
    """:func:`stream_finished` with ``within=True`` wrote records that a later one should have preceded (it
    moved left past a whole block): the output so far is wrong and the run must start over without ``within``."""


def positional_only(opts: NormalizeOptions) -> bool:
    """Whether :func:`finish` of a contig equals :func:`finish` of its pieces cut between positions: true unless
    ``-m +`` or ``-d`` run (``-m +`` with ``-i/-e`` holds a joined record back across positions, as bcftools'
    output buffer does)."""
    return not (opts.join or opts.rm_dup)


def _split_below(table: pa.Table, cut: int) -> tuple[pa.Table, pa.Table]:
    """(rows with POS < ``cut`` and reject rows, the other records) of normalized rows."""
    below = pc.fill_null(pc.less(table["POS"], cut), True)  # reject rows have no POS: they go at once
    if pc.all(below).as_py():
        return table, table.slice(0, 0)
    return table.filter(below), table.filter(pc.invert(below))


def stream_finished(blocks: Iterable[pa.Table], header: VcfHeader, opts: NormalizeOptions, source: str,
                    counts: Counts, rejects: list[pa.Table], workers: int = 1, *, within: bool = False,
                    say: Callable[[str], None] | None = None) -> Iterator[pa.Table]:
    """Like :func:`normalize_tables`, but yields the finished records contig by contig, as soon as each is
    done, so the writer never holds more than one contig's records. Valid for input whose contigs are
    contiguous (an indexed file: tabix refuses others): each run of blocks of one SHARD (the reader starts a
    new one where CHROM changes) then holds a whole contig, and :func:`finish` over the runs in order gives
    the records of :func:`finish` over all of them. ``counts`` accumulates; each run's rejects are appended to
    ``rejects`` (sort them by LINE afterwards). ``workers``: threads normalizing blocks
    (:func:`normalized_blocks`); ``say``: where their warnings go.

    ``within`` (only where :func:`positional_only` holds): a contig is also yielded in pieces, block by block,
    so that writing (and deflating) overlaps normalizing its later blocks instead of waiting for the contig's
    end. Each normalized block releases the records held back whose POS lies below its own smallest POS,
    assuming no later block moves a record further left than that (left-alignment moves a record past
    a whole block of records only in a pathological input). A later block that does breaks the assumption:
    :class:`Reordered` is raised and the caller starts over without ``within`` (the output is then the same
    as if it had never tried)."""
    opts.validate()
    if within and not positional_only(opts):
        raise ValueError("within=True needs positional_only(opts)")
    group: list[pa.Table] = []  # normalized rows of the current contig not yet yielded
    shard = None
    cut = None  # within: rows of the current contig with POS below this were yielded

    def done(tables: list[pa.Table]) -> pa.Table:
        part = Counts()
        res = finish(tables, part, header, opts, source)
        counts.joined += part.joined
        counts.dup_removed += part.dup_removed
        counts.rejected += part.rejected
        counts.written += part.written
        rejects.append(res.rejects)
        return res.records

    for block, out in normalized_blocks((b for b in blocks if b.num_rows), header, opts, source, counts, workers,
                                        say):
        first = block["SHARD"][0].as_py()
        if shard is not None and first != shard:
            if group:
                yield done(group)
            group, cut = [], None
        shard = block["SHARD"][block.num_rows - 1].as_py()
        if not within:
            group.append(out)
            continue
        lo = pc.min(out["POS"]).as_py()  # reject rows (no POS) are not counted
        if lo is None:
            group.append(out)
            continue
        if cut is not None and lo < cut:
            raise Reordered(f"a record moved to {out['CHROM'][0]}:{lo}, before records already written")
        ready, held = [], []
        for t in group:
            r, h = _split_below(t, lo)
            ready.append(r)
            if h.num_rows:
                held.append(h)
        group, cut = [*held, out], lo
        if any(t.num_rows for t in ready):
            yield done(ready)
    if group:
        yield done(group)


# --------------------------------------------------------------------------------------------------
# Ray Data path
# --------------------------------------------------------------------------------------------------
class BlockNormalizer:
    """Ray Data ``map_batches`` callable: :func:`normalize_block` on each block, one normalizer (and one loaded
    contig) per actor. With ``with_counts`` each output block ends with one row holding its
    :class:`Counts` in the ``COUNTS`` column (:data:`raygen.schema.COUNTS_FIELD`; null elsewhere)."""

    def __init__(self, opts: NormalizeOptions, header: VcfHeader, source: str, with_counts: bool = True):
        self.opts, self.header, self.source, self.with_counts = opts, header, source, with_counts
        self.normalizer: RecordNormalizer | None = None

    def __call__(self, block: pa.Table) -> pa.Table:
        if self.normalizer is None:
            self.normalizer = RecordNormalizer(self.header, self.opts, Counts(), source=self.source)
        self.normalizer.counts = Counts()
        out = normalize_block(block, self.normalizer)
        if not self.with_counts:
            return out
        counts_row = {f.name: pa.nulls(1, f.type) for f in NORMALIZED_BLOCK_SCHEMA}
        counts_row["COUNTS"] = pa.array([self.normalizer.counts.as_dict()], COUNTS_FIELD.type)
        out = out.append_column(COUNTS_FIELD, pa.nulls(out.num_rows, COUNTS_FIELD.type))
        return pa.concat_tables([out, pa.table(counts_row, schema=out.schema)])


def normalize_dataset(ds, header: VcfHeader, opts: NormalizeOptions, source: str, *, with_counts: bool,
                      cfg: NormalizeConfig = DEFAULTS.normalize):
    """``ds`` (blocks of :func:`raygen.io.datasource.read_vcf_dataset`) with the normalize stage added: a pool of
    :class:`BlockNormalizer` actors (``cfg.cpus_per_shard_task`` CPUs each, at most ``cfg.max_actors``)."""
    import ray  # pipeline layer; imported here so the in-process path never pays Ray's start-up (~2 s)

    return ds.map_batches(BlockNormalizer, fn_constructor_args=(opts, header, source, with_counts), batch_size=None,
                          batch_format="pyarrow", num_cpus=cfg.cpus_per_shard_task,
                          compute=ray.data.ActorPoolStrategy(min_size=1, max_size=cfg.max_actors))


def normalize_ray(path: str, header: VcfHeader, opts: NormalizeOptions, cfg: NormalizeConfig = DEFAULTS.normalize,
                  then=None) -> NormalizeResult:
    """Normalize a VCF/BCF as a Ray Data job: region shards of ``cfg.shard_bp`` from the datasource, the
    normalize stage per block, then :func:`finish` on the driver. ``then``: a function adding stages after
    normalize (``Dataset -> Dataset``; ``raygen annotate`` adds its join) that keeps every row's columns,
    reject rows and COUNTS rows included."""
    import ray  # see normalize_dataset

    from raygen.io.datasource import read_vcf_dataset  # imports Ray Data: as above

    opts.validate()
    out_header = prepare_header(header, opts)
    ds = read_vcf_dataset(path, shard_bp=cfg.shard_bp, batch_rows=cfg.batch_rows)
    ds = normalize_dataset(ds, out_header, opts, path, with_counts=True, cfg=cfg)
    if then is not None:
        ds = then(ds)
    counts = Counts()
    outs = []
    for ref in ds.to_arrow_refs():
        t = ray.get(ref)
        if t.num_rows == 0:  # an empty block (an extra stage's output) may come without the columns
            continue
        has_counts = pc.is_valid(t["COUNTS"])
        for c in t.filter(has_counts)["COUNTS"].to_pylist():
            counts.add(Counts(**c))
        outs.append(t.filter(pc.invert(has_counts)).drop_columns(["COUNTS"]))
    return finish(outs, counts, out_header, opts, path)


# --------------------------------------------------------------------------------------------------
# Whole command
# --------------------------------------------------------------------------------------------------
def carries_state(opts: NormalizeOptions, header: VcfHeader) -> bool:
    """Whether bcftools' output depends on state carried from record to record beyond one position: the
    atomizer's buffer (``-a``, see :mod:`raygen.normalize.atomize`) and the genotype cache of an expression
    that tests GT by sample (:mod:`raygen.expr.slots`). Shards start that state afresh, so such runs stay in
    one process unless ``--ray`` asks otherwise."""
    if opts.atomize:
        return True
    text = opts.include if opts.include is not None else opts.exclude
    if text is None:
        return False
    return Expression(text, header).uses_gt_index


def should_use_ray(path: str, use_ray: bool | None, min_bytes: int, stateful: bool = False) -> bool:
    """Ray pays off for big indexed inputs; ``use_ray`` forces either way (unindexed input then streams).
    ``stateful`` (:func:`carries_state`): in process unless forced, so the output stays bcftools'."""
    if use_ray is not None:
        return use_ray
    if stateful:
        return False
    if path == "-" or detect_format(path) not in ("bgzf", "bcf") or index_path(path) is None:
        return False
    return os.path.getsize(path) >= min_bytes


def _normalize_file(inp: str, opts: NormalizeOptions, use_ray: bool | None, cfg: NormalizeConfig, runtime,
                    threads: int | None = None) -> NormalizeResult:
    header = read_header(inp)
    if should_use_ray(inp, use_ray, cfg.ray_min_bytes, carries_state(opts, header)):
        from raygen.runtime import init_ray  # imports Ray: only on the Ray path (start-up time)

        init_ray(runtime)
        return normalize_ray(inp, header, opts, cfg)
    blocks = read_shard(inp, header, Shard(None), cfg.batch_rows)
    # the next block is read and parsed on a thread while this one normalizes (--threads 0: no such thread);
    # closed on an error too, so the thread stops then
    with closing(blocks if threads == 0 else read_ahead(blocks)) as blocks:
        return normalize_tables(blocks, header, opts, source=inp)


def _run_streamed(inp: str, out: str, header: VcfHeader, opts: NormalizeOptions, rejects_path: str | None,
                  cfg: NormalizeConfig, index: bool, provenance: bool, threads: int | None) -> Counts:
    """:func:`run_normalize` for an indexed input written to ``.vcf.gz``: contig by contig, and block by block
    within a contig where :func:`positional_only` allows (:func:`stream_finished`); after :class:`Reordered`
    the run starts over contig by contig, the warnings printed before not printed again."""
    said = [0]

    def say(msg: str) -> None:
        said[0] += 1
        print(msg, file=sys.stderr)

    within = positional_only(opts)
    try:
        return _write_streamed(inp, out, header, opts, rejects_path, cfg, index, provenance, threads, within, say)
    except Reordered as exc:
        if not within:
            raise
        log.debug("%s: %s; writing contig by contig", inp, exc)
    skip = said[0]

    def say_rest(msg: str) -> None:  # the same warnings come again, in the same order
        nonlocal skip
        if skip:
            skip -= 1
        else:
            print(msg, file=sys.stderr)

    return _write_streamed(inp, out, header, opts, rejects_path, cfg, index, provenance, threads, False, say_rest)


def _write_streamed(inp: str, out: str, header: VcfHeader, opts: NormalizeOptions, rejects_path: str | None,
                    cfg: NormalizeConfig, index: bool, provenance: bool, threads: int | None, within: bool,
                    say: Callable[[str], None]) -> Counts:
    out_header = prepare_header(header, opts)
    counts, rejects = Counts(), []
    blocks = read_shard(inp, header, Shard(None), cfg.stream_batch_rows)
    # beside the main thread: the next block read on a thread, blocks normalized on block_threads threads
    # (one at a time where options carry state across records); --threads 0: none of these, as bcftools' 0
    spare = threads != 0
    blocks = read_ahead(blocks) if spare else blocks
    workers = cfg.block_threads if spare and not carries_state(opts, header) else 1
    prov = Provenance.for_run(reference=opts.fasta) if provenance else None
    finished = stream_finished(blocks, out_header, opts, inp, counts, rejects, workers, within=within, say=say)
    with closing(blocks), closing(finished):  # on an error too: the threads beside this one stop
        # the output's text is about the input's: bgzipped VCF text is ~4-6x smaller than the text
        write_vcf(out_header, finished, out, index=index, provenance=prov, threads=threads,
                  size_hint=4 * os.path.getsize(inp))
    rej = pa.concat_tables(rejects) if rejects else empty_rejects()
    if rej.num_rows:  # in input order, as finish() orders them: by LINE, then by run and KEY (the order here)
        order = pc.sort_indices(rej.append_column("_I", pa.array(np.arange(rej.num_rows))),
                                sort_keys=[("LINE", "ascending"), ("_I", "ascending")])
        rej = rej.take(order)
    report_rejects(rej, rejects_path, log)
    return counts


def run_normalize(inp: str, out: str | None, opts: NormalizeOptions, *, rejects_path: str | None = None,
                  parquet_dir: str | None = None, use_ray: bool | None = None,
                  cfg: NormalizeConfig = DEFAULTS.normalize, index: bool = True, runtime=None,
                  provenance: bool = True, threads: int | None = None) -> Counts:
    """Normalize ``inp`` (``-``: stdin) into ``out`` (``None``/``-``: VCF on stdout); returns the counters.

    ``cfg`` gives the shard size, the input size from which an indexed input runs on Ray (unless ``use_ray``
    says), the CPUs and actors of the Ray stage and the rows per block read. ``provenance``: add this run's
    ``##raygen_provenance`` line (``--no-version`` turns it off, as it turns off bcftools' command line).
    ``threads``: BGZF compression threads of a ``.vcf.gz`` output (:class:`raygen.io.bgzf.BgzfWriter`).
    """
    if out not in (None, "-") and not parquet_dir and inp != "-" and output_kind(out) == "vcf.gz" and is_indexed(inp):
        header = read_header(inp)
        if not should_use_ray(inp, use_ray, cfg.ray_min_bytes, carries_state(opts, header)):
            skip_pandas_probe()  # pyarrow's probe would import pandas (~0.45 s) that this path never uses
            return _run_streamed(inp, out, header, opts, rejects_path, cfg, index, provenance, threads)
    stdin_tmp = None
    if inp == "-":
        stdin_tmp = tempfile.NamedTemporaryFile(prefix="raygen-norm-stdin-", suffix=".vcf", delete=False)
        with stdin_tmp as fh:
            fh.write(sys.stdin.buffer.read())
        inp = stdin_tmp.name
    try:
        result = _normalize_file(inp, opts, use_ray, cfg, runtime, threads)
    finally:
        if stdin_tmp is not None:
            os.unlink(stdin_tmp.name)
    records = result.records.drop_columns(["KEY"])
    prov = Provenance.for_run(reference=opts.fasta) if provenance else None
    if out in (None, "-"):
        sys.stdout.buffer.write(stamp_header(result.header, prov).to_text().encode())
        sys.stdout.buffer.write(format_lines(records, result.header).to_pybytes())
        sys.stdout.buffer.flush()
    else:
        write_vcf(result.header, records, out, index=index, provenance=prov, threads=threads)
    if parquet_dir:
        # here, not at module top: pyarrow.dataset pulls in pandas (~0.5 s of start-up every run would pay)
        from raygen.io import parquet as pq_io

        recs = records.append_column("LINE", pa.nulls(records.num_rows, pa.int64()))  # output records have no source line
        pq_io.write_parquet(recs, result.header, parquet_dir, provenance=prov)
    report_rejects(result.rejects, rejects_path, log)
    return result.counts


__all__ = ["NormalizeResult", "prepare_header", "normalize_block", "normalize_tables", "normalize_dataset",
           "normalize_ray", "finish", "contig_ranks", "run_normalize", "should_use_ray", "carries_state", "BlockNormalizer"]

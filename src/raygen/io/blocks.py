"""Region-sharded reads of VCF/BCF files into blocks with in-band rejects (pure: no Ray).

A **block** is a VCF text table plus the block columns of :data:`raygen.schema.BLOCK_SCHEMA`: ``SHARD``,
``SHARD_ROW`` (input order) and ``REJECT_REASON``/``REJECT_TEXT`` (**rejects travel in-band**: a malformed
line is a row with REJECT_REASON set, so nothing is lost between stages and no side files are needed on a
cluster). :func:`split_rejects` separates records and a :data:`raygen.schema.REJECTS_SCHEMA` table where a
pipeline writes its outputs.

For an indexed input (bgzipped VCF + .tbi/.csi, or BCF + .csi) :func:`plan_shards` cuts each contig into
:class:`raygen.regions.Shard` s of ``shard_bp`` base pairs, 0-based half-open ``[start0, end0)``;
:func:`read_shard` fetches one through the index and keeps only the records whose POS lies in it
(``start0 < POS <= end0``, i.e. ``start0 <= POS-1 < end0``). A record that overlaps several shards (a long
deletion, a symbolic <DEL> with END) is fetched by each of them but kept by exactly one: every record is
read exactly once. Unindexed input (plain or gzip VCF, unindexed bgzip/BCF) cannot be cut by region: the
whole-file shard streams it in order, split by contig (a new SHARD wherever CHROM changes, so no block
mixes contigs). :mod:`raygen.io.datasource` runs these reads as Ray Data read tasks; ``raygen normalize``
runs them in-process for small inputs.

Public API
----------
``plan_shards(path, *, shard_bp, regions=None, header=None) -> list[Shard]``
``read_shard(path, header, shard, batch_rows=DEFAULT_BATCH_ROWS) -> Iterator[block]``
``split_rejects(block, source) -> (records, rejects)``; ``as_block(records)``; ``is_indexed(path)``; :data:`UNINDEXED_WARNING`
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pysam

from raygen.errors import InputError, UsageError
from raygen.io.header import VcfHeader
from raygen.io.vcf import DEFAULT_BATCH_ROWS, detect_format, fetch_text_batches, index_path, iter_text_batches, read_header
from raygen.regions import Region, Shard, as_region
from raygen.schema import BLOCK_SCHEMA, REJECTS_SCHEMA, TEXT_SCHEMA

UNINDEXED_WARNING = (
    "no .tbi/.csi index: streaming the whole file in one task; index it with "
    "`tabix -p vcf` (bgzipped VCF) or `bcftools index` (BCF) to shard by region"
)


def _indexed_contigs(path: Path, fmt: str) -> list[str]:
    if fmt == "bcf":
        with pysam.VariantFile(str(path)) as vf:
            return list(vf.index.keys())
    with pysam.TabixFile(str(path), index=str(index_path(path))) as tbx:  # .tbi or .csi
        return list(tbx.contigs)


def is_indexed(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a bgzipped VCF or BCF with an index beside it (so it can be sharded by region)."""
    return detect_format(path) in ("bgzf", "bcf") and index_path(path) is not None


def plan_shards(
    path: str | os.PathLike[str],
    *,
    shard_bp: int,
    regions: Sequence[str | Region | tuple[str, int | None, int | None]] | None = None,
    header: VcfHeader | None = None,
) -> list[Shard]:
    """Cut the indexed contigs (or ``regions``) into shards of ``shard_bp`` bp, in index order.

    ``regions``: region strings (1-based inclusive, see :func:`raygen.regions.parse_region`; a contig name
    of the header is taken whole even when it holds ':'), :class:`Region` objects or ``(chrom, start0,
    end0)`` tuples (0-based half-open). Contig lengths come from the header's ``##contig`` lines; a contig
    without a length becomes one shard that runs to its end. Contigs the index does not know hold no
    records and get no shard. Unindexed input gets a single whole-file shard.
    """
    if shard_bp < 1:
        raise UsageError(f"shard_bp must be >= 1, got {shard_bp}")
    p = Path(path)
    header = header or read_header(p)
    fmt = detect_format(p)
    if not is_indexed(p):
        if regions:
            raise InputError(f"{p}: regions need an index ({UNINDEXED_WARNING})")
        return [Shard(None)]
    indexed = _indexed_contigs(p, fmt)
    if regions:
        wanted = [_wanted(r, header.contigs) for r in regions]
    else:
        wanted = [Region(c, 0, None) for c in indexed]
    known = set(indexed)
    shards: list[Shard] = []
    for r in wanted:
        if r.chrom not in known:
            continue
        length = header.contigs.get(r.chrom)
        stop = r.end if r.end is not None else length
        if stop is None or stop <= r.start:
            # No length, or a region starting past the declared length (records there still count).
            shards.append(Shard(r.chrom, r.start, r.end, ordinal=len(shards)))
            continue
        for beg in range(r.start, stop, shard_bp):
            end = min(beg + shard_bp, stop)
            # The last shard of a whole contig runs to the end: a record past a too-short ##contig length
            # (it happens) still belongs somewhere.
            last_open = r.end is None and end >= stop
            shards.append(Shard(r.chrom, beg, None if last_open else end, ordinal=len(shards)))
    return shards


def _wanted(region: str | Region | tuple, contigs: dict[str, int | None]) -> Region:
    """A requested region; not clipped to the header's contig length (records past it still count)."""
    if isinstance(region, str) and region.strip() in contigs:
        return Region(region.strip(), 0, None)
    return as_region(region)


def as_block(records: pa.Table, shard: int = 0, first_row: int = 0) -> pa.Table:
    """A text table as a block (:data:`raygen.schema.BLOCK_SCHEMA`): its rows are records of shard ``shard``,
    numbered from ``first_row``."""
    n = records.num_rows
    return (
        records.append_column("SHARD", pa.array(np.full(n, shard, dtype=np.int64)))
        .append_column("SHARD_ROW", pa.array(np.arange(first_row, first_row + n, dtype=np.int64)))
        .append_column("REJECT_REASON", pa.nulls(n, pa.string()))
        .append_column("REJECT_TEXT", pa.nulls(n, pa.string()))
    )


def _reject_rows(rejects: pa.Table, shard: int, first_row: int) -> pa.Table:
    n = rejects.num_rows
    cols = {}
    for f in TEXT_SCHEMA:
        cols[f.name] = rejects["LINE"] if f.name == "LINE" else pa.nulls(n, f.type)
    cols["SHARD"] = pa.array(np.full(n, shard, dtype=np.int64))
    cols["SHARD_ROW"] = pa.array(np.arange(first_row, first_row + n, dtype=np.int64))
    cols["REJECT_REASON"] = rejects["REASON"]
    cols["REJECT_TEXT"] = rejects["TEXT"]
    return pa.table(cols, schema=BLOCK_SCHEMA)


def _reject_pos(rejects: pa.Table) -> np.ndarray:
    """POS (2nd tab field) of rejected lines, -1 where it is not a number."""
    out = np.full(rejects.num_rows, -1, dtype=np.int64)
    for i, text in enumerate(rejects["TEXT"].to_pylist()):  # rejects are rare: a loop is fine here
        parts = (text or "").split("\t", 2)
        if len(parts) > 1 and parts[1].isdigit():
            out[i] = int(parts[1])
    return out


def read_shard(path: str, header: VcfHeader, shard: Shard, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.Table]:
    """Blocks (:data:`raygen.schema.BLOCK_SCHEMA`) of one shard: records whose POS lies in it, then its rejects
    (the whole-file shard ``Shard(None)`` streams the file in order, split by contig)."""
    if shard.chrom is None:
        yield from _stream_by_contig(path, header, batch_rows)
        return
    row = 0
    batches = fetch_text_batches(path, shard.chrom, shard.start0, shard.end0, header=header, batch_rows=batch_rows)
    lo, hi = shard.start0, shard.end0
    for records, rejects in batches:
        pos0 = pc.subtract(records["POS"], 1)
        keep = pc.greater_equal(pos0, lo) if lo > 0 else None  # POS 0 (telomere) belongs to the first shard
        if hi is not None:
            below = pc.less(pos0, hi)
            keep = below if keep is None else pc.and_(keep, below)
        if keep is not None:
            records = records.filter(keep)
        if rejects.num_rows:
            rpos0 = _reject_pos(rejects) - 1
            rkeep = (rpos0 < 0) | (rpos0 >= lo) if lo > 0 else np.ones(len(rpos0), bool)
            if hi is not None:
                rkeep &= rpos0 < hi
            # A line without a numeric POS cannot be in a tabix index at all; such rows come from BCF
            # decode errors and are reported by the shard that hit them.
            rejects = rejects.filter(pa.array(rkeep))
        if records.num_rows:
            yield as_block(records, shard.ordinal, row)
            row += records.num_rows
        if rejects.num_rows:
            yield _reject_rows(rejects, shard.ordinal, row)
            row += rejects.num_rows


def _stream_by_contig(path: str, header: VcfHeader, batch_rows: int) -> Iterator[pa.Table]:
    """Unindexed input in one pass, split by contig: a new SHARD starts wherever CHROM changes.

    Blocks never mix contigs, and (SHARD, SHARD_ROW) still sorts back to file order (a contig that comes
    back later in an unsorted file gets a new SHARD number).
    """
    shard, row, last = 0, 0, None
    for records, rejects in iter_text_batches(path, header=header, batch_rows=batch_rows):
        n = records.num_rows
        if n:
            chrom = records["CHROM"].combine_chunks()
            change = np.flatnonzero(pc.not_equal(chrom[1:], chrom[:-1]).to_numpy(zero_copy_only=False)) + 1
            starts = [0, *change.tolist()]
            ends = [*change.tolist(), n]
            for i, (beg, end) in enumerate(zip(starts, ends)):
                if i > 0 or (last is not None and chrom[0].as_py() != last):
                    shard, row = shard + 1, 0
                yield as_block(records.slice(beg, end - beg), shard, row)
                row += end - beg
            last = chrom[n - 1].as_py()
        if rejects.num_rows:
            yield _reject_rows(rejects, shard, row)
            row += rejects.num_rows


def split_rejects(block: pa.Table, source: str) -> tuple[pa.Table, pa.Table]:
    """Split a block (or concatenated blocks) into (its record rows, every column but REJECT_*; its reject rows
    as a :data:`raygen.schema.REJECTS_SCHEMA` table), both in the block's row order."""
    if block["REJECT_REASON"].null_count == block.num_rows:  # the usual case: no copy of the records
        rej = block.slice(0, 0)
        records = block.drop_columns(["REJECT_REASON", "REJECT_TEXT"])
    else:
        is_rej = pc.is_valid(block["REJECT_REASON"])
        rej = block.filter(is_rej)
        records = block.filter(pc.invert(is_rej)).drop_columns(["REJECT_REASON", "REJECT_TEXT"])
    rejects = pa.table(
        {
            "SOURCE": pa.array([source] * rej.num_rows, pa.string()),
            "LINE": rej["LINE"],
            "REASON": rej["REJECT_REASON"],
            "TEXT": rej["REJECT_TEXT"],
        },
        schema=REJECTS_SCHEMA,
    )
    return records, rejects

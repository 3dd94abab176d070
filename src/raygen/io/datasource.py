"""Region-sharded Ray Data reads of VCF/BCF files.

:class:`VcfDatasource` is a ``ray.data.Datasource`` (the ``get_read_tasks`` API of Ray 2.60). For an
indexed input (bgzipped VCF + .tbi/.csi, or BCF + .csi) it cuts each contig into shards of ``shard_bp``
base pairs, 0-based half-open ``[start0, end0)``; a read task fetches its shards through the index and keeps
only the records whose POS lies in the shard (``start0 < POS <= end0``, i.e. ``start0 <= POS-1 < end0``).
A record that overlaps several shards (a long deletion, a symbolic <DEL> with END) is fetched by each of
them but kept by exactly one: every record is read exactly once.

Unindexed input (plain or gzip VCF, unindexed bgzip/BCF) cannot be cut by region: one task streams the
whole file in order, split by contig (a new SHARD wherever CHROM changes, so no block mixes contigs), and a
WARNING says why it is slower and how to fix it.

Blocks are VCF text tables (:data:`raygen.io.vcf.TEXT_SCHEMA`) plus:

* ``SHARD`` (int64): shard ordinal in genome (file) order; ``SHARD_ROW`` (int64): row within the shard.
  Sorting by (SHARD, SHARD_ROW) restores the input order after any Ray shuffle.
* ``REJECT_REASON``, ``REJECT_TEXT`` (string): null for records. **Rejects travel in-band**: a malformed
  line becomes a row whose REJECT_REASON is set (CHROM..SAMPLES null, LINE set when known), so nothing is
  lost between Ray stages and no side files are needed on a cluster. :func:`split_rejects` separates a
  block (or a materialised dataset's table) into records and a :data:`REJECTS_SCHEMA` table.

On a multi-node cluster every node must see ``path`` (and its index) at the same location (shared
storage): read tasks open the file where they run.

Public API
----------
``VcfDatasource(path, *, shard_bp=DEFAULT_SHARD_BP, regions=None, batch_rows=200_000)``
``read_vcf_dataset(path, *, shard_bp=DEFAULT_SHARD_BP, regions=None, override_num_blocks=None) -> Dataset``
``split_rejects(block, source) -> (records, rejects)``
``plan_shards(path, *, shard_bp, regions=None, header=None) -> list[Shard]`` (pure; no Ray; a
:class:`raygen.regions.Shard` per unit of work, ``margin`` 0)
``dataset_header(path) -> VcfHeader`` (same as :func:`raygen.io.vcf.read_header`)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pysam
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from raygen.errors import InputError, UsageError
from raygen.io.header import VcfHeader
from raygen.io.vcf import (
    REJECTS_SCHEMA,
    TEXT_SCHEMA,
    detect_format,
    fetch_text_batches,
    index_path,
    iter_text_batches,
    read_header,
)
from raygen.regions import Region, Shard, as_region

log = logging.getLogger(__name__)

#: Default shard size in bp: ~5 Mb gives ~600 shards over a human genome, big enough to amortise index seeks.
DEFAULT_SHARD_BP = 5_000_000
#: Rows per block yielded by a read task.
DEFAULT_BATCH_ROWS = 200_000
#: Rough in-memory bytes per on-disk byte, for Ray's planning only (bgzipped VCF text inflates ~5x).
_INFLATE = {"bgzf": 5.0, "gzip": 5.0, "bcf": 8.0, "vcf": 1.3}

UNINDEXED_WARNING = (
    "no .tbi/.csi index: streaming the whole file in one task; index it with "
    "`tabix -p vcf` (bgzipped VCF) or `bcftools index` (BCF) to shard by region"
)

BLOCK_SCHEMA = (
    TEXT_SCHEMA.append(pa.field("SHARD", pa.int64()))
    .append(pa.field("SHARD_ROW", pa.int64()))
    .append(pa.field("REJECT_REASON", pa.string()))
    .append(pa.field("REJECT_TEXT", pa.string()))
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
    shard_bp: int = DEFAULT_SHARD_BP,
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


def _with_block_columns(records: pa.Table, shard: int, first_row: int) -> pa.Table:
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
    """Blocks (:data:`BLOCK_SCHEMA`) of one shard: records whose POS lies in it, then its rejects. Pure (no Ray)."""
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
            yield _with_block_columns(records, shard.ordinal, row)
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
                yield _with_block_columns(records.slice(beg, end - beg), shard, row)
                row += end - beg
            last = chrom[n - 1].as_py()
        if rejects.num_rows:
            yield _reject_rows(rejects, shard, row)
            row += rejects.num_rows


class VcfDatasource(Datasource):
    """Ray Data source over one VCF/BCF file, sharded by genomic region when indexed (see module doc)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        shard_bp: int = DEFAULT_SHARD_BP,
        regions: Sequence[str | tuple[str, int | None, int | None]] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ):
        super().__init__()
        self.path = str(Path(path).resolve())
        self.format = detect_format(self.path)
        self.header = read_header(self.path)
        self.batch_rows = batch_rows
        self.indexed = is_indexed(self.path)
        if not self.indexed:
            log.warning("%s: %s", self.path, UNINDEXED_WARNING)
        self.shards = plan_shards(self.path, shard_bp=shard_bp, regions=regions, header=self.header)

    def get_name(self) -> str:
        return "VCF"

    def estimate_inmemory_data_size(self) -> int | None:
        return int(os.path.getsize(self.path) * _INFLATE.get(self.format, 2.0))

    def get_read_tasks(
        self,
        parallelism: int,
        per_task_row_limit: int | None = None,
        data_context=None,
    ) -> list[ReadTask]:
        if not self.shards:
            return []
        n_tasks = max(1, min(len(self.shards), parallelism if parallelism and parallelism > 0 else len(self.shards)))
        # Consecutive shards per task keep each task's index seeks local and the output in genome order.
        groups = [list(g) for g in np.array_split(np.arange(len(self.shards)), n_tasks) if len(g)]
        total = self.estimate_inmemory_data_size() or 0
        path, header, batch_rows = self.path, self.header, self.batch_rows
        tasks = []
        for g in groups:
            shards = [self.shards[i] for i in g]

            def read_fn(shards=shards) -> Iterator[pa.Table]:
                for shard in shards:
                    yield from read_shard(path, header, shard, batch_rows)

            meta = BlockMetadata(
                num_rows=None,
                size_bytes=int(total * len(g) / len(self.shards)),
                input_files=[path],
                exec_stats=None,
            )
            tasks.append(ReadTask(read_fn, meta, schema=BLOCK_SCHEMA, per_task_row_limit=per_task_row_limit))
        return tasks


def read_vcf_dataset(
    path: str | os.PathLike[str],
    *,
    shard_bp: int = DEFAULT_SHARD_BP,
    regions: Sequence[str | tuple[str, int | None, int | None]] | None = None,
    override_num_blocks: int | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
):
    """A ``ray.data.Dataset`` of VCF text-table blocks (:data:`BLOCK_SCHEMA`); see :class:`VcfDatasource`.

    ``override_num_blocks`` caps the number of read tasks (default: Ray's choice, at most one per shard).
    The header is :func:`dataset_header` (or ``VcfDatasource(path).header``).
    """
    import ray

    source = VcfDatasource(path, shard_bp=shard_bp, regions=regions, batch_rows=batch_rows)
    return ray.data.read_datasource(source, override_num_blocks=override_num_blocks)


def dataset_header(path: str | os.PathLike[str]) -> VcfHeader:
    """The header of the file behind :func:`read_vcf_dataset`."""
    return read_header(path)


def split_rejects(block: pa.Table, source: str) -> tuple[pa.Table, pa.Table]:
    """Split a block (or concatenated blocks) into (records with SHARD/SHARD_ROW, rejects as REJECTS_SCHEMA)."""
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

"""Region-sharded Ray Data reads of VCF/BCF files: :class:`VcfDatasource` runs :mod:`raygen.io.blocks`'
shard reads as Ray Data read tasks (the ``get_read_tasks`` API of Ray 2.60).

Each read task takes consecutive shards (:func:`raygen.io.blocks.plan_shards`: region shards of an indexed
input, or the whole file streamed by contig with a WARNING saying why that is slower and how to fix it)
and yields blocks of :data:`raygen.schema.BLOCK_SCHEMA`: the VCF text columns, ``SHARD``/``SHARD_ROW``
(sorting by them restores the input order after any Ray shuffle) and the in-band reject columns. Every
record is read exactly once.

On a multi-node cluster every node must see ``path`` (and its index) at the same location (shared
storage): read tasks open the file where they run.

Public API
----------
``VcfDatasource(path, *, shard_bp, regions=None, batch_rows=DEFAULT_BATCH_ROWS)``
``read_vcf_dataset(path, *, shard_bp, regions=None, override_num_blocks=None, batch_rows=...) -> Dataset``
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import ray
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from raygen.io.blocks import UNINDEXED_WARNING, is_indexed, plan_shards, read_shard
from raygen.io.vcf import DEFAULT_BATCH_ROWS, detect_format, read_header
from raygen.regions import Region
from raygen.schema import BLOCK_SCHEMA

log = logging.getLogger(__name__)

#: Rough in-memory bytes per on-disk byte, for Ray's planning only (bgzipped VCF text inflates ~5x).
_INFLATE = {"bgzf": 5.0, "gzip": 5.0, "bcf": 8.0, "vcf": 1.3}


class VcfDatasource(Datasource):
    """Ray Data source over one VCF/BCF file, sharded by genomic region when indexed (see module doc)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        shard_bp: int,
        regions: Sequence[str | Region | tuple[str, int | None, int | None]] | None = None,
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
    shard_bp: int,
    regions: Sequence[str | Region | tuple[str, int | None, int | None]] | None = None,
    override_num_blocks: int | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
):
    """A ``ray.data.Dataset`` of VCF text-table blocks (:data:`BLOCK_SCHEMA`); see :class:`VcfDatasource`.

    ``override_num_blocks`` caps the number of read tasks (default: Ray's choice, at most one per shard).
    The header is :func:`raygen.io.vcf.read_header` of ``path`` (or ``VcfDatasource(path).header``).
    """
    source = VcfDatasource(path, shard_bp=shard_bp, regions=regions, batch_rows=batch_rows)
    return ray.data.read_datasource(source, override_num_blocks=override_num_blocks)

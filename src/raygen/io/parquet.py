"""Parquet datasets of variants: Glow-named typed columns, partitioned by contig, lossless back to VCF.

Layout: ``OUT/contigName=<contig>/part-<batch>-<i>.parquet`` (Hive partitioning; the contig name is
URI-encoded in the directory name). Each file holds the typed columns of :mod:`raygen.io.typed` (minus
``contigName``, which lives in the path) plus one struct column ``vcfText`` (:data:`raygen.schema.TEXT_STRUCT`)
with the exact VCF text of
ID, QUAL, FILTER, INFO, FORMAT, SAMPLES and the source LINE, so Parquet -> VCF gives back the records
byte for byte. The full VCF header text is stored in every file's schema metadata under ``b"vcf_header"``.

Read it with pyarrow (``pyarrow.dataset.dataset(OUT, partitioning=hive_partitioning())``), DuckDB
(``read_parquet('OUT/*/*.parquet', hive_partitioning=true, hive_types={'contigName': VARCHAR})``) or Spark.

Public API
----------
``write_parquet(records, header, out_dir) -> Path`` (one text table or an iterable of them; atomic)
``read_parquet(path) -> (VcfHeader, text table)``
``iter_parquet_text(path, *, header=None) -> Iterator[text table]`` (contig by contig, in header order)
``read_parquet_header(path) -> VcfHeader``
``hive_partitioning() -> pyarrow.dataset.Partitioning``
``is_parquet_dataset(path) -> bool``
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from raygen.errors import InputError
from raygen.io.atomic import atomic_dir
from raygen.io.header import VcfHeader
from raygen.io.typed import text_to_typed, typed_schema
from raygen.schema import TEXT_SCHEMA, TEXT_STRUCT

__all__ = [
    "HEADER_KEY",
    "TEXT_STRUCT",
    "write_parquet",
    "read_parquet",
    "iter_parquet_text",
    "read_parquet_header",
    "hive_partitioning",
    "is_parquet_dataset",
    "parquet_schema",
]

#: Schema-metadata key holding the VCF header text.
HEADER_KEY = b"vcf_header"
#: Schema-metadata key holding the contigs in the order they first appeared (JSON list), so a dataset
#: reads back in the order it was written even when that differs from the header's ##contig order.
ORDER_KEY = b"contig_order"
#: Rows per row group: small enough for selective reads, big enough for good compression.
ROW_GROUP_ROWS = 128 * 1024
#: Rows converted to the typed view at a time.
SLICE_ROWS = 1 << 20


def hive_partitioning() -> pads.Partitioning:
    """The partitioning of our datasets: ``contigName=<name>`` directories, contig read back as a string."""
    return pads.partitioning(pa.schema([("contigName", pa.string())]), flavor="hive")


def parquet_schema(header: VcfHeader) -> pa.Schema:
    """Schema of the dataset (typed Glow columns + ``vcfText``), with the header in its metadata."""
    schema = typed_schema(header).append(pa.field("vcfText", TEXT_STRUCT))
    return schema.with_metadata({HEADER_KEY: header.to_text().encode()})


def _with_text(records: pa.Table, header: VcfHeader, contig_order: list[str]) -> pa.Table:
    typed = text_to_typed(records, header)
    text = pa.StructArray.from_arrays(
        [records[name].combine_chunks() for name in TEXT_STRUCT.names], fields=list(TEXT_STRUCT)
    )
    meta = dict(parquet_schema(header).metadata)
    meta[ORDER_KEY] = json.dumps(contig_order).encode()
    return typed.append_column(pa.field("vcfText", TEXT_STRUCT), text).replace_schema_metadata(meta)


def write_parquet(
    records: pa.Table | Iterable[pa.Table],
    header: VcfHeader,
    out_dir: str | os.PathLike[str],
) -> Path:
    """Write VCF text tables as a contig-partitioned Parquet dataset at ``out_dir`` (replaced atomically).

    ``records`` is one text table or an iterable of them (streamed: one conversion per batch). Row order
    within a contig is the order given. Returns ``out_dir``.
    """
    out = Path(out_dir)
    tables = [records] if isinstance(records, pa.Table) else records
    # Bounded slices keep every Arrow array of the typed view small (list offsets are 32-bit).
    batches = (t.slice(off, SLICE_ROWS) for t in tables for off in range(0, max(t.num_rows, 1), SLICE_ROWS))
    schema = parquet_schema(header)
    contig_order: list[str] = []
    with atomic_dir(out) as tmp:
        for i, batch in enumerate(batches):
            if batch.num_rows == 0:
                continue
            seen = set(contig_order)
            contig_order += [c for c in pc.unique(batch["CHROM"]).to_pylist() if c not in seen]
            table = _with_text(batch, header, contig_order)
            pads.write_dataset(
                table,
                tmp,
                format="parquet",
                schema=table.schema,
                partitioning=hive_partitioning(),
                basename_template=f"part-{i:06d}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore",
                max_rows_per_group=ROW_GROUP_ROWS,
                min_rows_per_group=min(ROW_GROUP_ROWS, table.num_rows),
                file_options=pads.ParquetFileFormat().make_write_options(compression="zstd"),
            )
        # An empty dataset still carries its header, so reading it back gives a valid (empty) VCF.
        if not any(tmp.iterdir()):
            pq.write_table(schema.empty_table(), tmp / "_empty.parquet")
    return out


def is_parquet_dataset(path: str | os.PathLike[str]) -> bool:
    """True for a directory holding ``.parquet`` files (or a single ``.parquet`` file)."""
    p = Path(path)
    if p.is_file():
        return p.suffix == ".parquet"
    return p.is_dir() and any(p.rglob("*.parquet"))


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.rglob("*.parquet"))
    if not files:
        raise InputError(f"{path}: no .parquet files (not a raygen Parquet dataset)")
    return files


def read_parquet_header(path: str | os.PathLike[str]) -> VcfHeader:
    """The VCF header stored in the dataset's schema metadata."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"Parquet dataset {str(p)!r} does not exist")
    meta = pq.read_schema(_files(p)[0]).metadata or {}
    if HEADER_KEY not in meta:
        raise InputError(f"{p}: Parquet files lack the {HEADER_KEY.decode()!r} metadata (not written by raygen)")
    return VcfHeader.from_text(meta[HEADER_KEY].decode(), str(p))


def _to_text(table: pa.Table) -> pa.Table:
    text = table["vcfText"].combine_chunks()
    n = table.num_rows
    alts = table["alternateAlleles"].combine_chunks()
    alt = pc.binary_join(alts, ",")
    alt = pc.if_else(pc.equal(pc.list_value_length(alts), 0), pa.scalar("."), alt)
    cols = {
        "CHROM": pc.cast(table["contigName"], pa.string()),
        "POS": pc.add(table["start"], 1),
        "ID": text.field("ID"),
        "REF": table["referenceAllele"],
        "ALT": alt,
        "QUAL": text.field("QUAL"),
        "FILTER": text.field("FILTER"),
        "INFO": text.field("INFO"),
        "FORMAT": text.field("FORMAT"),
        "SAMPLES": text.field("SAMPLES"),
        "LINE": text.field("LINE"),
    }
    arrays = []
    for f in TEXT_SCHEMA:
        col = cols[f.name]
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        arrays.append(col if len(col) == n else pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=TEXT_SCHEMA)


def _contig_of(file: Path, root: Path) -> str | None:
    for part in file.relative_to(root).parts[:-1]:
        if part.startswith("contigName="):
            return unquote(part[len("contigName="):])
    return None


def iter_parquet_text(path: str | os.PathLike[str], *, header: VcfHeader | None = None) -> Iterator[pa.Table]:
    """VCF text tables from a dataset, contig by contig in the order they were written (rows in write order)."""
    p = Path(path)
    header = header or read_parquet_header(p)
    all_files = _files(p)
    written: list[str] = []
    for f in all_files:  # each file knows the order of the contigs written up to it: take the longest
        meta = pq.read_schema(f).metadata or {}
        cand = json.loads(meta.get(ORDER_KEY, b"[]"))
        if len(cand) > len(written):
            written = cand
    order = {c: i for i, c in enumerate(written + [c for c in header.contigs if c not in written])}
    root = p if p.is_dir() else p.parent
    files = []
    for f in all_files:
        contig = _contig_of(f, root)
        if contig is not None:
            files.append((order.get(contig, len(order)), contig, str(f)))
    files.sort()
    for _, contig, f in files:
        table = pq.read_table(f, partitioning=None)
        if table.num_rows == 0:
            continue
        if "contigName" in table.column_names:
            table = table.drop_columns(["contigName"])
        table = table.append_column("contigName", pa.repeat(pa.scalar(contig, pa.string()), table.num_rows))
        yield _to_text(table)


def read_parquet(path: str | os.PathLike[str]) -> tuple[VcfHeader, pa.Table]:
    """Read a dataset written by :func:`write_parquet` back as ``(header, VCF text table)``."""
    header = read_parquet_header(path)
    tables = list(iter_parquet_text(path, header=header))
    return header, (pa.concat_tables(tables) if tables else TEXT_SCHEMA.empty_table())

"""Scored (and annotated) VCF/BCF or raygen Parquet -> one row per ALT allele with the values asked for.

What ``raygen assess``, ``raygen drift`` and ``raygen report`` read: an Arrow table with ``chrom``, ``pos``
(1-based VCF POS), ``ref``, ``alt``, ``record`` (0-based record number in file order), ``alt_index``
(0-based) and one column per requested INFO key, taken per allele:

- a ``Number=A`` key gives the ALT's own entry, ``Number=R`` the ALT's (entry ``alt_index + 1``), any other
  Number the whole value (lists joined with ``,``);
- ``Integer``/``Float`` keys come as float64 (missing: NaN), the rest as strings (missing: null), ``Flag``
  as 0/1;
- ``SpliceAI`` (the SpliceAI release's ``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL``
  entries) gives the largest of the four delta scores over the entries of that ALT (over every gene), and
  ``SpliceAI_SYMBOL`` the gene of that largest entry.

Keys the header does not declare give an all-missing column (the caller decides whether that is an error).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.io.header import VcfHeader
from raygen.io.parquet import is_parquet_dataset, iter_parquet_text, read_parquet_header
from raygen.io.typed import info_column_name, text_to_typed
from raygen.io.vcf import iter_text_batches, read_header

#: The derived keys of SpliceAI's INFO field (see module docstring).
SPLICEAI_KEY = "SpliceAI"
SPLICEAI_SYMBOL = "SpliceAI_SYMBOL"


def open_header(path: str | os.PathLike[str]) -> VcfHeader:
    """The VCF header of a VCF/BCF file or a raygen Parquet dataset."""
    return read_parquet_header(path) if is_parquet_dataset(path) else read_header(path)


def iter_records(path: str | os.PathLike[str], header: VcfHeader | None = None) -> Iterator[pa.Table]:
    """VCF text tables of a VCF/BCF file or a raygen Parquet dataset, in file order. Malformed lines stop
    nothing here: they are counted by the readers' rejects, which these evaluations do not need."""
    header = header or open_header(path)
    if is_parquet_dataset(path):
        yield from iter_parquet_text(path, header=header)
        return
    for records, _rejects in iter_text_batches(path, header=header):
        if records.num_rows:
            yield records


def _key_header(header: VcfHeader, keys: list[str]) -> VcfHeader:
    lines = [m for m in header.meta if any(m.startswith(f"##INFO=<ID={k},") for k in keys)]
    return VcfHeader.from_lines(lines + ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"])


def _per_allele(col: pa.Array, number: str, rows: np.ndarray, alt_index: np.ndarray) -> pa.Array:
    """The value of each allele (rows of the record table, alt_index) from a typed INFO column."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_list(col.type):
        return col.take(pa.array(rows))
    if number in ("A", "R"):
        which = alt_index + (1 if number == "R" else 0)
        lists = col.take(pa.array(rows))
        if lists.offset:
            lists = pa.concat_arrays([lists])
        off = lists.offsets.to_numpy()
        valid = pc.is_valid(lists).to_numpy(zero_copy_only=False)
        ok = valid & (which < np.diff(off))
        vals = lists.values
        if len(vals) == 0:
            return pa.nulls(len(rows), col.type.value_type)
        taken = vals.take(pa.array(np.where(ok, off[:-1] + which, 0)))
        return pc.if_else(pa.array(ok), taken, pa.scalar(None, col.type.value_type))
    joined = pc.binary_join(pc.cast(col, pa.list_(pa.string())), ",") if len(col) else pa.array([], pa.string())
    return joined.take(pa.array(rows))


def _as_values(arr: pa.Array, type_: str) -> pa.Array:
    if type_ in ("Integer", "Float"):
        return pa.array(pc.fill_null(pc.cast(arr, pa.float64()), np.nan).to_numpy(zero_copy_only=False))
    if type_ == "Flag":
        return pa.array(pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(np.float64))
    return pc.cast(arr, pa.string())


def spliceai_max(info: str | None, alt: str) -> tuple[float, str | None]:
    """(largest delta score of ``alt`` over its SpliceAI entries, that entry's gene); (NaN, None) without one."""
    best, gene = float("nan"), None
    if not info:
        return best, gene
    for item in info.split(";"):
        if not item.startswith("SpliceAI="):
            continue
        for entry in item[9:].split(","):
            f = entry.split("|")
            if len(f) < 6 or f[0] != alt:
                continue
            try:
                ds = max(float(x) for x in f[2:6])
            except ValueError:
                continue
            if not best >= ds:  # NaN-safe: the first value always wins over NaN
                best, gene = ds, f[1]
    return best, gene


def allele_table(records: pa.Table, header: VcfHeader, keys: list[str], first_record: int = 0) -> pa.Table:
    """One row per ALT of ``records`` (a VCF text table) with the columns of the module docstring."""
    alts = pc.split_pattern(pc.fill_null(records["ALT"], "."), ",")
    flat_alt = pc.list_flatten(alts)
    rows = pc.list_parent_indices(alts).to_numpy()
    starts = np.concatenate([[0], np.cumsum(pc.list_value_length(alts).to_numpy())[:-1]]) if len(rows) else rows
    alt_index = (np.arange(len(rows)) - starts[rows]) if len(rows) else rows
    cols = {"chrom": records["CHROM"].take(pa.array(rows)), "pos": records["POS"].take(pa.array(rows)),
            "ref": records["REF"].take(pa.array(rows)), "alt": flat_alt,
            "record": pa.array(rows + first_record, pa.int64()), "alt_index": pa.array(alt_index, pa.int64())}
    plain = [k for k in keys if k in header.info and k != SPLICEAI_KEY]
    if plain:
        typed = text_to_typed(records, _key_header(header, plain))
        for k in plain:
            arr = _per_allele(typed[info_column_name(k)], header.info[k].get("Number", "."), rows, alt_index)
            cols[k] = _as_values(arr, header.info[k].get("Type", "String"))
    for k in keys:
        if k in cols or k in (SPLICEAI_KEY, SPLICEAI_SYMBOL):
            continue
        cols[k] = pa.array(np.full(len(rows), np.nan))
    if SPLICEAI_KEY in keys or SPLICEAI_SYMBOL in keys:
        info = records["INFO"].to_pylist()
        pairs = [spliceai_max(info[r], a) for r, a in zip(rows.tolist(), flat_alt.to_pylist())]
        cols[SPLICEAI_KEY] = pa.array([p[0] for p in pairs], pa.float64())
        cols[SPLICEAI_SYMBOL] = pa.array([p[1] for p in pairs], pa.string())
    return pa.table(cols)


def read_alleles(path: str | os.PathLike[str], keys: list[str]) -> tuple[VcfHeader, pa.Table]:
    """``(header, allele table)`` of a whole file (see :func:`allele_table`)."""
    header = open_header(path)
    parts, n = [], 0
    for records in iter_records(path, header):
        parts.append(allele_table(records, header, keys, first_record=n))
        n += records.num_rows
    if not parts:
        empty = {"chrom": pa.array([], pa.string()), "pos": pa.array([], pa.int64()), "ref": pa.array([], pa.string()),
                 "alt": pa.array([], pa.string()), "record": pa.array([], pa.int64()),
                 "alt_index": pa.array([], pa.int64())}
        return header, pa.table({**empty, **{k: pa.array([], pa.float64()) for k in keys}})
    return header, pa.concat_tables(parts, promote_options="permissive")


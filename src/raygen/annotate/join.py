"""The annotation join itself (pure: Arrow tables in, Arrow tables out; no Ray).

Both sides are normalized records (:data:`raygen.schema.NORMALIZED_SCHEMA` text columns, 1-based ``POS``):
the query block and the slice of a source covering the block's positions
(:meth:`raygen.annotate.sources.SourceSlices.slice`). They meet on the normalized allele key
(:data:`KEY_COLUMNS`: CHROM is fixed per slice, so POS, REF, ALT); a source with several records on one key
contributes its first (in source order). Each source INFO field ``F`` of source ``NAME`` becomes the item
``NAME_F=value`` (``NAME_F`` for a Flag) appended to the query's INFO, with the source's exact value text
(its ``##INFO`` Number and Type are copied into the output header, so typed readers see the same type).
A query record that already holds ``NAME_F`` gets it replaced where the source matches and kept where it
does not (``bcftools annotate -c INFO/NAME_F:=F`` does the same). Source values that are missing (``.``)
are not copied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.io.header import VcfHeader

#: The join key within one contig (the records' CHROM is the slice's contig).
KEY_COLUMNS = ("POS", "REF", "ALT")


def _value_items(info: pa.Array, key: str, out_key: str, is_flag: bool) -> pa.Array:
    """Per record: ``out_key=value`` (``out_key`` for a set Flag) from ``key`` in INFO text, null when absent."""
    k = re.escape(key)
    if is_flag:
        present = pc.match_substring_regex(info, f"(?:^|;){k}(?:;|$)")
        return pc.if_else(present, pa.scalar(out_key), pa.scalar(None, pa.string()))
    value = pc.struct_field(pc.extract_regex(info, f"(?:^|;){k}=(?P<v>[^;]*)"), "v")
    value = pc.if_else(pc.is_in(value, pa.array(["", "."])), pa.scalar(None, pa.string()), value)
    return pc.binary_join_element_wise(pa.scalar(out_key), value, "=")


def lookup_table(rows: pa.Table, prefix: str, fields: Sequence[str], header: VcfHeader,
                 wanted: pa.Table | None = None) -> pa.Table:
    """A source slice (``POS, REF, ALT, INFO``) as a lookup: one row per key (the first in source order),
    the key columns, then one column per field holding the rendered INFO item (null where absent).
    ``wanted`` (a table with the key columns, e.g. the query's): keep only the keys it holds, so the INFO
    text of the other source records is never parsed."""
    rows = rows.append_column("_i", pa.array(np.arange(rows.num_rows, dtype=np.int64)))
    if wanted is not None and rows.num_rows:
        keys = wanted.select(list(KEY_COLUMNS)).group_by(list(KEY_COLUMNS), use_threads=False).aggregate([])
        rows = rows.join(keys, keys=list(KEY_COLUMNS), join_type="left semi", use_threads=False)
    first = rows.group_by(list(KEY_COLUMNS), use_threads=False).aggregate([("_i", "min")])["_i_min"]
    rows = rows.take(pc.index_in(pa.array(np.sort(first.to_numpy()), pa.int64()), rows["_i"]))  # source order
    info = rows["INFO"].combine_chunks() if rows.num_rows else pa.array([], pa.string())
    cols = {c: rows[c] for c in KEY_COLUMNS}
    for f in fields:
        cols[f"{prefix}_{f}"] = _value_items(info, f, f"{prefix}_{f}", header.info_type.get(f) == "Flag")
    return pa.table(cols)


def _drop_keys(info: pa.Array, keys: Sequence[str]) -> pa.Array:
    """INFO text without the items of ``keys`` (``.`` when nothing is left)."""
    pat = ";(?:" + "|".join(re.escape(k) for k in keys) + ")(?:=[^;]*)?;"
    wrapped = pc.binary_join_element_wise(";", info, ";", "")  # the last argument is the separator
    for _ in range(2):  # a second pass catches the second of two adjacent items (matches cannot overlap)
        wrapped = pc.replace_substring_regex(wrapped, pat, ";")
    out = pc.utf8_trim(wrapped, ";")
    return pc.if_else(pc.equal(out, ""), pa.scalar("."), out)


def annotate_info(records: pa.Table, lookups: Sequence[pa.Table]) -> tuple[pa.Array, list[int]]:
    """New INFO text of ``records`` (one contig) joined with each lookup of :func:`lookup_table`, and the
    number of records each lookup matched."""
    n = records.num_rows
    info = pc.fill_null(records["INFO"], ".").combine_chunks() if n else pa.array([], pa.string())
    left = pa.table({**{c: records[c] for c in KEY_COLUMNS}, "_row": pa.array(np.arange(n, dtype=np.int64))})
    items, matched = [], []
    for lk in lookups:
        value_cols = [c for c in lk.column_names if c not in KEY_COLUMNS]
        j = left.join(lk, keys=list(KEY_COLUMNS), join_type="left outer", use_threads=False).sort_by("_row")
        cols = [j[c].combine_chunks() for c in value_cols]
        if cols:
            matched.append(int(pc.sum(pc.is_valid(pc.coalesce(*cols))).as_py() or 0))
        items += cols
    if not items or n == 0:
        return info, matched or [0] * len(lookups)
    # null_handling="skip" drops all-null rows in pyarrow 26: join with "" for null, then squeeze the ';'s
    added = pc.binary_join_element_wise(*items, ";", null_handling="replace", null_replacement="")
    added = pc.utf8_trim(pc.replace_substring_regex(added, ";;+", ";"), ";")
    hit = pc.not_equal(added, "")
    out_keys = [c for lk in lookups for c in lk.column_names if c not in KEY_COLUMNS]
    base = _drop_keys(info, out_keys)
    combined = pc.if_else(pc.equal(base, "."), added, pc.binary_join_element_wise(base, added, ";"))
    return pc.if_else(hit, combined, info), matched


__all__ = ["KEY_COLUMNS", "lookup_table", "annotate_info"]

"""Typed, Glow-named view of a VCF text table (vectorized: no per-record Python).

:func:`text_to_typed` turns the text columns into the schema that Glow (Databricks/Projectglow) uses for
VCF data, so Spark and DuckDB users find the field names they know:

=========================  ==============================  ==============================================
column                     type                            from
=========================  ==============================  ==============================================
contigName                 string                          CHROM
start                      int64                           POS - 1 (0-based)
end                        int64                           start + len(REF) (0-based, exclusive)
names                      list<string>                    ID split on ';' ('.' -> [])
referenceAllele            string                          REF
alternateAlleles           list<string>                    ALT split on ',' ('.' -> [])
qual                       double                          QUAL ('.' -> null)
filters                    list<string>                    FILTER split on ';' ('.' -> [])
splitFromMultiAllelic      bool                            false
INFO_<KEY>                 by header                       one column per ``##INFO`` line
genotypes                  list<struct<...>>               one struct per sample (only with samples)
=========================  ==============================  ==============================================

Header types map as Integer -> int32, Float -> double, String/Character -> string, Flag -> bool. Number=1
(and Number=0 for flags) gives a scalar, any other Number (A, R, G, ., n>1) a list. A value that does not
parse as its declared type becomes null (the exact text is kept in the text columns).

``genotypes`` structs hold ``sampleId``, ``calls`` (list<int32>, -1 for a missing allele; null without GT),
``phased`` (bool; true for '|' and, as in htslib, for haploid calls)
and one field per ``##FORMAT`` key, named as Glow names them: DP -> depth, GQ -> conditionalQuality,
AD -> alleleDepths, PL -> phredLikelihoods, GL -> genotypeLikelihoods, FT -> filters; other keys keep
their FORMAT ID. A key absent from a record's FORMAT is null.

INFO keys used in records but missing from the header have no typed column; they stay in the INFO text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.io.header import VcfHeader
from raygen.schema import GLOW_FIXED_FIELDS

__all__ = ["GLOW_FORMAT_NAMES", "typed_schema", "text_to_typed", "info_column_name", "format_field_name"]

#: FORMAT keys that Glow renames inside ``genotypes``.
GLOW_FORMAT_NAMES = {
    "DP": "depth",
    "GQ": "conditionalQuality",
    "AD": "alleleDepths",
    "PL": "phredLikelihoods",
    "GL": "genotypeLikelihoods",
    "FT": "filters",
}

_INT_RE = r"^[-+]?[0-9]+$"
_FLOAT_RE = r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?(?:[Ii]nf|[Ii]nfinity|[Nn]a[Nn])$"
_INT32_MAX = 2**31 - 1


def info_column_name(key: str) -> str:
    return f"INFO_{key}"


def format_field_name(key: str) -> str:
    return GLOW_FORMAT_NAMES.get(key, key)


def _value_type(decl: dict[str, str]) -> pa.DataType:
    t = decl.get("Type", "String")
    if t == "Integer":
        base: pa.DataType = pa.int32()
    elif t == "Float":
        base = pa.float64()
    elif t == "Flag":
        return pa.bool_()
    else:
        base = pa.string()
    return base if decl.get("Number", ".") == "1" else pa.list_(base)


def typed_schema(header: VcfHeader) -> pa.Schema:
    """The schema :func:`text_to_typed` produces for ``header`` (depends on the header only): the fixed
    columns :data:`raygen.schema.GLOW_FIXED_FIELDS`, one ``INFO_<KEY>`` per ``##INFO`` line, ``genotypes``."""
    fields = list(GLOW_FIXED_FIELDS)
    for key, decl in header.info.items():
        fields.append(pa.field(info_column_name(key), _value_type(decl)))
    if header.samples:
        gt_fields = [
            pa.field("sampleId", pa.string()),
            pa.field("calls", pa.list_(pa.int32())),
            pa.field("phased", pa.bool_()),
        ]
        for key, decl in header.format.items():
            if key == "GT":
                continue
            gt_fields.append(pa.field(format_field_name(key), _value_type(decl)))
        fields.append(pa.field("genotypes", pa.list_(pa.struct(gt_fields))))
    return pa.schema(fields)


# ---------------------------------------------------------------------------------------------------
def _arr(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return pa.concat_arrays(col.chunks) if col.num_chunks != 1 else col.chunk(0)
    return col


def _offsets(lists: pa.ListArray) -> tuple[pa.ListArray, np.ndarray]:
    if lists.offset:
        lists = pa.concat_arrays([lists])
    return lists, lists.offsets.to_numpy()


def _split_or_empty(col: pa.Array, sep: str) -> pa.Array:
    """Split on ``sep``; '.' (missing) becomes an empty list."""
    col = _arr(col)
    split, offsets = _offsets(_arr(pc.split_pattern(col, sep)))
    missing = pc.equal(col, ".").to_numpy(zero_copy_only=False)
    if not missing.any():
        return split
    lengths = np.diff(offsets)
    # '.' splits into one element ['.']: drop it and give that row length 0.
    values = split.values.filter(pa.array(np.repeat(~missing, lengths)))
    new_offsets = np.zeros(len(col) + 1, dtype=np.int32)
    np.cumsum(np.where(missing, 0, lengths), out=new_offsets[1:])
    return pa.ListArray.from_arrays(pa.array(new_offsets), values, type=pa.list_(pa.string()))


def _to_scalar(values: pa.Array, typ: pa.DataType) -> pa.Array:
    """Strings -> ``typ``; '.' or an unparsable value -> null."""
    values = _arr(values)
    missing = pc.equal(values, ".")
    clean = pc.if_else(missing, pa.scalar(None, pa.string()), values)
    if typ == pa.string():
        return _arr(clean)
    wide_t = pa.int64() if pa.types.is_integer(typ) else typ
    try:
        # Fast path: every value parses. Only a file with a bad value pays for the regex check below.
        wide = pc.cast(clean, wide_t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.match_substring_regex(clean, _INT_RE if pa.types.is_integer(typ) else _FLOAT_RE)
        wide = pc.cast(pc.if_else(ok, clean, pa.scalar(None, pa.string())), wide_t)
    if pa.types.is_integer(typ):
        in_range = pc.and_(pc.greater_equal(wide, -_INT32_MAX - 1), pc.less_equal(wide, _INT32_MAX))
        wide = pc.cast(pc.if_else(in_range, wide, pa.scalar(None, pa.int64())), typ)
    return _arr(wide)


def _to_list(values: pa.Array, elem: pa.DataType) -> pa.Array:
    """Comma-separated strings -> list<elem>; a null string -> null list; '.' elements -> null."""
    values = _arr(values)
    split = _arr(pc.split_pattern(values, ","))
    offsets = split.offsets
    if split.offset:
        split = pa.concat_arrays([split])
        offsets = split.offsets
    flat = _to_scalar(split.values, elem)
    return pa.ListArray.from_arrays(offsets, flat, type=pa.list_(elem), mask=pc.is_null(values))


def _convert(values: pa.Array, typ: pa.DataType) -> pa.Array:
    if pa.types.is_list(typ):
        return _to_list(values, typ.value_type)
    return _to_scalar(values, typ)


def _info_columns(info: pa.Array, header: VcfHeader) -> dict[str, pa.Array]:
    """One typed column per declared INFO key, from a single split of the INFO text.

    INFO is split once into ``key[=value]`` items; each key then costs one string comparison over the
    items, not one regex scan of every INFO string.
    """
    n = len(info)
    items, offsets = _offsets(_arr(pc.split_pattern(info, ";")))
    rec_of_item = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    kv, kv_off = _offsets(_arr(pc.split_pattern(items.values, "=", max_splits=1)))
    kv_len = np.diff(kv_off)
    keys = kv.values.take(pa.array(kv_off[:-1]))
    has_val = kv_len > 1
    vals = kv.values.take(pa.array(np.where(has_val, kv_off[:-1] + 1, kv_off[:-1])))
    out: dict[str, pa.Array] = {}
    for key, decl in header.info.items():
        typ = _value_type(decl)
        hit = np.flatnonzero(pc.equal(keys, key).to_numpy(zero_copy_only=False))
        if typ == pa.bool_():
            flag = np.zeros(n, dtype=bool)
            flag[rec_of_item[hit]] = True
            out[info_column_name(key)] = pa.array(flag)
            continue
        where = np.full(n, -1, dtype=np.int64)
        hit = hit[has_val[hit]]
        where[rec_of_item[hit]] = hit  # a repeated key: the last one wins, as in htslib
        present = where >= 0
        raw = vals.take(pa.array(np.where(present, where, 0))) if len(vals) else pa.nulls(n, pa.string())
        raw = _arr(pc.if_else(pa.array(present), raw, pa.scalar(None, pa.string())))
        out[info_column_name(key)] = _convert(raw, typ)
    return out


def _format_index(fmt: pa.Array, key: str) -> np.ndarray:
    """Per record: position of ``key`` in the FORMAT column's ':' list, -1 if absent."""
    enc = _arr(pc.dictionary_encode(fmt))
    uniques = enc.dictionary.to_pylist()  # few distinct FORMAT strings: a loop over them is cheap
    pos = np.array([(u.split(":").index(key) if u is not None and key in u.split(":") else -1) for u in uniques] + [-1])
    idx = pc.fill_null(enc.indices, len(uniques)).to_numpy(zero_copy_only=False).astype(np.int64)
    return pos[idx]


def _pick(parts: pa.ListArray, which: np.ndarray) -> pa.Array:
    """Element ``which[i]`` of list ``i`` (null where ``which`` < 0 or beyond the list)."""
    if parts.offset:
        parts = pa.concat_arrays([parts])
    offsets = parts.offsets.to_numpy()
    lengths = np.diff(offsets)
    ok = (which >= 0) & (which < lengths)
    flat_idx = np.where(ok, offsets[:-1] + which, 0)
    vals = parts.values
    if len(vals) == 0:
        return pa.nulls(len(which), pa.string())
    taken = vals.take(pa.array(flat_idx))
    return _arr(pc.if_else(pa.array(ok), taken, pa.scalar(None, pa.string())))


def _genotypes(table: pa.Table, header: VcfHeader, gt_type: pa.DataType) -> pa.Array:
    n, s = table.num_rows, len(header.samples)
    fmt = _arr(table["FORMAT"])
    per_sample = _arr(pc.split_pattern(_arr(table["SAMPLES"]), "\t"))
    samples_flat = per_sample.values if not per_sample.offset else pa.concat_arrays([per_sample]).values
    if len(samples_flat) != n * s:
        raise ValueError(f"SAMPLES has {len(samples_flat)} sample fields for {n} records x {s} samples")
    parts = _arr(pc.split_pattern(samples_flat, ":"))
    struct_type = gt_type.value_type
    children: list[pa.Array] = []
    for field in struct_type:
        if field.name == "sampleId":
            children.append(pa.array(header.samples, pa.string()).take(pa.array(np.tile(np.arange(s), n))))
            continue
        if field.name in ("calls", "phased"):
            continue
        key = next(k for k in header.format if format_field_name(k) == field.name and k != "GT")
        which = np.repeat(_format_index(fmt, key), s)
        children.append(_convert(_pick(parts, which), field.type))
    gt = _pick(parts, np.repeat(_format_index(fmt, "GT"), s))
    # '|' -> '/' then a plain split: several times faster than splitting on a regex.
    alleles = _arr(pc.split_pattern(pc.replace_substring(gt, "|", "/"), "/"))
    if alleles.offset:
        alleles = pa.concat_arrays([alleles])
    call_vals = pc.fill_null(_to_scalar(alleles.values, pa.int32()), -1)
    calls = pa.ListArray.from_arrays(alleles.offsets, call_vals, type=pa.list_(pa.int32()), mask=pc.is_null(gt))
    # Like htslib (VCF 4.4): a haploid call has no order to lose, so it counts as phased.
    haploid = pc.equal(pc.list_value_length(alleles), 1)
    phased = _arr(pc.fill_null(pc.or_(pc.match_substring(gt, "|"), haploid), False))
    children.insert(1, calls)
    children.insert(2, phased)
    structs = pa.StructArray.from_arrays(children, fields=list(struct_type))
    offsets = pa.array(np.arange(0, n * s + 1, s, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, structs, type=gt_type)


def text_to_typed(table: pa.Table, header: VcfHeader) -> pa.Table:
    """The Glow-named typed table (see module doc) for a VCF text table; schema = :func:`typed_schema`."""
    schema = typed_schema(header)
    n = table.num_rows
    if n == 0:
        return schema.empty_table()
    pos = _arr(table["POS"])
    start = pc.subtract(pos, 1)
    ref = _arr(table["REF"])
    cols: dict[str, pa.Array] = {
        "contigName": _arr(table["CHROM"]),
        "start": _arr(start),
        "end": _arr(pc.add(start, pc.cast(pc.utf8_length(ref), pa.int64()))),
        "names": _split_or_empty(table["ID"], ";"),
        "referenceAllele": ref,
        "alternateAlleles": _split_or_empty(table["ALT"], ","),
        "qual": _to_scalar(table["QUAL"], pa.float64()),
        "filters": _split_or_empty(table["FILTER"], ";"),
        "splitFromMultiAllelic": pa.array(np.zeros(n, dtype=bool)),
    }
    cols.update(_info_columns(_arr(table["INFO"]), header))
    if header.samples:
        cols["genotypes"] = _genotypes(table, header, schema.field("genotypes").type)
    return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)

"""Vectorised normalization of one batch of a VCF text table (numpy/Arrow; Python only where needed).

Most records need nothing but a REF check: a biallelic SNV whose REF base equals the reference is left
exactly as it was. Such rows are found and checked in bulk (one array lookup into the contig's sequence);
every other row (indels, MNVs, multi-allelics to split, REF mismatches, symbolic alleles) goes through
:class:`~raygen.normalize.records.RecordNormalizer` one by one.

Output rows carry ``KEY`` (int64): ``batch_key + row * 256 + sub`` where ``sub`` numbers the records one
input row became. Sorting by (contig rank, POS, KEY) afterwards reproduces bcftools' output order: its
buffer inserts each new record after all records with a position not greater than its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.normalize.records import RecordNormalizer, RecordRejected

#: Output schema of :func:`normalize_batch`: the text-table columns plus the ordering key.
OUT_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "SAMPLES", "KEY")
OUT_SCHEMA = pa.schema([
    ("CHROM", pa.string()), ("POS", pa.int64()), ("ID", pa.string()), ("REF", pa.string()),
    ("ALT", pa.string()), ("QUAL", pa.string()), ("FILTER", pa.string()), ("INFO", pa.string()),
    ("FORMAT", pa.string()), ("SAMPLES", pa.string()), ("KEY", pa.int64()),
])
#: Records one input row may become (split ALTs) before KEYs of neighbouring rows collide.
SUB_SLOTS = 256
ROW_SLOTS = 1 << 24  # rows per batch

_BASES = np.zeros(256, dtype=bool)
_BASES[[ord(c) for c in "ACGT"]] = True


@dataclass
class BatchResult:
    """Normalized records of one batch and the input rows rejected while normalizing it."""

    records: pa.Table
    rejects: list[tuple[int | None, str, str]] = field(default_factory=list)  # (LINE, reason, text)


def _first_bytes(arr: pa.Array) -> np.ndarray:
    """First byte of every string (0 for empty strings) without a Python loop."""
    arr = arr.cast(pa.large_string()) if arr.type == pa.string() else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None or len(arr) == 0:
        return np.zeros(len(arr), dtype=np.uint8)
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = offsets[:-1]
    lens = offsets[1:] - starts
    out = np.zeros(len(arr), dtype=np.uint8)
    nz = lens > 0
    out[nz] = buf[starts[nz]]
    return out


def _as_array(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def fast_mask(table: pa.Table, normalizer: RecordNormalizer) -> np.ndarray:
    """Rows that provably stay unchanged apart from the REF check (which the caller does in bulk)."""
    opts = normalizer.opts
    n = table.num_rows
    alt = _as_array(table["ALT"])
    ref = _as_array(table["REF"])
    if normalizer.contigs is None:
        if not opts.split:
            return np.ones(n, dtype=bool)
        return ~pc.match_substring(alt, ",").to_numpy(zero_copy_only=False)
    if not opts.realign and "s" not in opts.check_ref:
        return ~pc.match_substring(alt, ",").to_numpy(zero_copy_only=False) if opts.split else np.ones(n, bool)
    single = np.logical_and(pc.equal(pc.binary_length(ref), 1).to_numpy(zero_copy_only=False),
                            pc.equal(pc.binary_length(alt), 1).to_numpy(zero_copy_only=False))
    rb, ab = _first_bytes(ref), _first_bytes(alt)
    return single & _BASES[rb] & _BASES[ab] & (rb != ab)


def normalize_batch(table: pa.Table, normalizer: RecordNormalizer, batch_key: int) -> BatchResult:
    """Normalize one text-table batch (rows in input order); see the module docstring for ``KEY``."""
    n = table.num_rows
    if n >= ROW_SLOTS:
        raise ValueError(f"batches are limited to {ROW_SLOTS} rows")
    mask = fast_mask(table, normalizer)
    rejects: list[tuple[int | None, str, str]] = []
    if normalizer.contigs is not None and mask.any():
        mask = _check_ref_bulk(table, mask, normalizer)
    keys = batch_key + np.arange(n, dtype=np.int64) * SUB_SLOTS
    fast = table.select(list(OUT_COLUMNS[:-1])).filter(pa.array(mask))
    fast = fast.append_column("KEY", pa.array(keys[mask]))
    slow_idx = np.flatnonzero(~mask)
    if len(slow_idx) == 0:
        return BatchResult(fast.cast(OUT_SCHEMA), rejects)
    sub = table.take(pa.array(slow_idx))
    cols = {c: sub[c].to_pylist() for c in ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                                            "FORMAT", "SAMPLES")}
    lines = sub["LINE"].to_pylist() if "LINE" in sub.column_names else [None] * len(slow_idx)
    out_rows: list[list] = []
    out_keys: list[int] = []
    for j, row in enumerate(slow_idx):
        f = [cols["CHROM"][j], str(cols["POS"][j]), cols["ID"][j], cols["REF"][j], cols["ALT"][j],
             cols["QUAL"][j], cols["FILTER"][j], cols["INFO"][j]]
        fmt, smp = cols["FORMAT"][j], cols["SAMPLES"][j]
        if fmt is not None:
            f.append(fmt)
            if smp is not None:
                f.extend(smp.split("\t"))
        try:
            recs = normalizer.process(f, validated=True)
        except RecordRejected as exc:
            rejects.append((lines[j], exc.reason, "\t".join(f)))
            continue
        for rec, reason in normalizer.partial_rejects:
            rejects.append((lines[j], reason, "\t".join(rec)))
        normalizer.partial_rejects.clear()
        base = int(keys[row])
        for s, rec in enumerate(recs):
            out_rows.append(rec)
            out_keys.append(base + s)
    slow = _rows_to_table(out_rows, out_keys)
    return BatchResult(pa.concat_tables([fast.cast(OUT_SCHEMA), slow]), rejects)


def _rows_to_table(rows: list[list], keys: list[int]) -> pa.Table:
    def col(i):
        return [r[i] for r in rows]

    fmt = [r[8] if len(r) > 8 else None for r in rows]
    smp = ["\t".join(r[9:]) if len(r) > 9 else None for r in rows]
    return pa.Table.from_arrays([
        pa.array(col(0), pa.string()), pa.array([int(r[1]) for r in rows], pa.int64()),
        *(pa.array(col(i), pa.string()) for i in range(2, 8)),
        pa.array(fmt, pa.string()), pa.array(smp, pa.string()), pa.array(keys, pa.int64()),
    ], schema=OUT_SCHEMA)


def _check_ref_bulk(table: pa.Table, mask: np.ndarray, normalizer: RecordNormalizer) -> np.ndarray:
    """Clear ``mask`` for rows whose 1-base REF differs from the reference (they take the slow path)."""
    chrom = _as_array(table["CHROM"])
    pos = table["POS"].to_numpy()
    refb = _first_bytes(_as_array(table["REF"]))
    mask = mask.copy()
    uniq = pc.unique(chrom).to_pylist()
    for c in uniq:
        rows = np.flatnonzero(pc.equal(chrom, c).to_numpy(zero_copy_only=False)) if len(uniq) > 1 else np.arange(len(mask))
        rows = rows[mask[rows]]
        if len(rows) == 0:
            continue
        try:
            seq = normalizer.contigs.array(c)
        except KeyError:
            mask[rows] = False  # missing contig: the slow path rejects them with the reason
            continue
        p0 = pos[rows] - 1
        inside = (p0 >= 0) & (p0 < len(seq))
        ok = np.zeros(len(rows), dtype=bool)
        ok[inside] = seq[p0[inside]] == refb[rows[inside]]
        mask[rows[~ok]] = False
    return mask

"""Cross-record steps on normalized records: output order, duplicate removal (-d) and joining (-m +).

These run on the whole sorted stream after the per-record work, which is what bcftools' output buffer
sees. Ordering is vectorised (Arrow sort); -d and -m + look only at runs of records that share a position.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.normalize.fast import _rows_to_table
from raygen.schema import NORMALIZED_SCHEMA


def sort_records(table: pa.Table, ranks: dict[str, int], method: str = "chr_pos") -> pa.Table:
    """Sort as bcftools norm writes: contigs in input order, then POS, then input order (``KEY``).

    ``method='lex'`` (``-S lex``) orders records at one position by REF then ALT text instead, ignoring case.
    """
    if table.num_rows == 0:
        return table
    rank = pc.index_in(table["CHROM"], value_set=pa.array(list(ranks), pa.string()))
    t = table.append_column("_RANK", rank)
    keys = [("_RANK", "ascending"), ("POS", "ascending")]
    if method == "lex":
        # bcftools compares REF, then the ALTs, with strcasecmp; ALT "." is no ALT at all (one allele), so it
        # sorts before every record that has one
        alt = pc.if_else(pc.equal(t["ALT"], "."), "", pc.utf8_lower(t["ALT"]))
        t = t.append_column("_REF", pc.utf8_lower(t["REF"])).append_column("_ALT", alt)
        keys += [("_REF", "ascending"), ("_ALT", "ascending")]
    keys.append(("KEY", "ascending"))
    r = t["_RANK"].to_numpy()
    p = t["POS"].to_numpy()
    k = t["KEY"].to_numpy()
    if method != "lex" and len(r) > 1:
        # already in order (the usual case for sorted input): skip the sort
        dr, dp, dk = np.diff(r), np.diff(p), np.diff(k)
        if np.all((dr > 0) | ((dr == 0) & ((dp > 0) | ((dp == 0) & (dk > 0))))):
            return table
    if method == "lex":
        idx = pc.sort_indices(t, sort_keys=keys)
    else:
        # one int64 per row (contig rank above POS) and a stable numpy sort: cheaper than Arrow's multi-key sort
        idx = np.lexsort((k, (r.astype(np.int64) << 36) | p))
    return table.take(pa.array(idx))


def same_pos_runs(table: pa.Table) -> list[tuple[int, int]]:
    """``[start, end)`` row ranges of two or more consecutive records with the same CHROM and POS."""
    n = table.num_rows
    if n < 2:
        return []
    pos = table["POS"].to_numpy()
    chrom = table["CHROM"]
    same = (pos[1:] == pos[:-1]) & pc.equal(chrom.slice(1), chrom.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    if not same.any():
        return []
    runs = []
    idx = np.flatnonzero(same)
    start = prev = None
    for j in idx:
        if start is None:
            start = prev = j
        elif j == prev + 1:
            prev = j
        else:
            runs.append((int(start), int(prev) + 2))
            start = prev = j
    if start is not None:
        runs.append((int(start), int(prev) + 2))
    return runs


def table_rows(table: pa.Table) -> list[list[str]]:
    """Text-table rows as VCF column lists (the slow-path representation)."""
    d = {c: table[c].to_pylist() for c in NORMALIZED_SCHEMA.names}
    rows = []
    for i in range(table.num_rows):
        f = [d["CHROM"][i], str(d["POS"][i]), d["ID"][i], d["REF"][i], d["ALT"][i], d["QUAL"][i], d["FILTER"][i],
             d["INFO"][i]]
        if d["FORMAT"][i] is not None:
            f.append(d["FORMAT"][i])
            if d["SAMPLES"][i] is not None:
                f.extend(d["SAMPLES"][i].split("\t"))
        rows.append(f)
    return rows


def rows_table(rows: list[list[str]], keys: list[int]) -> pa.Table:
    return _rows_to_table(rows, keys)


def apply_runs(table: pa.Table, fn) -> tuple[pa.Table, int]:
    """Replace every same-position run by ``fn(rows) -> rows``; returns the new table and rows removed."""
    runs = same_pos_runs(table)
    if not runs:
        return table, 0
    pieces = []
    prev = 0
    removed = 0
    for a, b in runs:
        if a > prev:
            pieces.append(table.slice(prev, a - prev))
        sub = table.slice(a, b - a)
        rows = table_rows(sub)
        keys = sub["KEY"].to_pylist()
        new_rows = fn(rows)
        removed += len(rows) - len(new_rows)
        pieces.append(rows_table(new_rows, (keys + [keys[-1]] * len(new_rows))[: len(new_rows)]))
        prev = b
    if prev < table.num_rows:
        pieces.append(table.slice(prev))
    return pa.concat_tables(pieces), removed

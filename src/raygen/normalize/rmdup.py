"""``-d/--rm-dup`` and ``-m +`` (join) on the sorted record stream, as bcftools' output buffer applies them.

Only runs of records sharing CHROM and POS are touched (found vectorised). Within a run, ported from
bcftools 1.24's ``flush_buffer``: the first record is kept; a later one is dropped when

- ``all``/``any``: always (one record per position);
- ``snps`` (``both``): it has a SNV/MNV ALT and an earlier kept record had one (htslib's type masks);
- ``indels`` (``both``): the same for indels;
- ``exact``/``none``: an earlier kept record has the same number of alleles, the same REF (ignoring case)
  and, for biallelic records, the same ALT (ignoring case; a symbolic ALT with its INFO/SVLEN), for
  multi-allelic ones the same set of ALT strings (case counts), as bcftools' ``cmpals``.

With ``-m +`` bcftools joins and never removes duplicates (its flush takes one branch or the other).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from raygen.normalize import bcfrec
from raygen.normalize.bcfrec import VCF_INDEL, VCF_MNP, VCF_SNP
from raygen.io.header import VcfHeader
from raygen.normalize.join import join_rows
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.fast import is_filtered
from raygen.normalize.postprocess import apply_runs, rows_table, same_pos_runs, table_rows

_MODES = {"snps": {"snps"}, "indels": {"indels"}, "both": {"snps", "indels"}, "all": {"all"}, "any": {"all"},
          "exact": {"exact"}, "none": {"exact"}}


def _alt_svlen(f: list[str], hdr: VcfHeader) -> str:
    alt = f[4]
    if not alt.startswith("<") or "SVLEN=" not in f[7]:
        return alt
    item = next((it for it in bcfrec.parse_info(f[7], hdr.info_type) if it[0] == "SVLEN" and it[1] == "int"), None)
    if item is None or not item[2]:
        return alt
    v = item[2][0]
    return f"{alt}.{-2147483648 if v is None else v}"


def _same_alleles(f: list[str], g: list[str], hdr: VcfHeader) -> bool:
    """bcftools' ``cmpals_match`` of record ``f`` against a kept record ``g``."""
    fa = f[4].split(",") if f[4] != "." else []
    ga = g[4].split(",") if g[4] != "." else []
    if len(fa) != len(ga) or f[3].upper() != g[3].upper():
        return False
    if len(fa) == 1:
        return _alt_svlen(f, hdr).upper() == _alt_svlen(g, hdr).upper()
    return set(fa) <= set(ga)


def dedup_rows(rows: list[list[str]], mode: str, hdr: VcfHeader | None = None) -> list[list[str]]:
    """Rows at one position with duplicates removed under ``-d mode``; order kept."""
    flags = _MODES[mode]
    hdr = hdr or VcfHeader(meta=[])
    out = [rows[0]]
    prev = bcfrec.variant_types([rows[0][3], *(rows[0][4].split(",") if rows[0][4] != "." else [])])
    for f in rows[1:]:
        t = bcfrec.variant_types([f[3], *(f[4].split(",") if f[4] != "." else [])])
        if "all" in flags:
            continue
        if "snps" in flags and t & (VCF_SNP | VCF_MNP) and prev & (VCF_SNP | VCF_MNP):
            continue
        if "indels" in flags and t & VCF_INDEL and prev & VCF_INDEL:
            continue
        if "exact" in flags and any(_same_alleles(f, g, hdr) for g in out):
            continue
        prev |= t
        out.append(f)
    return out


def join_and_dedup(table: pa.Table, hdr: VcfHeader, opts: NormalizeOptions, counts: Counts) -> pa.Table:
    """Apply ``-m +TYPE`` or ``-d MODE`` to a sorted normalized table (bcftools does one or the other).

    Rows that -i/-e left out (:func:`raygen.normalize.fast.is_filtered`) take no part: bcftools writes them as
    they come, so with ``-m +`` they go out ahead of a joined record still waiting for its position to end.
    """
    filtered = is_filtered(table["KEY"].to_numpy()) if table.num_rows else np.zeros(0, bool)
    if opts.join:
        before = table.num_rows
        if filtered.any():
            table = _join_stream(table, filtered, lambda rows: join_rows(rows, hdr, opts))
        else:
            table, _ = apply_runs(table, lambda rows: join_rows(rows, hdr, opts))
        counts.joined += before - table.num_rows
    elif opts.rm_dup:
        if filtered.any():
            keep = np.ones(table.num_rows, dtype=bool)
            for a, b in same_pos_runs(table):
                idx = [i for i in range(a, b) if not filtered[i]]
                rows = table_rows(table.take(pa.array(idx))) if idx else []
                kept = {id(r) for r in dedup_rows(rows, opts.rm_dup, hdr)} if rows else set()
                for i, r in zip(idx, rows):
                    keep[i] = id(r) in kept
            removed = int((~keep).sum())
            table = table.filter(pa.array(keep))
        else:
            table, removed = apply_runs(table, lambda rows: dedup_rows(rows, opts.rm_dup, hdr))
        counts.dup_removed += removed
    return table


def _join_stream(table: pa.Table, filtered: np.ndarray, join) -> pa.Table:
    """``-m +`` over the whole stream as bcftools' output buffer does it when some records were filtered out:
    those are written at once, the others joined per position when the next kept position arrives."""
    rows = table_rows(table)
    keys = table["KEY"].to_pylist()
    out, out_keys, pending = [], [], []
    for f, k, skip in zip(rows, keys, filtered):
        if skip:
            out.append(f)
            out_keys.append(k)
            continue
        if pending and (pending[0][0][0], pending[0][0][1]) != (f[0], f[1]):
            joined = join([r for r, _ in pending])
            out += joined
            out_keys += [pending[0][1]] * len(joined)
            pending = []
        pending.append((f, k))
    if pending:
        joined = join([r for r, _ in pending])
        out += joined
        out_keys += [pending[0][1]] * len(joined)
    return rows_table(out, out_keys)

"""``-d/--rm-dup`` and ``-m +`` (join) on the sorted record stream, as bcftools' output buffer applies them.

Only runs of records sharing CHROM and POS are touched (found vectorised); within a run the rules are:

- ``snps`` / ``indels`` / ``both``: drop a record that has a SNV/MNV (resp. indel) ALT, as htslib classes
  them, when an earlier kept record at the position had one too (records of mixed type count as both).
- ``all``: keep only the first record at a position.
- ``exact`` and ``none``: drop a record whose REF and set of ALTs (with SVLEN/END for symbolic ALTs) equal
  an earlier record's.
"""

from __future__ import annotations

import pyarrow as pa

from raygen.normalize.header import HeaderInfo
from raygen.normalize.multiallelic import info_get
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.postprocess import apply_runs
from raygen.normalize.records import htslib_type

#: htslib classes -> the families bcftools' ``-d`` compares (VCF_SNP|VCF_MNP and VCF_INDEL).
_FAMILY = {"snp": "snps", "mnp": "snps", "indel": "indels"}


def _types(f: list[str]) -> set[str]:
    alts = f[4].split(",") if f[4] != "." else []
    return {_FAMILY.get(htslib_type(f[3], a), "other") for a in alts}


def _exact_key(f: list[str]) -> tuple:
    alts = f[4].split(",") if f[4] != "." else []
    sym = tuple(info_get(f[7], k) for k in ("SVLEN", "END")) if any(a.startswith("<") for a in alts) else ()
    return f[3].upper(), frozenset(a.upper() for a in alts), sym


def dedup_rows(rows: list[list[str]], mode: str) -> list[list[str]]:
    """Rows at one position with duplicates removed under ``-d mode``; order kept."""
    if mode in ("all", "any"):
        return rows[:1]
    out = []
    if mode in ("exact", "none"):
        seen = set()
        for f in rows:
            k = _exact_key(f)
            if k in seen:
                continue
            seen.add(k)
            out.append(f)
        return out
    want = {"snps": {"snps"}, "indels": {"indels"}, "both": {"snps", "indels"}}[mode]
    prev: set[str] = set()
    for f in rows:
        t = _types(f) & want
        if t & prev:
            continue
        prev |= _types(f)
        out.append(f)
    return out


def join_and_dedup(table: pa.Table, hdr: HeaderInfo, opts: NormalizeOptions, counts: Counts) -> pa.Table:
    """Apply ``-m +TYPE`` then ``-d MODE`` to a sorted normalized table."""
    if opts.join:
        from raygen.normalize.join import join_rows

        before = table.num_rows
        table, _ = apply_runs(table, lambda rows: join_rows(rows, hdr, opts))
        counts.joined += before - table.num_rows
    if opts.rm_dup:
        table, removed = apply_runs(table, lambda rows: dedup_rows(rows, opts.rm_dup))
        counts.dup_removed += removed
    return table

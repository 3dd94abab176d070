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

import pyarrow as pa

from raygen.normalize import bcfrec
from raygen.normalize.bcfrec import VCF_INDEL, VCF_MNP, VCF_SNP
from raygen.io.header import VcfHeader
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.postprocess import apply_runs

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
    """Apply ``-m +TYPE`` then ``-d MODE`` to a sorted normalized table."""
    if opts.join:
        from raygen.normalize.join import join_rows

        before = table.num_rows
        table, _ = apply_runs(table, lambda rows: join_rows(rows, hdr, opts))
        counts.joined += before - table.num_rows
    elif opts.rm_dup:
        table, removed = apply_runs(table, lambda rows: dedup_rows(rows, opts.rm_dup, hdr))
        counts.dup_removed += removed
    return table

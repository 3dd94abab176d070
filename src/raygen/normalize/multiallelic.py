"""Split multi-allelic VCF records into biallelic ones (``bcftools norm -m -``), on VCF text fields.

A record is the list of its tab-separated VCF columns as strings (CHROM, POS, ID, REF, ALT, QUAL, FILTER,
INFO, FORMAT, sample...). Values are sliced as text, so numbers keep their exact spelling. Fields with
``Number=A`` keep the ALT's value, ``R`` the REF's and the ALT's, ``G`` the genotype likelihoods of
0/0, 0/k, k/k (0 and k for haploid samples); GT alleles other than k become 0 (or ``.`` with
``--multi-overlaps .``), phasing and ploidy are kept.
"""

from __future__ import annotations

import functools
import re

import numpy as np
from collections.abc import Sequence

from raygen.io.header import VcfHeader

_GT_SPLIT = re.compile(r"([/|])")


class MalformedTag(ValueError):
    """A Number=A/R/G tag holds the wrong number of values (bcftools: error unless --force)."""


def parse_info(info: str) -> list[list]:
    """``INFO`` text -> list of ``[key, value-or-None]`` (None for flags); ``.`` gives an empty list."""
    if info == "." or not info:
        return []
    out = []
    for item in info.split(";"):
        if not item:
            continue
        k, eq, v = item.partition("=")
        out.append([k, v if eq else None])
    return out


def join_info(items: Sequence[Sequence]) -> str:
    if not items:
        return "."
    return ";".join(k if v is None else f"{k}={v}" for k, v in items)


def info_get(info: str, key: str) -> str | None:
    """Value of INFO ``key`` (``""`` for a flag, None when absent)."""
    for k, v in parse_info(info):
        if k == key:
            return "" if v is None else v
    return None


def info_set(info: str, key: str, value: str | None, overwrite: bool = True) -> str:
    items = parse_info(info)
    for it in items:
        if it[0] == key:
            if overwrite:
                it[1] = value
            return join_info(items)
    items.append([key, value])
    return join_info(items)


def htslib_float(v: str) -> str:
    """A Float value as htslib writes it after parsing (single precision, ``%g``): ``4.0`` -> ``4``."""
    if v in (".", ""):
        return v
    try:
        x = float(np.float32(float(v)))
    except ValueError:
        return v
    if x != x or x in (float("inf"), float("-inf")):
        return v
    return f"{x:g}"


def htslib_int(v: str) -> str:
    """An Integer value as htslib writes it after parsing: ``00`` -> ``0``."""
    try:
        return str(int(v))
    except ValueError:
        return v


_REFORMAT = {"Float": htslib_float, "Integer": htslib_int}


def reformat_floats(rec: list[str], hdr: VcfHeader) -> list[str]:
    """Rewrite Float/Integer INFO/FORMAT values of a record that htslib would have re-serialized."""
    float_info = [k for k, t in hdr.info_type.items() if t in _REFORMAT]
    if float_info and rec[7] != ".":
        items = parse_info(rec[7])
        for it in items:
            fn = _REFORMAT.get(hdr.info_type.get(it[0], ""))
            if it[1] is not None and fn is not None:
                it[1] = ",".join(fn(x) for x in it[1].split(","))
        rec[7] = join_info(items)
    if len(rec) > 9:
        keys = rec[8].split(":")
        fl = [(j, _REFORMAT[hdr.format_type[k]]) for j, k in enumerate(keys) if hdr.format_type.get(k) in _REFORMAT]
        if fl:
            for si in range(9, len(rec)):
                parts = rec[si].split(":")
                for j, fn in fl:
                    if j < len(parts):
                        parts[j] = ",".join(fn(x) for x in parts[j].split(","))
                rec[si] = ":".join(parts)
    return rec


def g_indices(k: int, ploidy: int) -> list[int]:
    """Indices of the Number=G values of genotypes 0/0, 0/k, k/k (diploid) or 0, k (haploid)."""
    if ploidy == 1:
        return [0, k]
    base = k * (k + 1) // 2
    return [0, base, base + k]


def _subset(values: list[str], number: str, k: int, n_alleles: int, ploidy: int,
            lenient: bool = False) -> list[str] | None:
    """Values kept for ALT ``k``; None when the count is wrong for the tag's Number.

    ``lenient`` (INFO strings, which htslib does not count): index without checking the count.
    """
    if values == ["."]:
        return values
    if lenient:  # htslib keeps a string with more values than needed, not with fewer
        need = {"A": n_alleles - 1, "R": n_alleles, "G": n_alleles * (n_alleles + 1) // 2}[number]
        idx = {"A": [k - 1], "R": [0, k], "G": g_indices(k, 2)}[number]
        return [values[i] for i in idx] if len(values) >= need else None
    if number == "A":
        return [values[k - 1]] if len(values) == n_alleles - 1 else None
    if number == "R":
        return [values[0], values[k]] if len(values) == n_alleles else None
    if number == "G":
        if ploidy == 1 and len(values) == n_alleles:
            return [values[i] for i in g_indices(k, 1)]
        if len(values) == n_alleles * (n_alleles + 1) // 2:
            return [values[i] for i in g_indices(k, 2)]
        if len(values) == n_alleles:  # haploid values where GT does not say
            return [values[i] for i in g_indices(k, 1)]
        return None
    return values


def _keep_sum(values: list[str], kept: list[str]) -> list[str]:
    """Number=R values for ALT k with the REF entry made the sum of all other alleles (``--keep-sum``)."""
    try:
        nums = [float(v) for v in values]
    except ValueError:
        return kept
    total = sum(nums) - float(kept[1])
    ref = str(int(total)) if total == int(total) and all("." not in v and "e" not in v for v in values) else f"{total:g}"
    return [ref, kept[1]]


@functools.lru_cache(maxsize=65536)
def split_gt(gt: str, k: int, other: str) -> str:
    """GT for the biallelic record of ALT ``k``: k -> 1, 0 -> 0, other ALTs -> ``other`` ('0' or '.')."""
    parts = _GT_SPLIT.split(gt)
    for i in range(0, len(parts), 2):
        a = parts[i]
        if a == "." or a == "":
            continue
        if a == str(k):
            parts[i] = "1"
        elif a == "0":
            parts[i] = "0"
        else:
            parts[i] = other
    return "".join(parts)


def _ploidy(gt: str | None) -> int:
    if gt is None or gt == "":
        return 2
    return gt.count("/") + gt.count("|") + 1


def split_record(f: Sequence[str], hdr: VcfHeader, *, missing_overlaps: bool = False,
                 keep_sum: Sequence[str] = (), old_rec_tag: str | None = None,
                 force: bool = False) -> list[list[str]]:
    """Split one multi-allelic record (VCF text columns) into one record per ALT, in ALT order.

    Raises :class:`MalformedTag` when a Number=A/R/G tag has the wrong count, unless ``force`` (then the tag
    is dropped from the affected records, as bcftools --force does).
    """
    alts = f[4].split(",")
    n_alleles = len(alts) + 1
    info = parse_info(f[7])
    has_fmt = len(f) > 8
    fmt_keys = f[8].split(":") if has_fmt else []
    samples = [s.split(":") for s in f[9:]]
    gt_i = fmt_keys.index("GT") if "GT" in fmt_keys else -1
    ploidies = [_ploidy(s[gt_i] if 0 <= gt_i < len(s) else None) for s in samples]
    other = "." if missing_overlaps else "0"
    old = f"{f[0]}|{f[1]}|{f[3]}|{f[4]}" if old_rec_tag else None

    # Per FORMAT key: what to do with it (0: copy, 1: GT, 2: Number=A/R/G); values split once per sample.
    plan = []
    for j, key in enumerate(fmt_keys):
        number = hdr.format_number.get(key, ".")
        kind = 1 if key == "GT" else (2 if number in ("A", "R", "G") else 0)
        vals = [(s[j].split(",") if j < len(s) else None) for s in samples] if kind == 2 else None
        plan.append((j, key, number, kind, vals))
    info_plan = []
    for key, val in info:
        number = hdr.info_number.get(key, ".")
        if val is None or number not in ("A", "R", "G"):
            info_plan.append((key, val, None, None))
        else:
            info_plan.append((key, val, number, val.split(",")))
    nsamp = len(samples)
    out = []
    for k in range(1, n_alleles):
        new_info = []
        for key, val, number, vals in info_plan:
            if number is None:
                new_info.append([key, val])
                continue
            kept = _subset(vals, number, k, n_alleles, 2, lenient=hdr.info_type.get(key) == "String")
            if kept is None:
                if force:
                    continue
                raise MalformedTag(f"INFO/{key} has {len(vals)} values, Number={number} with {n_alleles} alleles")
            if number == "R" and key in keep_sum and kept != ["."]:
                kept = _keep_sum(vals, kept)
            new_info.append([key, ",".join(kept)])
        if old_rec_tag and not any(key == old_rec_tag for key, _ in new_info):
            new_info.append([old_rec_tag, f"{old}|{k}"])
        rec = [f[0], f[1], f[2], f[3], alts[k - 1], f[5], f[6], join_info(new_info)]
        if has_fmt:
            keep_keys = []
            cols = []
            for j, key, number, kind, vals in plan:
                if kind == 1:
                    keep_keys.append(key)
                    cols.append([split_gt(s[j], k, other) if j < len(s) else None for s in samples])
                    continue
                if kind == 0:
                    keep_keys.append(key)
                    cols.append([s[j] if j < len(s) else None for s in samples])
                    continue
                col = []
                bad = False
                for si in range(nsamp):
                    v = vals[si]
                    if v is None:
                        col.append(_missing(number, ploidies[si]))
                        continue
                    if v == ["."]:
                        col.append(_missing(number, ploidies[si]))
                        continue
                    kept = _subset(v, number, k, n_alleles, ploidies[si])
                    if kept is None:
                        bad = True
                        break
                    if number == "R" and key in keep_sum:
                        kept = _keep_sum(v, kept)
                    col.append(",".join(kept))
                if bad:
                    if force:
                        continue
                    raise MalformedTag(f"FORMAT/{key} has the wrong number of values for Number={number} "
                                       f"with {n_alleles} alleles")
                keep_keys.append(key)
                cols.append(col)
            rec.append(":".join(keep_keys))
            for si in range(nsamp):
                vals_ = [c[si] for c in cols]
                rec.append(":".join(v if v is not None else "." for v in vals_) if vals_ else ".")
        out.append(reformat_floats(rec, hdr))
    return out


def _missing(number: str, ploidy: int) -> str:
    """htslib's text for an all-missing Number=A/R/G vector of a biallelic record."""
    return "." if number == "A" else (".,." if number == "R" or ploidy == 1 else ".,.,.")

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

from collections.abc import Sequence

from raygen.normalize import bcfrec
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


def split_record(f: Sequence[str], hdr: VcfHeader, *, missing_overlaps: bool = False,
                 keep_sum: Sequence[str] = (), old_rec_tag: str | None = None,
                 force: bool = False) -> list[list[str]]:
    """Split one multi-allelic record (VCF text columns) into one record per ALT, in ALT order, exactly as
    bcftools 1.24's ``split_multiallelic_to_biallelics`` does on htslib's parsed record.

    Raises :class:`MalformedTag` where bcftools stops (a numeric Number=A/R/G tag with the wrong count, an
    INFO one written as a single ``.`` included), unless ``force`` (the tag is then left out, as --force does).
    """
    rec = bcfrec.parse(list(f), hdr)
    old = f"{f[0]}|{f[1]}|{f[3]}|{f[4]}" if old_rec_tag else None
    out = []
    for ialt in range(len(rec.alleles) - 1):
        dst = bcfrec.Rec(rec.chrom, rec.pos, rec.id, [rec.alleles[0], rec.alleles[ialt + 1]], rec.qual,
                         rec.filters, [], [], rec.n_sample)
        seen: set[str] = set()
        for item in rec.info:
            if item[0] in seen:  # bcftools reads and updates a repeated tag's first copy: the rest go
                continue
            seen.add(item[0])
            new = _split_info(item, rec, ialt, hdr, keep_sum, force)
            if new is not None:
                dst.info.append(new)
        if old_rec_tag and dst.info_item(old_rec_tag) is None:
            dst.info.append([old_rec_tag, "str", f"{old}|{ialt + 1}"])
        for item in rec.fmt:
            new = _split_format(item, rec, ialt, hdr, keep_sum, force, not missing_overlaps)
            if new is not None:
                dst.fmt.append(new)
        out.append(bcfrec.format_columns(dst))
    return out


def _gt_index(a: int, b: int) -> int:
    """``bcf_alleles2gt``: index of genotype a/b in a Number=G vector."""
    return b * (b + 1) // 2 + a if a <= b else a * (a + 1) // 2 + b


def _wrong_count(where: str, key: str, rec: bcfrec.Rec, want: int, got: int, force: bool) -> None:
    if not force:
        raise MalformedTag(f"wrong number of fields in {where}/{key} at {rec.chrom}:{rec.pos}, expected {want}, "
                           f"found {got}")


def _keep_sum(vals: list, ialt: int, kind: str):
    """REF entry of a split Number=R vector under --keep-sum: itself plus the other ALTs' values, in
    htslib's storage arithmetic (a missing REF entry is the int32 sentinel, as bcftools adds to it)."""
    if kind == "int":
        total = -2147483648 if vals[0] is None else int(vals[0])
        for j in range(1, len(vals)):
            if j != ialt + 1 and vals[j] is not None:
                total = (total + int(vals[j]) + 2 ** 31) % 2 ** 32 - 2 ** 31
        if total == -2147483647:  # the sum landed on htslib's vector-end sentinel: the vector prints empty
            return ""
        return None if total == -2147483648 else str(total)
    import numpy as np

    total = np.float32("nan") if vals[0] is None else np.float32(vals[0])
    for j in range(1, len(vals)):
        if j != ialt + 1 and vals[j] is not None:
            total = np.float32(total + np.float32(vals[j]))
    return bcfrec.number_text(float(total), "float")


def _r_pair(first, alt) -> list:
    """A split Number=R vector (REF entry, this ALT's entry); ``first == ""`` is a vector that ended at its
    first entry, which htslib prints as nothing (``AD=``, ``0/1:``)."""
    return [""] if first == "" else [first, alt]


def _split_info(item: list, rec: bcfrec.Rec, ialt: int, hdr: VcfHeader, keep_sum, force: bool) -> list | None:
    key, kind, val = item
    number = hdr.info_number.get(key, "1")
    n = len(rec.alleles)
    if hdr.info_type.get(key) == "Flag":
        return [key, "flag", None]  # a Flag written with a value loses it
    if kind in ("int", "float") and number in ("A", "R", "G"):
        want = {"A": n - 1, "R": n, "G": n * (n + 1) // 2}[number]
        if len(val) != want:
            _wrong_count("INFO", key, rec, want, len(val), force)
            return None
        if number == "A":
            return [key, kind, [val[ialt]]]
        if number == "R":
            first = _keep_sum(val, ialt, kind) if key in keep_sum else val[0]
            return [key, kind, _r_pair(first, val[ialt + 1])]
        return [key, kind, [val[0], val[_gt_index(0, ialt + 1)], val[_gt_index(ialt + 1, ialt + 1)]]]
    if kind == "str" and number in ("A", "R", "G"):
        text = _pick_fields(val, number, ialt)
        return [key, "str", text] if text else None  # an empty string removes the tag (htslib)
    return list(item)


def _nth(fields: list[str], k: int) -> str | None:
    """bcftools' ``string_move_nth``: field ``k`` of a comma-separated text, None where it finds none (past
    the end, or an empty last field)."""
    if k >= len(fields) or (k == len(fields) - 1 and fields[k] == ""):
        return None
    return fields[k]


def _pick_fields(text: str, number: str, ialt: int) -> str:
    """Fields of a String vector kept for ALT ``ialt`` (0-based); ``.`` when one is missing."""
    fields = text.split(",") if text else []
    if number == "A":
        v = _nth(fields, ialt)
        return "." if v is None else v
    idx = [0, ialt + 1] if number == "R" else [0, _gt_index(0, ialt + 1), _gt_index(ialt + 1, ialt + 1)]
    got, start = [], 0
    for k in idx:
        v = _nth(fields[start:], k - start) if k >= start else None
        if v is None:
            return "."
        got.append(v)
        start = k + 1
    return ",".join(got)


def _split_gt(codes: list[int], ialt: int, use_ref: bool) -> list[int]:
    out = []
    for c in codes:
        a = bcfrec.gt_allele(c)
        if a is None or a == 0:
            out.append(c)
        elif a == ialt + 1:
            out.append(bcfrec.make_gt(1, c))
        else:
            out.append(bcfrec.make_gt(0 if use_ref else None, c))
    return out


def _split_format(item: list, rec: bcfrec.Rec, ialt: int, hdr: VcfHeader, keep_sum, force: bool,
                  use_ref: bool) -> list | None:
    key, kind, vals = item
    if kind == "gt":
        return [key, kind, [_split_gt(v, ialt, use_ref) for v in vals]]
    if kind == "str" and all(v is None for v in vals):
        return None  # width 0: bcftools' split leaves the field out
    number = hdr.format_number.get(key, "1")
    if number not in ("A", "R", "G"):
        return [key, kind, list(vals)]
    if kind in ("int", "float"):
        return _split_format_numeric(key, kind, number, vals, rec, ialt, keep_sum, force)
    if number == "G":
        return _split_format_string_g(key, vals, rec, ialt, force)
    return [key, kind, [_pick_fields(v, number, ialt) for v in vals]]


def _split_format_numeric(key, kind, number, vals, rec, ialt, keep_sum, force) -> list | None:
    n = len(rec.alleles)
    width = max((len(v) for v in vals), default=0)
    if width == 1:  # bcftools: "all values are missing" (one value per sample): copied as they are
        return [key, kind, [list(v) for v in vals]]
    if number == "A":
        if width != n - 1:
            _wrong_count("FORMAT", key, rec, n - 1, width, force)
            return None
        return [key, kind, [[v[ialt] if ialt < len(v) else None] for v in vals]]
    if number == "R":
        if width != n:
            _wrong_count("FORMAT", key, rec, n, width, force)
            return None
        out = []
        for v in vals:
            first = _keep_sum(v, ialt, kind) if key in keep_sum else v[0]
            out.append(_r_pair(first, v[ialt + 1] if ialt + 1 < len(v) else None))
        return [key, kind, out]
    if width not in (n * (n + 1) // 2, n):
        _wrong_count("FORMAT", key, rec, n * (n + 1) // 2, width, force)
        return None
    all_haploid = width == n
    out = []
    for v in vals:
        if all_haploid or len(v) < width:  # a sample whose vector ends early counts as haploid
            out.append([v[0]] + ([v[ialt + 1]] if ialt + 1 < len(v) else []))
        else:
            out.append([v[0], v[_gt_index(0, ialt + 1)], v[_gt_index(ialt + 1, ialt + 1)]])
    return [key, kind, out]


def _split_format_string_g(key, vals, rec, ialt, force) -> list | None:
    """Number=G strings, as bcftools 1.24 does them, including its slip: after a sample written ``.`` it does
    not move on, so later samples keep their text (cut to the new width)."""
    n = len(rec.alleles)
    blen = max((len(v) for v in vals), default=0)
    slots = list(vals)
    i_slot, maxlen = 0, 0
    for _ in range(len(vals)):
        v = slots[i_slot]
        fields = v.split(",")
        if v == ".":
            continue
        if len(fields) not in (n * (n + 1) // 2, n):
            _wrong_count("FORMAT", key, rec, n * (n + 1) // 2, len(fields), force)
            return None
        idx = [0, ialt + 1] if len(fields) == n else [0, _gt_index(0, ialt + 1), _gt_index(ialt + 1, ialt + 1)]
        got, start = [], 0
        for k in idx:
            x = _nth(fields[start:], k - start)
            if x is None:
                got = None
                break
            got.append(x)
            start = k + 1
        slots[i_slot] = "." if got is None else ",".join(got)
        maxlen = max(maxlen, len(slots[i_slot]))
        i_slot += 1
    if maxlen == 0:
        return None  # nothing written: bcftools' update with no values removes the tag
    if maxlen < blen:
        slots = [s[:maxlen] for s in slots]
    return [key, "str", slots]

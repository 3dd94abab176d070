"""``-m +TYPE``: join biallelic records at one position into multi-allelic ones, as bcftools norm does.

Records at a position fall into three groups by htslib's variant type: SNV/MNV, indel, other (complex);
groups are written in that order. ``snps``/``indels`` join only their group, ``both`` joins within each
group, ``any`` joins every record at the position into one. Joining extends shorter REFs, concatenates
Number=A values, keeps REF and per-ALT entries of Number=R, rebuilds Number=G vectors (``.`` where no
input record had the genotype), merges GT per sample (ALT calls fill reference slots), takes the highest
QUAL, the union of IDs and of FILTERs (PASS dropped when another filter is present; with ``-s`` a PASS
among the parts makes the site PASS, as in bcftools' own test data).
"""

from __future__ import annotations

import re

from raygen.normalize.header import HeaderInfo
from raygen.normalize.multiallelic import join_info, parse_info
from raygen.normalize.options import NormalizeOptions

_GT_SPLIT = re.compile(r"([/|])")


def htslib_type(ref: str, alt: str) -> str:
    """htslib's variant class of one ALT: ``snp`` (SNV/MNV), ``indel``, ``other``, ``ref``."""
    if alt == "*" or alt.startswith("<") or "[" in alt or "]" in alt:
        return "other"
    if len(ref) == 1 and len(alt) == 1:
        return "ref" if alt == "." or ref.upper() == alt.upper() else "snp"
    r, a = ref.upper(), alt.upper()
    i = 0
    while i < len(r) and i < len(a) and r[i] == a[i]:
        i += 1
    r, a = r[i:], a[i:]
    if a and not r:
        return "indel"
    if r and not a:
        return "indel"
    if not r and not a:
        return "ref"
    re_, ae = len(r) - 1, len(a) - 1
    while re_ > 0 and ae > 0 and r[re_] == a[ae]:
        re_ -= 1
        ae -= 1
    if ae == 0:
        if re_ == 0:
            return "snp"
        return "indel" if r[re_] == a[ae] else "other"
    if re_ == 0:
        return "indel" if r[re_] == a[ae] else "other"
    return "mnp" if re_ == ae else "other"


def record_group(f: list[str]) -> int:
    alts = f[4].split(",") if f[4] != "." else []
    types = {htslib_type(f[3], a) for a in alts} - {"ref"}
    if types <= {"snp"}:
        return 0
    if types == {"mnp"}:
        return 1
    if types == {"indel"}:
        return 2
    return 3


def _gidx(a: int, b: int) -> int:
    if a > b:
        a, b = b, a
    return b * (b + 1) // 2 + a


def join_group(rows: list[list[str]], hdr: HeaderInfo, strict: bool) -> list[str]:
    """Join records (same CHROM/POS) into one multi-allelic record."""
    ref = max((f[3] for f in rows), key=len)
    alleles = [ref]
    maps = []  # per record: its allele index -> merged index
    for f in rows:
        m = [0]
        for a in (f[4].split(",") if f[4] != "." else []):
            if len(f[3]) < len(ref) and not a.startswith("<") and a != "*":
                a = a + ref[len(f[3]):]
            if a not in alleles:
                alleles.append(a)
            m.append(alleles.index(a))
        maps.append(m)
    n_all = len(alleles)
    ids = []
    for f in rows:
        for i in f[2].split(";"):
            if i != "." and i not in ids:
                ids.append(i)
    quals = [float(f[5]) for f in rows if f[5] != "."]
    qual = "." if not quals else next(f[5] for f in rows if f[5] != "." and float(f[5]) == max(quals))
    filters = []
    for f in rows:
        for x in f[6].split(";"):
            if x != "." and x not in filters:
                filters.append(x)
    if strict and "PASS" in filters:
        filters = ["PASS"]
    elif len(filters) > 1 and "PASS" in filters:
        filters.remove("PASS")
    out = [rows[0][0], rows[0][1], ";".join(ids) or ".", ref, ",".join(alleles[1:]), qual,
           ";".join(filters) or "."]
    out.append(_join_info([parse_info(f[7]) for f in rows], maps, n_all, hdr))
    if len(rows[0]) > 8:
        out.extend(_join_format(rows, maps, n_all, hdr))
    return out


def _merge_vec(number: str, per_rec: list[list[str] | None], maps: list[list[int]], n_all: int) -> list[str] | None:
    if number == "A":
        out = ["."] * (n_all - 1)
        for vals, m in zip(per_rec, maps):
            if vals is None:
                continue
            for i, v in enumerate(vals[: len(m) - 1]):
                out[m[i + 1] - 1] = v
        return out
    if number == "R":
        out = ["."] * n_all
        for vals, m in zip(per_rec, maps):
            if vals is None:
                continue
            for i, v in enumerate(vals[: len(m)]):
                if i == 0 and out[0] != ".":
                    continue
                out[m[i]] = v
        return out
    if number == "G":
        present = [(v, m) for v, m in zip(per_rec, maps) if v is not None]
        if not present:
            return ["."]
        if len(present[0][0]) == len(present[0][1]) and len(present[0][1]) > 1 or len(present[0][0]) == 1 == len(present[0][1]):
            out = ["."] * n_all  # haploid
            for vals, m in present:
                for a, v in enumerate(vals[: len(m)]):
                    if out[m[a]] == ".":
                        out[m[a]] = v
            return out
        out = ["."] * (n_all * (n_all + 1) // 2)
        for vals, m in present:
            k = len(m)
            if len(vals) == k * (k + 1) // 2:
                for b in range(k):
                    for a in range(b + 1):
                        gi = _gidx(m[a], m[b])
                        if out[gi] == ".":
                            out[gi] = vals[_gidx(a, b)]
        return out
    return None


def _join_info(infos: list[list[list]], maps, n_all: int, hdr: HeaderInfo) -> str:
    keys: list[str] = []
    for items in infos:
        for k, _ in items:
            if k not in keys:
                keys.append(k)
    out = []
    for k in keys:
        number = hdr.info_number.get(k, ".")
        vals = [next((v for kk, v in items if kk == k), None) for items in infos]
        if number in ("A", "R", "G"):
            per = [v.split(",") if v is not None else None for v in vals]
            out.append([k, ",".join(_merge_vec(number, per, maps, n_all))])
        else:
            out.append([k, next(v for v, items in zip(vals, infos) if any(kk == k for kk, _ in items))])
    return join_info(out)


def _merge_gt(gts: list[str | None], maps) -> str:
    out = None
    sep_out = "/"
    for gt, m in zip(gts, maps):
        if gt is None:
            continue
        parts = _GT_SPLIT.split(gt)
        als = parts[0::2]
        if all(a == "." for a in als):
            continue
        if out is None:
            out = [a if a == "." else str(m[int(a)]) if int(a) < len(m) else "." for a in als]
            seps = parts[1::2]
            sep_out = seps[0] if seps else "/"
            continue
        for i, a in enumerate(als):
            if a in (".", "0"):
                continue
            v = str(m[int(a)]) if int(a) < len(m) else "."
            if i < len(out) and out[i] in ("0", "."):
                out[i] = v
            else:
                j = next((j for j, x in enumerate(out) if x == "0"), None)
                if j is not None:
                    out[j] = v
    if out is None:
        return next((g for g in gts if g is not None), ".")
    return sep_out.join(out)


def _join_format(rows, maps, n_all: int, hdr: HeaderInfo) -> list[str]:
    keys: list[str] = []
    for f in rows:
        for k in f[8].split(":"):
            if k not in keys:
                keys.append(k)
    nsamp = len(rows[0]) - 9
    per_rec = []
    for f in rows:
        ks = f[8].split(":")
        per_rec.append([dict(zip(ks, s.split(":"))) for s in f[9:]])
    samples = []
    for si in range(nsamp):
        vals = []
        for k in keys:
            got = [recs[si].get(k) if si < len(recs) else None for recs in per_rec]
            if k == "GT":
                vals.append(_merge_gt(got, maps))
                continue
            number = hdr.format_number.get(k, ".")
            if number in ("A", "R", "G"):
                per = [None if v is None or v == "." else v.split(",") for v in got]
                merged = _merge_vec(number, per, maps, n_all)
                vals.append(",".join(merged))
            else:
                vals.append(next((v for v in got if v is not None), "."))
        samples.append(":".join(vals))
    return [":".join(keys), *samples]


def join_rows(rows: list[list[str]], hdr: HeaderInfo, opts: NormalizeOptions) -> list[list[str]]:
    """Records at one position after ``-m +TYPE`` (see the module docstring)."""
    kind = opts.join
    if kind == "any":
        return [join_group(rows, hdr, opts.strict_filter)] if len(rows) > 1 else rows
    groups: list[list[list[str]]] = [[], [], [], []]
    for f in rows:
        groups[record_group(f)].append(f)
    joinable = {"snps": {0, 1}, "indels": {2}, "both": {0, 1, 2, 3}}[kind]
    out = []
    for g, recs in enumerate(groups):
        if len(recs) > 1 and g in joinable:
            out.append(join_group(recs, hdr, opts.strict_filter))
        else:
            out.extend(recs)
    return out

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

from raygen.errors import InputError
from raygen.io.header import VcfHeader
from raygen.normalize.multiallelic import join_info, parse_info
from raygen.normalize.options import NormalizeOptions
from raygen.normalize.records import htslib_type

_GT_SPLIT = re.compile(r"([/|])")


def record_group(f: list[str]) -> int:
    alts = f[4].split(",") if f[4] != "." else []
    types = {htslib_type(f[3], a) for a in alts} - {"ref"}
    types = {"other" if t in ("overlap", "bnd") else t for t in types}
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


def _expandable(a: str) -> bool:
    return not a.startswith(("<", "*"))


def merge_alleles(rows: list[list[str]]) -> tuple[list[str], list[list[int]]]:
    """Alleles of the joined record and, per input record, its allele index -> joined index.

    As bcftools' ``merge_alleles``, record by record: a shorter REF and its ALTs are extended with the
    longer REF's extra bases (symbolic and ``*`` alleles are not); ALTs are matched case-insensitively;
    when the REFs differ only in case, every allele is upper-cased.
    """
    first = rows[0]
    b = [first[3], *(first[4].split(",") if first[4] != "." else [])]
    maps = [list(range(len(b)))]
    for f in rows[1:]:
        a = [f[3], *(f[4].split(",") if f[4] != "." else [])]
        m = [0] * len(a)
        rla, rlb = len(a[0]), len(b[0])
        if len(a) == 2 and len(b) == 2 and rla == 1 and rlb == 1 and len(a[1]) == 1 and a[1] == b[1]:
            maps.append([0, 1])
            continue
        k = min(rla, rlb)
        if a[0][:k] != b[0][:k]:
            if a[0][:k].upper() != b[0][:k].upper():
                raise InputError(f"cannot join the records at {f[0]}:{f[1]}: their REF prefixes differ ({a[0]} vs "
                                 f"{b[0]}); bcftools stops here too (check REF with -c x or -c s first)")
            a, b = [x.upper() for x in a], [x.upper() for x in b]
        if rla > rlb:
            b = [x + a[0][rlb:] if _expandable(x) else x for x in b]
        for i in range(1, len(a)):
            ai = a[i] + b[0][rla:] if rlb > rla and _expandable(a[i]) else a[i]
            j = next((j for j in range(1, len(b)) if b[j].upper() == ai.upper()), None)
            if j is None:
                j = len(b)
                b.append(ai)
            m[i] = j
        maps.append(m)
    return b, maps


def join_group(rows: list[list[str]], hdr: VcfHeader, strict: bool) -> list[str]:
    """Join records (same CHROM/POS) into one multi-allelic record."""
    alleles, maps = merge_alleles(rows)
    ref = alleles[0]
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


def _join_info(infos: list[list[list]], maps, n_all: int, hdr: VcfHeader) -> str:
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


def _parse_gt(gt: str | None, ploidy: int) -> list[tuple[int | None, bool] | None]:
    """GT as htslib holds it: ``(allele or None for '.', phased)`` per slot, ``None`` past the sample's
    ploidy (vector end) up to the record's ``ploidy``. A slot is phased when ``|`` precedes it."""
    out: list[tuple[int | None, bool] | None] = []
    if gt is not None:
        parts = _GT_SPLIT.split(gt)
        for i in range(0, len(parts), 2):
            a = parts[i]
            out.append((None if a in (".", "") or not a.isdigit() else int(a), i > 0 and parts[i - 1] == "|"))
    return out + [None] * (ploidy - len(out))


def _merge_gt(gts: list[str | None], maps, ploidies: list[int]) -> str:
    """One sample's GT of the joined record, as bcftools' ``merge_format_genotype``: start from the first
    record's GT and apply each later record's alleles slot by slot (never overwriting with REF or missing;
    a clash puts the allele in the first REF/missing slot); ploidy grows to the largest record's."""
    gt = _parse_gt(gts[0], ploidies[0])
    for g2, m, p2 in zip(gts[1:], maps[1:], ploidies[1:]):
        src = _parse_gt(g2, p2)
        ploidy_changed = len(gt) != len(src)
        if len(gt) < len(src):
            gt += [None] * (len(src) - len(gt))
        src += [None] * (len(gt) - len(src))
        for k2, e2 in enumerate(src):
            d = gt[k2]
            if e2 is None:
                if ploidy_changed and d is not None and d[0] is None:
                    gt[k2] = None
                break
            if e2[0] is None:
                continue
            if e2[0] == 0 and d is not None and d[0] is not None:
                continue
            ial = m[e2[0]] if e2[0] < len(m) else 0
            if d is None or d[0] is None or d[0] == 0:
                gt[k2] = (ial, d is not None and d[1])
            else:
                k = next((k for k, x in enumerate(gt) if x is None or x[0] is None or x[0] == 0), None)
                if k is not None:
                    gt[k] = (ial, False)
    text = []
    for i, e in enumerate(gt):
        if e is None:
            break
        if i:
            text.append("|" if e[1] else "/")
        text.append("." if e[0] is None else str(e[0]))
    return "".join(text) or "."


def _gt_ploidy(f: list[str]) -> int:
    """The record's GT ploidy as htslib stores it: the most alleles any sample has."""
    keys = f[8].split(":") if len(f) > 8 else []
    if "GT" not in keys:
        return 0
    i = keys.index("GT")
    best = 0
    for s in f[9:]:
        vals = s.split(":")
        if i < len(vals):
            best = max(best, len(_GT_SPLIT.split(vals[i])) // 2 + 1)
    return best


def _join_format(rows, maps, n_all: int, hdr: VcfHeader) -> list[str]:
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
    ploidies = [_gt_ploidy(f) for f in rows]
    samples = []
    for si in range(nsamp):
        vals = []
        for k in keys:
            got = [recs[si].get(k) if si < len(recs) else None for recs in per_rec]
            if k == "GT":
                vals.append(_merge_gt(got, maps, ploidies))
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


def join_rows(rows: list[list[str]], hdr: VcfHeader, opts: NormalizeOptions) -> list[list[str]]:
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

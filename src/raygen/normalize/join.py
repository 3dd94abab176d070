"""``-m +TYPE``: join records at one position into multi-allelic ones, ported from bcftools 1.24.

Records at a position are buffered in order of htslib's variant-type mask (``mrows_push``: SNV 1, MNV 2,
indel 4, other 8, ...; REF-only 0 joins any group), then flushed as ``mrows_flush`` does: ``any`` joins
them all; otherwise each of the types SNV, MNV, indel, other (``snps``: SNV only, ``indels``: indel only)
joins a run of records of exactly that type, and a record of mixed type stays alone. Joining
(``merge_biallelics_to_multiallelic``) takes the first record's INFO and FORMAT keys only, the highest
QUAL, the union of IDs and FILTERs (PASS dropped unless ``-s``), merges alleles as ``vcfmerge``'s
``merge_alleles`` and rebuilds Number=A/R/G vectors (values absent from every record stay ``.``), GT by
``merge_format_genotype``. Values are handled in htslib's parsed form (:mod:`raygen.normalize.bcfrec`).
"""

from __future__ import annotations

from raygen.errors import InputError
from raygen.normalize import bcfrec
from raygen.normalize.bcfrec import VCF_INDEL, VCF_MNP, VCF_OTHER, VCF_REF, VCF_SNP, Rec
from raygen.io.header import VcfHeader
from raygen.normalize.options import NormalizeOptions

#: htslib's vector-end marker inside a vector being rebuilt (printing stops there).
END = object()


def _gt_index(a: int, b: int) -> int:
    return b * (b + 1) // 2 + a if a <= b else a * (a + 1) // 2 + b


def merge_alleles(allele_lists: list[list[str]]) -> tuple[list[str], list[list[int]]]:
    """Alleles of the joined record and, per input record, its allele index -> joined index
    (``vcfmerge.c: merge_alleles`` applied record by record)."""
    b = list(allele_lists[0])
    maps = [list(range(len(b)))]
    for a in allele_lists[1:]:
        a = list(a)
        m = [0] * len(a)
        rla, rlb = len(a[0]), len(b[0])
        if len(a) == 2 and len(b) == 2 and rla == 1 and rlb == 1 and len(a[1]) == 1 and a[1] == b[1]:
            maps.append([0, 1])
            continue
        k = min(rla, rlb)
        if a[0][:k] != b[0][:k]:
            if a[0][:k].upper() != b[0][:k].upper():
                raise InputError(f"cannot join the records: their REF prefixes differ ({a[0]} vs {b[0]}); "
                                 "bcftools stops here too (check REF with -c x or -c s first)")
            a, b = [x.upper() for x in a], [x.upper() for x in b]
        if rla > rlb:
            b = [x if x[:1] in ("<", "*") else x + a[0][rlb:] for x in b]
        for i in range(1, len(a)):
            ai = a[i] + b[0][rla:] if rlb > rla and a[i][:1] not in ("<", "*") else a[i]
            j = next((j for j in range(1, len(b)) if b[j].upper() == ai.upper()), None)
            if j is None:
                j = len(b)
                b.append(ai)
            m[i] = j
        maps.append(m)
    return b, maps


def copy_string_field(src: str, isrc: int, dst: list[str], idst: int) -> None:
    """``vcfmerge.c: copy_string_field`` on a field list ``dst``: field ``isrc`` of ``src`` fills field
    ``idst`` when that one is still ``.`` (a ``.`` source is not copied)."""
    fields = src.split(",") if src else [""]
    if isrc >= len(fields) or idst >= len(dst):
        return
    v = fields[isrc]
    if v == "." or dst[idst] != ".":
        return
    dst[idst] = v


def _fail(what: str, key: str, rec: Rec) -> InputError:
    return InputError(f"vcfnorm: could not merge {what} tag {key} at position {rec.chrom}:{rec.pos} (bcftools "
                      "stops here too)")


def _merge_info_numeric(key, kind, number, recs, maps, n_dst) -> list | None:
    first = recs[0].info_item(key)[2]
    n0 = len(recs[0].alleles)
    want = {"A": n0 - 1, "R": n0, "G": n0 * (n0 + 1) // 2}[number]
    if len(first) != want:
        raise InputError(f"vcfnorm: number of fields in first record at position {recs[0].chrom}:{recs[0].pos} "
                         f"for INFO tag {key} not as expected [found: {len(first)} vs expected:{want}]")
    size = {"A": n_dst - 1, "R": n_dst, "G": n_dst * (n_dst + 1) // 2}[number]
    out = list(first) + [None] * (size - len(first))
    for rec, m in zip(recs[1:], maps[1:]):
        item = rec.info_item(key)
        if item is None or item[1] != kind:
            continue
        vals, n = item[2], len(rec.alleles)
        if len(vals) != {"A": n - 1, "R": n, "G": n * (n + 1) // 2}[number]:
            raise _fail("INFO", key, rec)
        if number == "A":
            for k, v in enumerate(vals):
                out[m[k + 1] - 1] = v
        elif number == "R":
            for k, v in enumerate(vals):
                out[m[k]] = v
        else:
            k = 0
            for ia in range(n):
                for ib in range(ia + 1):
                    out[_gt_index(m[ia], m[ib])] = vals[k]
                    k += 1
    return out


def _merge_string_fields(values: list[str | None], recs, maps, number: str, n_dst: int) -> str:
    """Number=A/R/G String values of the records joined into one (``.`` where none has a value)."""
    if number == "G":
        dst = ["."] * (n_dst * (n_dst + 1) // 2)
        for v, rec, m in zip(values, recs, maps):
            if v is None:
                continue
            kori = 0
            for iori in range(len(rec.alleles)):
                for jori in range(iori + 1):
                    copy_string_field(v, kori, dst, _gt_index(m[iori], m[jori]))
                    kori += 1
        return ",".join(dst)
    jfrom = 1 if number == "A" else 0
    dst = ["."] * max(1, n_dst - jfrom)  # bcftools starts from one '.' even with no ALT
    for v, rec, m in zip(values, recs, maps):
        if v is None:
            continue
        for j in range(jfrom, len(rec.alleles)):
            copy_string_field(v, j - jfrom, dst, m[j] - jfrom)
    return ",".join(dst)


def _merge_info(recs: list[Rec], maps, n_dst: int, hdr: VcfHeader) -> list[list]:
    out = []
    for key, kind, val in recs[0].info:
        number = hdr.info_number.get(key, "1")
        if kind in ("int", "float") and number in ("A", "R", "G"):
            out.append([key, kind, _merge_info_numeric(key, kind, number, recs, maps, n_dst)])
        elif kind == "str" and number in ("A", "R", "G"):
            vals = [(it[2] if it is not None and it[1] == "str" else None) for it in (r.info_item(key) for r in recs)]
            text = _merge_string_fields(vals, recs, maps, number, n_dst)
            if text:  # an empty string removes the tag (htslib's update with length 0)
                out.append([key, "str", text])
        else:
            out.append([key, kind, val if not isinstance(val, list) else list(val)])
    return out


def _is_missing_gt(c) -> bool:
    return c is not END and not (c >> 1)


def _merge_gt(recs: list[Rec], maps) -> list[list]:
    """FORMAT/GT of the joined record, per sample (``merge_format_genotype``): each later record's
    alleles are applied slot by slot, never overwriting with REF or missing; a clash takes the first
    REF/missing slot; the ploidy grows to the largest."""
    first = recs[0].fmt_item("GT")[2]
    ngts = max((len(v) for v in first), default=0)
    gts = [list(v) + [END] * (ngts - len(v)) for v in first]
    for rec, m in zip(recs[1:], maps[1:]):
        item = rec.fmt_item("GT")
        src = item[2] if item is not None else [[] for _ in gts]
        ngts2 = max((len(v) for v in src), default=0)
        ploidy_changed = ngts != ngts2
        width = max(ngts, ngts2)
        gts = [g + [END] * (width - len(g)) for g in gts]
        ngts = width
        for g, s in zip(gts, src):
            s = list(s) + [END] * (width - len(s))
            for k2, c2 in enumerate(s):
                if c2 is END:
                    if ploidy_changed and _is_missing_gt(g[k2]):
                        g[k2] = END
                    break
                if not (c2 >> 1):
                    continue
                ial2 = (c2 >> 1) - 1
                d = g[k2]
                if ial2 == 0 and d is not END and (d >> 1):
                    continue
                if ial2 >= len(m):
                    raise InputError(f"Error at {rec.chrom}:{rec.pos}: incorrect allele index {ial2}")
                ial = m[ial2]
                if d is END or not (d >> 1) or (d >> 1) == 1:
                    g[k2] = bcfrec.make_gt(ial, 0 if d is END else d & 1)
                else:
                    k = next((k for k, x in enumerate(g) if x is END or not (x >> 1) or (x >> 1) == 1), None)
                    if k is not None:
                        g[k] = bcfrec.make_gt(ial, 0)
    return [_until_end(g) for g in gts]


def _until_end(v: list) -> list:
    return v[: v.index(END)] if END in v else v


def _padded(vals: list, width: int) -> list:
    return list(vals) + [END] * (width - len(vals))


def _merge_format_numeric(key, kind, number, recs, maps, n_dst) -> list:
    first = recs[0].fmt_item(key)[2]
    w0 = max((len(v) for v in first), default=0)
    n0 = len(recs[0].alleles)
    if number == "G":
        return _merge_format_g(key, kind, recs, maps, n_dst, first, w0)
    size = n_dst - 1 if number == "A" else n_dst
    out = [_padded(v, w0) + [None] * (size - w0) for v in first]
    del n0
    for rec, m in zip(recs[1:], maps[1:]):
        item = rec.fmt_item(key)
        if item is None or item[1] != kind:
            continue
        w2 = max((len(v) for v in item[2]), default=0)
        n = len(rec.alleles)
        if w2 != (n - 1 if number == "A" else n):
            raise _fail("FORMAT", key, rec)
        for o, v in zip(out, item[2]):
            for k, x in enumerate(v):
                o[m[k + 1] - 1 if number == "A" else m[k]] = x
    return [_until_end(o) for o in out]


def _ends_at(v: list, width: int) -> int:
    """How many values of a sample come before htslib's vector end (``width`` = the record's width)."""
    return min(len(v), width)


def _merge_format_g(key, kind, recs, maps, n_dst, first, w0) -> list:
    n0 = len(recs[0].alleles)
    nsmpl = len(first)
    diploid = [False] * nsmpl
    if w0 > n0:
        for i, v in enumerate(first):
            if _ends_at(v, w0) == n0 * (n0 + 1) // 2:
                diploid[i] = True
    size = n_dst * (n_dst + 1) // 2
    out = [_padded(v, w0) + [None] * (size - w0) for v in first]
    for rec, m in zip(recs[1:], maps[1:]):
        item = rec.fmt_item(key)
        if item is None or item[1] != kind:
            continue
        n = len(rec.alleles)
        w2 = max((len(v) for v in item[2]), default=0)
        ndip = n * (n + 1) // 2
        if w2 not in (1, n, ndip):
            raise _fail("FORMAT", key, rec)
        # bcftools reads each sample's values from one flat array: past a sample's width it reads the next one's
        flat = [x for v in item[2] for x in _padded(v, w2)]
        for j, o in enumerate(out):
            v = flat[j * w2: (j + 1) * w2]
            smpl_diploid = w2 == ndip and _ends_at(item[2][j], w2) == ndip
            if smpl_diploid:
                diploid[j] = True
                k = 0
                for ia in range(n):
                    for ib in range(ia + 1):
                        o[_gt_index(m[ia], m[ib])] = v[k]
                        k += 1
            else:
                for k in range(n):
                    x = flat[j * w2 + k] if j * w2 + k < len(flat) else None
                    o[m[k]] = x
    if not any(diploid):
        return [_until_end(o[:n_dst]) for o in out]
    return [_until_end(o if diploid[i] else o[:n_dst] + [END]) for i, o in enumerate(out)]


def _merge_format_string(key, number, recs, maps, n_dst) -> list:
    first = recs[0].fmt_item(key)[2]
    nsmpl = len(first)
    per_rec = []
    for rec in recs:
        item = rec.fmt_item(key)
        per_rec.append(None if item is None or item[1] != "str" else ["" if v is None else v for v in item[2]])
    if number == "G":
        n0 = len(recs[0].alleles)
        haploid = []
        for v in per_rec[0]:
            nf = len(v.split(",")) if v else 1
            if nf == n0:
                haploid.append(True)
            elif nf == n0 * (n0 + 1) // 2:
                haploid.append(False)
            else:
                raise InputError(f"The field {key} at {recs[0].chrom}:{recs[0].pos} neither diploid nor haploid?")
    out = []
    for s in range(nsmpl):
        vals = [None if p is None else p[s] for p in per_rec]
        if number == "G" and haploid[s]:
            dst = ["."] * n_dst
            for v, rec, m in zip(vals, recs, maps):
                if v is not None:
                    for j in range(len(rec.alleles)):
                        copy_string_field(v, j, dst, m[j])
            out.append(",".join(dst))
        else:
            out.append(_merge_string_fields(vals, recs, maps, number, n_dst))
    return out


def _merge_format(recs: list[Rec], maps, n_dst: int, hdr: VcfHeader) -> list[list]:
    out = []
    for key, kind, vals in recs[0].fmt:
        number = hdr.format_number.get(key, "1")
        if kind == "gt" and key == "GT":
            out.append([key, kind, _merge_gt(recs, maps)])
        elif number not in ("A", "R", "G"):
            if kind == "str" and all(v is None for v in vals):
                continue  # width 0 in the first record: bcftools copies 0 bytes, which drops the tag
            out.append([key, kind, [list(v) if isinstance(v, list) else v for v in vals]])
        elif kind in ("int", "float"):
            out.append([key, kind, _merge_format_numeric(key, kind, number, recs, maps, n_dst)])
        elif kind == "str":
            merged = _merge_string_fields_fmt(key, number, recs, maps, n_dst)
            # empty in every sample (the first record's empty field took the only '.' slot): bcftools writes
            # width 0, which removes the tag
            if any(merged):
                out.append([key, kind, merged])
        else:
            out.append([key, kind, list(vals)])
    return out


_merge_string_fields_fmt = _merge_format_string


def _add_id(ids: str, new: str) -> str:
    if new == ".":
        return ids
    if f";{new};" in f";{ids};":
        return ids
    return new if ids == "." else f"{ids};{new}"


def _merge_filters(recs: list[Rec], strict: bool) -> str:
    flt = [] if recs[0].filters == "." else recs[0].filters.split(";")
    for rec in recs[1:]:
        for x in ([] if rec.filters == "." else rec.filters.split(";")):
            if x == "PASS":
                if strict:
                    flt = [] if rec.filters == "." else rec.filters.split(";")
                    break
                continue
            if x in flt:
                continue
            flt = [x] if flt == ["PASS"] else flt + [x]
    return ";".join(flt) or "."


def merge_records(recs: list[Rec], hdr: VcfHeader, strict: bool) -> Rec:
    """``merge_biallelics_to_multiallelic``: the records (same CHROM/POS) joined into one."""
    alleles, maps = merge_alleles([r.alleles for r in recs])
    quals = [r.qual for r in recs if r.qual != "."]
    qual = max(quals, key=float) if quals else "."
    ident = recs[0].id
    for r in recs[1:]:
        ident = _add_id(ident, r.id)
    n = len(alleles)
    dst = Rec(recs[0].chrom, recs[0].pos, ident, alleles, qual, _merge_filters(recs, strict),
              _merge_info(recs, maps, n, hdr), [], recs[0].n_sample)
    if recs[0].n_sample:
        dst.fmt = _merge_format(recs, maps, n, hdr)
    return dst


# --------------------------------------------------------------------------------------------------
# which records are joined (mrows_push / mrows_flush)
# --------------------------------------------------------------------------------------------------
_GROUPS = {"both": (VCF_SNP, VCF_MNP, VCF_INDEL, VCF_OTHER), "snps": (VCF_SNP,), "indels": (VCF_INDEL,)}


def join_rows(rows: list[list[str]], hdr: VcfHeader, opts: NormalizeOptions) -> list[list[str]]:
    """Records at one position (VCF text columns, output order) after ``-m +TYPE``."""
    if len(rows) < 2:
        return rows
    recs = [bcfrec.parse(r, hdr) for r in rows]
    if opts.join == "any":
        return [bcfrec.format_columns(merge_records(recs, hdr, opts.strict_filter))]
    buf: list[tuple[int, list[str], Rec]] = []
    for row, rec in zip(rows, recs):  # insertion by type mask, stable
        t = bcfrec.variant_types(rec.alleles)
        i = len(buf)
        while i > 0 and buf[i - 1][0] > t:
            i -= 1
        buf.insert(i, (t, row, rec))
    out = []
    while buf:
        if len(buf) == 1:
            out.append(buf.pop(0)[1])
            break
        for want in _GROUPS[opts.join]:
            i = 0
            while i < len(buf) and buf[i][0] in (want, VCF_REF):
                i += 1
            if i == 1:
                out.append(buf.pop(0)[1])
                break
            if i > 1:
                group, buf = buf[:i], buf[i:]
                out.append(bcfrec.format_columns(merge_records([g[2] for g in group], hdr, opts.strict_filter)))
                break
        else:
            out.append(buf.pop(0)[1])
    return out

"""A VCF record as htslib holds it after parsing (``bcf1_t``), on text, for the per-record paths.

bcftools splits, joins and atomizes records on htslib's binary form, where a Number=A vector of ``.`` is one
missing value, a sample with fewer fields than FORMAT has missing values there, vectors of different
samples are padded to one length, and a GT allele carries a phase bit. Reproducing bcftools' output exactly
means working on that form, so :func:`parse` reads text columns into a :class:`Rec` the way
``vcf_parse`` does, and :func:`format_columns` prints one the way ``vcf_format`` does (numbers as
:mod:`raygen.normalize.htsfmt` spells them).

Representation (``Rec``; POS 1-based):
- ``info``: list of ``[key, kind, value]``; kind ``flag`` (value None), ``int``/``float`` (list of canonical
  number texts, None = missing), ``str`` (text), ``null`` (``KEY`` without ``=`` on a non-Flag tag).
- ``fmt``: list of ``[key, kind, values]`` with one entry per sample: ``gt`` -> list of htslib GT codes
  (``(allele + 1) << 1 | phased``; 0/1 = missing allele), ``int``/``float`` -> list of texts/None (a shorter
  list is htslib's vector-end padding), ``str`` -> text (None in every sample: a field no sample wrote,
  which htslib stores with width 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from raygen.io.header import VcfHeader
from raygen.normalize.htsfmt import htslib_float, htslib_info_float, htslib_info_int, htslib_int, kputd

VCF_REF, VCF_SNP, VCF_MNP, VCF_INDEL, VCF_OTHER, VCF_BND, VCF_OVERLAP = 0, 1, 2, 4, 8, 16, 32
#: GT code htslib stores for a GT field absent from a sample column (``bcf_int32_missing`` as int8).
GT_ABSENT = -128
_ABSENT = object()  # parse-time marker of a numeric field a sample leaves out
_KIND = {"Integer": "int", "Float": "float", "Flag": "flag", "String": "str", "Character": "str"}


@dataclass
class Rec:
    chrom: str
    pos: int
    id: str
    alleles: list[str]
    qual: str
    filters: str
    info: list[list] = field(default_factory=list)
    fmt: list[list] = field(default_factory=list)
    n_sample: int = 0

    def info_item(self, key: str) -> list | None:
        return next((it for it in self.info if it[0] == key), None)

    def fmt_item(self, key: str) -> list | None:
        return next((it for it in self.fmt if it[0] == key), None)

    def copy(self) -> "Rec":
        return Rec(self.chrom, self.pos, self.id, list(self.alleles), self.qual, self.filters,
                   [list(it) for it in self.info], [[k, kind, list(v)] for k, kind, v in self.fmt], self.n_sample)


# --------------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------------
def _numbers(text: str, kind: str, info: bool = False) -> list[str | None]:
    if info:  # htslib reads INFO numbers leniently (a prefix), FORMAT ones strictly
        fn = htslib_info_int if kind == "int" else htslib_info_float
    else:
        fn = htslib_int if kind == "int" else htslib_float
    out: list[str | None] = []
    for t in text.split(","):
        v = fn(t) if t else "."
        out.append(None if v == "." else v)
    return out


def parse_info(text: str, info_type: dict[str, str]) -> list[list]:
    items: list[list] = []
    if text == ".":
        return items
    for item in text.split(";"):
        key, eq, val = item.partition("=")
        if not key:
            continue
        kind = _KIND.get(info_type.get(key, "String"), "str")
        if kind == "flag":
            items.append([key, "flag", None] if not (eq and val) else [key, "str", val])
        elif not eq:
            items.append([key, "null", None])
        elif kind in ("int", "float"):
            items.append([key, kind, _numbers(val, kind, info=True)])
        else:
            items.append([key, "str", val])
    return items


def parse_gt(text: str, v44: bool = False) -> list[int]:
    """GT text -> htslib GT codes, as ``vcf_parse_format_fill5`` reads it (also the implied first-allele
    phase: haploid calls are phased, and so is a diploid one whose other alleles are all phased)."""
    x: list[int] = []
    is_phased = prefix = unknown1 = anyunphased = 0
    t = text
    i = 0
    if v44 and t[:1] in ("|", "/"):
        is_phased, prefix, i = int(t[0] == "|"), 1, 1
    ploidy = 0
    n = len(t)
    while True:
        ploidy += 1
        if i < n and t[i] == ".":
            i += 1
            x.append(is_phased)
            unknown1 |= len(x) == 1
        else:
            j = i
            while j < n and t[j].isdigit():
                j += 1
            if j == i:
                raise ValueError(f"GT {text!r}: value not a number or '.'")
            x.append((int(t[i:j]) + 1) << 1 | is_phased)
            i = j
        anyunphased |= ploidy != 1 and not is_phased
        is_phased = int(i < n and t[i] == "|")
        if i >= n or t[i] not in "|/":
            break
        i += 1
    if not prefix:
        if ploidy == 1:
            if not unknown1:
                x[0] |= 1
        elif not anyunphased:
            x[0] |= 1
    return x


def parse(cols: list[str], hdr: VcfHeader, v44: bool = False) -> Rec:
    """VCF text columns -> :class:`Rec` (htslib's reading)."""
    alts = cols[4].split(",") if cols[4] != "." else []
    qual = cols[5] if cols[5] == "." else htslib_float(cols[5])
    rec = Rec(cols[0], int(cols[1]), cols[2], [cols[3], *alts], qual, cols[6],
              parse_info(cols[7], hdr.info_type), [], max(0, len(cols) - 9))
    if len(cols) <= 8 or cols[8] in (".", ""):
        return rec
    keys = cols[8].split(":")
    kinds = ["gt" if k == "GT" else _KIND.get(hdr.format_type.get(k, "String"), "str") for k in keys]
    rec.fmt = [[k, kind, []] for k, kind in zip(keys, kinds)]
    for col in cols[9:]:
        vals = col.split(":")
        for j, item in enumerate(rec.fmt):
            kind = item[1]
            if j >= len(vals):  # a field the sample leaves out
                item[2].append([GT_ABSENT] if kind == "gt" else (_ABSENT if kind in ("int", "float") else None))
            elif kind == "gt":
                item[2].append(parse_gt(vals[j], v44) if vals[j] else [0])
            elif kind in ("int", "float"):
                item[2].append(_numbers(vals[j], kind))
            else:
                item[2].append(vals[j] or ".")
    for item in rec.fmt:
        # a field a sample leaves out reads as missing ('.'); a String field left out by every sample has
        # width 0 in htslib (a numeric one gets width 1: "omitted trailing format field")
        if item[1] == "str" and any(v is not None for v in item[2]):
            item[2] = ["." if v is None else v for v in item[2]]
        elif item[1] in ("int", "float"):
            item[2] = [[None] if v is _ABSENT else v for v in item[2]]
    return rec


# --------------------------------------------------------------------------------------------------
# printing
# --------------------------------------------------------------------------------------------------
def format_gt(codes: list[int], v44: bool = False) -> str:
    """htslib GT codes -> text (``bcf_format_gt_v2``); VCF >= 4.4 adds a phase prefix where needed."""
    if not codes:
        return "."
    out = []
    anyunphased = 0
    for i, v in enumerate(codes):
        if i:
            out.append("|" if v & 1 else "/")
            anyunphased |= not (v & 1)
        out.append("." if not (v >> 1) else str((v >> 1) - 1))
    s = "".join(out)
    if v44:
        v0, ploidy = codes[0], len(codes)
        if v0 & 1:
            if (ploidy > 1 and anyunphased) or (ploidy <= 1 and not (v0 >> 1)):
                s = "|" + s
        elif (ploidy <= 1 and v0 != 0) or (ploidy > 1 and not anyunphased):
            s = "/" + s
    return s


def _fmt_numbers(vals: list[str | None]) -> str:
    """A numeric vector as htslib prints it: ``.`` for a missing entry or an absent vector; ``[""]`` is a
    vector that ends at its first entry (htslib's vector-end sentinel there) and prints as nothing."""
    return ",".join("." if v is None else v for v in vals) if vals else "."


def format_info(items: list[list]) -> str:
    out = []
    for key, kind, val in items:
        if kind in ("flag", "null") or (kind == "str" and val == ""):
            out.append(key)
        elif kind == "str":
            out.append(f"{key}={val}")
        else:
            out.append(f"{key}={_fmt_numbers(val)}" if val else key)
    return ";".join(out) or "."


def format_columns(rec: Rec, v44: bool = False) -> list[str]:
    """:class:`Rec` -> VCF text columns, as ``vcf_format`` prints it."""
    alt = ",".join(rec.alleles[1:]) if len(rec.alleles) > 1 else "."
    cols = [rec.chrom, str(rec.pos), rec.id or ".", rec.alleles[0] if rec.alleles else ".", alt,
            rec.qual, rec.filters or ".", format_info(rec.info)]
    if not rec.n_sample:
        return cols
    if not rec.fmt:
        return cols + ["."] * (rec.n_sample + 1)
    cols.append(":".join(k for k, _, _ in rec.fmt))
    for s in range(rec.n_sample):
        parts = []
        for _, kind, vals in rec.fmt:
            v = vals[s]
            if kind == "gt":
                parts.append(format_gt(v, v44))
            elif kind in ("int", "float"):
                parts.append(_fmt_numbers(v))
            else:
                parts.append("." if v is None else v)
        cols.append(":".join(parts))
    return cols


def gt_allele(code: int) -> int | None:
    """Allele index of a GT code (None when missing)."""
    return (code >> 1) - 1 if code >> 1 else None


def make_gt(allele: int | None, phased: int) -> int:
    return ((allele + 1) << 1 if allele is not None else 0) | (phased & 1)


def float_value(text: str | None) -> float:
    return float("nan") if text is None else float(text)


def number_text(x: float, kind: str) -> str:
    """A computed value back to text: int32 for Integer, single precision for Float (htslib's storage)."""
    if kind == "int":
        return str(int(x))
    import numpy as np

    return kputd(float(np.float32(x)))


# --------------------------------------------------------------------------------------------------
# htslib's record properties
# --------------------------------------------------------------------------------------------------
def _upper(c: str) -> str:
    return c.upper() if c.isascii() else c


def variant_type(ref: str, alt: str) -> int:
    """htslib's ``bcf_set_variant_type`` class of one ALT (``VCF_*`` bits, without INS/DEL)."""
    if alt == "*":
        return VCF_OVERLAP
    if len(ref) <= 1 and len(alt) <= 1:
        if alt in (".", "X") or alt == ref:
            return VCF_REF
        return VCF_SNP
    if alt.startswith("<"):
        return VCF_REF if alt[1:3] in ("X>", "*>") or alt == "<NON_REF>" else VCF_OTHER
    if alt[0] in "[]":
        return VCF_BND
    r, a = ref.upper(), alt.upper()
    i = 0
    while i < len(r) and i < len(a) and r[i] == a[i]:
        i += 1
    if i < len(a) and i == len(r):
        return VCF_BND if alt[-1] in "[]" else VCF_INDEL
    if i < len(r) and i == len(a):
        return VCF_INDEL
    if i == len(r) and i == len(a):
        return VCF_REF
    re_, ae = len(r) - 1, len(a) - 1
    if alt[-1] in "[]":
        return VCF_BND
    while re_ > i and ae > i and r[re_] == a[ae]:
        re_ -= 1
        ae -= 1
    if ae == i:
        if re_ == i:
            return VCF_SNP
        return VCF_INDEL if r[re_] == a[ae] else VCF_OTHER
    if re_ == i:
        return VCF_INDEL if r[re_] == a[ae] else VCF_OTHER
    return VCF_MNP if re_ - i == ae - i else VCF_OTHER


def variant_types(alleles: list[str]) -> int:
    """``bcf_get_variant_types``: the OR of every ALT's class."""
    t = 0
    for a in alleles[1:]:
        t |= variant_type(alleles[0], a)
    return t


def _svlen_on_ref(alt: str) -> bool:
    return (alt.startswith("<") and len(alt) >= 5 and alt[4] in ">:" and alt[:4] in ("<CNV", "<DEL", "<DUP", "<INV")
            and alt.endswith(">"))


def rlen(rec_pos: int, alleles: list[str], info: list[list]) -> int:
    """htslib's ``rlen`` (reference span) from REF, INFO/END and, for <DEL>/<DUP>/<CNV>/<INV>, INFO/SVLEN."""
    pos0 = rec_pos - 1
    end = 0
    svlen = 0
    sv_alts = [i for i, a in enumerate(alleles[1:]) if _svlen_on_ref(a)]
    for key, kind, val in info:
        if key == "END" and kind == "int" and val and val[0] is not None:
            end = int(val[0])
        elif key == "SVLEN" and kind == "int" and sv_alts and val:
            for i in sv_alts:
                if i < len(val) and val[i] is not None:
                    svlen = max(svlen, abs(int(val[i])))
    length = svlen
    if not length and end:
        length = end - pos0 - 1 if end > pos0 else 0
    end_svlen = pos0 + length + 1
    end_fmtlen = pos0 + ((end - pos0) if end > pos0 else 0)
    hpos = max(end, end_svlen, end_fmtlen)
    return max(len(alleles[0]) if alleles else 0, hpos - pos0)


def string_width(vals: list[str | None], field_index: int) -> int:
    """Bytes per sample htslib gives a FORMAT String field: the longest value, counting the ':' (or tab)
    before it as htslib's parser does (all but the first field of the first sample); 0 when no sample
    wrote it."""
    return max((len(v) + (0 if field_index == 0 and s == 0 else 1) for s, v in enumerate(vals) if v is not None),
               default=0)

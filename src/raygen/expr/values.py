"""What the value tokens of an expression read from one record (bcftools 1.24's ``filters_set_*``).

Numbers are Python floats; ``None`` is htslib's missing value and :data:`END` its vector end. A FORMAT
token holds ``nsamples * nval1`` values (or one string per sample in ``strs``). The record is a
:class:`raygen.normalize.bcfrec.Rec` (htslib's reading of the VCF text).
"""

from __future__ import annotations

from raygen.errors import InputError
from raygen.expr.compile import Tok
from raygen.normalize.bcfrec import Rec, format_gt, gt_allele, string_width, variant_types

END = "END"  # htslib's vector-end marker inside value lists
INT32_MISSING = -2147483648.0


def _num(v: str | None) -> float | None:
    return None if v is None else float(v)


def is_missing(v) -> bool:
    """``bcf_double_is_missing_or_vector_end``."""
    return v is None or v is END


def set_value(tok: Tok, rec: Rec, ctx) -> None:
    """Fill ``tok``'s per-record fields from ``rec`` (``ctx``: per-record caches, see evaluate)."""
    fn = _SETTERS[tok.setter]
    fn(tok, rec, ctx)


def _qual(tok: Tok, rec: Rec, ctx) -> None:
    tok.values = [None if rec.qual == "." else float(rec.qual)]
    tok.nvalues = 1


def _type(tok: Tok, rec: Rec, ctx) -> None:
    t = variant_types(rec.alleles)
    tok.values = [float(t << 1) if t else 1.0]
    tok.nvalues = 1


def _chrom(tok: Tok, rec: Rec, ctx) -> None:
    tok.str_value, tok.is_str = rec.chrom, True
    tok.nvalues = len(tok.str_value)


def _pos(tok: Tok, rec: Rec, ctx) -> None:
    tok.values, tok.nvalues = [float(rec.pos)], 1


def _ref(tok: Tok, rec: Rec, ctx) -> None:
    tok.str_value = rec.alleles[0] if rec.alleles else ""
    tok.nvalues = len(tok.str_value)


def _alt(tok: Tok, rec: Rec, ctx) -> None:
    alts = rec.alleles[1:]
    if tok.idx >= 0:
        s = alts[tok.idx] if tok.idx < len(alts) else "."
    elif tok.idx == -2:
        end = tok.nuidxs if tok.nuidxs else len(alts)
        end = min(end, len(alts) - 1)
        s = ",".join(alts[i] for i in range(end + 1) if i >= len(tok.idxs) or tok.idxs[i])
    else:
        s = ",".join(alts) if alts else "."
    tok.str_value, tok.nvalues = s, len(s)


def _nalt(tok: Tok, rec: Rec, ctx) -> None:
    tok.values, tok.nvalues = [float(len(rec.alleles) - 1)], 1


def _ilen(tok: Tok, rec: Rec, ctx) -> None:
    r = len(rec.alleles[0])
    tok.values = [None if a.startswith("<") else float(len(a) - r) for a in rec.alleles[1:]]
    tok.nvalues = len(tok.values)


def _info_item(rec: Rec, tag: str):
    return next((it for it in rec.info if it[0] == tag), None)


def _flag(tok: Tok, rec: Rec, ctx) -> None:
    tok.values, tok.nvalues = [1.0 if _info_item(rec, tok.tag) is not None else 0.0], 1


def _info1(tok: Tok, rec: Rec, ctx) -> None:
    """A Number=1 INFO tag (``filters_set_info``): its one value, or its text."""
    it = _info_item(rec, tok.tag)
    tok.str_value = ""
    if it is None:
        tok.nvalues = 0
        return
    key, kind, val = it
    if kind == "str":
        tok.str_value, tok.nvalues = val, len(val)
    elif kind in ("int", "float") and val:
        v = val[0]
        tok.values = [] if v is None else [float(v)]
        tok.nvalues = len(tok.values)
    else:
        tok.nvalues = 0


def _select(vals: list, tok: Tok) -> list:
    """Values kept by a ``[list]`` subscript (``idx == -2``), as ``filters_set_info_int`` picks them."""
    if not vals:
        return []
    end = len(vals) - 1 if tok.idxs[-1] < 0 else len(tok.idxs) - 1
    end = min(end, len(vals) - 1)
    return [vals[i] for i in range(end + 1) if i >= len(tok.idxs) or tok.idxs[i]]


def _info(tok: Tok, rec: Rec, ctx) -> None:
    it = _info_item(rec, tok.tag)
    if tok.is_str:
        return _info_string(tok, it)
    if it is None or it[1] not in ("int", "float") or not it[2]:
        tok.nvalues = 0
        return
    kind, val = it[1], it[2]
    if tok.idx == -2:
        # an Integer vector keeps htslib's missing sentinel as a number; a Float one marks it missing
        vals = [(INT32_MISSING if v is None else float(v)) if kind == "int" else _num(v) for v in val]
        tok.values = _select(vals, tok)
    elif len(val) == 1:  # bcf_get_info_value returns the one stored value whatever the index
        v = val[0]
        tok.values = [(-128.0 if kind == "int" else float("nan")) if v is None else float(v)]
    else:
        v = val[tok.idx] if tok.idx < len(val) else None
        tok.values = [] if v is None else [float(v)]
    tok.nvalues = len(tok.values)


def _info_string(tok: Tok, it) -> None:
    if it is None or it[1] != "str":
        tok.str_value, tok.nvalues = "", 0
        return
    s = it[2]
    if tok.idx >= 0:
        fields = s.split(",")
        if tok.idx >= len(fields) or (tok.idx == len(fields) - 1 and fields[-1] == "" and tok.idx):
            tok.str_value, tok.nvalues = "", 0
            return
        s = fields[tok.idx]
    elif tok.idx == -2 and tok.idxs != [-1]:
        fields = s.split(",")
        end = len(s) - 1 if tok.idxs[-1] < 0 else len(tok.idxs) - 1
        end = min(end, len(s) - 1, len(fields) - 1)
        s = "".join(fields[i] + "," for i in range(end + 1) if i >= len(tok.idxs) or tok.idxs[i])
    tok.str_value, tok.nvalues = s, len(s)


def _format(tok: Tok, rec: Rec, ctx) -> None:
    item = rec.fmt_item(tok.tag)
    tok.strs = []
    if item is None or (item[1] == "str") != tok.is_str:
        tok.nvalues = 0
        return
    if tok.is_str:
        return _format_string(tok, item[2], ctx)
    per = item[2]
    width = max((len(v) for v in per), default=0)
    if tok.idx >= 0:
        tok.nval1 = 1
    else:
        tok.nval1 = tok.nuidxs if tok.nuidxs else width
    # samples the subscript leaves out keep what the token held for the previous record, as bcftools'
    # reused buffer does (arithmetic with a token over other samples reads them)
    # (memory bcftools never wrote reads as 0 in practice: fresh heap pages)
    size = tok.nval1 * tok.nsamples
    out: list = (list(tok.values[:size]) + [0.0] * size)[:size]
    if tok.idx == -3 and not ctx.cache_genotypes():
        tok.nvalues = 0
        return
    flat = []
    for v in per:
        src = [_num(x) for x in v] + [END] * (width - len(v))
        if tok.idx == -3 and item[1] == "int":  # bcftools copies raw int32s here: missing/end become numbers
            src = [INT32_MISSING if x is None else (-2147483647.0 if x is END else x) for x in src]
        flat += src
    for i in range(len(per)):
        if tok.usmpl[i]:
            out[i * tok.nval1:(i + 1) * tok.nval1] = _pick_sample(flat, tok, ctx, i, width)
    tok.values, tok.nvalues = out, len(out)


def _pick_sample(flat: list, tok: Tok, ctx, i: int, width: int) -> list:
    """Sample ``i``'s values as a subscript picks them; like bcftools, an index past the sample's width
    reads on into the next sample's values (and past the last sample, memory raygen reads as missing)."""
    base = i * width

    def at(k: int):
        return flat[base + k] if base + k < len(flat) else None

    if tok.idx >= 0:
        return [None if tok.idx >= width else at(tok.idx)]
    if tok.idx == -3:
        mask = ctx.gt_mask(i)
        dst = [at(k) for k in range(width) if mask >> k & 1]
    else:
        kend = tok.nval1 if tok.idxs[-1] < 0 else len(tok.idxs)
        dst = [at(k) for k in range(kend) if not (k < len(tok.idxs) and not tok.idxs[k])]
    if not dst:
        dst = [None]
    return (dst + [END] * tok.nval1)[: tok.nval1]


def _format_string(tok: Tok, vals: list, ctx) -> None:
    if tok.idx == -3 and not ctx.cache_genotypes():
        tok.strs, tok.nvalues = [], 0
        return
    width = string_width(vals, ctx.rec_fmt_index(tok.tag))
    strs = []
    for i, v in enumerate(vals):
        v = "" if v is None else v
        if tok.usmpl[i] and (tok.idx != -2 or tok.idxs != [-1]):
            fields = v.split(",")
            if tok.idx >= 0:
                kept = [fields[tok.idx]] if tok.idx < len(fields) else []
            elif tok.idx == -3:
                kept = [f for k, f in enumerate(fields) if ctx.gt_mask(i) >> k & 1]
            else:
                kept = [f for k, f in enumerate(fields)
                        if (k < len(tok.idxs) and tok.idxs[k]) or (k >= len(tok.idxs) and tok.idxs[-1] < 0)]
            v = ",".join(kept) if kept else "."
        strs.append(v)
    tok.strs, tok.nval1 = strs, width
    tok.nvalues = width * tok.nsamples


def _gt_string(tok: Tok, rec: Rec, ctx) -> None:
    codes = ctx.gt_codes()
    if codes is None:
        tok.strs, tok.nvalues = [], 0
        return
    strs = [format_gt([c for c in v]) for v in codes]
    blen = 4
    while any(len(s) + 1 > blen for s in strs):
        blen *= 2
    tok.strs, tok.nval1, tok.nvalues = strs, blen, blen * len(strs)


def _gt_class(kind: int):
    """``_filters_set_genotype`` type 2 (rr/ra/aa/aA/r/a), 3 (hom/het/hap) or 4 (mis/ref/alt)."""
    def setter(tok: Tok, rec: Rec, ctx) -> None:
        codes = ctx.gt_codes()
        if codes is None:
            tok.strs, tok.nvalues = [], 0
            return
        tok.strs = [_gt_class_of(v, kind) for v in codes]
        tok.nval1 = 3 if kind == 2 else 4
        tok.nvalues = tok.nval1 * len(codes)
    return setter


def _gt_class_of(codes: list[int], kind: int) -> str:
    is_het = has_ref = missing = 0
    j, prev = 0, None
    for j, c in enumerate(codes):
        if not (c >> 1):
            missing = 1
            break
        a = gt_allele(c)
        has_ref |= a == 0
        if j and a != gt_allele(prev):
            is_het = 1
        prev = c
    else:
        j = len(codes)
    if kind == 4:
        if not j or missing:
            return "mis"
        return "alt" if not has_ref or is_het else "ref"
    if not j or missing:
        return "."
    if kind == 3:
        return "hap" if j == 1 else ("hom" if not is_het else "het")
    if j == 1:
        return "r" if has_ref else "a"
    if not is_het:
        return "rr" if has_ref else "aa"
    return "ra" if has_ref else "aA"


def _nmissing(tok: Tok, rec: Rec, ctx) -> None:
    if not rec.n_sample:
        tok.values, tok.nvalues, tok.nsamples = [0.0], 1, 0
        return
    codes = ctx.gt_codes()
    tok.nsamples = 0
    if codes is None:
        tok.nvalues = 0
        return
    used = [v for i, v in enumerate(codes) if tok.usmpl[i]]
    nmiss = sum(1 for v in used if any(not (c >> 1) for c in v))
    tok.values = [float(nmiss) if tok.tag == "N_MISSING" else (nmiss / len(used) if used else 0.0)]
    tok.nvalues = 1


def _stored_ints(vals: list) -> list[int]:
    """An Integer vector as htslib stores it: a missing value is the sentinel of the smallest BCF integer
    type that holds the others (int8 -128, int16 -32768, int32 -2^31), which bcf_calc_ac adds like a count."""
    known = [int(v) for v in vals if v is not None]
    lo, hi = min(known, default=0), max(known, default=0)
    miss = -128 if lo >= -120 and hi <= 127 else (-32768 if lo >= -32760 and hi <= 32767 else -2 ** 31)
    return [miss if v is None else int(v) for v in vals]


def _ac_stats(rec: Rec, ctx) -> tuple[list[int], int] | None:
    """Allele counts and AN as bcftools' ``filters_cache_AC_stats``: INFO/AN and INFO/AC when the header
    and the record have both (``bcf_calc_ac``), else counted from GT."""
    n = len(rec.alleles)
    if "AN" in ctx.hdr.info_type and "AC" in ctx.hdr.info_type:
        an_it, ac_it = _info_item(rec, "AN"), _info_item(rec, "AC")
        an = int(an_it[2][0]) if an_it and an_it[1] == "int" and an_it[2] and an_it[2][0] is not None else -1
        if an >= 0 and ac_it and ac_it[1] == "int":  # a negative or missing AN: counted from GT, as bcftools
            acs = _stored_ints(ac_it[2])
            if an < sum(acs):
                raise InputError(f"Incorrect AN/AC counts at {rec.chrom}:{rec.pos} (bcftools stops here too)")
            ac = [an - sum(acs)] + acs[: n - 1] + [0] * max(0, n - 1 - len(acs))
            return ac, sum(ac)
    codes = ctx.gt_codes()
    ac = [0] * n
    an = 0
    for v in codes or []:
        for c in v:
            if not (c >> 1):
                continue
            a = gt_allele(c)
            if a >= n:
                return None
            ac[a] += 1
            an += 1
    return ac, an


def _computed(tok: Tok, rec: Rec, ctx) -> None:
    """AC, AN, AF, MAC, MAF computed from GT (the header defines no such INFO tag)."""
    st = _ac_stats(rec, ctx) if rec.n_sample else None
    if tok.setter == "AN":
        tok.values, tok.nvalues = [float(st[1]) if st else 0.0], 1
        return
    if st is None or not st[1]:
        tok.nvalues = 0
        return
    ac, an = st
    af = [x / an for x in ac]
    if tok.setter in ("AC", "AF"):
        src = ac if tok.setter == "AC" else af
        tok.values = [0.0] if len(src) == 1 else [float(x) for x in src[1:]]
    elif tok.setter == "MAC":
        m = min((x for x in ac if x), default=0)
        tok.values = [] if not m else [0.0 if m == an else float(m)]
    else:
        m = min((x for x in af if x), default=0.0)
        tok.values = [] if not m else [0.0 if m == 1 else m]
    tok.nvalues = len(tok.values)


_SETTERS = {"QUAL": _qual, "TYPE": _type, "CHROM": _chrom, "POS": _pos, "REF": _ref, "ALT": _alt, "N_ALT": _nalt,
            "ILEN": _ilen, "FLAG": _flag, "INFO1": _info1, "INFO": _info, "FORMAT": _format, "GT": _gt_string,
            "GT2": _gt_class(2), "GT3": _gt_class(3), "GT4": _gt_class(4), "N_MISSING": _nmissing,
            "F_MISSING": _nmissing, "AC": _computed, "AN": _computed, "AF": _computed, "MAC": _computed,
            "MAF": _computed}

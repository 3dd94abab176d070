"""Seeded generator of bcftools filtering expressions (``-i/-e``) over a generated VCF's header.

``generate_expr(rng, header)`` draws one expression from what the header declares: QUAL, ID, FILTER,
REF/ALT, TYPE, ILEN, N_ALT, N_SAMPLES, N_MISSING/F_MISSING, computed AC/AN/AF/MAC/MAF where the header
has no such tag, INFO and FORMAT tags of every Number and Type with and without ``[i]``, ``[*]``,
``[list]`` and sample subscripts, GT strings and classes, string equality and regexes (``/i`` too), ``.``
as missing, arithmetic (``+ - * /``), functions (MAX, MIN, SUM, AVG, MEDIAN, STDEV, ABS, STRLEN, COUNT,
SMPL_*, N_PASS/F_PASS), and combinations with ``&&``, ``||``, ``&``, ``|`` and parentheses. Pure; a
``random.Random`` drives it.
"""

from __future__ import annotations

import random

from raygen.io.header import VcfHeader

_OPS = ("==", "!=", "<", "<=", ">", ">=", "=")
_WORDS = ("a", "b", "xy", "ID_1", "foo", "T", "bar-baz", "0", "yes", ".", "a,b", "x")
_REGEX = ("^a", "b$", "[xy]", "o+", "^ID", "^.$", "A/i", "^f", "a|b")
_GT = ("het", "hom", "hap", "mis", "ref", "alt", "rr", "ra", "aa", "aA", "r", "a", "0/1", "1/1", "0|1", "0/0",
       ".", "./.", "1", "0")


def _num(rng: random.Random) -> str:
    return rng.choice(["0", "1", "2", "3", "5", "10", "20", "50", "0.5", "1e-05", "0.1", "100", "-1", "-0.25",
                       "3.5", "60"])


def _numeric_tags(hdr: VcfHeader, fmt: bool) -> list[str]:
    types = hdr.format_type if fmt else hdr.info_type
    return [k for k, t in types.items() if t in ("Integer", "Float") and k not in ("END",)]


def _string_tags(hdr: VcfHeader, fmt: bool) -> list[str]:
    types = hdr.format_type if fmt else hdr.info_type
    return [k for k, t in types.items() if t in ("String", "Character") and k != "GT"]


def _info_ref(rng: random.Random, hdr: VcfHeader, tag: str) -> str:
    number = hdr.info_number.get(tag, "1")
    name = rng.choice([tag, f"INFO/{tag}"])
    if number == "1" or rng.random() < 0.5:
        return name
    return name + rng.choice(["[0]", "[1]", "[*]", "[0,1]", "[1-]", "[2]"])


def _fmt_ref(rng: random.Random, hdr: VcfHeader, tag: str) -> str:
    number = hdr.format_number.get(tag, "1")
    name = rng.choice([f"FMT/{tag}", f"FORMAT/{tag}", tag])
    if rng.random() < 0.5:
        return name
    n = len(hdr.samples)
    s = rng.choice(["*", "0", str(max(0, n - 1)), "0,1" if n > 1 else "0", "1-" if n > 1 else "0-"])
    if number == "1":
        return f"{name}[{s}]"
    # no value lists ([s:0,1]): where a record has fewer values bcftools reads past them into other
    # samples' values or stale memory (a documented divergence, pinned in tests/expr)
    v = rng.choice(["0", "1", "*"] + (["GT"] if number == "R" else []))
    return f"{name}[{s}:{v}]"


def _numeric_operand(rng: random.Random, hdr: VcfHeader) -> str:
    r = rng.random()
    infos, fmts = _numeric_tags(hdr, False), _numeric_tags(hdr, True) if hdr.samples else []
    if r < 0.15:
        return "QUAL"
    if r < 0.45 and infos:
        return _info_ref(rng, hdr, rng.choice(infos))
    if r < 0.7 and fmts:
        return _fmt_ref(rng, hdr, rng.choice(fmts))
    if r < 0.8:
        return rng.choice(["N_ALT", "ILEN", "POS", "N_SAMPLES"] + (["N_MISSING", "F_MISSING"] if hdr.samples else []))
    computed = [k for k in ("AC", "AN", "AF", "MAC", "MAF") if k not in hdr.info_type]
    if r < 0.88 and computed and hdr.samples:
        return rng.choice(computed)
    return _num(rng)


def _numeric_expr(rng: random.Random, hdr: VcfHeader, depth: int = 0) -> str:
    r = rng.random()
    base = _numeric_operand(rng, hdr)
    if r < 0.15 and depth < 2:
        func = rng.choice(["MAX", "MIN", "SUM", "AVG", "MEAN", "MEDIAN", "STDEV", "abs", "SMPL_MAX", "sMIN",
                           "SMPL_SUM", "sAVG", "COUNT"])
        return f"{func}({base})"
    if r < 0.3 and depth < 2:
        return f"{base}{rng.choice(['+', '-', '*', '/'])}{_numeric_expr(rng, hdr, depth + 1)}"
    if r < 0.33:
        return f"-{base}"
    return base


def _comparison(rng: random.Random, hdr: VcfHeader) -> str:
    r = rng.random()
    if r < 0.4:
        left = _numeric_expr(rng, hdr)
        rhs = '"."' if rng.random() < 0.1 else _num(rng)
        return f"{left}{rng.choice(_OPS)}{rhs}"
    if r < 0.55:
        strs = _string_tags(hdr, False) + (["FMT/" + t for t in _string_tags(hdr, True)] if hdr.samples else [])
        tag = rng.choice(strs) if strs and rng.random() < 0.7 else rng.choice(["REF", "ALT", "ALT[0]", "CHROM"])
        if rng.random() < 0.35:
            return f'{tag}{rng.choice(["~", "!~"])}"{rng.choice(_REGEX)}"'
        return f'{tag}{rng.choice(["==", "!=", "="])}"{rng.choice(_WORDS + ("A", "C", "G", "T", "<DEL>"))}"'
    if r < 0.65:
        t = rng.choice(["snp", "indel", "mnp", "other", "ref", "snps", "bnd", "overlap"])
        return f'TYPE{rng.choice(["=", "==", "!=", "~", "!~"])}"{t}"'
    if r < 0.73 and hdr.samples and "GT" in hdr.format_type:
        return f'GT{rng.choice(["=", "!=", "~", "!~"] if rng.random() < 0.2 else ["=", "!="])}"{rng.choice(_GT)}"'
    if r < 0.8:
        f = rng.choice(["PASS", "q10", "s50", ".", "q10;s50", "LowQual"])
        return f'FILTER{rng.choice(["=", "!=", "~", "!~"])}"{f}"'
    if r < 0.86:
        return f'ID{rng.choice(["=", "!="])}"{rng.choice([".", "rs1", "id1", "x2"])}"' if rng.random() < 0.7 else \
            f'ID~"{rng.choice(["^rs", "1$", "id"])}"'
    flags = [k for k, t in hdr.info_type.items() if t == "Flag"]
    if r < 0.92 and flags:
        return f"{rng.choice(flags)}{rng.choice(['=1', '=0', '!=1'])}"
    if r < 0.96:
        return f"STRLEN({rng.choice(['REF', 'ALT'])}){rng.choice(_OPS)}{rng.choice(['1', '2', '3'])}"
    if hdr.samples and "GT" in hdr.format_type:
        return f'N_PASS(GT="{rng.choice(["het", "alt", "mis"])}"){rng.choice([">", ">=", "=="])}{rng.choice(["0", "1", "2"])}'
    return f"QUAL>{_num(rng)}"


def generate_expr(rng: random.Random, hdr: VcfHeader, depth: int = 0) -> str:
    """One random expression over ``hdr``'s tags."""
    if depth < 2 and rng.random() < 0.4:
        op = rng.choice(["&&", "||", "&", "|"])
        left, right = generate_expr(rng, hdr, depth + 1), generate_expr(rng, hdr, depth + 1)
        expr = f"{left} {op} {right}"
        return f"({expr})" if rng.random() < 0.3 else expr
    return _comparison(rng, hdr)

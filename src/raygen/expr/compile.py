"""Compile a bcftools filtering expression into RPN tokens (bcftools 1.24's ``filter_init``), against a header.

The grammar and its quirks are bcftools': operators of equal precedence group to the right
(``10-5-2`` is ``10-(5-2)``), a bare ``-`` before a value is ``-1*``, a tag name may be any prefix of
``QUAL``, ``TYPE``, ``FILTER``, ``ID``, ``CHROM``, ``POS``, ``REF``, ``ALT``, ``N_ALT``, ``N_SAMPLES``,
``N_MISSING``, ``F_MISSING`` (tried in that order), ``"."`` compared with a numeric tag means missing, and
the value beside ``TYPE``/``GT``/``FILTER`` is read as a type class, genotype class or FILTER names.
Whatever raygen does not evaluate (PERL, BINOM/FISHER/PHRED, ``{}``) raises :class:`ExprError` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from raygen.expr.lexer import ExprError, tokens
from raygen.io.header import VcfHeader

PREC = {"(": 1, ")": 1, "<=": 5, "<": 5, "==": 5, ">": 5, ">=": 5, "!=": 5, "|": 2, "&": 3, "+": 6, "-": 6,
        "*": 7, "/": 7, "%": 7, "&&": 3, "||": 2, "~": 5, "!~": 5}
FUNC_KINDS = {"MAX", "MIN", "AVG", "MEDIAN", "STDEV", "SUM", "ABS", "COUNT", "STRLEN", "sCOUNT", "sMAX", "sMIN",
              "sAVG", "sMEDIAN", "sSTDEV", "sSUM", "N_PASS", "F_PASS", "BINOM"}
UNSUPPORTED = {"FISHER", "PHRED"}
_KEYWORDS = ("QUAL", "TYPE", "FILTER", "ID", "CHROM", "POS", "REF", "ALT", "N_ALT", "N_SAMPLES", "N_MISSING",
             "F_MISSING")
#: htslib variant-type bits for TYPE constants (bcftools shifts them by one; REF is 1).
TYPE_CODES = {"snp": 1 << 1, "snps": 1 << 1, "indel": 4 << 1, "indels": 4 << 1, "mnp": 2 << 1, "mnps": 2 << 1,
              "other": 8 << 1, "bnd": 16 << 1, "overlap": 32 << 1, "ref": 1}


@dataclass(eq=False)
class Tok:
    """One RPN token; the first block is fixed at compile time, the second is set per record."""

    kind: str  # "val", an operator, or a function kind
    text: str = ""
    key: str | None = None  # string constant
    tag: str | None = None
    setter: str | None = None  # what a value token reads from the record
    comparator: str | None = None  # "filter", "id", "hash", "bit_and"
    is_str: bool = False
    is_missing: bool = False
    is_constant: bool = False
    threshold: float = 0.0
    hdr: str | None = None  # "INFO" or "FORMAT"
    number: str = "1"
    typ: str = ""
    idx: int = 0
    idxs: list[int] = field(default_factory=list)
    nuidxs: int = 0
    usmpl: list[bool] | None = None
    nsamples: int = 0
    hash: set[str] | None = None
    regex: re.Pattern | None = None
    filter_ids: list[str] = field(default_factory=list)
    # per record
    values: list = field(default_factory=list)
    strs: list[str] = field(default_factory=list)  # per-sample strings of FORMAT string tokens
    str_value: str = ""
    nvalues: int = 0
    nval1: int = 0
    pass_site: int = 0
    pass_samples: list[int] = field(default_factory=list)


def _parse_idxs(text: str) -> tuple[int, list[int]]:
    """bcftools' ``parse_idxs``: ``(idx, idxs)``; idx >= 0 one index, -2 a list (idxs: 1 = use, last -1 =
    open range), -3 GT-selected."""
    if text in ("", "*"):
        return -2, [-1]
    if text == "GT":
        return -3, [-1]
    if re.fullmatch(r"\d+", text):
        return int(text), []
    idxs: list[int] = []
    ibeg = -1
    pos = 0
    while pos < len(text):
        m = re.match(r"-?\d*", text[pos:])
        num_txt = m.group(0)
        if num_txt in ("", "-"):
            raise ExprError(f"could not parse the index {text!r}")
        num = int(num_txt)
        end = pos + len(num_txt)
        nxt = text[end] if end < len(text) else ""
        if nxt == "-":
            ibeg, pos = num, end + 1
            continue
        if nxt not in (",", ""):
            raise ExprError(f"could not parse the index {text!r}")
        pos = end + 1 if nxt == "," else end
        if num >= len(idxs):
            idxs += [0] * (num + 1 - len(idxs))
        if ibeg >= 0:
            for i in range(ibeg, num + 1):
                idxs[i] = 1
            ibeg = -1
        idxs[num] = 1
    if ibeg >= 0:
        if ibeg >= len(idxs):
            idxs += [0] * (ibeg + 1 - len(idxs))
        idxs[ibeg] = -1
    return -2, idxs


def _subscript(tok: Tok, sub: str, hdr: VcfHeader, is_fmt: bool) -> None:
    """``TAG[...]`` (bcftools' ``parse_tag_idx``): value indices and, for FORMAT tags, sample indices."""
    n = len(hdr.samples)
    if sub.startswith("@"):
        raise ExprError(f"sample lists read from a file ({sub!r}) are not supported in -i/-e expressions")
    if ":" in sub:
        if not is_fmt:
            raise ExprError(f"could not parse the index {sub!r}: not a FORMAT tag, yet a sample index is given")
        s_txt, v_txt = sub.rsplit(":", 1)
        sidx, sidxs = _parse_idxs(s_txt)
        tok.idx, tok.idxs = _parse_idxs(v_txt)
    else:
        sidx, sidxs = _parse_idxs(sub)
        if is_fmt:
            if sidxs == [-1]:
                tok.idx, tok.idxs = sidx, [-1]
            elif hdr.format_number.get(tok.tag, "1") != "1":
                raise ExprError(f"the FORMAT tag {tok.tag} can have multiple subfields, write {tok.tag}[sample:subfield]")
            else:
                tok.idx = 0
        else:
            tok.idx, tok.idxs = sidx, sidxs
            sidx = None
    if is_fmt and sidx is not None:
        use = [False] * n
        if sidx >= 0:
            if sidx >= n:
                raise ExprError(f"the sample index is too large: {sub}")
            use[sidx] = True
        else:
            i = 0
            for i, v in enumerate(sidxs):
                if v == -1:
                    break
                if v:
                    if i >= n:
                        raise ExprError(f"the sample index is too large: {sub}")
                    use[i] = True
            else:
                i = len(sidxs)
            if sidxs and sidxs[-1] == -1:
                for j in range(i, n):
                    use[j] = True
        tok.nsamples, tok.usmpl = n, use
    if tok.idxs and tok.idxs[-1] != -1:
        tok.nuidxs = sum(1 for v in tok.idxs if v)


def _keyword(text: str) -> str | None:
    up = text.upper()
    if up in ("%QUAL", "%TYPE", "%FILTER", "%ID"):
        return up[1:]
    return next((k for k in _KEYWORDS if up and k.startswith(up)), None)


def _value_token(text: str, hdr: VcfHeader, base_dir: Path | None) -> Tok:
    """bcftools' ``filters_init1``: what a value token stands for."""
    tok = Tok("val", text)
    if text[:1] in "\"'":
        tok.key, tok.is_str = text[1:-1], True
        tok.is_missing = tok.key == "."
        return tok
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        if base_dir is not None and not path.is_absolute() and not path.exists():
            path = base_dir / path
        try:
            tok.hash = {line.split()[0] for line in path.read_text().splitlines() if line.split()}
        except OSError as exc:
            raise ExprError(f"could not read {text[1:]!r} (in the expression): {exc.strerror}") from None
        tok.tag = text
        return tok
    is_fmt = None
    name = text
    for prefix, fmt in (("FMT/", True), ("FORMAT/", True), ("INFO/", False)):
        if name.upper().startswith(prefix):
            name, is_fmt = name[len(prefix):], fmt
            break
    if is_fmt is None:
        kw = _keyword(name)
        if kw is not None:
            return _keyword_token(tok, kw, hdr)
    return _tag_token(tok, name, is_fmt, hdr)


def _keyword_token(tok: Tok, kw: str, hdr: VcfHeader) -> Tok:
    tok.tag = kw
    if kw == "FILTER":
        tok.comparator, tok.is_str = "filter", False
    elif kw == "ID":
        tok.comparator = "id"
    elif kw == "N_SAMPLES":
        tok.is_constant, tok.threshold, tok.tag = True, float(len(hdr.samples)), None
    else:
        tok.setter = kw
        tok.is_str = kw in ("REF", "ALT", "CHROM")
        if kw == "ALT":
            tok.idx, tok.idxs = -2, [-1]
        if kw in ("N_MISSING", "F_MISSING"):
            tok.nsamples, tok.usmpl = len(hdr.samples), [True] * len(hdr.samples)
    return tok


_COMPUTED = {"AN": "AN", "AC": "AC", "MAC": "MAC", "AF": "AF", "MAF": "MAF", "ILEN": "ILEN", "%ILEN": "ILEN"}


def _tag_token(tok: Tok, name: str, is_fmt: bool | None, hdr: VcfHeader) -> Tok:
    sub = None
    if name.endswith("]") and "[" in name:
        name, sub = name[: name.index("[")], name[name.index("[") + 1: -1]
    in_info, in_fmt = name in hdr.info_type, name in hdr.format_type
    known = in_info or in_fmt
    if is_fmt is None:
        if in_info and in_fmt:
            raise ExprError(f"ambiguous filtering expression, both INFO/{name} and FORMAT/{name} are defined in the "
                            "VCF header")
        is_fmt = bool(in_fmt)
    tok.tag = name
    if not known:
        return _unknown_tag(tok, name, sub)
    if sub is not None:
        _subscript(tok, sub, hdr, is_fmt)
        if tok.idx == -3 and hdr.format_number.get(name) != "R":
            raise ExprError("GT subscripts can be used only with Number=R tags")
    elif is_fmt:
        tok.nsamples, tok.usmpl = len(hdr.samples), [True] * len(hdr.samples)
    tok.hdr = "FORMAT" if is_fmt else "INFO"
    if is_fmt:
        if not in_fmt:
            raise ExprError(f"no such FORMAT field: {name}")
        tok.number, tok.typ = hdr.format_number.get(name, "1"), hdr.format_type.get(name, "String")
        if name == "GT":
            tok.setter, tok.is_str = "GT", True
            return tok
        if tok.number != "1" and sub is None:
            tok.idx, tok.idxs = -2, [-1]
        tok.setter = "FORMAT"
        tok.is_str = tok.typ not in ("Integer", "Float")
        return tok
    if not in_info:
        raise ExprError(f"no such INFO field: {name}")
    tok.number, tok.typ = hdr.info_number.get(name, "1"), hdr.info_type.get(name, "String")
    if tok.typ == "Flag":
        tok.setter = "FLAG"
        return tok
    tok.is_str = tok.typ not in ("Integer", "Float")
    if tok.number == "1":
        tok.setter = "INFO1"
    else:
        tok.setter = "INFO"
        if sub is None:
            tok.idx, tok.idxs = -2, [-1]
    return tok


def _unknown_tag(tok: Tok, name: str, sub: str | None) -> Tok:
    """A name the header does not define: ALT, a computed value (AC, AN, AF, MAC, MAF, ILEN) or a number."""
    up = name.upper()
    if up == "ALT":
        tok.setter, tok.is_str = "ALT", True
        if sub is not None:
            tok.idx, tok.idxs = _parse_idxs(sub)
        return tok
    if up in _COMPUTED:  # bcftools ignores a subscript here (AC[0] is every AC)
        tok.setter = _COMPUTED[up]
        if up in ("AC", "AF"):
            tok.idx = -2
        return tok
    text = name if sub is None else f"{name}[{sub}]"
    if re.fullmatch(r"[+-]?\d+", text):
        tok.threshold, tok.typ = float(int(text)), "Integer"
    else:
        try:
            tok.threshold, tok.typ = float(text), "Float"
        except ValueError:
            raise ExprError(f"the tag {text!r} is not defined in the VCF header") from None
    tok.is_constant, tok.tag = True, None
    return tok


@dataclass
class Compiled:
    """An expression in RPN, ready for :mod:`raygen.expr.evaluate`."""

    text: str
    rpn: list[Tok]
    n_samples: int
    uses_format: bool


def _shunting_yard(text: str, hdr: VcfHeader, base_dir: Path | None) -> list[Tok]:
    out: list[Tok] = []
    ops: list[Tok] = []
    last = None
    for kind, tk in tokens(text):
        if kind in UNSUPPORTED:
            raise ExprError(f"the function {tk}() is not supported by raygen (in {text!r})")
        if kind == "(":
            ops.append(Tok("("))
        elif kind == ")":
            while ops and ops[-1].kind != "(":
                out.append(ops.pop())
            if not ops:
                raise ExprError(f"could not parse: {text} (unbalanced ')')")
            ops.pop()
        elif kind == "val":
            if (tk.endswith(",") or tk.startswith(",")) and any(o.kind == "BINOM" for o in ops):
                raise ExprError(f"binom() with two arguments is not supported by raygen (in {text!r}); "
                                "binom(FMT/AD) with one is")
            out.append(_value_token(tk[:-1] if tk.endswith(",") else tk, hdr, base_dir))
        else:
            if kind == "-" and last not in ("val", ")"):  # unary minus: -x is -1*x
                out.append(Tok("val", "-1", is_constant=True, threshold=-1.0))
                kind = "*"
            if kind in ("N_PASS", "F_PASS"):
                ops.append(Tok("FUNC", tk, tag=kind))
                last = kind
                continue
            prec = PREC.get(kind, 8)
            while ops and prec < PREC.get(ops[-1].kind, 8):
                out.append(ops.pop())
            ops.append(Tok(kind, tk))
        last = kind
    while ops:
        t = ops.pop()
        if t.kind in ("(", ")"):
            raise ExprError(f"could not parse the expression: {text} (unbalanced '(')")
        out.append(t)
    if not out:
        raise ExprError(f"could not parse the expression {text!r}")
    return out


_GT_CLASSES = {"hom": "GT3", "het": "GT3", "hap": "GT3", "mis": "GT4", "ref": "GT4", "alt": "GT4", "rr": "GT2",
               "ra": "GT2", "ar": "GT2", "aa": "GT2", "a": "GT2", "r": "GT2"}


def _operand_index(out: list[Tok], i: int, ops: tuple[str, ...]) -> tuple[int, int] | None:
    """(value index, operator index) for a TYPE/GT/FILTER token at ``i``: the constant just before it with
    the operator after it, or the constant after it with the operator after that."""
    if i + 1 < len(out) and out[i + 1].kind in ops:
        return i - 1, i + 1
    if i + 2 < len(out) and out[i + 2].kind in ops:
        return i + 1, i + 2
    return None


def _post_process(out: list[Tok], hdr: VcfHeader, text: str) -> None:
    """bcftools' pass over the RPN: ``.`` as missing, regexes, TYPE/GT/FILTER constants, @file lookups."""
    i = 0
    while i < len(out):
        t = out[i]
        if i + 1 < len(out) and t.kind in ("<", ">") and out[i + 1].kind == "==":
            raise ExprError(f"error parsing the expression: {text!r}")
        if t.hash is not None:
            j = i + 1 if i + 1 < len(out) and out[i + 1].kind == "val" else i - 1
            if out[j].comparator != "id":
                if out[j].comparator:
                    raise ExprError("could not parse the expression with \"@file_name\" syntax")
                out[j].comparator = "hash"
        if t.kind in ("==", "!=") and i >= 2:
            j, k = i - 1, i - 2
            if not out[j].is_str:
                j, k = i - 2, i - 1
            if out[j].is_str and out[j].key == ".":
                if out[k].hdr is not None and out[k].typ in ("Integer", "Float"):
                    out[j].is_str, out[j].is_missing = False, True
                elif out[k].tag is None:
                    raise ExprError(f"could not parse the expression {text!r}")
                elif out[k].tag == "QUAL":
                    out[j].is_str, out[j].is_missing = False, True
        if t.kind in ("~", "!~"):
            v = out[i - 1] if i >= 1 else None
            if v is None or v.key is None:
                raise ExprError(f"could not parse the expression, wrong value for regex operator: {text!r}")
            v.regex = _regex(v.key, text)
        if t.kind != "val" or t.tag is None:
            i += 1
            continue
        if t.setter == "TYPE":
            i = _type_constant(out, i, text) + 1  # bcftools skips the operator after TYPE here
            continue
        if t.tag == "GT" and t.setter == "GT":
            _gt_constant(out, i, text)
        elif t.comparator == "filter":
            i = _filter_constant(out, i, hdr, text)
        i += 1


def _regex(pattern: str, text: str) -> re.Pattern:
    """bcftools compiles ``~`` patterns as POSIX *basic* regexes (``regcomp`` without REG_EXTENDED, glibc's
    GNU extensions ``\\|``, ``\\+``, ``\\?`` included); ``/i`` at the end ignores case."""
    flags = 0
    if len(pattern) > 2 and pattern.endswith("/i") and pattern[-3] != "\\":
        pattern, flags = pattern[:-2], re.IGNORECASE
    try:
        return re.compile(bre_to_python(pattern), flags)
    except (re.error, ValueError) as exc:
        raise ExprError(f"could not compile the regex {pattern!r} in {text!r}: {exc}") from None


_POSIX_CLASSES = {"alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
                  "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
                  "xdigit": "0-9A-Fa-f", "cntrl": "\\x00-\\x1f\\x7f", "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e"}


def _bracket(p: str, i: int) -> tuple[str, int]:
    """A POSIX bracket expression starting at ``p[i] == '['`` -> (Python class, index after it)."""
    j = i + 1
    out = "["
    if j < len(p) and p[j] == "^":
        out, j = "[^", j + 1
    first = True
    while j < len(p):
        c = p[j]
        if c == "]" and not first:
            return out + "]", j + 1
        if c == "[" and p[j + 1:j + 2] == ":":
            k = p.find(":]", j + 2)
            if k < 0:
                raise ValueError("unterminated character class")
            name = p[j + 2:k]
            if name not in _POSIX_CLASSES:
                raise ValueError(f"unknown character class [:{name}:]")
            out += _POSIX_CLASSES[name]
            j = k + 2
        else:
            out += "\\" + c if c in "\\[]^" else c
            j += 1
        first = False
    raise ValueError("unterminated bracket expression")


def bre_to_python(p: str) -> str:
    """A POSIX basic regular expression (GNU flavour) as a Python ``re`` pattern."""
    out: list[str] = []
    i, n = 0, len(p)
    at_start = True
    while i < n:
        c = p[i]
        if c == "\\" and i + 1 < n:
            d = p[i + 1]
            if d in "(|":
                out.append(d)
                at_start = True
            elif d in "){}+?":
                out.append(d)
                at_start = False
            elif d.isdigit() or d in "wWsSbB":
                out.append("\\" + d)
                at_start = False
            elif d in "<>":
                out.append("\\b")
            else:
                out.append(re.escape(d))
                at_start = False
            i += 2
            continue
        if c == "[":
            cls, i = _bracket(p, i)
            out.append(cls)
            at_start = False
            continue
        if c == "^" and at_start:
            out.append("^")
        elif c == "$" and (i == n - 1 or p[i + 1:i + 3] in ("\\)", "\\|")):
            out.append("$")
        elif c == "*" and at_start:
            out.append("\\*")
            at_start = False
        elif c in ".*":
            out.append(c)
            at_start = False
        else:
            out.append(re.escape(c))
            at_start = False
        i += 1
    return "".join(out)


def _type_constant(out: list[Tok], i: int, text: str) -> int:
    where = _operand_index(out, i, ("==", "!=", "~", "!~"))
    if where is None or out[where[0]].key is None:
        raise ExprError(f"could not parse the expression: {text}")
    ival, itok = where
    v = out[ival]
    code = TYPE_CODES.get(v.key.lower())
    if code is None:
        raise ExprError(f"the type {v.key!r} is not recognised: {text}")
    v.threshold, v.is_str, v.is_constant = float(code), False, True
    if out[itok].kind in ("~", "!~"):
        out[itok].comparator = "bit_and"
    v.tag, v.key = v.key, None
    return itok


def _gt_constant(out: list[Tok], i: int, text: str) -> None:
    where = _operand_index(out, i, ("==", "!=", "~", "!~"))
    if where is None:
        raise ExprError(f"could not parse the expression: {text}")
    v = out[where[0]]
    if v.key is None:
        raise ExprError("comparison between samples is not supported")
    low = v.key.lower()
    if low in _GT_CLASSES or v.key in ("aA", "Aa"):
        out[i].setter = _GT_CLASSES.get(low, "GT2")
        if v.key in ("aA", "Aa"):
            v.key = "aA"
        elif low in ("ra", "ar"):
            v.key = "ra"
        else:
            v.key = low


def _filter_constant(out: list[Tok], i: int, hdr: VcfHeader, text: str) -> int:
    if i + 1 < len(out) and out[i + 1].kind in ("==", "!=", "~", "!~"):
        ival = i - 1
        op = out[i + 1]
    elif i + 2 < len(out) and out[i + 2].kind in ("==", "!=", "~", "!~"):
        ival = i + 1
        op = out[i + 2]
        i += 1
    else:
        raise ExprError(f"could not parse the expression: {text}")
    if op.kind == "~":
        op.kind = "IN"
    elif op.kind == "!~":
        op.kind = "NOT_IN"
    v = out[ival]
    if v.kind != "val" or v.key is None:
        raise ExprError(f"could not parse the expression, an unquoted string value perhaps? {text}")
    names = v.key.split(";")
    has_missing = "." in names
    v.filter_ids = [n for n in names if n != "."]
    for n in v.filter_ids:
        if n != "PASS" and n not in hdr.filters:
            raise ExprError(f"the filter {n!r} is not present in the VCF header")
    if has_missing and v.filter_ids:
        raise ExprError(f"the FILTER expression cannot contain missing value AND filters: {v.key!r}")
    v.tag, v.key, v.typ = v.key, None, "FILTER_NAMES"
    return i


def compile_expr(text: str, hdr: VcfHeader, base_dir: Path | None = None) -> Compiled:
    """Compile ``text`` against ``hdr`` (raises :class:`ExprError` naming what it cannot use)."""
    out = _shunting_yard(text, hdr, base_dir)
    _post_process(out, hdr, text)
    n = len(hdr.samples)
    uses_format = any(t.nsamples for t in out) or any(t.setter in ("GT", "GT2", "GT3", "GT4") for t in out)
    for t in out:
        if t.setter in ("GT", "GT2", "GT3", "GT4") and not t.nsamples:
            t.nsamples, t.usmpl = n, [True] * n
        t.pass_samples = [0] * n
    return Compiled(text, out, n, uses_format)

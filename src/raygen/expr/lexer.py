"""Tokens of bcftools' filtering expressions (``-i/-e``), as bcftools 1.24's ``filters_next_token`` cuts them.

:func:`tokens` yields ``(kind, text)``: ``kind`` is ``"val"`` (a tag name, number, quoted string or
``@file``), an operator (``<=``, ``<``, ``==``, ``>``, ``>=``, ``!=``, ``|``, ``&``, ``||``, ``&&``, ``+``,
``-``, ``*``, ``/``, ``%``, ``~``, ``!~``, ``(``, ``)``) or a function name (upper case, e.g. ``MAX``,
``SMPL_MAX``, ``N_PASS``); ``text`` is the source text of the token. The function's ``(`` stays in the
stream, as in bcftools.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from raygen.errors import UsageError


class ExprError(UsageError):
    """An expression raygen cannot read or evaluate; the message names the token."""


#: Function prefixes in bcftools' order (longest spellings first where they share a prefix); value: kind.
FUNCTIONS = (
    ("SMPL_COUNT(", "sCOUNT"), ("SMPL_MAX(", "sMAX"), ("SMPL_MIN(", "sMIN"), ("SMPL_MEAN(", "sAVG"),
    ("SMPL_MEDIAN(", "sMEDIAN"), ("SMPL_AVG(", "sAVG"), ("SMPL_STDEV(", "sSTDEV"), ("SMPL_SUM(", "sSUM"),
    ("sCOUNT(", "sCOUNT"), ("sMAX(", "sMAX"), ("sMIN(", "sMIN"), ("sMEAN(", "sAVG"), ("sMEDIAN(", "sMEDIAN"),
    ("sAVG(", "sAVG"), ("sSTDEV(", "sSTDEV"), ("sSUM(", "sSUM"), ("MAX(", "MAX"), ("MIN(", "MIN"),
    ("MEAN(", "AVG"), ("MEDIAN(", "MEDIAN"), ("AVG(", "AVG"), ("STDEV(", "STDEV"), ("SUM(", "SUM"),
    ("ABS(", "ABS"), ("COUNT(", "COUNT"), ("STRLEN(", "STRLEN"), ("BINOM(", "BINOM"), ("FISHER(", "FISHER"),
    ("PHRED(", "PHRED"), ("%MAX(", "MAX"), ("%MIN(", "MIN"), ("%AVG(", "AVG"), ("%SUM(", "SUM"),
)
_STRTOD = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BREAK = set("\"' \t\n<>=!&|()+*-/~%")


def _number(s: str, i: int) -> int:
    """Length of the number ``strtod`` reads at ``s[i:]`` when bcftools takes it as one (0: not a number)."""
    m = _STRTOD.match(s, i)
    if not m:
        return 0
    j = m.end()
    if j < len(s) and s[j].isalnum():
        return 0
    return j - i


def tokens(expr: str) -> Iterator[tuple[str, str]]:
    s, i, n = expr, 0, len(expr)
    while True:
        while i < n and s[i].isspace():
            i += 1
        if i >= n:
            return
        if s[i].isdigit() or s[i] == ".":
            k = _number(s, i)
            if k:
                yield "val", s[i:i + k]
                i += k
                continue
        upper = s[i:i + 12].upper()
        func = next(((p, kind) for p, kind in FUNCTIONS if upper.startswith(p.upper())), None)
        if func is not None:
            yield func[1], s[i:i + len(func[0]) - 1]
            i += len(func[0]) - 1
            continue
        t = i
        for prefix in ("INFO/", "FORMAT/", "FMT/"):
            if s[t:t + len(prefix)].upper() == prefix:
                t += len(prefix)
        for name, kind in (("PERL.", "PERL"), ("N_PASS(", "N_PASS"), ("F_PASS(", "F_PASS")):
            if s[t:t + len(name)].upper() == name:
                if kind == "PERL":
                    raise ExprError(f"PERL functions are not supported (token {s[i:]!r})")
                yield kind, s[i:t + 6]
                i = t + 6
                break
        else:
            i = yield from _value_or_operator(s, i, t, n)
            continue


def _value_or_operator(s: str, i: int, t: int, n: int):
    if s[t:t + 5].upper() == "%ILEN":
        yield "val", s[i:t + 5]
        return t + 5
    for ext in ("{}", "{STR}", "{INT}", "{FLOAT}"):
        if s[t:t + len(ext)].upper() == ext:
            raise ExprError(f"external values {ext} are not supported in -i/-e expressions")
    if s[t] == "@":
        j = t
        while j < n and not s[j].isspace() and s[j] not in "=!":
            j += 1
        yield "val", s[i:j]
        return j
    j, brackets = t, 0
    while j < n:
        c = s[j]
        if not brackets and c in _BREAK:
            break
        if c == "]":
            if brackets:
                j += 1
            break
        if c == "[":
            brackets += 1
        j += 1
    if j > i:
        yield "val", s[i:j]
        return j
    c = s[j]
    if c in "\"'":
        k = s.find(c, j + 1)
        if k < 0:
            raise ExprError(f"missing quotes in: {s}")
        yield "val", s[j:k + 1]
        return k + 1
    two = s[j:j + 2]
    for op in ("!=", "!~", "<=", ">=", "==", "&&", "||"):
        if two == op:
            yield ("==" if op == "==" else op), op
            return j + 2
    if c in "<>=()&|+-*/~%":
        yield ("==" if c == "=" else c), c
        return j + 1
    raise ExprError(f"could not parse the expression at {s[j:]!r} (in {s!r})")

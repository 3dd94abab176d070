"""Vectorised evaluation of site-level expressions over a whole text table (numpy + Arrow, no per-record
Python), for the shapes that need nothing but the record's own columns:

- values: ``QUAL``, ``POS``, ``N_ALT``, INFO Number=1 Integer/Float tags, INFO Flags, numeric constants
  and ``"."``; ``+ - * /`` between them;
- comparisons ``== != < <= > >=`` of those; ``FILTER`` and ``REF``/``CHROM`` ``==``/``!=`` a string;
- ``&& || & |`` between site results.

Anything else (FORMAT tags, vectors, functions, regexes, TYPE, ...) returns None and the caller uses the
per-record evaluator. Semantics are those of :mod:`raygen.expr.evaluate` (missing logic, single-precision
comparison below 2^24); the tests check both paths agree.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.expr.compile import Tok

ABSENT, MISSING, VALUE = 0, 1, 2
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


class _Unsupported(Exception):
    pass


def _arr(table: pa.Table, name: str) -> pa.Array:
    col = table[name]
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Text -> (state, float64 values): '.' or null -> missing; anything not a plain number -> unsupported."""
    ok = pc.fill_null(pc.match_substring_regex(text, f"^{_NUMBER}$"), False).to_numpy(zero_copy_only=False)
    dot = pc.fill_null(pc.equal(text, "."), False).to_numpy(zero_copy_only=False)
    null = pc.is_null(text).to_numpy(zero_copy_only=False)
    if not np.all(ok | dot | null):
        raise _Unsupported
    vals = pc.cast(pc.if_else(pa.array(ok), text, pa.scalar("0")), pa.float64()).to_numpy(zero_copy_only=False)
    state = np.where(ok, VALUE, MISSING).astype(np.int8)
    return state, vals


def _float32(v: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return v.astype(np.float32).astype(np.float64)


def _info1(table: pa.Table, tok: Tok) -> tuple[np.ndarray, np.ndarray]:
    info = _arr(table, "INFO")
    found = pc.extract_regex(info, rf"(?:^|;){re.escape(tok.tag)}=(?P<v>[^;,]*)")
    text = pc.struct_field(found, "v")
    state, vals = _numbers(text)
    present = pc.is_valid(found).to_numpy(zero_copy_only=False)
    state = np.where(present & (state == VALUE), VALUE, ABSENT).astype(np.int8)  # '.' or absent: no value
    if tok.typ == "Float":
        vals = _float32(vals)
    elif np.any((state == VALUE) & ((vals != np.round(vals)) | (vals > 2147483647) | (vals < -2147483640))):
        raise _Unsupported  # htslib reads these Integers its own way: leave them to the per-record path
    return state, vals


def _value(table: pa.Table, tok: Tok, n: int):
    if tok.setter is None:
        if tok.is_missing and not tok.is_str:
            return ("num", np.full(n, MISSING, np.int8), np.zeros(n))
        if tok.key is not None:
            return ("str", tok.key)
        if tok.is_constant and tok.comparator is None and not tok.filter_ids:
            return ("num", np.full(n, VALUE, np.int8), np.full(n, tok.threshold))
        raise _Unsupported
    if tok.setter == "QUAL":
        state, vals = _numbers(_arr(table, "QUAL"))
        return ("num", state, _float32(vals))
    if tok.setter == "POS":
        return ("num", np.full(n, VALUE, np.int8), table["POS"].to_numpy().astype(np.float64))
    if tok.setter == "N_ALT":
        alt = _arr(table, "ALT")
        cnt = pc.count_substring(alt, ",").to_numpy(zero_copy_only=False) + 1
        cnt = np.where(pc.equal(alt, ".").to_numpy(zero_copy_only=False), 0, cnt)
        return ("num", np.full(n, VALUE, np.int8), cnt.astype(np.float64))
    if tok.setter == "INFO1" and tok.typ in ("Integer", "Float"):
        return ("num", *_info1(table, tok))
    if tok.setter == "FLAG":
        has = pc.match_substring_regex(_arr(table, "INFO"), rf"(?:^|;){re.escape(tok.tag)}(?:=[^;]*)?(?:;|$)")
        return ("num", np.full(n, VALUE, np.int8), has.to_numpy(zero_copy_only=False).astype(np.float64))
    if tok.setter in ("REF", "CHROM"):
        return ("col", tok.setter)
    raise _Unsupported


def _arith(op: str, a, b):
    (_, sa, va), (_, sb, vb) = a, b
    ok = (sa == VALUE) & (sb == VALUE)
    with np.errstate(all="ignore"):
        if op == "+":
            v = va + vb
        elif op == "-":
            v = va - vb
        elif op == "*":
            v = va * vb
        elif op == "/":
            v = va / vb
        else:
            raise _Unsupported
    return ("num", np.where(ok, VALUE, ABSENT).astype(np.int8), v)


def _compare(op: str, a, b) -> np.ndarray:
    """``CMP_VECTORS`` for two site scalars (state ABSENT / MISSING / VALUE per row)."""
    ml = {"==": (1, 0, 1), "!=": (1, 1, 0)}.get(op, (0, 0, 0))
    (_, sa, va), (_, sb, vb) = a, b
    big = (va > 16777216) | (vb > 16777216)
    x = np.where(big, va, _float32(va))
    y = np.where(big, vb, _float32(vb))
    with np.errstate(invalid="ignore"):
        cmp = {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    both_absent = (sa == ABSENT) & (sb == ABSENT)
    one_absent = (sa == ABSENT) ^ (sb == ABSENT)
    other = np.where(sa == ABSENT, sb, sa)
    nmiss = (sa == MISSING).astype(np.int8) + (sb == MISSING)
    out = np.where(both_absent, bool(ml[2]), False)
    out = np.where(one_absent, np.where(other == MISSING, bool(ml[2]), bool(ml[1])), out)
    present = ~both_absent & ~one_absent
    out = np.where(present & (nmiss == 2), bool(ml[2]), out)
    out = np.where(present & (nmiss == 1), bool(ml[1]), out)
    return np.where(present & (nmiss == 0), cmp, out)


def _compare_strings(op: str, a, b, table: pa.Table) -> np.ndarray:
    col, text = (a, b) if a[0] == "col" else (b, a)
    if col[0] != "col" or text[0] != "str" or op not in ("==", "!=") or "," in text[1] or text[1] in (".", ""):
        raise _Unsupported
    eq = pc.fill_null(pc.equal(_arr(table, col[1]), text[1]), False).to_numpy(zero_copy_only=False)
    return eq if op == "==" else ~eq


def _filter(op: Tok, want: list[str], table: pa.Table) -> np.ndarray:
    flt = _arr(table, "FILTER")
    if len(want) != 1:
        raise _Unsupported
    name = re.escape(want[0])
    exact = pc.fill_null(pc.equal(flt, want[0]), False).to_numpy(zero_copy_only=False)
    has = pc.fill_null(pc.match_substring_regex(flt, f"(?:^|;){name}(?:;|$)"), False).to_numpy(zero_copy_only=False)
    empty = pc.fill_null(pc.equal(flt, "."), False).to_numpy(zero_copy_only=False)
    if op.kind == "==":
        return exact
    if op.kind == "!=":
        return ~exact
    if op.kind == "IN":
        return has & ~empty
    if op.kind == "NOT_IN":
        return ~has | empty
    raise _Unsupported


def _site_mask(rpn: list[Tok], table: pa.Table) -> np.ndarray:
    n = table.num_rows
    stack: list = []
    for tok in rpn:
        if tok.kind == "val":
            if tok.comparator == "filter":
                stack.append(("filter", tok))
            elif tok.typ == "FILTER_NAMES":
                stack.append(("filterval", tok.filter_ids))
            else:
                stack.append(_value(table, tok, n))
            continue
        if len(stack) < 2 or tok.kind not in ("+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "IN",
                                              "NOT_IN", "&&", "||", "&", "|"):
            raise _Unsupported
        b, a = stack.pop(), stack.pop()
        if tok.kind in ("&&", "&", "||", "|"):
            if a[0] != "pass" or b[0] != "pass":
                raise _Unsupported
            stack.append(("pass", (a[1] & b[1]) if tok.kind in ("&&", "&") else (a[1] | b[1])))
        elif tok.kind in ("+", "-", "*", "/"):
            if a[0] != "num" or b[0] != "num":
                raise _Unsupported
            stack.append(_arith(tok.kind, a, b))
        elif "filter" in (a[0], b[0]):
            f, v = (a, b) if a[0] == "filter" else (b, a)
            if v[0] != "filterval":
                raise _Unsupported
            stack.append(("pass", _filter(tok, v[1], table)))
        elif a[0] == "num" and b[0] == "num" and tok.kind not in ("IN", "NOT_IN"):
            stack.append(("pass", _compare(tok.kind, a, b)))
        else:
            stack.append(("pass", _compare_strings(tok.kind, a, b, table)))
    if len(stack) != 1 or stack[0][0] != "pass":
        raise _Unsupported
    return stack[0][1]


def vector_mask(expr, table: pa.Table) -> np.ndarray | None:
    """Kept rows of ``table`` computed in bulk, or None when the expression needs the per-record evaluator."""
    if expr.compiled.uses_format or table.num_rows == 0:
        return None
    try:
        got = _site_mask(expr.compiled.rpn, table)
    except _Unsupported:
        return None
    return got != expr.exclude

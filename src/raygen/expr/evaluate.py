"""Evaluate a compiled expression on one record, as bcftools 1.24's ``filter_test`` does.

A comparison passes a site when any value (any sample's, for FORMAT tags) satisfies it; ``.`` on one side
passes ``!=`` and on both sides ``==`` (``missing_logic``); numbers compare in single precision below
2^24 (bcftools' rule); ``&``/``|`` combine per sample, ``&&``/``||`` per site; strings split on commas (any
field may match). Tokens keep their state from record to record, as bcftools' do.
"""

from __future__ import annotations

import math
import re

import numpy as np

from raygen.expr.compile import Compiled, Tok
from raygen.expr.lexer import ExprError
from raygen.expr.values import END, is_missing, set_value
from raygen.io.header import VcfHeader
from raygen.normalize.bcfrec import Rec, gt_allele

F32_EXACT = 16777216


class GenotypeCache:
    """bcftools' ``cached_GT``: allele masks of the record last cached, keyed by the reader buffer the
    record sat in (see :mod:`raygen.expr.slots`), so a record in the same buffer may get stale masks."""

    def __init__(self) -> None:
        self.slot: int | None = None
        self.ok = False
        self.masks: list[int] = []


class Context:
    """Per-record state the value tokens share: the record's GT codes, and the genotype cache."""

    def __init__(self, rec: Rec, hdr: VcfHeader, slot: int | None = None, cache: GenotypeCache | None = None):
        self.rec, self.hdr, self.slot = rec, hdr, slot
        self.cache = cache if cache is not None else GenotypeCache()
        self._codes: list[list[int]] | None | bool = False

    def gt_codes(self) -> list[list[int]] | None:
        if self._codes is False:
            item = self.rec.fmt_item("GT")
            self._codes = [list(v) for v in item[2]] if item is not None and item[1] == "gt" else None
        return self._codes

    def cache_genotypes(self) -> bool:
        """``filters_cache_genotypes``: True when allele masks are available (maybe another record's)."""
        c = self.cache
        if c.slot is not None and c.slot == self.slot:
            return c.ok
        c.slot = self.slot
        codes = self.gt_codes()
        c.ok = codes is not None and bool(codes)
        if c.ok:
            masks = []
            for v in codes:
                m = 0
                for code in v:
                    if code >> 1:
                        a = gt_allele(code)
                        if a > 63:
                            c.ok = False
                            return False
                        m |= 1 << a if a >= 0 else 0
                masks.append(m)
            c.masks = masks
        return c.ok

    def gt_mask(self, i: int) -> int:
        return self.cache.masks[i] if i < len(self.cache.masks) else 0

    def rec_fmt_index(self, tag: str) -> int:
        return next((j for j, it in enumerate(self.rec.fmt) if it[0] == tag), 0)


def _init_samples(a: Tok, b: Tok, r: Tok) -> None:
    """``tok_init_samples``: the result takes the samples of its operands once, then keeps them."""
    if (a.nsamples or b.nsamples) and not r.nsamples:
        r.nsamples = a.nsamples or b.nsamples
        r.usmpl = [bool((a.usmpl and i < len(a.usmpl) and a.usmpl[i]) or (b.usmpl and i < len(b.usmpl)
                        and b.usmpl[i])) for i in range(r.nsamples)]
    if r.nsamples:
        r.pass_samples = [0] * r.nsamples


def _f32(x: float) -> float:
    return float(np.float32(x))


def _cmp(op: str, a: float, b: float) -> bool:
    if not (a > F32_EXACT or b > F32_EXACT):
        a, b = _f32(a), _f32(b)
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _missing_logic(op: str) -> list[int]:
    if op == "==":
        return [1, 0, 1]
    if op == "!=":
        return [1, 1, 0]
    return [0, 0, 0]


def cmp_vectors(a: Tok, b: Tok, r: Tok, op: str) -> None:
    """``CMP_VECTORS``: numeric comparison of two tokens (site or per-sample values)."""
    ml = _missing_logic(op)
    _init_samples(a, b, r)
    if not a.nsamples and not b.nsamples:
        if not a.nvalues and not b.nvalues:
            r.pass_site = ml[2]
        elif not a.nvalues or not b.nvalues:
            tok = a if a.nvalues else b
            for v in tok.values[: tok.nvalues]:
                if is_missing(v):
                    if ml[2]:
                        r.pass_site = 1
                        break
                elif ml[1]:
                    r.pass_site = 1
                    break
        else:
            r.pass_site = int(_any_pair(a.values[: a.nvalues], b.values[: b.nvalues], op, ml, False))
        return
    if not a.nvalues and not b.nvalues:
        if ml[2]:
            _pass_all(r)
        return
    if not a.nvalues or not b.nvalues:
        tok = a if a.nvalues else b
        if not tok.nsamples:
            miss = 1 + int(any(is_missing(v) for v in tok.values[: tok.nvalues]))
            if ml[miss]:
                _pass_all(r)
        else:
            for i in range(tok.nsamples):
                if r.usmpl[i]:
                    vals = tok.values[i * tok.nval1:(i + 1) * tok.nval1]
                    if ml[1 + int(any(is_missing(v) for v in vals))]:
                        r.pass_samples[i], r.pass_site = 1, 1
        return
    _cmp_samples(a, b, r, op, ml)


def _pass_all(r: Tok) -> None:
    for i in range(r.nsamples):
        if r.usmpl[i]:
            r.pass_samples[i], r.pass_site = 1, 1


def _any_pair(av: list, bv: list, op: str, ml: list[int], skip_missing_a: bool) -> bool:
    for x in av:
        amiss = int(is_missing(x))
        if amiss and skip_missing_a:
            continue
        for y in bv:
            nmiss = amiss + int(is_missing(y))
            if nmiss:
                if ml[nmiss]:
                    return True
            elif _cmp(op, x, y):
                return True
    return False


def _cmp_samples(a: Tok, b: Tok, r: Tok, op: str, ml: list[int]) -> None:
    if a.nsamples and b.nsamples:
        if a.nval1 != b.nval1:
            raise ExprError(f"incompatible number of per-sample values in comparison: {a.nval1} vs {b.nval1}")
        for i in range(a.nsamples):
            if not a.usmpl[i] or not b.usmpl[i]:
                r.usmpl[i] = False
                continue
            av = a.values[i * a.nval1:(i + 1) * a.nval1]
            bv = b.values[i * b.nval1:(i + 1) * b.nval1]
            for x, y in zip(av, bv):
                if (a.idx == -3 and x is END) or (b.idx == -3 and y is END):
                    break
                nmiss = int(is_missing(x))
                if nmiss and not ml[0]:
                    continue
                nmiss += int(is_missing(y))
                if (ml[nmiss] if nmiss else _cmp(op, x, y)):
                    r.pass_samples[i], r.pass_site = 1, 1
                    break
        return
    smp, other, flip = (a, b, False) if a.nsamples else (b, a, True)
    for i in range(smp.nsamples):
        if not r.usmpl[i]:
            continue
        for x in smp.values[i * smp.nval1:(i + 1) * smp.nval1]:
            if a.idx == -3 and x is END:
                break
            miss = int(is_missing(x))
            if miss and not ml[0]:
                continue
            hit = False
            for y in other.values[: other.nvalues]:
                nmiss = miss + int(is_missing(y))
                if (ml[nmiss] if nmiss else (_cmp(op, y, x) if flip else _cmp(op, x, y))):
                    hit = True
                    break
            if hit:
                r.pass_samples[i], r.pass_site = 1, 1
                break


def _fields(s: str) -> list[str]:
    """Comma-separated fields as bcftools walks them (a trailing comma adds no field)."""
    s = s.split("\0", 1)[0]
    if not s:
        return []
    out = s.split(",")
    if out[-1] == "" and len(out) > 1:
        out.pop()
    return out


def _has_missing(s: str) -> bool:
    return "." in _fields(s)


def _match_strings(a: str, b: str, op: str, ml: list[int]) -> bool:
    for x in _fields(a):
        miss = int(x == ".")
        for y in _fields(b):
            nmiss = miss + int(y == ".")
            if nmiss:
                if ml[nmiss]:
                    return True
            elif (x == y) != (op == "!="):
                return True
    return False


def _match_regex(regex: re.Pattern, s: str, op: str, ml: list[int]) -> bool:
    for x in _fields(s):
        miss = int(x == ".")
        match = bool(miss and ml[miss])
        if op == "!~":
            match = not match
        if match:
            return True
        match = regex.search(x) is not None
        if op == "!~":
            match = not match
        if match:
            return True
    return False


def _str_of(tok: Tok, i: int | None = None) -> str:
    if i is None:
        return tok.str_value
    return tok.strs[i] if i < len(tok.strs) else ""


def cmp_strings(a: Tok, b: Tok, r: Tok, op: str) -> None:
    """``cmp_vector_strings``: string ``==``/``!=`` or regex ``~``/``!~`` (one side per sample at most)."""
    _init_samples(a, b, r)
    regex = a.regex or b.regex
    if (regex is None) != (op in ("==", "!=")):
        raise ExprError(f"the operator {op} cannot compare these strings")
    ml = [1, 0, 1] if op in ("==", "~") else [1, 1, 0]
    if a.nsamples and b.nsamples:
        raise ExprError("comparison between samples is not supported")
    if not a.nsamples and not b.nsamples:
        if not a.nvalues and not b.nvalues:
            r.pass_site = ml[2]
        elif not a.nvalues or not b.nvalues:
            if ml[int(_has_missing((a if a.nvalues else b).str_value)) + 1]:
                r.pass_site = 1
        elif regex is None:
            r.pass_site = int(_match_strings(a.str_value, b.str_value, op, ml))
        else:
            tok = b if a.regex else a
            r.pass_site = int(_match_regex(regex, tok.str_value, op, ml))
        return
    if not a.nvalues and not b.nvalues:
        if ml[2]:
            _pass_all(r)
        return
    if not a.nvalues or not b.nvalues:
        tok = a if a.nvalues else b
        for i in range(r.nsamples):
            if not r.usmpl[i]:
                continue
            s = tok.str_value if not tok.nsamples else _str_of(tok, i)
            if ml[int(_has_missing(s)) + 1]:
                r.pass_samples[i], r.pass_site = 1, 1
        return
    x, y = (a, b) if a.nsamples else (b, a)
    for i in range(x.nsamples):
        if not r.usmpl[i]:
            continue
        s = _str_of(x, i)
        hit = _match_regex(regex, s, op, ml) if regex is not None else _match_strings(s, y.str_value, op, ml)
        if hit:
            r.pass_samples[i], r.pass_site = 1, 1


def cmp_filter(a: Tok, b: Tok, r: Tok, rec: Rec) -> None:
    """``filters_cmp_filter``: FILTER against names (``==`` exact set, ``~`` subset, ``!~``, ``!=``)."""
    have = [] if rec.filters in (".", "") else rec.filters.split(";")
    want = b.filter_ids
    if r.kind == "NOT_IN":
        if not want:
            r.pass_site = int(bool(have))
        elif not have:
            r.pass_site = 1
        else:
            r.pass_site = int(not all(w in have for w in want))
    elif r.kind == "IN":
        if not want:
            r.pass_site = int(not have)
        elif have:
            r.pass_site = int(all(w in have for w in want))
    elif r.kind == "!=":
        if len(want) != len(have):
            r.pass_site = 1
        elif want:
            r.pass_site = int(not all(w in have for w in want))
    elif r.kind == "==":
        if len(want) == len(have):
            r.pass_site = int(not want or all(w in have for w in want))
    else:
        raise ExprError("only ==, !=, ~ and !~ are supported for FILTER")


def cmp_id(a: Tok, b: Tok, r: Tok, rec: Rec) -> None:
    """``filters_cmp_id``: each ';'-separated ID against a string, a regex or an @file list."""
    if b.hash is not None:
        a, b = b, a
    ids = rec.id.split(";")
    passed = False
    for ident in ids:
        if a.hash is not None:
            if r.kind not in ("==", "!="):
                raise ExprError("only == and != are supported for strings read from a file")
            passed = ident in a.hash
        elif r.kind in ("==", "!="):
            if not b.str_value:
                raise ExprError("error occurred while evaluating the expression (empty ID string)")
            passed = b.str_value == ident
        elif r.kind in ("~", "!~"):
            regex = a.regex or b.regex
            passed = regex.search(ident) is not None
        else:
            raise ExprError("only ==, !=, ~ and !~ are supported for ID")
        if passed:
            break
    if r.kind == "!=":
        passed = not passed
    r.pass_site = int(passed)


def cmp_hash(a: Tok, b: Tok, r: Tok, rec: Rec) -> None:
    """``filters_cmp_string_hash``: a string tag against the names of an @file."""
    if b.hash is not None:
        a, b = b, a
    if r.kind not in ("==", "!="):
        raise ExprError("only == and != are supported for strings read from a file")
    if not b.is_str:
        raise ExprError("values from a file can be compared only with strings")
    neg = r.kind == "!="
    if not b.nsamples:
        if b.idx >= 0:
            ret = bool(b.str_value) and b.str_value in a.hash
        else:
            ret = any(x in a.hash for x in b.str_value.split(","))
        r.pass_site = int(ret != neg)
        return
    _init_samples(a, b, r)
    r.pass_site = 0
    for i in range(b.nsamples):
        if not r.usmpl[i]:
            continue
        s = _str_of(b, i)
        ret = (s in a.hash) if b.idx >= 0 else any(x in a.hash for x in s.split(","))
        r.pass_samples[i] = int(ret != neg)
        r.pass_site |= r.pass_samples[i]


def cmp_bit_and(a: Tok, b: Tok, r: Tok, rec: Rec) -> None:
    x = int(a.values[0] if a.nvalues else a.threshold)
    y = int(b.values[0] if b.nvalues else b.threshold)
    r.pass_site = int(bool(x & y) == (r.kind == "~"))


def _arith(op: str, x: float, y: float) -> float:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        return x / y if y else (math.copysign(math.inf, x) * math.copysign(1, y) if x else math.nan)
    xi, yi = int(x), int(y)
    if yi == 0:
        raise ExprError("modulo by zero in the expression")
    return float(int(math.fmod(xi, yi)))


def arithmetic(a: Tok, b: Tok, r: Tok, op: str) -> None:
    """``VECTOR_ARITHMETICS``: element-wise, a scalar broadcast; a missing operand gives a missing value."""
    r.nvalues = 0
    if not (a.nvalues and b.nvalues):
        return
    big = (a if a.nsamples else b) if (a.nsamples or b.nsamples) and not (a.nsamples and b.nsamples) else (
        a if a.nvalues > b.nvalues else b)
    r.nvalues, r.nval1 = big.nvalues, big.nval1
    _init_samples(a, b, r)
    out: list = [None] * r.nvalues
    has = False
    if not a.nsamples and not b.nsamples or (a.nsamples and b.nsamples):
        if not a.nsamples and a.nvalues != b.nvalues and a.nvalues != 1 and b.nvalues != 1:
            raise ExprError(f"cannot run a numeric operator on vectors of different lengths: {a.nvalues} vs "
                            f"{b.nvalues}")
        if a.nsamples and a.nval1 != b.nval1 and a.nval1 != 1 and b.nval1 != 1:
            raise ExprError(f"cannot run a numeric operator on vectors of different lengths: {a.nval1} vs {b.nval1}")
        n1 = r.nval1 if a.nsamples else r.nvalues
        groups = r.nsamples if a.nsamples else 1
        w1a, w1b = (a.nval1, b.nval1) if a.nsamples else (a.nvalues, b.nvalues)
        for g in range(groups):
            for ir in range(n1):
                x = a.values[g * w1a + (ir if w1a > 1 else 0)]
                y = b.values[g * w1b + (ir if w1b > 1 else 0)]
                if is_missing(x) or is_missing(y):
                    continue
                out[g * n1 + ir], has = _arith(op, x, y), True
    else:
        smp, sc = (a, b) if a.nsamples else (b, a)
        s = sc.values[0]
        if not is_missing(s):
            for i, v in enumerate(smp.values[: r.nvalues]):
                if not is_missing(v):
                    out[i], has = (_arith(op, v, s) if smp is a else _arith(op, s, v)), True
    r.values = out
    if not has:
        r.nvalues = 0


def logic_or(a: Tok, b: Tok, r: Tok) -> None:
    """``vector_logic_or`` (``|`` per sample, ``||`` per site)."""
    _init_samples(a, b, r)
    if not a.pass_site and not b.pass_site:
        return
    r.pass_site = 1
    if not a.nsamples and not b.nsamples:
        return
    if r.kind == "||":
        if (not a.nsamples and not a.pass_site) or (not b.nsamples and not b.pass_site):
            tok = a if a.nsamples else b
            for i in range(r.nsamples):
                if r.usmpl[i]:
                    r.pass_samples[i] = tok.pass_samples[i]
        else:
            for i in range(r.nsamples):
                if r.usmpl[i]:
                    r.pass_samples[i] = 1
        return
    if not a.nsamples or not b.nsamples:
        tok = a if a.nsamples else b
        for i in range(r.nsamples):
            if r.usmpl[i]:
                r.pass_samples[i] = tok.pass_samples[i]
        return
    for i in range(r.nsamples):
        if r.usmpl[i]:
            r.pass_samples[i] = a.pass_samples[i] | b.pass_samples[i]


def logic_and(a: Tok, b: Tok, r: Tok) -> None:
    """``vector_logic_and`` (``&`` within one sample, ``&&`` per site)."""
    _init_samples(a, b, r)
    if not a.pass_site or not b.pass_site:
        return
    if not a.nsamples and not b.nsamples:
        r.pass_site = 1
        return
    if not a.nsamples or not b.nsamples:
        tok = a if a.nsamples else b
        for i in range(r.nsamples):
            if r.usmpl[i]:
                r.pass_samples[i] = tok.pass_samples[i]
        r.pass_site = 1
        return
    if r.kind == "&&":
        for i in range(r.nsamples):
            if r.usmpl[i]:
                r.pass_samples[i] = a.pass_samples[i] | b.pass_samples[i]
        r.pass_site = 1
        return
    for i in range(r.nsamples):
        if r.usmpl[i]:
            r.pass_samples[i] = a.pass_samples[i] & b.pass_samples[i]
            if r.pass_samples[i]:
                r.pass_site = 1


def _present(tok: Tok) -> list:
    """Non-missing values of a token (used samples only, for FORMAT)."""
    if tok.nsamples:
        out = []
        for i in range(tok.nsamples):
            if tok.usmpl[i]:
                out += [v for v in tok.values[i * tok.nval1:(i + 1) * tok.nval1] if not is_missing(v)]
        return out
    return [v for v in tok.values[: tok.nvalues] if not is_missing(v)]


def _reduce(kind: str, vals: list) -> float | None:
    if not vals:
        return None
    if kind in ("MAX", "MIN"):  # as bcftools' loops: a NaN never replaces the running value
        best = -math.inf if kind == "MAX" else math.inf
        for v in vals:
            if (v > best) if kind == "MAX" else (v < best):
                best = v
        return best
    if kind == "SUM":
        return float(sum(vals))
    if kind == "AVG":
        return sum(vals) / len(vals)
    if kind == "MEDIAN":
        s = sorted(vals)
        n = len(s)
        return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) * 0.5
    avg = sum(vals) / len(vals)
    return 0.0 if len(vals) == 1 else math.sqrt(sum((v - avg) ** 2 for v in vals) / len(vals))


_SITE_FUNCS = {"MAX", "MIN", "SUM", "AVG", "MEDIAN", "STDEV"}
_SMPL_FUNCS = {"sMAX": "MAX", "sMIN": "MIN", "sSUM": "SUM", "sAVG": "AVG", "sMEDIAN": "MEDIAN", "sSTDEV": "STDEV"}


def kf_lgamma(z: float) -> float:
    """htslib's ``kf_lgamma`` (kfunc.c: Lanczos approximation), kept as it is so that binom() matches."""
    x = 0.0
    x += 0.1659470187408462e-06 / (z + 7)
    x += 0.9934937113930748e-05 / (z + 6)
    x -= 0.1385710331296526 / (z + 5)
    x += 12.50734324009056 / (z + 4)
    x -= 176.6150291498386 / (z + 3)
    x += 771.3234287757674 / (z + 2)
    x -= 1259.139216722289 / (z + 1)
    x += 676.5203681218835 / z
    x += 0.9999999999995183
    return math.log(x) - 5.58106146679532777 - z + (z - 0.5) * math.log(z + 6.5)


def _kf_betai_aux(a: float, b: float, x: float) -> float:
    if x == 0.0:
        return 0.0
    if x == 1.0:
        return 1.0
    f, c, d = 1.0, 1.0, 0.0
    for j in range(1, 200):  # modified Lentz's algorithm for the continued fraction, as kfunc.c
        m = j >> 1
        if j & 1:
            aa = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            aa = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + aa * d
        if d < 1e-290:
            d = 1e-290
        c = 1.0 + aa / c
        if c < 1e-290:
            c = 1e-290
        d = 1.0 / d
        dd = c * d
        f *= dd
        if abs(dd - 1.0) < 1e-14:
            break
    return math.exp(kf_lgamma(a + b) - kf_lgamma(a) - kf_lgamma(b) + a * math.log(x) + b * math.log(1.0 - x)) / a / f


def kf_betai(a: float, b: float, x: float) -> float:
    """htslib's regularized incomplete beta function ``kf_betai``."""
    return _kf_betai_aux(a, b, x) if x < (a + 1.0) / (a + b + 2.0) else 1.0 - _kf_betai_aux(b, a, 1.0 - x)


def calc_binom(na: int, nb: int) -> float:
    """bcftools' ``calc_binom``: two-sided binomial test of ``na`` against ``nb`` reads at p=0.5 (-1, read as
    missing, where both are 0)."""
    if na + nb == 0:  # no reads: bcftools reads missing here
        return -1.0
    prob = 2 * kf_betai(na, nb + 1, 0.5) if na > nb else 2 * kf_betai(nb, na + 1, 0.5)
    return min(prob, 1.0)


def _binom(f: Tok, x: Tok, ctx) -> None:
    """``binom(FMT/AD)`` (bcftools' ``func_binom``, one argument): per sample, the binomial test of the
    values at the sample's first two GT alleles (a homozygous call tests the value against itself); missing
    where the GT is missing or haploid or a value is missing (every sample, when no sample is diploid or the record has no GT)."""
    if not x.nsamples:
        raise ExprError("binom() can be applied only on FORMAT fields")
    f.nsamples, f.nvalues, f.nval1 = x.nsamples, x.nsamples, 1
    f.usmpl = list(x.usmpl) if x.usmpl is not None else [1] * x.nsamples
    f.values = [None] * x.nsamples
    codes = ctx.gt_codes() if ctx is not None else None
    if not codes or max(len(c) for c in codes) < 2:
        return
    rec = ctx.rec
    for i in range(x.nsamples):
        gt = codes[i] if i < len(codes) else []
        if not f.usmpl[i] or len(gt) < 2 or not gt[0] >> 1 or not gt[1] >> 1:
            continue
        a, b = gt_allele(gt[0]), gt_allele(gt[1])
        if a >= len(rec.alleles) or b >= len(rec.alleles):
            raise ExprError(f"binom(): incorrect allele index at {rec.chrom}:{rec.pos}, sample {i + 1}")
        vals = x.values[i * x.nval1:(i + 1) * x.nval1]
        va = vals[a] if a < len(vals) else None
        vb = vals[b] if b < len(vals) else None
        if is_missing(va) or is_missing(vb):
            continue
        p = calc_binom(int(va), int(vb))
        f.values[i] = None if p < 0 else p


def apply_function(f: Tok, x: Tok, ctx=None) -> None:
    """A one-argument function token ``f`` applied to ``x`` (the result is ``f`` itself, as in bcftools);
    ``ctx``: the record's :class:`Context` (binom() reads its genotypes)."""
    k = f.kind
    if k == "BINOM":
        return _binom(f, x, ctx)
    if k in _SMPL_FUNCS and x.nsamples:
        f.nsamples, f.nvalues, f.nval1, f.usmpl = x.nsamples, x.nsamples, 1, list(x.usmpl)
        f.values = [None] * x.nsamples
        for i in range(x.nsamples):
            if f.usmpl[i]:
                vals = [v for v in x.values[i * x.nval1:(i + 1) * x.nval1] if not is_missing(v)]
                f.values[i] = _reduce(_SMPL_FUNCS[k], vals)
        return
    if k in _SITE_FUNCS or k in _SMPL_FUNCS:
        f.nvalues = 0
        if x.nvalues:
            v = _reduce(_SMPL_FUNCS.get(k, k), _present(x))
            if v is not None:
                f.values, f.nvalues = [v], 1
        return
    if k == "ABS":
        if x.is_str:
            raise ExprError("ABS() can be applied only to numbers")
        f.nsamples, f.nvalues, f.nval1 = x.nsamples, x.nvalues, x.nval1
        if x.usmpl is not None and x.nsamples:  # N_MISSING/F_MISSING carry a sample mask but one site value
            f.usmpl = list(x.usmpl)
        f.values = [None if is_missing(v) else abs(v) for v in x.values[: x.nvalues]]
        return
    if k in ("COUNT", "sCOUNT"):
        return _count(f, x, k == "sCOUNT")
    if k == "STRLEN":
        return _strlen(f, x)
    if k == "FUNC":  # N_PASS / F_PASS
        if not x.nsamples:
            raise ExprError(f"the function {f.tag} works with FORMAT fields")
        used = [i for i in range(x.nsamples) if x.usmpl[i]]
        npass = sum(1 for i in used if x.pass_samples[i])
        f.nsamples, f.nvalues = 0, 1
        f.values = [float(npass) if f.tag == "N_PASS" else (npass / len(used) if used else 0.0)]
        return
    raise ExprError(f"the function {f.text} is not supported")


def _count(f: Tok, x: Tok, per_sample: bool) -> None:
    if per_sample and x.nsamples:
        if x.is_str:
            raise ExprError("COUNT of a String FORMAT field is not supported (bcftools: todo)")
        f.nsamples, f.nvalues, f.nval1, f.usmpl = x.nsamples, x.nsamples, 1, list(x.usmpl)
        f.values = [float(sum(1 for v in x.values[i * x.nval1:(i + 1) * x.nval1] if not is_missing(v)))
                    if f.usmpl[i] else None for i in range(x.nsamples)]
        return
    if x.tag and x.nsamples:
        if x.is_str:
            raise ExprError("COUNT of a String FORMAT field is not supported (bcftools: todo)")
        cnt = len(_present(x))
    elif x.nsamples:
        cnt = sum(1 for i in range(x.nsamples) if x.pass_samples[i])
    elif x.is_str:
        cnt = (1 if x.str_value else 0) + x.str_value.count(",")
    else:
        cnt = x.nvalues
    f.values, f.nvalues = [float(cnt)], 1


def _strlen(f: Tok, x: Tok) -> None:
    f.nvalues = 0
    s = x.str_value if not x.nsamples else (x.strs[0] if x.strs else "")
    if not (x.nvalues if x.nsamples else s):
        return
    if x.idx == -2:
        f.values = [float(len(p)) for p in s.split(",")] if s else []
        if s.endswith(","):
            f.values = f.values[:-1]
    else:
        f.values = [0.0 if s == "." else float(len(s))]
    f.nvalues = len(f.values)


_ARITH = {"+", "-", "*", "/", "%"}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_COMPARATORS = {"filter": cmp_filter, "id": cmp_id, "hash": cmp_hash, "bit_and": cmp_bit_and}


def _value(tok: Tok, rec: Rec, ctx: Context) -> None:
    if tok.setter:
        set_value(tok, rec, ctx)
    elif tok.key is not None:
        tok.str_value, tok.nvalues = tok.key, len(tok.key)
        if tok.is_missing and not tok.is_str:
            tok.values = [None]
    elif tok.is_constant:
        tok.values, tok.nvalues = [tok.threshold], 1


def _compare(tok: Tok, a: Tok, b: Tok, rec: Rec) -> None:
    if tok.comparator:
        _COMPARATORS[tok.comparator](b, a, tok, rec)
    elif b.comparator:
        _COMPARATORS[b.comparator](b, a, tok, rec)
    elif a.comparator:
        _COMPARATORS[a.comparator](a, b, tok, rec)
    elif a.is_str and b.is_str:
        cmp_strings(a, b, tok, tok.kind)
    elif a.is_str or b.is_str:
        raise ExprError("cannot use arithmetic operators to compare strings and numbers")
    elif tok.kind in _COMPARISONS:
        cmp_vectors(a, b, tok, tok.kind)
    else:
        raise ExprError(f"the operator {tok.kind} cannot be used here")


def evaluate(comp: Compiled, rec: Rec, hdr: VcfHeader, slot: int | None = None,
             cache: GenotypeCache | None = None) -> int:
    """``filter_test``: 1 when the record passes the expression, else 0 (``slot``/``cache``: see
    :class:`GenotypeCache`)."""
    ctx = Context(rec, hdr, slot, cache)
    stack: list[Tok] = []
    for tok in comp.rpn:
        tok.pass_site = 0
        if tok.kind == "val":
            _value(tok, rec, ctx)
            stack.append(tok)
        elif tok.kind in ("|", "||", "&", "&&"):
            if len(stack) < 2:
                raise ExprError(f"error processing the expression {comp.text!r}")
            b, a = stack.pop(), stack.pop()
            (logic_or if tok.kind in ("|", "||") else logic_and)(a, b, tok)
            stack.append(tok)
        elif tok.kind in _ARITH_OR_CMP:
            if len(stack) < 2:
                raise ExprError(f"error processing the expression {comp.text!r} (an operand is missing)")
            b, a = stack.pop(), stack.pop()
            if tok.kind in _ARITH:
                arithmetic(a, b, tok, tok.kind)
            else:
                _compare(tok, a, b, rec)
            stack.append(tok)
        else:
            if not stack:
                raise ExprError(f"error processing the expression {comp.text!r}")
            apply_function(tok, stack.pop(), ctx)
            stack.append(tok)
    if len(stack) != 1:
        raise ExprError(f"error processing the expression {comp.text!r} ({len(stack)} values left)")
    return stack[0].pass_site


_ARITH_OR_CMP = _ARITH | _COMPARISONS | {"~", "!~", "IN", "NOT_IN"}

"""VCF text as htslib (1.24) writes it after reading: numbers reprinted, missing fields filled.

bcftools parses every record into binary and prints it back, so its output spells numbers its own way:
a Float is stored in single precision and printed by htslib's ``kputd`` (6 significant digits, no trailing
zeros: ``1.0`` -> ``1``, ``0.10`` -> ``0.1``, ``1E+3`` -> ``1000``, ``1e-05`` stays), an Integer loses
leading zeros and ``+`` (``007`` -> ``7``) and becomes ``.`` outside htslib's int32 range, ``KEY=`` becomes
``KEY=.``, and a sample column with fewer fields than FORMAT gets ``.`` for each missing one (``0|1`` under
``GT:DP`` -> ``0|1:.``). :func:`reprint_table` applies that to a whole text table (vectorised pre-check,
Python only for rows that need it), so raygen's output equals bcftools' byte for byte.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: htslib's smallest storable int32 (values below it are its missing / vector-end sentinels).
INT32_MIN_STORABLE = -2147483640
INT32_MAX = 2147483647

_DECIMALS = ((0.001, 9), (0.01, 8), (0.1, 7), (1, 6), (10, 5), (100, 4), (1000, 3), (10000, 2), (100000, 1))


def kputd(d: float) -> str:
    """htslib's ``kputd``: a double as VCF text (``%g`` outside [1e-4, 999999], else 6 digits, trailing
    zeros cut)."""
    if d == 0:
        return "-0" if math.copysign(1.0, d) < 0 else "0"
    sign = ""
    if d < 0:
        sign, d = "-", -d
    if not (0.0001 <= d <= 999999):  # also inf and nan
        return sign + ("%g" % d)
    dec = next((k for lim, k in _DECIMALS if d < lim), 0)
    i = round(d * 10 ** dec)  # C rint(): round half to even on the double product
    text = str(i).rjust(dec + 1, "0")
    if not dec:
        return sign + text
    frac = text[-dec:].rstrip("0")
    return sign + text[:-dec] + ("." + frac if frac else "")


@functools.lru_cache(maxsize=1 << 16)
def htslib_float(v: str) -> str:
    """One Float value as htslib reprints it (single precision, then :func:`kputd`); ``.`` and unparsable
    text are returned as they are."""
    if v in (".", ""):
        return "." if v == "" else v
    try:
        x = float(v)
    except ValueError:
        return v
    with np.errstate(over="ignore"):
        return kputd(float(np.float32(x)))


@functools.lru_cache(maxsize=1 << 16)
def htslib_int(v: str) -> str:
    """One Integer value as htslib reprints it: ``007`` -> ``7``, ``+5`` -> ``5``, out of int32 range -> ``.``."""
    if v in (".", ""):
        return "."
    try:
        x = int(v)
    except ValueError:
        return v
    return str(x) if INT32_MIN_STORABLE <= x <= INT32_MAX else "."


# C strtod's longest prefix (what htslib's hts_str2dbl reads): leading white space, sign, hex (with a binary
# exponent), decimal, inf/infinity, nan; "1e" reads as 1, "12abc" as 12
_STRTOD = re.compile(r"[ \t\n\v\f\r]*([+-]?)(?:(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)"
                     r"|((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|([iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|([nN][aA][nN]))",
                     re.ASCII)
_STR2INT = re.compile(r"[+-]?[0-9]*")


@functools.lru_cache(maxsize=1 << 16)
def htslib_info_float(v: str) -> str:
    """One INFO Float value as htslib's ``vcf_parse_info`` reads and reprints it: the longest number C's
    ``strtod`` reads at its start (``12abc`` -> ``12``, ``0x10`` -> ``16``, `` 5`` -> ``5``, ``Infinity`` ->
    ``inf``), ``.`` where none (``abc``, ``-``), the rest of the value up to the next comma skipped. (FORMAT
    values are read strictly: htslib refuses the record, and raygen rejects it.)"""
    if v in (".", ""):
        return "."
    m = _STRTOD.match(v)
    if m is None:
        return "."
    sign, hexa, dec, inf, _nan = m.groups()
    if hexa is not None:
        x = float.fromhex(hexa)
    elif dec is not None:
        x = float(dec)
    else:
        x = math.inf if inf is not None else math.nan
    with np.errstate(over="ignore"):
        return kputd(float(np.float32(-x if sign == "-" else x)))


@functools.lru_cache(maxsize=1 << 16)
def htslib_info_int(v: str) -> str:
    """One INFO Integer value as htslib's ``vcf_parse_info`` reads it (``hts_str2int``): an optional sign and
    the digits after it (``1.5`` -> ``1``, ``12abc`` -> ``12``, a lone ``-`` or ``+`` -> ``0``), ``.`` where
    the value starts with neither (``abc``, ``.5``, `` 5``) or lies outside int32's storable range."""
    if v in (".", ""):
        return "."
    s = _STR2INT.match(v).group(0)
    if not s:
        return "."
    digits = s.lstrip("+-")
    x = int(digits) if digits else 0
    x = -x if s[0] == "-" else x
    return str(x) if INT32_MIN_STORABLE <= x <= INT32_MAX else "."


_REFORMAT = {"Float": htslib_float, "Integer": htslib_int}
_INFO_REFORMAT = {"Float": htslib_info_float, "Integer": htslib_info_int}


def _vector(fn, text: str) -> str:
    return ",".join(fn(x) for x in text.split(","))


def reprint_info(info: str, info_type: dict[str, str]) -> str:
    """INFO text as htslib writes it: numbers reprinted (``I=`` -> ``I=.``, ``1,,3`` -> ``1,.,3``), an empty
    String or Flag value dropped (``S=`` -> ``S``), empty entries (``;;``) dropped."""
    if info == ".":
        return info
    items = []
    for item in info.split(";"):
        key, eq, val = item.partition("=")
        if not key:
            continue
        fn = _INFO_REFORMAT.get(info_type.get(key, ""))
        if not eq:
            items.append(key)
        elif fn is not None:
            items.append(f"{key}={_vector(fn, val)}")
        else:
            items.append(f"{key}={val}" if val else key)
    return ";".join(items) or "."


def reprint_samples(fmt: str, samples: str, format_type: dict[str, str]) -> str:
    """Sample columns (tab-joined) as htslib reads them: numbers reprinted, a field a sample leaves out
    given as ``.``, except from the first String field that no sample wrote on (htslib stores that with
    width 0, which splitting and atomizing treat apart; :func:`fill_samples` writes it at the end)."""
    keys = fmt.split(":")
    fns = [_REFORMAT.get(format_type.get(k, "")) for k in keys]
    cols = [c.split(":") for c in samples.split("\t")]
    present = max((len(v) for v in cols), default=0)
    width = len(keys)
    for k in range(present, len(keys)):
        if keys[k] != "GT" and fns[k] is None:
            width = k
            break
    out = []
    for vals in cols:
        if len(vals) < width:
            vals += ["."] * (width - len(vals))
        for j, fn in enumerate(fns):
            if j < len(vals):
                if fn is not None:
                    vals[j] = _vector(fn, vals[j])
                elif vals[j] == "":
                    vals[j] = "."
        out.append(":".join(vals))
    return "\t".join(out)


def fill_samples(fmt: str, samples: str) -> str:
    """Every FORMAT field written in every sample column (``.`` where a sample has none), as htslib prints."""
    n = fmt.count(":") + 1
    out = []
    for col in samples.split("\t"):
        k = col.count(":") + 1
        out.append(col + ":." * (n - k) if k < n else col)
    return "\t".join(out)


def fill_table(table: pa.Table, n_samples: int) -> pa.Table:
    """:func:`fill_samples` on the rows of a text table that need it (found vectorised)."""
    if n_samples == 0 or table.num_rows == 0 or "SAMPLES" not in table.column_names:
        return table
    fmt, smp = _as_array(table["FORMAT"]), _as_array(table["SAMPLES"])
    n_keys = pc.fill_null(pc.count_substring(fmt, ":"), 0).to_numpy(zero_copy_only=False) + 1
    colons = pc.fill_null(pc.count_substring(smp, ":"), 0).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero((colons != n_samples * (n_keys - 1)) & pc.is_valid(fmt).to_numpy(zero_copy_only=False))
    if not len(rows):
        return table
    f, s = fmt.take(pa.array(rows)).to_pylist(), smp.take(pa.array(rows)).to_pylist()
    new = pa.array([fill_samples(a, b) if a is not None and b is not None else b for a, b in zip(f, s)], pa.string())
    return _replace(table, "SAMPLES", rows, new)


def _alternation(keys) -> str:
    return "|".join(re.escape(k) for k in sorted(keys))


def _as_array(col) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _flag(col: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(col, pattern), False).to_numpy(zero_copy_only=False)


def info_needs_reprint(info: pa.Array, info_type: dict[str, str]) -> np.ndarray:
    """Rows whose INFO htslib may spell differently (a cheap superset: Python checks them one by one)."""
    pats = [r"=(;|$)", r";;|^;|;$"]
    floats = [k for k, t in info_type.items() if t == "Float"]
    ints = [k for k, t in info_type.items() if t == "Integer"]
    if floats:  # anything but digits, commas and '-' (a '.' too: most floats go through Python)
        pats.append(rf"(^|;)({_alternation(floats)})=[^;]*([^0-9,;-]|\d{{7}}|(^|[=,])-?0\d|,,|,$|,;|-([^0-9]|$))")
    if ints:  # also text htslib reads a prefix of, or none (1.5, 12abc, abc, -)
        pats.append(rf"(^|;)({_alternation(ints)})=([^;]*,)?(\+|-?0\d|-0(,|;|$)|\d{{10}}|,|[^;]*,(,|;|$))")
        pats.append(rf"(^|;)({_alternation(ints)})=[^;]*([^0-9.,;-]|\d\.|\.\d|\.\.|-([^0-9]|$)|[0-9.]-)")
    return _flag(info, "|".join(f"(?:{p})" for p in pats))


def samples_need_reprint(fmt: pa.Array, samples: pa.Array, format_type: dict[str, str], n_samples: int) -> np.ndarray:
    """Rows whose sample columns htslib may spell differently: missing trailing fields, empty fields,
    numbers not in htslib's spelling (a cheap superset)."""
    n = len(fmt)
    if n_samples == 0 or n == 0:
        return np.zeros(n, dtype=bool)
    n_keys = pc.fill_null(pc.count_substring(fmt, ":"), 0).to_numpy(zero_copy_only=False) + 1
    colons = pc.fill_null(pc.count_substring(samples, ":"), 0).to_numpy(zero_copy_only=False)
    flag = colons != n_samples * (n_keys - 1)
    pat = r"(^|[:,\t])(\+|-?0\d|-0([:,\t]|$))|\d{10}|::|:\t|:$|\t:|^:|,,|,:|,\t|,$"
    floats = [k for k, t in format_type.items() if t == "Float"]
    if floats:
        has_float = _flag(fmt, rf"(^|:)({_alternation(floats)})(:|$)")
        flag |= has_float & _flag(samples, r"\d\.|\.\d|[eE+]|\d{7}|[nN]")
    return flag | _flag(samples, pat)


@functools.lru_cache(maxsize=1 << 18)
def _qual(v: str) -> str:
    return v if v == "." else htslib_float(v)


def reprint_table(table: pa.Table, info_type: dict[str, str], format_type: dict[str, str],
                  n_samples: int) -> pa.Table:
    """The text table with QUAL, INFO and sample columns as htslib prints them (see the module docstring)."""
    if table.num_rows == 0:
        return table
    qual = _as_array(table["QUAL"])
    uniq = pc.unique(qual)
    fixed = pa.array([_qual(v) for v in uniq.to_pylist()], pa.string())
    if not pc.all(pc.equal(uniq, fixed)).as_py():
        table = table.set_column(table.schema.get_field_index("QUAL"), "QUAL",
                                 pc.take(fixed, pc.index_in(qual, value_set=uniq)))
    info = _as_array(table["INFO"])
    rows = np.flatnonzero(info_needs_reprint(info, info_type))
    if len(rows):
        vals = info.take(pa.array(rows)).to_pylist()
        new = pa.array([reprint_info(v, info_type) for v in vals], pa.string())
        table = _replace(table, "INFO", rows, new)
    if "SAMPLES" in table.column_names:
        fmt, smp = _as_array(table["FORMAT"]), _as_array(table["SAMPLES"])
        rows = np.flatnonzero(samples_need_reprint(fmt, smp, format_type, n_samples))
        if len(rows):
            f, s = fmt.take(pa.array(rows)).to_pylist(), smp.take(pa.array(rows)).to_pylist()
            new = pa.array([reprint_samples(a, b, format_type) if a is not None and b is not None else b
                            for a, b in zip(f, s)], pa.string())
            table = _replace(table, "SAMPLES", rows, new)
    return table


def _replace(table: pa.Table, name: str, rows: np.ndarray, values: pa.Array) -> pa.Table:
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[rows] = True
    col = pc.replace_with_mask(_as_array(table[name]), pa.array(mask), values)
    return table.set_column(table.schema.get_field_index(name), name, col)

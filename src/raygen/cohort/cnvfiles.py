"""CNVkit's file formats: ``.cnn`` (coverage, reference), ``.cnr`` (copy ratios), ``.cns`` (segments), and
Picard CalculateHsMetrics per-target CSVs.

All of them are one table type here, :class:`CopyNumTable`: a bin (or segment) per row, columns as numpy
arrays. ``chromosome``, ``start``, ``end`` are required; ``start``/``end`` are **0-based half-open** as in
BED; ``log2`` is a log2 ratio (or, in a raw coverage ``.cnn``, log2 of the mean read depth); ``depth`` is
mean read depth (reads x bases / bin bp); ``gc``/``rmask`` are fractions in [0, 1]; ``spread`` is a
robust SD of log2; ``weight`` is in (0, 1].

Files are tab-separated with a header row, floats written like CNVkit's ``float_format="%.6g"`` (NaN as an
empty field), integer columns as integers. Reading follows ``cnvkit.py``: rows without a log2 value are
dropped (counted in a warning), columns are put in CNVkit's order (the required ones, then the others
alphabetically) and rows in CNVkit's genome order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from raygen.cohort import chromosomes
from raygen.errors import InputError
from raygen.io.atomic import atomic_path

log = logging.getLogger(__name__)

#: Columns every copy-number table carries, in CNVkit's order.
REQUIRED = ("chromosome", "start", "end", "gene", "log2")
#: Gene labels CNVkit treats as "off-target bin".
ANTITARGET_NAMES = ("Antitarget", "Background")
ANTITARGET_NAME = "Antitarget"
#: Labels that are not gene names (grouped with the surrounding region).
IGNORE_GENE_NAMES = ("-", ".", "CGH")
#: log2 written for a bin without reads (CNVkit's NULL_LOG2_COVERAGE).
NULL_LOG2 = -20.0
_STRING_COLUMNS = ("chromosome", "gene")
_INT_COLUMNS = ("start", "end")
#: Columns CNVkit always parses as numbers (a text value there is an input error, not a string column).
_FLOAT_COLUMNS = ("log2", "depth", "weight", "spread", "gc", "rmask", "probes", "baf", "cn", "cn1", "cn2",
                  "ci_lo", "ci_hi")


@dataclass
class CopyNumTable:
    """One sample's bins or segments: ordered columns of equal length (see the module docstring)."""

    data: dict[str, np.ndarray]
    sample_id: str = ""
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.data.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of unequal length: { {k: len(v) for k, v in self.data.items()} }")

    # -- access --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.data["chromosome"]) if "chromosome" in self.data else 0

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    @property
    def chrom(self) -> np.ndarray:
        return self.data["chromosome"]

    @property
    def start(self) -> np.ndarray:
        return self.data["start"]

    @property
    def end(self) -> np.ndarray:
        return self.data["end"]

    @property
    def gene(self) -> np.ndarray:
        return self.data["gene"] if "gene" in self.data else np.full(len(self), "-", dtype=object)

    @property
    def log2(self) -> np.ndarray:
        return self.data["log2"]

    @property
    def columns(self) -> list[str]:
        return list(self.data)

    def is_antitarget(self) -> np.ndarray:
        """Mask of off-target bins (gene ``Antitarget`` or ``Background``)."""
        return np.isin(self.gene, ANTITARGET_NAMES)

    # -- derived tables ------------------------------------------------------------------------------
    def take(self, index: np.ndarray | slice) -> CopyNumTable:
        """Rows selected by a boolean mask, integer indices or a slice (a new table)."""
        return CopyNumTable({k: v[index] for k, v in self.data.items()}, self.sample_id, dict(self.meta))

    def with_columns(self, **columns: np.ndarray) -> CopyNumTable:
        """A copy with columns added (appended) or replaced (in place)."""
        data = dict(self.data)
        for k, v in columns.items():
            data[k] = np.asarray(v)
        return CopyNumTable(data, self.sample_id, dict(self.meta))

    def select(self, names: Sequence[str]) -> CopyNumTable:
        """Only the named columns that exist, in the given order."""
        return CopyNumTable({k: self.data[k] for k in names if k in self.data}, self.sample_id, dict(self.meta))

    def ordered(self) -> CopyNumTable:
        """Columns in CNVkit's order: chromosome, start, end, gene, log2 (those present), then the rest
        alphabetically."""
        head = [c for c in REQUIRED if c in self.data]
        rest = sorted(c for c in self.data if c not in REQUIRED)
        return self.select(head + rest)

    def sorted(self) -> CopyNumTable:
        """Rows in CNVkit's genome order (see :func:`chromosomes.genome_order`)."""
        if not len(self):
            return self
        return self.take(chromosomes.genome_order(self.chrom, self.start, self.end))

    def coords_equal(self, other: CopyNumTable, gene: bool = True) -> bool:
        """Whether both tables have the same bins (and gene labels) in the same order."""
        cols = ("chromosome", "start", "end", "gene") if gene else ("chromosome", "start", "end")
        return len(self) == len(other) and all(np.array_equal(self[c] if c != "gene" else self.gene,
                                                              other[c] if c != "gene" else other.gene) for c in cols)


def concat(tables: Iterable[CopyNumTable], sample_id: str = "") -> CopyNumTable:
    """Rows of several tables with the same columns, one after the other (not re-sorted)."""
    tables = [t for t in tables]
    nonempty = [t for t in tables if len(t)] or tables[:1]
    if not nonempty:
        return CopyNumTable({}, sample_id)
    names = nonempty[0].columns
    for t in nonempty[1:]:
        if set(t.columns) != set(names):
            raise ValueError(f"cannot concatenate tables with columns {names} and {t.columns}")
    data = {k: np.concatenate([t[k] for t in nonempty]) for k in names}
    return CopyNumTable(data, sample_id or nonempty[0].sample_id, dict(nonempty[0].meta))


def empty_table(columns: Sequence[str] = REQUIRED, sample_id: str = "") -> CopyNumTable:
    """A table with the given columns and no rows."""
    dtypes = {"chromosome": object, "gene": object, "start": np.int64, "end": np.int64}
    return CopyNumTable({c: np.zeros(0, dtype=dtypes.get(c, np.float64)) for c in columns}, sample_id)


def sample_id_from_path(path: str | os.PathLike[str]) -> str:
    """The sample name CNVkit derives from a file name: the base name without ``.gz`` and without the
    known multi-part extensions (``.targetcoverage.cnn``, ``.antitargetcoverage.csv``, ...), else without
    the last extension."""
    base = os.path.basename(os.fspath(path)).removesuffix(".gz")
    for ext in (".antitargetcoverage.cnn", ".targetcoverage.cnn", ".antitargetcoverage.csv",
                ".targetcoverage.csv", ".recal.bam", ".deduplicated.realign.bam"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base.rsplit(".", 1)[0]


# -- reading --------------------------------------------------------------------------------------------

def _read_arrow(path: str, column_types: Mapping[str, pa.DataType] | None = None) -> pa.Table:
    convert = pacsv.ConvertOptions(null_values=[""], strings_can_be_null=False, quoted_strings_can_be_null=False,
                                   column_types=dict(column_types or {}))
    try:
        return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                              convert_options=convert)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0]
        if "Empty CSV file" in msg:
            raise InputError(f"{path}: the file is empty (expected a header line)") from None
        raise InputError(f"{path}: not a tab-separated table: {msg}") from None


def _numpy_column(name: str, col: pa.ChunkedArray) -> np.ndarray:
    if name in _STRING_COLUMNS:
        return np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)
    if pa.types.is_integer(col.type) and col.null_count == 0:
        return col.to_numpy().astype(np.int64)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type):
        return col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_boolean(col.type):
        return col.to_numpy(zero_copy_only=False)
    return np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)


def _first_bad_row(values: np.ndarray, ok) -> int:
    return next((i for i, v in enumerate(values) if not ok(v)), 0)


def _is_float(v: object) -> bool:
    try:
        float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _check_columns(p: str, data: Mapping[str, np.ndarray]) -> None:
    """Coordinates must be whole numbers with 0 <= start <= end, numeric columns numbers: InputError naming
    the file line (the header is line 1) otherwise."""
    for c in _INT_COLUMNS:
        if data[c].dtype != np.int64:
            raise InputError(f"{p}: column {c!r} holds values that are not whole numbers (or empty fields)")
    bad = (data["start"] < 0) | (data["end"] < data["start"])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{p}: line {i + 2}: bin {data['chromosome'][i]}:{data['start'][i]}-{data['end'][i]} "
                         "has a negative start or ends before it starts")
    for c in _FLOAT_COLUMNS:
        if c in data and data[c].dtype == object:
            i = _first_bad_row(data[c], _is_float)
            raise InputError(f"{p}: line {i + 2}: column {c!r} is not a number: {data[c][i]!r}")


def read_cnvkit(path: str | os.PathLike[str], sample_id: str | None = None) -> CopyNumTable:
    """A ``.cnn``/``.cnr``/``.cns`` file (plain or gzip) as CNVkit reads it (see the module docstring).

    Raises :class:`InputError` for a missing file, a file without ``chromosome start end`` columns or with
    non-integer coordinates.
    """
    p = os.fspath(path)
    table = _read_arrow(p, {"chromosome": pa.string(), "gene": pa.string()})
    missing = [c for c in ("chromosome", "start", "end", "log2") if c not in table.column_names]
    if missing:
        raise InputError(f"{p}: not a CNVkit table (no {', '.join(missing)} column; header: "
                         f"{' '.join(table.column_names[:8])})")
    data = {name: _numpy_column(name, table.column(name)) for name in table.column_names}
    _check_columns(p, data)
    if "gene" in data:
        data["gene"] = np.where(data["gene"] == "", "-", data["gene"]).astype(object)
    out = CopyNumTable(data, sample_id or sample_id_from_path(p), {"path": p})
    if "log2" in out and out["log2"].dtype.kind == "f":
        bad = np.isnan(out["log2"])
        if bad.any():
            log.warning("%s: dropped %d rows without a log2 value", p, int(bad.sum()))
            out = out.take(~bad)
    return out.ordered().sorted()


def read_picard(path: str | os.PathLike[str]) -> CopyNumTable:
    """A Picard CalculateHsMetrics PER_TARGET_COVERAGE table as ``cnvkit.py import-picard`` turns it into
    a ``.cnn``: ``start - 1`` (Picard is 1-based), ``depth`` = mean_coverage, ``gc`` = %gc, ``gene`` =
    name with Picard's ``A|A`` duplicates resolved, ``ratio`` = normalized_coverage and
    ``log2 = log2(ratio)`` (``-20`` where the ratio is 0). Columns come out in CNVkit's order for this
    command: chromosome, start, end, depth, gc, gene, ratio, log2; rows in genome order."""
    p = os.fspath(path)
    cols = ("chrom", "start", "end", "length", "name", "%gc", "mean_coverage", "normalized_coverage")
    table = _read_arrow(p, {"chrom": pa.string(), "name": pa.string()})
    if table.column_names[: len(cols)] != list(cols):
        raise InputError(f"{p}: not a Picard per-target coverage table (expected columns {' '.join(cols)})")
    get = {c: _numpy_column(c, table.column(c)) for c in cols}
    start = get["start"]
    if start.dtype != np.int64 or get["end"].dtype != np.int64:
        raise InputError(f"{p}: start/end are not whole numbers")
    for c in ("%gc", "mean_coverage", "normalized_coverage"):
        if get[c].dtype == object:
            i = _first_bad_row(get[c], _is_float)
            raise InputError(f"{p}: line {i + 2}: column {c!r} is not a number: {get[c][i]!r}")
    ratio = get["normalized_coverage"].astype(np.float64)
    bad = ~np.isfinite(ratio) | (ratio < 0)
    if bad.any():
        raise InputError(f"{p}: {int(bad.sum())} rows have a missing, negative or infinite normalized_coverage")
    sample = sample_id_from_path(p)
    zero = ratio == 0
    if zero.sum() > 100:
        log.warning("sample %s has >100 bins with no coverage (%d)", sample, int(zero.sum()))
    log2 = np.log2(np.where(zero, 2.0 ** NULL_LOG2, ratio))
    names = np.asarray([unpipe_name(n) for n in get["name"].tolist()], dtype=object)
    data = {"chromosome": np.asarray(get["chrom"], dtype=object), "start": start - 1, "end": get["end"],
            "depth": get["mean_coverage"].astype(np.float64), "gc": get["%gc"].astype(np.float64),
            "gene": names, "ratio": ratio, "log2": log2}
    return CopyNumTable(data, sample, {"path": p}).sorted()


def unpipe_name(name: str) -> str:
    """Picard joins the labels of overlapping targets with ``|`` (``BRAF|BRAF``); keep one: the single
    distinct label, else the longest that is not a placeholder (``-``, ``.``, ``CGH``)."""
    if "|" not in name:
        return name
    names = set(name.split("|"))
    if len(names) == 1:
        return names.pop()
    cleaned = names.difference(IGNORE_GENE_NAMES) or names
    chosen = sorted(cleaned, key=len, reverse=True)[0]
    if len(cleaned) > 1:
        log.warning("ambiguous gene name %r; using %r", name, chosen)
    return chosen


# -- writing --------------------------------------------------------------------------------------------

def format_float(x: float) -> str:
    """One float as CNVkit writes it: ``%.6g``, NaN as an empty field."""
    return "" if x != x else "%.6g" % x


def _column_text(values: np.ndarray) -> list[str]:
    if values.dtype.kind == "f":
        return [format_float(v) for v in values.tolist()]
    if values.dtype.kind == "b":
        return ["True" if v else "False" for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def table_text(table: CopyNumTable) -> str:
    """The whole file as text (header line, then one line per row)."""
    cols = [_column_text(table[c]) for c in table.columns]
    lines = ["\t".join(table.columns)]
    lines.extend("\t".join(row) for row in zip(*cols))
    return "\n".join(lines) + "\n"


def write_cnvkit(table: CopyNumTable, path: str | os.PathLike[str]) -> None:
    """Write ``table`` (its columns in their current order) atomically as a CNVkit tab file."""
    text = table_text(table)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

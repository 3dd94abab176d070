"""Cohort matrices (features x samples) and sample sheets: reading with clear errors, streaming, writing.

A MATRIX is CSV or TSV (optionally gzipped; the delimiter is sniffed from the header line) or Parquet.
Its header names the samples; an optional first column names the features. That column is recognised
when its header is empty, when the header has one field fewer than the rows (R's ``write.table``), when
``feature_col`` names it, when its header is not a sample of the sheet, or when its first values are not
numbers. Missing values are empty cells or ``NA``/``NaN``/``nan``/``N/A``/``null``; any other
non-numeric cell, and an infinite value, is an error that names the file, line and column.

Blocks of rows stream through :func:`iter_blocks`, so a pipeline never holds the whole matrix; output is
written atomically in the input's own layout (:class:`MatrixWriter`).
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from raygen.errors import InputError, UsageError
from raygen.io.atomic import atomic_path

log = logging.getLogger("raygen.cohort.matrix")

NA_TOKENS = ("", "NA", "NaN", "nan", "NAN", "N/A", "null", "NULL")
PARQUET_SUFFIXES = (".parquet", ".pq")
BLOCK_ROWS = 2048  # rows per streamed block (the Ray pipeline's shards are made of these)


@dataclass(frozen=True)
class Layout:
    """How a matrix file is laid out: format, delimiter, the feature column and the sample columns."""

    path: str
    kind: str  # "text" or "parquet"
    delimiter: str  # text only
    feature_header: str | None  # header of the feature-name column ("" if unnamed); None: no such column
    samples: tuple[str, ...]
    short_header: bool = False  # text: the header has no field for the feature column (R write.table)
    gzipped: bool = False

    @property
    def column_names(self) -> list[str]:
        lead = [] if self.feature_header is None else [self.feature_header or "\x00feature"]
        return lead + list(self.samples)


@dataclass
class Matrix:
    """A whole matrix in memory: ``values`` is features x samples float64, NaN where missing."""

    values: np.ndarray
    features: list[str]
    samples: list[str]
    layout: Layout


def _open_text(path: str) -> io.TextIOBase:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _is_number(v: str) -> bool:
    if v.strip() in NA_TOKENS:
        return True
    try:
        float(v)
        return True
    except ValueError:
        return False


def sniff_layout(path: str | Path, feature_col: str | None = None, known_samples: Sequence[str] | None = None) -> Layout:
    """Read the header (and a few rows) of a matrix file and decide its layout; raises InputError."""
    path = str(path)
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    if path.lower().endswith(PARQUET_SUFFIXES):
        return _sniff_parquet(path, feature_col)
    try:
        with _open_text(path) as fh:
            head = [next(fh, "") for _ in range(51)]
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"{path}: cannot read as text ({exc})") from None
    head = [h for h in head if h.strip()]
    if not head:
        raise InputError(f"{path}: empty file")
    delim = "\t" if "\t" in head[0] else ","
    rows = list(csv.reader(head, delimiter=delim))
    header, body = rows[0], rows[1:]
    if not body:
        raise InputError(f"{path}: header only, no feature rows")
    gz = open(path, "rb").read(2) == b"\x1f\x8b"
    if len(body[0]) == len(header) + 1:
        return Layout(path, "text", delim, "", tuple(header), short_header=True, gzipped=gz)
    first = header[0]
    if feature_col is not None:
        if first != feature_col:
            raise UsageError(f"{path}: --feature-col {feature_col!r} is not the first column (it is {first!r})")
        named = True
    else:
        named = (first == "" or (known_samples is not None and first not in set(known_samples)
                                 and set(header[1:]) <= set(known_samples))
                 or not all(_is_number(r[0]) for r in body if r))
    samples = tuple(header[1:] if named else header)
    layout = Layout(path, "text", delim, first if named else None, samples, gzipped=gz)
    _check_samples(layout)  # before a sample sheet is matched to no samples at all
    return layout


def _sniff_parquet(path: str, feature_col: str | None) -> Layout:
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if feature_col is not None and feature_col not in schema.names:
        raise UsageError(f"{path}: --feature-col {feature_col!r} is not a column")
    feat = feature_col or (strings[0] if strings else None)
    for f in schema:
        if f.name != feat and not (pa.types.is_floating(f.type) or pa.types.is_integer(f.type)):
            raise InputError(f"{path}: column {f.name!r} is {f.type}, not numeric (only the feature column may be text)")
    return Layout(path, "parquet", "", feat, tuple(n for n in schema.names if n != feat))


def _check_samples(layout: Layout) -> None:
    seen, dup = set(), []
    for s in layout.samples:
        (dup.append(s) if s in seen else seen.add(s))
    if dup:
        raise InputError(f"{layout.path}: duplicate sample column(s) {', '.join(sorted(set(dup))[:10])}")
    if not layout.samples:
        raise InputError(f"{layout.path}: no sample columns (the header has one field: a matrix is "
                         "tab- or comma-separated)")


def _locate_bad_cell(layout: Layout) -> str:
    """Slow path after a failed fast parse: the first line with a wrong field count or a non-numeric cell."""
    ncol = len(layout.column_names)
    lead = 0 if layout.feature_header is None else 1
    with _open_text(layout.path) as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter=layout.delimiter), start=1):
            if lineno == 1 or not row:
                continue
            if len(row) != ncol:
                return f"line {lineno}: {len(row)} fields, expected {ncol}"
            for j, v in enumerate(row[lead:]):
                if not _is_number(v):
                    return f"line {lineno}, column {layout.samples[j]!r}: not a number: {v!r}"
    return "unparseable content"


def _text_batches(layout: Layout, block_rows: int) -> Iterator[pa.RecordBatch]:
    names = layout.column_names
    types = {s: pa.float64() for s in layout.samples}
    if layout.feature_header is not None:
        types[names[0]] = pa.string()
    ro = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 22)
    po = pacsv.ParseOptions(delimiter=layout.delimiter)
    co = pacsv.ConvertOptions(column_types=types, null_values=list(NA_TOKENS), strings_can_be_null=False,
                              quoted_strings_can_be_null=False)
    with ExitStack() as stack:
        raw = stack.enter_context(pa.input_stream(layout.path, compression="gzip" if layout.gzipped else None))
        reader = pacsv.open_csv(raw, read_options=ro, parse_options=po, convert_options=co)
        yield from _rebatch(reader, block_rows)


def _rebatch(batches, block_rows: int) -> Iterator[pa.RecordBatch]:
    pending: list[pa.RecordBatch] = []
    n = 0
    for b in batches:
        pending.append(b)
        n += b.num_rows
        while n >= block_rows:
            t = pa.Table.from_batches(pending).combine_chunks()
            yield from t.slice(0, block_rows).to_batches(max_chunksize=block_rows)
            rest = t.slice(block_rows)
            pending, n = (rest.to_batches() if rest.num_rows else []), rest.num_rows
    if n:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches(max_chunksize=block_rows)


def iter_blocks(layout: Layout, block_rows: int = BLOCK_ROWS) -> Iterator[tuple[int, list[str], np.ndarray]]:
    """Stream ``(first_row, feature names, values)`` blocks of at most ``block_rows`` features (0-based rows
    in file order; features are named by their 1-based row number when the file has no name column)."""
    _check_samples(layout)
    start = 0
    try:
        if layout.kind == "parquet":
            batches = _rebatch(pq.ParquetFile(layout.path).iter_batches(batch_size=block_rows), block_rows)
        else:
            batches = _text_batches(layout, block_rows)
        for batch in batches:
            feats, values = _batch_arrays(batch, layout, start)
            yield start, feats, values
            start += values.shape[0]
    except pa.ArrowInvalid as exc:
        where = _locate_bad_cell(layout) if layout.kind == "text" else str(exc)
        raise InputError(f"{layout.path}: {where}") from None


def _batch_arrays(batch: pa.RecordBatch, layout: Layout, start: int) -> tuple[list[str], np.ndarray]:
    cols = batch.schema.names
    lead = 0 if layout.feature_header is None else 1
    if lead:
        feats = [str(v) for v in batch.column(0).to_pylist()]
    else:
        feats = [str(start + i + 1) for i in range(batch.num_rows)]
    values = np.empty((batch.num_rows, len(cols) - lead))
    for j in range(lead, len(cols)):
        col = batch.column(j).cast(pa.float64())
        values[:, j - lead] = col.to_numpy(zero_copy_only=False)  # nulls become NaN
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        line = f"line {start + r + 2}, " if layout.kind == "text" else f"row {start + r + 1}, "
        raise InputError(f"{layout.path}: {line}column {layout.samples[c]!r}: infinite value")
    return feats, values


def read_matrix(path: str | Path, feature_col: str | None = None, known_samples: Sequence[str] | None = None) -> Matrix:
    """The whole matrix in memory (small cohorts, tests, the VAE)."""
    layout = sniff_layout(path, feature_col, known_samples)
    feats, parts = [], []
    for _, f, v in iter_blocks(layout):
        feats += f
        parts.append(v)
    values = np.vstack(parts) if parts else np.zeros((0, len(layout.samples)))
    return Matrix(values, feats, list(layout.samples), layout)


# ------------------------------------------------------------------------------------------ writing


class MatrixWriter:
    """Write blocks of rows to ``path`` atomically, in the layout of ``like`` (format chosen by the output
    suffix: ``.parquet`` writes Parquet, anything else text with the input's delimiter and header style)."""

    def __init__(self, path: str | Path, like: Layout, samples: Sequence[str] | None = None):
        self.path = str(path)
        self.samples = list(samples if samples is not None else like.samples)
        parquet = self.path.lower().endswith(PARQUET_SUFFIXES)
        delim = like.delimiter or ("," if self.path.lower().endswith(".csv") else "\t")
        feat = like.feature_header if like.feature_header is not None else None
        self.layout = replace(like, path=self.path, kind="parquet" if parquet else "text", delimiter=delim,
                              samples=tuple(self.samples), feature_header=feat,
                              short_header=like.short_header and not parquet, gzipped=False)
        self._stack = ExitStack()
        self._sink = None

    def __enter__(self) -> MatrixWriter:
        tmp = self._stack.enter_context(atomic_path(self.path))
        if self.layout.kind == "parquet":
            self._sink = pq.ParquetWriter(str(tmp), self._schema())
        else:
            self._sink = open(tmp, "wb")
            self._sink.write(self._header().encode())
        return self

    def _schema(self) -> pa.Schema:
        lead = [] if self.layout.feature_header is None else [pa.field(self.layout.feature_header or "feature", pa.string())]
        return pa.schema(lead + [pa.field(s, pa.float64()) for s in self.samples])

    def _header(self) -> str:
        d = self.layout.delimiter
        names = list(self.samples)
        if self.layout.feature_header is not None and not self.layout.short_header:
            names = [self.layout.feature_header] + names
        return d.join(names) + "\n"

    def write(self, features: Sequence[str], values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        arrays = [pa.array(values[:, j], mask=np.isnan(values[:, j])) for j in range(values.shape[1])]
        names = [f"c{j}" for j in range(values.shape[1])]
        if self.layout.feature_header is not None:
            arrays.insert(0, pa.array([str(f) for f in features], pa.string()))
            names.insert(0, "feature")
        table = pa.Table.from_arrays(arrays, names=names)
        if self.layout.kind == "parquet":
            self._sink.write_table(table.rename_columns(self._schema().names))
        else:
            # Quote feature names only where a name needs it (pyarrow's "needed" quotes every string).
            plain = not any(c in str(f) for f in features for c in (self.layout.delimiter, '"', "\n", "\r"))
            opts = pacsv.WriteOptions(include_header=False, delimiter=self.layout.delimiter, null_string="NA",
                                      quoting_style="none" if plain else "needed")
            pacsv.write_csv(table, self._sink, opts)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._sink is not None:
                self._sink.close()
        finally:
            self._stack.__exit__(exc_type, exc, tb)


def write_matrix(path: str | Path, matrix: Matrix, values: np.ndarray | None = None) -> None:
    with MatrixWriter(path, matrix.layout, matrix.samples) as w:
        w.write(matrix.features, matrix.values if values is None else values)


# ------------------------------------------------------------------------------------------ sheets


def read_sheet(path: str | Path) -> dict[str, list[str]]:
    """A sample sheet (CSV/TSV with a header) as columns of strings."""
    path = str(path)
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    with _open_text(path) as fh:
        text = fh.read()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) < 2:
        raise InputError(f"{path}: a sample sheet needs a header and at least one sample")
    delim = "\t" if "\t" in lines[0] else ","
    rows = list(csv.reader(lines, delimiter=delim))
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise InputError(f"{path}: duplicate column names in the header")
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise InputError(f"{path}: line {i}: {len(r)} fields, expected {len(header)}")
    return {h: [r[j].strip() for r in rows[1:]] for j, h in enumerate(header)}


def align_sheet(sheet: Mapping[str, list[str]], samples: Sequence[str], sample_col: str | None = None,
                path: str = "sample sheet") -> dict[str, list[str]]:
    """The sheet's columns reordered to ``samples`` (the matrix's order).

    The sample column is ``sample_col`` or the first column whose values cover every matrix sample.
    Matrix samples absent from the sheet are an error (their batch is unknown); sheet rows for samples
    absent from the matrix are ignored and logged.
    """
    if sample_col is not None and sample_col not in sheet:
        raise UsageError(f"{path}: no column {sample_col!r} (columns: {', '.join(sheet)})")
    want = set(samples)
    candidates = [sample_col] if sample_col else list(sheet)
    best, best_cover = None, -1
    for col in candidates:
        cover = len(want & set(sheet[col]))
        if cover > best_cover:
            best, best_cover = col, cover
    ids = sheet[best]
    missing = [s for s in samples if s not in set(ids)]
    if missing:
        raise InputError(f"{path}: {len(missing)} matrix sample(s) missing from the sheet (column {best!r}): "
                         f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    pos: dict[str, int] = {}
    for i, s in enumerate(ids):
        if s in pos and s in want:
            raise InputError(f"{path}: sample {s!r} appears twice in column {best!r}")
        pos.setdefault(s, i)
    extra = len(set(ids) - want)
    if extra:
        log.info("%s: %d sheet row(s) name samples that are not in the matrix; ignored", path, extra)
    order = [pos[s] for s in samples]
    return {col: [vals[i] for i in order] for col, vals in sheet.items()}

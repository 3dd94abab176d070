"""VCF/BCF <-> Arrow "VCF text tables", fast enough for whole genomes.

A **VCF text table** is a ``pyarrow.Table`` with the schema :data:`raygen.schema.TEXT_SCHEMA` (the VCF
columns as text, ``POS`` as 1-based int64, and the source ``LINE``; see :mod:`raygen.schema`).

Records that pass through a pipeline untouched are written back byte for byte: the writer only joins the
columns with tabs. Nothing is parsed per record in Python: text is read in large chunks, split by the Arrow
CSV reader (tab-delimited, quoting off) and checked with vectorized regular expressions.

Malformed lines never stop a read: they go to a **rejects table** (:data:`raygen.schema.REJECTS_SCHEMA`:
SOURCE, LINE, REASON, TEXT) and reading continues, so ``records in = records out + rejected``. The region-
sharded block readers (:mod:`raygen.io.blocks`) turn that table into in-band reject rows at once. A
truncated (b)gzip stream yields every complete line before the break and then one reject naming the file
and the first missing line (also when a BGZF file was cut exactly between blocks: its end-of-file marker
is checked).

Public API
----------
``read_header(path) -> VcfHeader``
``iter_text_batches(path, *, region=None, batch_rows=DEFAULT_BATCH_ROWS, header=None) -> Iterator[(records, rejects)]``
``read_text_table(path, *, region=None) -> (VcfHeader, records, rejects)``
``fetch_text_batches(path, contig, start0=None, end0=None, *, header=None, batch_rows=DEFAULT_BATCH_ROWS)`` (indexed)
``format_lines(records, header) -> pyarrow.Buffer`` (record lines, each ending in ``\\n``);
``iter_formatted(records, header) -> Iterator[pyarrow.Buffer]`` (the same, in bounded pieces)
``write_vcf(header, tables, out_path, *, index=True, threads=None, provenance=None) -> Path`` (``.vcf``, ``.vcf.gz`` + .tbi/.csi, ``.bcf`` + .csi)
``write_rejects(rejects, path) -> int`` (TSV with a header line); ``report_rejects(rejects, path, logger)``
``parse_record_lines(data, header, *, source, first_line) -> (records, rejects)`` (record lines as bytes)
``empty_text_table()``, ``empty_rejects()``, ``index_path(path)``, ``detect_format(path)``, ``output_kind(path)``
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pysam
import pysam.bcftools

from raygen.errors import InputError, RaygenError, UsageError, disk_full
from raygen.io.atomic import atomic_paths
from raygen.io import tbi
from raygen.io.bgzf import BgzfWriter, has_eof_block
from raygen.io.header import FIXED_COLUMNS, VcfHeader
from raygen.io.samplecheck import samples_ok
from raygen.provenance import Provenance, stamp_header
from raygen.schema import MAX_REJECT_TEXT, REJECTS_SCHEMA, TEXT_SCHEMA

log = logging.getLogger(__name__)

__all__ = [
    "VcfHeader",
    "read_header",
    "iter_text_batches",
    "read_text_table",
    "fetch_text_batches",
    "format_lines",
    "iter_formatted",
    "write_vcf",
    "write_rejects",
    "report_rejects",
    "empty_text_table",
    "empty_rejects",
    "index_path",
    "detect_format",
    "output_kind",
    "parse_record_lines",
]

#: Records per table a reader yields at most (memory per batch vs. per-call overhead).
DEFAULT_BATCH_ROWS = 200_000
#: Bytes of decompressed text parsed at a time; large enough to amortise Arrow's per-call overhead.
CHUNK_BYTES = 32 << 20
#: Bytes of the first chunk a stream parses; each next one twice as large, up to CHUNK_BYTES. A reader that
#: feeds a pipeline (``raygen normalize``'s read-ahead) hands over its first records after ~1/32 of the
#: reading a full chunk takes, instead of leaving the other stages idle meanwhile.
FIRST_CHUNK_BYTES = 1 << 20
#: Contigs longer than this (2^29 bp) cannot be indexed by .tbi; the writer switches to CSI.
TBI_MAX_LENGTH = 1 << 29

#: At most 18 digits: every such POS fits int64 (htslib's 64-bit positions); longer is a reject, not a crash.
_POS_RE = r"^[0-9]{1,18}$"
_REF_RE = r"^(?:[A-Za-z]+|\.)$"  # "." is legal: bcftools norm -c s sets it from the FASTA
# An ALT allele: bases (or '*'), a symbolic <ID>, a breakend (t[p[ / ]p]t / .t / t.), or a lone '.'.
_ALLELE = r"(?:[A-Za-z*]+|<[^,<>]+>|[A-Za-z]*[\[\]][^,\[\]]+[\[\]][A-Za-z]*|\.[A-Za-z]+|[A-Za-z]+\.)"
_ALT_RE = rf"^(?:\.|{_ALLELE}(?:,{_ALLELE})*)$"
_QUAL_RE = r"^(?:\.|[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?:[Ii]nf|[Ii]nfinity|[Nn]a[Nn]))$"


def empty_text_table() -> pa.Table:
    return TEXT_SCHEMA.empty_table()


def empty_rejects() -> pa.Table:
    return REJECTS_SCHEMA.empty_table()


def _rejects(source: str, lines: list[int | None], reasons: list[str], texts: list[str]) -> pa.Table:
    return pa.table(
        {
            "SOURCE": pa.array([source] * len(lines), pa.string()),
            "LINE": pa.array(lines, pa.int64()),
            "REASON": pa.array(reasons, pa.string()),
            "TEXT": pa.array([t[:MAX_REJECT_TEXT] for t in texts], pa.string()),
        },
        schema=REJECTS_SCHEMA,
    )


# ---------------------------------------------------------------------------------------------------
# Input detection and header
# ---------------------------------------------------------------------------------------------------
def detect_format(path: str | os.PathLike[str]) -> str:
    """Return ``"bcf"``, ``"bgzf"`` (bgzipped VCF), ``"gzip"`` (plain gzip VCF) or ``"vcf"`` (plain text).

    Decided from the bytes, not the name. Raises :class:`InputError` for a missing or empty file.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"input {str(p)!r} does not exist or is not a file")
    with open(p, "rb") as fh:
        head = fh.read(18)
    if not head:
        raise InputError(f"input {str(p)!r} is empty")
    if head[:2] == b"\x1f\x8b":
        is_bgzf = len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC"
        try:
            with gzip.open(p, "rb") as gz:
                magic = gz.read(3)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"input {str(p)!r}: cannot decompress: {exc}") from None
        if magic == b"BCF":
            return "bcf"
        return "bgzf" if is_bgzf else "gzip"
    if head[:3] == b"BCF":
        return "bcf"
    return "vcf"


def index_path(path: str | os.PathLike[str]) -> Path | None:
    """The ``.tbi`` or ``.csi`` beside ``path``, or None."""
    for suffix in (".tbi", ".csi"):
        cand = Path(str(path) + suffix)
        if cand.exists():
            return cand
    return None


def _open_text(path: Path, fmt: str) -> BinaryIO:
    if fmt in ("bgzf", "gzip"):
        # gzip reads multi-member streams (BGZF is one) at zlib speed and raises EOFError on truncation after
        # returning what came before the break. (zlib-ng's gzip_ng inflates at half the CPU but loses more
        # records before a truncation: tests/commands/test_bad_input.py's truncated-BGZF corpus.)
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _open_bcf(source: str) -> pysam.VariantFile:
    """Open a BCF even when its end is missing: we read what is there and report the break ourselves."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no BGZF EOF marker": reported as a reject instead
            return pysam.VariantFile(source, ignore_truncation=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{source}: cannot open BCF: {exc}") from None


def _close_quietly(vf: pysam.VariantFile) -> None:
    try:
        vf.close()
    except OSError:  # htslib reports the read error again on close; it is already a reject
        pass


def _is_gzip_like(path: Path) -> bool:
    """True when the file starts like a gzip/BGZF member (a compressed BCF does, an uncompressed one not)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


#: C0 control characters but tab: never valid in a VCF header line.
_HEADER_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _read_header_lines(fh: BinaryIO, source: str) -> tuple[list[str], int]:
    r"""The header lines up to and including ``#CHROM``, and the number of physical lines they took.

    Empty lines after the first (``\n`` or ``\r\n``) are dropped, as htslib drops them; a line of spaces or tabs
    is an error there and here."""
    lines: list[str] = []
    n = 0  # 1-based number of the line just read
    while True:
        raw = fh.readline()
        n += 1
        if not raw:
            raise InputError(f"{source}: no '#CHROM' header line: not a VCF file (or truncated in the header)")
        if n > 1 and raw in (b"\n", b"\r\n"):
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("latin-1")
        if not line.startswith("#"):
            if n == 1 and line.startswith("\ufeff"):
                raise InputError(f"{source}: line 1 starts with a UTF-8 byte-order mark, which htslib cannot read: "
                                 "save the file without it")
            raise InputError(f"{source}: line {n} is not a header line and no '#CHROM' line came before it")
        line = line.rstrip("\r\n")
        bad = _HEADER_CONTROL.search(line)
        if bad:  # htslib stops a header line at a NUL: the output header would be unreadable
            raise InputError(f"{source}: line {n}: header line holds the control character {bad.group()!r}")
        lines.append(line)
        if line.startswith("#CHROM"):
            return lines, n


def read_header(path: str | os.PathLike[str]) -> VcfHeader:
    """Read and parse the header of a VCF (plain, gzip, bgzip) or BCF file."""
    p = Path(path)
    fmt = detect_format(p)
    if fmt == "bcf":
        try:
            vf = _open_bcf(str(p))
            try:
                text = str(vf.header)
            finally:
                _close_quietly(vf)
        except (OSError, ValueError) as exc:
            raise InputError(f"{p}: cannot read BCF header: {exc}") from None
        return VcfHeader.from_text(text, str(p))
    try:
        with _open_text(p, fmt) as fh:
            lines, _ = _read_header_lines(fh, str(p))
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"{p}: truncated or corrupt compressed header: {exc}") from None
    return VcfHeader.from_lines(lines, str(p))


# ---------------------------------------------------------------------------------------------------
# Parsing a chunk of record lines
# ---------------------------------------------------------------------------------------------------
def _csv_columns(header: VcfHeader) -> list[str]:
    cols = list(FIXED_COLUMNS)
    if header.has_format_column or header.samples:
        cols.append("FORMAT")
    return cols + [f"S{i}" for i in range(len(header.samples))]


def _read_csv(
    data: bytes, names: list[str], threads: bool, block_size: int = 1 << 22
) -> tuple[pa.Table, list[tuple[int | None, str, int]]]:
    bad: list[tuple[int | None, str, int]] = []

    def on_invalid(row) -> str:  # called only for rows with the wrong number of columns
        bad.append((row.number, row.text, row.actual_columns))
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=threads, block_size=block_size),
        parse_options=pacsv.ParseOptions(
            delimiter="\t",
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, bad


def _lines_text(table: pa.Table, names: list[str]) -> pa.Array:
    return pc.binary_join_element_wise(*[table[n] for n in names], "\t")


def _read_chunk(data: bytes, names: list[str]) -> tuple[pa.Table, list[tuple[int | None, str, int]]] | None:
    """Arrow's CSV reader over a chunk: (rows with the right column count, bad rows); None when the chunk is
    not valid UTF-8 (the caller then goes line by line)."""
    block_size = 1 << 22
    while True:
        try:
            table, bad = _read_csv(data, names, threads=True, block_size=block_size)
            if any(num is None for num, _, _ in bad):
                # Multi-threaded parsing may not know the row number of a bad row: redo this chunk serially.
                table, bad = _read_csv(data, names, threads=False, block_size=block_size)
            return table, bad
        except pa.ArrowInvalid as exc:
            msg = str(exc).lower()
            if "straddl" in msg and block_size < len(data):
                block_size = len(data) + 1  # a line longer than a block (thousands of samples): one block
                continue
            if "utf8" not in msg and "utf-8" not in msg:
                raise
            return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _line_numbers(first_line: int | None, line_numbers: np.ndarray | None):
    """``abs_lines(rel)``: source line numbers (1-based) of lines numbered ``rel`` (1-based) within a chunk."""
    def abs_lines(rel: np.ndarray) -> pa.Array:
        if line_numbers is not None:
            return pa.array(line_numbers[rel - 1], pa.int64())
        if first_line is None:
            return pa.nulls(len(rel), pa.int64())
        return pa.array(rel + (first_line - 1), pa.int64())

    return abs_lines


def _field_checks(table: pa.Table, header: VcfHeader, samples: pa.Array | None = None
                  ) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """(blank-line mask, [(row passes, reason if not)]) for the rows of a parsed chunk; a later check that
    fails names the reason. Cheap vectorized tests pass almost every record; only the rest meet the full
    regular expressions."""
    chrom, pos, ref, alt, qual = (_as_array(table[c]) for c in ("CHROM", "POS", "REF", "ALT", "QUAL"))
    blank = _np_bool(pc.and_(pc.equal(pc.binary_length(chrom), 0), pc.equal(pc.binary_length(pos), 0)))
    checks = [  # increasing priority
        (_samples_ok(table, header, samples), "malformed sample column: a value does not fit its FORMAT key's Type, "
                                     "an empty value between ':', or more values than FORMAT keys"),
        (_valid(qual, _qual_fast, _QUAL_RE), "QUAL is not a number or '.'"),
        (_valid(alt, lambda c: _np_bool(pc.ascii_is_alpha(c)), _ALT_RE),
         "illegal ALT allele (allowed: bases A-Z/a-z, '*', <ID>, breakends, '.')"),
        (_valid(ref, lambda c: _np_bool(pc.ascii_is_alpha(c)), _REF_RE),
         "illegal characters in REF (allowed: letters A-Z, a-z, or a lone '.')"),
        (_valid(pos, _pos_fast, _POS_RE), "POS is not a non-negative integer"),
        (_np_bool(pc.greater(pc.binary_length(chrom), 0)), "empty CHROM"),
    ]
    return blank, checks


def parse_record_lines(
    data: bytes,
    header: VcfHeader,
    *,
    source: str,
    first_line: int | None,
    line_numbers: np.ndarray | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Split record lines (each ending in ``\\n``) into a text table and a rejects table.

    ``first_line``: 1-based source line number of the first line in ``data`` (None: unknown, LINE is null
    unless ``line_numbers`` gives one number per line). Blank lines are skipped (they are not records).
    """
    if not data:
        return empty_text_table(), empty_rejects()
    if not data.endswith(b"\n"):
        data += b"\n"
    if b"\r" in data:  # CRLF files: the '\r' would otherwise end up inside the last column
        data = data.replace(b"\r\n", b"\n")
    names = _csv_columns(header)
    # A control character left (a lone CR, NUL, ESC...) would split a line in Arrow's reader (CR) or make
    # output htslib cannot read; invalid UTF-8 makes Arrow fail (in a row with the wrong column count its
    # handler cannot even decode the row). Such chunks go line by line: those lines become rejects.
    clean = not data.translate(None, _NOT_CONTROL) and _is_utf8(data)
    parsed = _read_chunk(data, names) if clean else None
    if parsed is None:
        return _parse_slow(data, header, source=source, first_line=first_line, line_numbers=line_numbers)
    table, bad_rows = parsed
    # Physical line numbers (1-based within data) of the rows that parsed with the right column count.
    # Blank lines are rows too (ignore_empty_lines=False), so every line is a row or a bad row.
    phys = np.arange(1, table.num_rows + len(bad_rows) + 1, dtype=np.int64)
    if bad_rows:
        phys = phys[~np.isin(phys, np.array([b[0] for b in bad_rows], dtype=np.int64))]
    if len(phys) != table.num_rows:  # defensive: numbering must line up or LINE would lie
        return _parse_slow(data, header, source=source, first_line=first_line, line_numbers=line_numbers)
    abs_lines = _line_numbers(first_line, line_numbers)
    rejected: list[tuple[int | None, str, str]] = [  # (LINE, reason, text)
        (abs_lines(np.array([num]))[0].as_py(),
         f"wrong number of columns: {actual}, expected {len(names)} (tab-separated, from the #CHROM line)", text)
        for num, text, actual in bad_rows]
    samples = _joined_samples(table, header)
    blank, checks = _field_checks(table, header, samples)
    bad = np.zeros(table.num_rows, dtype=bool)
    for ok, _ in checks:
        bad |= ~ok
    bad &= ~blank
    if bad.any():
        idx = np.flatnonzero(bad)
        which = np.zeros(len(idx), dtype=np.int64)
        for k, (ok, _) in enumerate(checks):
            which[~ok[idx]] = k
        texts = _lines_text(table.take(idx), names).to_pylist()
        rejected += [(ln, checks[k][1], tx) for ln, k, tx in zip(abs_lines(phys[idx]).to_pylist(), which.tolist(), texts)]
    keep = ~(bad | blank)
    if not keep.all():
        table, phys = table.filter(pa.array(keep)), phys[keep]
        samples = samples.filter(pa.array(keep)) if samples is not None else None
    records = _assemble(table, header, abs_lines(phys), samples)
    if not rejected:
        return records, empty_rejects()
    rejected.sort(key=lambda r: -1 if r[0] is None else r[0])  # stable: file order
    lines, reasons, texts = (list(x) for x in zip(*rejected))
    return records, _rejects(source, lines, reasons, texts)


#: Every byte but the control characters other than TAB and LF (``bytes.translate`` deletes these,
#: leaving only the control bytes: a cheap test for "any control character in this chunk").
_NOT_CONTROL = bytes(b for b in range(256) if (b >= 0x20 and b != 0x7F) or b in (0x09, 0x0A))


def _control_char(raw: bytes) -> str | None:
    """Reason to reject a line holding a control character (other than TAB), or None."""
    bad = raw.translate(None, _NOT_CONTROL)
    if not bad:
        return None
    at = raw.index(bad[:1])
    return f"control character {bad[:1]!r} at byte {at} (CR, NUL and other control characters are not allowed in records)"


def _joined_samples(table: pa.Table, header: VcfHeader) -> pa.Array | None:
    """The sample columns joined by TAB (the SAMPLES column), None without samples."""
    if not header.samples:
        return None
    cols = [_as_array(table[f"S{i}"]) for i in range(len(header.samples))]
    return cols[0] if len(cols) == 1 else pc.binary_join_element_wise(*cols, "\t")


def _samples_ok(table: pa.Table, header: VcfHeader, samples: pa.Array | None = None) -> np.ndarray:
    if "FORMAT" not in table.column_names or not header.samples:
        return np.ones(table.num_rows, dtype=bool)
    return samples_ok(_as_array(table["FORMAT"]),
                      [_as_array(table[f"S{i}"]) for i in range(len(header.samples))], header, samples)


def _np_bool(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Boolean mask as numpy, null -> False."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _valid(col: pa.Array, fast, regex: str) -> np.ndarray:
    """Rows of ``col`` matching ``regex``; ``fast`` accepts a subset cheaply, the regex checks only the rest."""
    ok = fast(col)
    if not ok.all():
        rest = np.flatnonzero(~ok)
        ok[rest] = _np_bool(pc.match_substring_regex(col.take(pa.array(rest)), regex))
    return ok


def _pos_fast(col: pa.Array) -> np.ndarray:
    # Only digits (Arrow's cast alone would take "0x10" as 16 and "+5" as 5), and few enough for int64.
    return _np_bool(pc.and_(pc.ascii_is_decimal(col), pc.less_equal(pc.binary_length(col), 18)))


def _qual_fast(col: pa.Array) -> np.ndarray:
    try:
        pc.cast(pc.if_else(pc.equal(col, "."), "0", col), pa.float64())
        return np.ones(len(col), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.zeros(len(col), dtype=bool)


def _assemble(table: pa.Table, header: VcfHeader, lines: pa.Array, samples: pa.Array | None = None) -> pa.Table:
    n = table.num_rows
    nulls = pa.nulls(n, pa.string())
    if samples is None:
        samples = _joined_samples(table, header)  # None without samples
    if samples is None:
        samples = nulls
    fmt = table["FORMAT"] if "FORMAT" in table.column_names else nulls
    cols = [
        table["CHROM"],
        pc.cast(table["POS"], pa.int64()),
        table["ID"],
        table["REF"],
        table["ALT"],
        table["QUAL"],
        table["FILTER"],
        table["INFO"],
        fmt,
        samples,
        lines,
    ]
    return pa.Table.from_arrays([_as_array(c) for c in cols], schema=TEXT_SCHEMA)


def _as_array(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _parse_slow(
    data: bytes, header: VcfHeader, *, source: str, first_line: int | None, line_numbers: np.ndarray | None
) -> tuple[pa.Table, pa.Table]:
    """Per-line fallback for a chunk that Arrow cannot take as a whole (invalid UTF-8, control characters):
    rejects those lines and parses the rest."""
    good: list[bytes] = []
    good_nums: list[int] = []
    rej_l: list[int | None] = []
    rej_r: list[str] = []
    rej_t: list[str] = []
    for i, raw in enumerate(data.split(b"\n")[:-1]):
        num = int(line_numbers[i]) if line_numbers is not None else (None if first_line is None else first_line + i)
        try:
            raw.decode("utf-8")
            reason = _control_char(raw)
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8 text ({exc.reason} at byte {exc.start})"
        if reason is not None:
            rej_l.append(num)
            rej_r.append(reason)
            rej_t.append(raw.decode("utf-8", "replace"))
            continue
        good.append(raw)
        good_nums.append(num if num is not None else -1)
    if good:
        nums = np.array(good_nums, dtype=np.int64)
        records, rejects = parse_record_lines(
            b"\n".join(good) + b"\n", header, source=source, first_line=None,
            line_numbers=nums if (first_line is not None or line_numbers is not None) else None,
        )
    else:
        records, rejects = empty_text_table(), empty_rejects()
    return records, pa.concat_tables([rejects, _rejects(source, rej_l, rej_r, rej_t)])


# ---------------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------------
def _slices(records: pa.Table, rejects: pa.Table, batch_rows: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    if records.num_rows <= batch_rows:
        yield records, rejects
        return
    for off in range(0, records.num_rows, batch_rows):
        yield records.slice(off, batch_rows), (rejects if off == 0 else empty_rejects())


def _iter_stream(path: Path, fmt: str, header: VcfHeader, batch_rows: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    source = str(path)
    with _open_text(path, fmt) as fh:
        next_line = _read_header_lines(fh, source)[1] + 1
        carry = b""
        want = FIRST_CHUNK_BYTES
        while True:
            pieces: list[bytes] = []
            got = 0
            failure: BaseException | None = None
            try:
                # read1 returns what one decompression step gives, so a break loses at most that step
                # (one BGZF block), never the records already decompressed before it.
                while got < want:
                    piece = fh.read1(want - got)
                    if not piece:
                        break
                    pieces.append(piece)
                    got += len(piece)
            except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
                failure = exc
            if failure is not None:
                carry = b"".join([carry, *pieces])
                # Yield every complete line before the break, then report the break itself.
                cut = carry.rfind(b"\n") + 1
                complete, partial = carry[:cut], carry[cut:]
                if complete:
                    recs, rejs = parse_record_lines(complete, header, source=source, first_line=next_line)
                    yield from _slices(recs, rejs, batch_rows)
                    next_line += complete.count(b"\n")
                msg = (
                    f"truncated or corrupt compressed input ({type(failure).__name__}: {failure}): records from line "
                    f"{next_line} on are missing; the file was cut short (re-copy or re-bgzip it)"
                )
                log.warning("%s: %s", source, msg)
                yield empty_text_table(), _rejects(source, [next_line], [msg], [partial.decode("utf-8", "replace")])
                return
            if not pieces:
                # A cut exactly between two BGZF blocks decompresses cleanly: only the marker tells.
                cut_short = fmt == "bgzf" and not has_eof_block(path)
                partial = b""
                if cut_short:
                    cut = carry.rfind(b"\n") + 1
                    carry, partial = carry[:cut], carry[cut:]
                if carry:
                    recs, rejs = parse_record_lines(carry, header, source=source, first_line=next_line)
                    yield from _slices(recs, rejs, batch_rows)
                    next_line += carry.count(b"\n") + (not carry.endswith(b"\n"))
                if cut_short:
                    msg = (
                        "BGZF end-of-file marker is missing: the file may have been cut short after line "
                        f"{next_line - 1} (re-copy it, or re-compress with bgzip if it was written by an old tool)"
                    )
                    log.warning("%s: %s", source, msg)
                    yield empty_text_table(), _rejects(source, [next_line], [msg], [partial.decode("utf-8", "replace")])
                return
            want = min(2 * want, CHUNK_BYTES)
            buf = b"".join([carry, *pieces])  # one copy: the carried partial line, then the new pieces
            cut = buf.rfind(b"\n") + 1
            if cut == 0:
                carry = buf
                continue
            complete, carry = buf[:cut], buf[cut:]
            recs, rejs = parse_record_lines(complete, header, source=source, first_line=next_line)
            next_line += complete.count(b"\n")
            yield from _slices(recs, rejs, batch_rows)


def _iter_lines_batches(
    lines: Iterable[str], header: VcfHeader, source: str, batch_rows: int, first_line: int | None
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Batch text lines (without newline) from pysam iterators through the same parser."""
    buf: list[str] = []
    start = first_line
    for line in lines:
        buf.append(line)
        if len(buf) >= batch_rows:
            yield parse_record_lines(("\n".join(buf) + "\n").encode(), header, source=source, first_line=start)
            if start is not None:
                start += len(buf)
            buf = []
    if buf:
        yield parse_record_lines(("\n".join(buf) + "\n").encode(), header, source=source, first_line=start)


def _bcf_lines(vf: pysam.VariantFile, it: Iterable, source: str, errors: list[str], seen: list[int]) -> Iterator[str]:
    """``str(record)`` per record (htslib formats it); a decode error ends the stream and is noted in ``errors``."""
    n = 0
    try:
        for rec in it:
            n += 1
            yield str(rec).rstrip("\n")
    except (OSError, ValueError) as exc:
        errors.append(
            f"BCF read failed after record {n} ({type(exc).__name__}: {exc}): the file is truncated or corrupt "
            "and the records after it are missing"
        )
    finally:
        seen.append(n)


def iter_text_batches(
    path: str | os.PathLike[str],
    *,
    region: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    header: VcfHeader | None = None,
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Stream ``(records, rejects)`` text tables from a VCF (plain, gzip, bgzip) or BCF file.

    ``region``: ``"chr:beg-end"`` (1-based, inclusive, samtools style) or a contig name; needs a .tbi/.csi
    index and yields every record that *overlaps* the region (LINE is null then). Without a region the whole
    file is streamed in order, ``batch_rows`` records at most per batch (roughly; chunks are cut by bytes).
    Malformed lines go to the rejects table; a truncated compressed file ends with one reject row.
    """
    p = Path(path)
    fmt = detect_format(p)
    header = header or read_header(p)
    source = str(p)
    if batch_rows <= 0:
        raise UsageError("batch_rows must be positive")
    if fmt == "bcf":
        errors: list[str] = []
        seen: list[int] = []
        vf = _open_bcf(source)
        try:
            if region is not None:
                if index_path(p) is None:
                    raise InputError(f"{source}: region {region!r} needs an index (bcftools index {source})")
                it = vf.fetch(region=region)
                first = None
            else:
                it = vf
                first = len(header.meta) + 2
            lines = _bcf_lines(vf, it, source, errors, seen)
            yield from _iter_lines_batches(lines, header, source, batch_rows, first)
        finally:
            _close_quietly(vf)
        if region is None and not errors and _is_gzip_like(p) and not has_eof_block(p):
            errors.append("BGZF end-of-file marker is missing: the BCF may have been cut short after the last record read")
        if errors:
            log.warning("%s: %s", source, errors[0])
            line = None if first is None else first + (seen[0] if seen else 0)
            yield empty_text_table(), _rejects(source, [line], errors[:1], [""])
        return
    if region is not None:
        if fmt != "bgzf" or index_path(p) is None:
            raise InputError(
                f"{source}: reading region {region!r} needs a bgzipped file with a .tbi/.csi index "
                f"(bgzip it and run `tabix -p vcf`)"
            )
        try:
            tbx = pysam.TabixFile(source, index=str(index_path(p)))  # .tbi or .csi
        except (OSError, ValueError) as exc:
            raise InputError(f"{source}: cannot open index: {exc}") from None
        with tbx:
            try:
                it = tbx.fetch(region=region)
            except ValueError:
                return  # contig absent from the index: no records there
            yield from _iter_lines_batches(it, header, source, batch_rows, None)
        return
    yield from _iter_stream(p, fmt, header, batch_rows)


def fetch_text_batches(
    path: str | os.PathLike[str],
    contig: str,
    start0: int | None = None,
    end0: int | None = None,
    *,
    header: VcfHeader | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Records overlapping ``[start0, end0)`` (0-based half-open; None = contig start/end) via the index.

    Works for bgzipped VCF (.tbi/.csi) and BCF (.csi). Taking the contig name apart from the coordinates
    keeps contig names with ':' unambiguous. LINE is null (region reads cite CHROM:POS). A contig absent
    from the index yields nothing.
    """
    p = Path(path)
    fmt = detect_format(p)
    header = header or read_header(p)
    source = str(p)
    if index_path(p) is None or fmt not in ("bgzf", "bcf"):
        raise InputError(
            f"{source}: reading {contig}:{start0}-{end0} needs a bgzipped VCF or BCF with a .tbi/.csi index "
            "(bgzip it and run `tabix -p vcf`, or `bcftools index`)"
        )
    if fmt == "bcf":
        errors: list[str] = []
        vf = _open_bcf(source)
        try:
            if contig not in vf.index:
                return
            it = vf.fetch(contig, start0, end0)
            yield from _iter_lines_batches(_bcf_lines(vf, it, source, errors, []), header, source, batch_rows, None)
        finally:
            _close_quietly(vf)
        if errors:
            log.warning("%s: %s", source, errors[0])
            yield empty_text_table(), _rejects(source, [None], errors[:1], [""])
        return
    with pysam.TabixFile(source, index=str(index_path(p))) as tbx:  # .tbi or .csi
        if contig not in tbx.contigs:
            return
        yield from _iter_lines_batches(tbx.fetch(contig, start0, end0), header, source, batch_rows, None)


def read_text_table(
    path: str | os.PathLike[str], *, region: str | None = None
) -> tuple[VcfHeader, pa.Table, pa.Table]:
    """Read a whole file (or region) into memory: ``(header, records, rejects)``."""
    header = read_header(path)
    recs, rejs = [], []
    for r, j in iter_text_batches(path, region=region, header=header):
        recs.append(r)
        rejs.append(j)
    records = pa.concat_tables(recs) if recs else empty_text_table()
    rejects = pa.concat_tables(rejs) if rejs else empty_rejects()
    return header, records, rejects


# ---------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------
#: Rows formatted per Arrow call when writing: keeps each joined string array far below 2 GiB of text.
FORMAT_ROWS = 1 << 20
#: Rows formatted per step when writing a file: small enough that BgzfWriter deflates one step on its threads
#: while the next is formatted (and to_batches yields a record batch of a table's chunk at most).
WRITE_ROWS = 1 << 16


def _format_batch(batch: pa.RecordBatch) -> pa.Buffer:
    return _format_lines(batch)[0]


def _format_lines(batch: pa.RecordBatch) -> tuple[pa.Buffer, np.ndarray]:
    """(the record lines of ``batch`` as one buffer, the byte offset of each line in it plus its length)."""
    dot = pa.scalar(".")
    fixed = [
        batch.column("CHROM"),
        pc.cast(batch.column("POS"), pa.string()),
        *(pc.fill_null(batch.column(c), dot) for c in ("ID", "REF", "ALT", "QUAL", "FILTER", "INFO")),
    ]
    tail = [batch.column(c) for c in ("FORMAT", "SAMPLES") if c in batch.schema.names]
    line = pc.binary_join_element_wise(*fixed, *tail, "\t", null_handling="skip")
    # Joining with an empty string and separator "\n" appends the newline without a Python loop.
    arr = pc.binary_join_element_wise(line, pa.scalar(""), "\n")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32 if arr.type == pa.string() else np.int64)
    offsets = offsets[arr.offset: arr.offset + len(arr) + 1]
    beg, end = int(offsets[0]), int(offsets[-1])
    return arr.buffers()[2][beg:end], offsets - beg


def iter_formatted(records: pa.Table | pa.RecordBatch, header: VcfHeader | None = None) -> Iterator[pa.Buffer]:
    """VCF record lines of ``records`` as buffers of at most :data:`FORMAT_ROWS` lines each (see format_lines)."""
    batches = [records] if isinstance(records, pa.RecordBatch) else records.to_batches(max_chunksize=FORMAT_ROWS)
    for batch in batches:
        if batch.num_rows:
            yield _format_batch(batch)


def format_lines(records: pa.Table | pa.RecordBatch, header: VcfHeader | None = None) -> pa.Buffer:
    """Join the text columns of ``records`` into VCF record lines (each ending in ``\\n``), as one buffer.

    Null ID/QUAL/FILTER/INFO become ``.``; null FORMAT/SAMPLES are omitted (a file without samples).
    Writers stream :func:`iter_formatted` instead, which never builds one huge buffer.
    """
    parts = list(iter_formatted(records, header))
    if not parts:
        return pa.py_buffer(b"")
    return parts[0] if len(parts) == 1 else pa.py_buffer(b"".join(p.to_pybytes() for p in parts))


def _tables(tables: pa.Table | pa.RecordBatch | Iterable[pa.Table | pa.RecordBatch]) -> Iterator[pa.Table | pa.RecordBatch]:
    if isinstance(tables, (pa.Table, pa.RecordBatch)):
        yield tables
    else:
        yield from tables


def _needs_csi(header: VcfHeader) -> bool:
    return any(length is not None and length > TBI_MAX_LENGTH for length in header.contigs.values())


def output_kind(path: str | os.PathLike[str]) -> str:
    """``"vcf"``, ``"vcf.gz"`` or ``"bcf"`` from the suffix; :class:`UsageError` for anything else."""
    name = str(path)
    if name.endswith(".vcf"):
        return "vcf"
    if name.endswith((".vcf.gz", ".vcf.bgz")):
        return "vcf.gz"
    if name.endswith(".bcf"):
        return "bcf"
    raise UsageError(f"output {name!r}: unknown format; name it .vcf, .vcf.gz or .bcf")


def write_vcf(
    header: VcfHeader,
    tables: pa.Table | pa.RecordBatch | Iterable[pa.Table | pa.RecordBatch],
    out_path: str | os.PathLike[str],
    *,
    index: bool = True,
    threads: int | None = None,
    provenance: Provenance | None = None,
    size_hint: int | None = None,
) -> Path:
    """Write text tables (one, or an iterable streamed batch by batch) as VCF/BCF, atomically.

    The format follows the suffix: ``.vcf`` plain text; ``.vcf.gz`` BGZF plus a tabix ``.tbi`` (``.csi`` when a
    contig is longer than 2^29 bp); ``.bcf`` BCF plus ``.csi``. The data file and its index appear together
    (temp names renamed on success); on error neither is left behind. Records are written in the order
    given: indexing needs them sorted by contig and POS, and a :class:`RaygenError` says so otherwise.
    ``threads``: BGZF compression threads for ``.vcf.gz`` (default: usable cores, at most 4); the bytes
    written are the same for any value. ``provenance``: this run's :class:`raygen.provenance.Provenance`,
    appended to the header as one ``##raygen_provenance`` line (earlier runs' lines are kept).
    ``size_hint``: about how many bytes of text streamed ``tables`` will make (a table's own size is used
    when one table is given); it decides only where ``.vcf.gz`` blocks are deflated (see
    :class:`raygen.io.bgzf.BgzfWriter`), never the bytes. Returns the output path.
    """
    out = Path(out_path)
    kind = output_kind(out)
    header = stamp_header(header, provenance)
    head_bytes = header.to_text().encode()
    if kind == "vcf":
        with atomic_paths(out) as (tmp,):
            with open(tmp, "wb") as fh:
                _write_text(fh, head_bytes, tables, header)
        return out
    try:
        if kind == "vcf.gz":
            if isinstance(tables, (pa.Table, pa.RecordBatch)):
                size_hint = tables.nbytes
            _write_bgzf(out, head_bytes, tables, header, index=index, threads=threads, size_hint=size_hint)
        else:
            _write_bcf(out, head_bytes, tables, header, index=index)
    except OSError as exc:  # the BGZF data temp is written before atomic_paths (see _write_bgzf)
        raise disk_full(exc, out) or exc
    return out


def _write_text(fh, head_bytes: bytes, tables, header: VcfHeader, layout: _Layout | None = None) -> int:
    """Header then record lines to ``fh``; returns the largest ``POS + len(REF)`` seen (for the index kind).
    ``layout``: collects what :mod:`raygen.io.tbi` needs to index the stream without reading it back."""
    fh.write(head_bytes)
    max_end = 0
    at = len(head_bytes)
    for t in _tables(tables):
        for batch in t.to_batches(max_chunksize=WRITE_ROWS) if isinstance(t, pa.Table) else [t]:
            if not batch.num_rows:
                continue
            buf, offsets = _format_lines(batch)
            fh.write(buf)
            if layout is not None:
                layout.add(batch, offsets[:-1] + at)
            at += int(offsets[-1])
        if t.num_rows:
            ends = pc.add(t["POS"], pc.cast(pc.binary_length(t["REF"]), pa.int64()))
            max_end = max(max_end, pc.max(ends).as_py() or 0)
    if layout is not None:
        layout.data_end = at
    return max_end


class _Layout:
    """Per record: CHROM, POS, len(REF), whether INFO holds ``END=``, and where its line starts in the
    uncompressed stream (see :func:`raygen.io.tbi.build_tbi`)."""

    def __init__(self) -> None:
        self.chrom: list[pa.Array] = []
        self.pos: list[np.ndarray] = []
        self.ref_len: list[np.ndarray] = []
        self.has_end: list[np.ndarray] = []
        self.start: list[np.ndarray] = []
        self.data_end = 0

    def add(self, batch: pa.RecordBatch, starts: np.ndarray) -> None:
        self.chrom.append(_as_array(batch.column("CHROM")))
        self.pos.append(np.asarray(pc.fill_null(batch.column("POS"), 0).to_numpy(zero_copy_only=False), np.int64))
        self.ref_len.append(np.asarray(pc.fill_null(pc.binary_length(batch.column("REF")), 0)
                                       .to_numpy(zero_copy_only=False), np.int64))
        self.has_end.append(np.asarray(pc.fill_null(pc.match_substring(batch.column("INFO"), "END="), False)
                                       .to_numpy(zero_copy_only=False), bool))
        self.start.append(np.asarray(starts, np.int64))

    def tbi(self, block_csize: list[int]) -> bytes | None:
        """The .tbi bytes, or None where htslib must index the file (see :func:`raygen.io.tbi.can_build`;
        also records not sorted by contig and POS, which htslib then reports)."""
        if not self.pos:
            return None
        pos, ref_len = np.concatenate(self.pos), np.concatenate(self.ref_len)
        if not tbi.can_build(pos, ref_len, np.concatenate(self.has_end)):
            return None
        chrom = pa.chunked_array(self.chrom, pa.string()).combine_chunks()
        if chrom.null_count:
            return None
        change = np.flatnonzero(pc.not_equal(chrom[1:], chrom[:-1]).to_numpy(zero_copy_only=False)) + 1
        first = np.r_[0, change].astype(np.int64)
        names = chrom.take(pa.array(first)).to_pylist()
        same = np.ones(len(pos), dtype=bool)
        same[first] = False
        if len(set(names)) != len(names) or (np.diff(pos, prepend=0)[same] < 0).any():
            return None
        return tbi.build_tbi(names, first, pos, ref_len, np.concatenate(self.start), self.data_end, block_csize)


def _write_bgzf(out: Path, head_bytes: bytes, tables, header: VcfHeader, *, index: bool, threads: int | None,
                size_hint: int | None = None) -> None:
    # The index kind is known only after the data is written (a record past 2^29 bp needs CSI even when the
    # header gives no contig lengths), so the data goes to a private temp first.
    data_tmp = out.with_name(f".{out.name}.data-{os.getpid()}-{id(out):x}")
    try:
        layout = _Layout() if index else None
        with BgzfWriter(data_tmp, threads=threads, expected_bytes=size_hint) as fh:
            max_end = _write_text(fh, head_bytes, tables, header, layout)
        csi = _needs_csi(header) or max_end > TBI_MAX_LENGTH
        idx_final = Path(str(out) + (".csi" if csi else ".tbi"))
        finals = [out] + ([idx_final] if index else [])
        with atomic_paths(*finals) as tmps:
            os.replace(data_tmp, tmps[0])
            if index:
                made = None if csi else layout.tbi(fh.block_csize)
                if made is None:
                    _tabix(tmps[0], tmps[1], csi, out)
                else:  # built from the positions and block sizes, as htslib would: the file is not read back
                    tmps[1].write_bytes(made)
    finally:
        if data_tmp.exists():
            data_tmp.unlink()
    _drop_stale_indexes(out, keep=idx_final if index else None)


def _write_bcf(out: Path, head_bytes: bytes, tables, header: VcfHeader, *, index: bool) -> None:
    # Plain VCF text beside the target, then htslib (bcftools view) encodes it.
    finals = [out] + ([Path(str(out) + ".csi")] if index else [])
    with atomic_paths(*finals) as tmps:
        text_tmp = Path(str(tmps[0]) + ".vcf")
        try:
            with open(text_tmp, "wb") as fh:
                _write_text(fh, head_bytes, tables, header)
            try:
                pysam.bcftools.view("--no-version", "-Ob", "-o", str(tmps[0]), str(text_tmp), catch_stdout=False)
                if index:
                    pysam.bcftools.index("-c", "-o", str(tmps[1]), str(tmps[0]), catch_stdout=False)
            except pysam.utils.SamtoolsError as exc:
                # bcftools says only "could not create index" when the disk fills: told apart by looking at it
                if _nearly_full(tmps[0].parent):
                    raise disk_full(OSError(28, os.strerror(28)), out) from None
                raise RaygenError(f"writing BCF {str(out)!r} failed: {str(exc).strip()[:500]}") from None
        finally:
            if text_tmp.exists():
                text_tmp.unlink()
    _drop_stale_indexes(out, keep=finals[1] if index else None)


def _drop_stale_indexes(out: Path, keep: Path | None) -> None:
    """Remove an index of the other kind (or any, when none was written) left by an earlier run."""
    for suffix in (".tbi", ".csi"):
        cand = Path(str(out) + suffix)
        if cand != keep and cand.exists():
            cand.unlink()


def _tabix(data_tmp: Path, index_tmp: Path, csi: bool, final: Path) -> None:
    try:
        made = pysam.tabix_index(str(data_tmp), preset="vcf", force=True, csi=csi)
    except (OSError, ValueError) as exc:
        Path(str(data_tmp) + (".csi" if csi else ".tbi")).unlink(missing_ok=True)  # htslib's partial index
        # htslib says only "building of index ... failed": a full disk is told apart by looking at it.
        if _nearly_full(data_tmp.parent):
            raise disk_full(OSError(28, os.strerror(28)), final) from None
        raise RaygenError(
            f"indexing {str(final)!r} failed ({exc}); records must be sorted by contig and POS "
            "(sort them, or write .vcf / pass index=False)"
        ) from None
    made_index = Path(str(made) + (".csi" if csi else ".tbi"))
    os.replace(made_index, index_tmp)


def _nearly_full(directory: Path, margin_bytes: int = 1 << 16) -> bool:
    """True when the filesystem of ``directory`` has less than ``margin_bytes`` free (what an index needs)."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin_bytes


def report_rejects(rejects: pa.Table, path: str | os.PathLike[str] | None, logger: logging.Logger, *,
                   write_empty: bool = True) -> str | None:
    """Where a job's rejects end: written to ``path`` (:func:`write_rejects`; with ``write_empty=False`` only
    when there are any), or without a path one WARNING with their count and the first reject. Returns the
    path written, else None."""
    if path and (write_empty or rejects.num_rows):
        write_rejects(rejects, path)
        return str(path)
    if not path and rejects.num_rows:
        first = rejects.slice(0, 1).to_pylist()[0]
        logger.warning("%d record(s) rejected (first: %s line %s: %s); pass --rejects FILE to keep them",
                       rejects.num_rows, first["SOURCE"], first["LINE"], first["REASON"])
    return None


def write_rejects(rejects: pa.Table | Iterable[pa.Table], path: str | os.PathLike[str]) -> int:
    """Write rejects as a tab-separated file with a header line (SOURCE LINE REASON TEXT), atomically.

    Tabs and newlines inside TEXT/REASON are escaped as ``\\t``/``\\n`` so each reject is one line.
    Returns the number of rejects written.
    """
    n = 0
    with atomic_paths(path) as (tmp,):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("SOURCE\tLINE\tREASON\tTEXT\n")
            for t in _tables(rejects):
                for row in t.to_pylist():
                    fields = [
                        row["SOURCE"] or "",
                        "" if row["LINE"] is None else str(row["LINE"]),
                        row["REASON"] or "",
                        row["TEXT"] or "",
                    ]
                    fh.write("\t".join(_escape(f) for f in fields) + "\n")
                    n += 1
    return n


def _escape(field: str) -> str:
    """A rejects-TSV field on one line: backslash, TAB, LF and CR escaped (a CR would end the line for
    many readers), other control characters as ``\\xNN``."""
    out = field.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    if out.isprintable():
        return out
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in out)

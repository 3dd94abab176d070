"""The VCF header as plain data: ``##`` meta lines in order, sample names, and parsed INFO/FORMAT/contig/FILTER.

:class:`VcfHeader` is the one header type of raygen (reading, normalizing, scoring, calling, simulating,
writing). It keeps the meta lines as htslib keeps and writes them (:func:`htslib_meta`; a well-formed header
round-trips byte for byte) and derives the
dictionaries from them. Adding a field appends (or replaces) the line and updates the dictionaries, so a
writer never emits a field that the header does not declare.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from dataclasses import dataclass, field

from raygen.errors import InputError

log = logging.getLogger(__name__)

#: Columns of the ``#CHROM`` line before the sample names.
FIXED_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")

#: The FILTER line htslib puts in every header it writes (second, after ##fileformat).
PASS_LINE = '##FILTER=<ID=PASS,Description="All filters passed">'


def _declaration_prefixes(kind: str, ident: str) -> tuple[str, str]:
    """The starts of a ``##kind=<ID=ident...>`` line (ID first, as VCF writers put it)."""
    return f"##{kind}=<ID={ident},", f"##{kind}=<ID={ident}>"


_STRUCT_RE = re.compile(r"^##(INFO|FORMAT|FILTER|contig|ALT)=<(.*)>\s*$")


#: Structured kinds htslib registers by ID (one declaration per ID and kind; a line without an ID is dropped).
_TYPED_KINDS = ("INFO", "FILTER", "FORMAT", "contig")
_KEY_RE = re.compile(r"[A-Za-z_][0-9A-Za-z_.]*")
_UNQUOTED_STOP = re.compile(r"[<>,]")


def _escaped(line: str, start: int, i: int) -> bool:
    """Whether ``line[i]`` follows an odd run of backslashes (not reaching before ``start``)."""
    n = 0
    while i - 1 - n >= start and line[i - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


@functools.lru_cache(maxsize=1 << 16)
def parse_meta_line(line: str) -> tuple[str, str | tuple[tuple[str, str, bool], ...]] | None:
    """One ``##`` line as htslib's ``bcf_hdr_parse_line`` reads it (htslib 1.24, as bcftools writes headers):
    ``(key, value)`` for a generic line (``##key=value``, value verbatim), ``(key, [(k, v, quoted), ...])``
    for a structured one (``##key=<k=v,...>``: spaces around keys and unquoted values dropped, a quoted value
    kept as written between its quotes, a ``[list]`` value up to its first ``]``, a missing ``>`` supplied,
    anything after the closing ``>`` dropped).
    None for a line htslib cannot parse (no ``=``, an empty key, a structured pair that is not ``key=value``):
    htslib drops such a line. Cached: reading a header parses each line twice (:func:`htslib_meta`, then the
    dictionaries), and a GRCh38 header has 3,000+ contig lines."""
    if not line.startswith("##"):
        return None
    eq = line.find("=", 2)
    if eq <= 2:
        return None
    key, n = line[2:eq], len(line)
    q = eq + 1
    if q >= n or line[q] != "<":
        return key, line[q:]
    pairs: list[tuple[str, str, bool]] = []
    nopen = 1
    while q < n and nopen > 0:
        q += 1  # past '<' or ','
        while q < n and line[q] == " ":
            q += 1
        m = _KEY_RE.match(line, q)
        if m is None:
            return None
        k, q = m.group(), m.end()
        while q < n and line[q] == " ":
            q += 1
        if q >= n or line[q] != "=":
            return None
        q += 1
        while q < n and line[q] == " ":
            q += 1
        quoted = q < n and line[q] == '"'
        if q < n and line[q] == "[":  # a list (VCF 4.3 ##META Values=[a, b]): up to the first ']', kept as is
            close = line.find("]", q)
            if close < 0:
                return None
            value, q = line[q:close + 1], close + 1
        elif quoted:
            p = q = q + 1
            while q < n and not (line[q] == '"' and not _escaped(line, p, q)):
                q += 1
            value = line[p:q]
            if q < n:
                q += 1  # past the closing quote
        else:
            p = q
            while q < n:
                stop = _UNQUOTED_STOP.search(line, q)
                if stop is None:
                    q = n
                    break
                q = stop.start()
                c = line[q]
                nopen += 1 if c == "<" else -1 if c == ">" else 0
                if nopen == 0 or (c == "," and nopen == 1):
                    break
                q += 1
            value = line[p:q].rstrip(" ")
        pairs.append((k, value, quoted))
        if q < n and line[q] == ">":
            nopen -= 1
            q += 1
    return key, tuple(pairs)


_ESCAPE = re.compile(r"\\(.)")


def parse_structured(body: str) -> dict[str, str]:
    """The inside of ``<ID=x,Number=1,Description="a, b">`` as an ordered dict, read as htslib reads it
    (:func:`parse_meta_line`; quotes removed and backslash escapes undone); {} where htslib cannot parse it."""
    rec = parse_meta_line(f"##x=<{body}>")
    if rec is None or isinstance(rec[1], str):
        return {}
    return {k: _ESCAPE.sub(r"\1", v) if quoted else v for k, v, quoted in rec[1]}


def htslib_meta(meta: list[str], source: str = "<vcf>") -> list[str]:
    """The ``##`` lines as htslib keeps and writes them: unparseable lines (:func:`parse_meta_line`) dropped,
    structured lines re-serialized (``IDX`` keys dropped: BCF-only), a repeated generic line (same key and
    value) dropped, a second declaration of one ID dropped (INFO, FILTER, FORMAT and contig per kind, other
    structured keys by key and ID; the first wins), INFO/FILTER/FORMAT/contig lines without an ID and contig
    lines with a non-integer length dropped. Each dropped line is logged."""
    out: list[str] = []
    generic: set[tuple[str, str]] = set()
    ids: set[tuple[str, str]] = set()
    for i, line in enumerate(meta):
        rec = parse_meta_line(line)
        why = None
        if rec is None:
            why = "htslib cannot parse it"
        elif isinstance(rec[1], str):
            if rec in generic:
                continue  # an exact repeat: htslib keeps one, silently
            generic.add(rec)  # type: ignore[arg-type]
            out.append(line)
            continue
        else:
            key, pairs = rec
            pairs = [t for t in pairs if t[0] != "IDX"]
            ident = next((v for k, v, _ in pairs if k == "ID"), None)
            length = next((v for k, v, _ in pairs if k == "length"), None)
            if ident is None and key in _TYPED_KINDS:
                why = f"a {key} line needs an ID"
            elif key == "contig" and length is not None and not length.isdigit():
                why = f"contig length {length!r} is not an integer"
            elif ident is not None and (key, ident) in ids:
                why = f"{key} {ident} is declared earlier (the first declaration is kept)"
            else:
                if ident is not None:
                    ids.add((key, ident))
                out.append(f"##{key}=<" + ",".join(f'{k}="{v}"' if qt else f"{k}={v}" for k, v, qt in pairs) + ">")
                continue
        log.warning("%s: header line %d dropped (%s): %s", source, i + 1, why, line[:120])
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_samples(samples: list[str], source: str) -> None:
    """Sample names must be non-empty and unique (htslib cannot read a header otherwise)."""
    seen: set[str] = set()
    for i, name in enumerate(samples):
        if not name.strip():
            raise InputError(f"{source}: #CHROM line: sample column {10 + i} has an empty name")
        if name in seen:
            raise InputError(f"{source}: #CHROM line: sample name {name!r} appears twice (sample names must be unique)")
        seen.add(name)


@dataclass
class VcfHeader:
    """A parsed VCF header.

    ``meta``: the ``##`` lines in file order (without newline). ``samples``: sample names from ``#CHROM``.
    ``info``/``format``: ID -> {"Number", "Type", "Description", ...}; ``contigs``: name -> length in bp
    (None if not stated); ``filters``: ID -> Description. ``has_format_column``: the ``#CHROM`` line has
    FORMAT (always true when there are samples). ``info_number``/``info_type``/``format_number``/
    ``format_type``: ID -> the declared ``Number`` (the VCF string: ``A``, ``R``, ``G``, ``.`` or an
    integer) or ``Type``, for the keys that declare one (derived from ``info``/``format``; read-only views).

    **Reading keeps what htslib keeps** (:func:`htslib_meta`): a second declaration of an ID is dropped (the
    first wins, as bcftools reads and writes it), malformed lines are dropped, structured lines re-serialized.
    **Add policy: the last declaration wins.** ``add_info``/``add_format``/``add_filter``/``add_contig``
    replace an existing line with the same kind and ID in place (else insert it after the last line of its
    kind).
    ``add_meta`` appends a free-form line unconditionally.
    """

    meta: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    has_format_column: bool = False
    info: dict[str, dict[str, str]] = field(default_factory=dict)
    format: dict[str, dict[str, str]] = field(default_factory=dict)
    contigs: dict[str, int | None] = field(default_factory=dict)
    filters: dict[str, str] = field(default_factory=dict)
    info_number: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    info_type: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    format_number: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    format_type: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def from_lines(cls, lines: list[str], source: str = "<vcf>") -> "VcfHeader":
        """Build from header lines (``##...`` then ``#CHROM...``), newlines optional."""
        meta: list[str] = []
        chrom_line = None
        for raw in lines:
            line = raw.rstrip("\r\n")
            if line.startswith("##"):
                meta.append(line)
            elif line.startswith("#CHROM"):
                chrom_line = line
            elif line.strip():
                raise InputError(f"{source}: unexpected header line {line[:80]!r}")
        if chrom_line is None:
            raise InputError(f"{source}: no '#CHROM' header line: not a VCF file")
        cols = chrom_line.lstrip("#").split("\t")
        if tuple(cols[:8]) != FIXED_COLUMNS:
            raise InputError(
                f"{source}: malformed #CHROM line (want tab-separated {'/'.join(FIXED_COLUMNS)}): {chrom_line[:120]!r}"
            )
        has_format = len(cols) > 8
        if has_format and cols[8] != "FORMAT":
            raise InputError(f"{source}: 9th column of the #CHROM line must be FORMAT, got {cols[8]!r}")
        samples = cols[9:]
        if has_format and not samples:  # htslib refuses such a header: the output would be unreadable
            raise InputError(f"{source}: the #CHROM line has a FORMAT column but no sample columns (htslib cannot "
                             "read that): drop the FORMAT column and the records' 9th field, or add the samples")
        _check_samples(samples, source)
        if not meta or not meta[0].startswith("##fileformat="):
            # htslib refuses a VCF whose first line is not ##fileformat (our output would be unreadable):
            # say so and write the version every reader accepts.
            log.warning("%s: the first header line is not '##fileformat=VCFv4.x'; writing ##fileformat=VCFv4.2", source)
            meta = ["##fileformat=VCFv4.2", *(m for m in meta if not m.startswith("##fileformat="))]
        # htslib declares PASS itself, as the line after ##fileformat, and drops the input's own PASS line
        # (whatever its description): bcftools writes every header so, and so does raygen.
        own_pass = _declaration_prefixes("FILTER", "PASS")
        meta = [meta[0], PASS_LINE, *(m for m in htslib_meta(meta, source)[1:] if not m.startswith(own_pass))]
        h = cls(meta=meta, samples=samples, has_format_column=has_format)
        h._reparse()
        return h

    @classmethod
    def from_text(cls, text: str, source: str = "<vcf>") -> "VcfHeader":
        return cls.from_lines(text.splitlines(), source)

    def _reparse(self) -> None:
        self.info, self.format, self.contigs, self.filters = {}, {}, {}, {}
        for line in self.meta:
            m = _STRUCT_RE.match(line)
            if not m:
                continue
            kind, d = m.group(1), parse_structured(m.group(2))
            ident = d.get("ID")
            if ident is None:
                continue
            if kind == "INFO":
                self.info[ident] = d
            elif kind == "FORMAT":
                self.format[ident] = d
            elif kind == "FILTER":
                self.filters[ident] = d.get("Description", "")
            elif kind == "contig":
                length = d.get("length")
                self.contigs[ident] = int(length) if length and length.isdigit() else None
        self.info_number = {k: d["Number"] for k, d in self.info.items() if "Number" in d}
        self.info_type = {k: d["Type"] for k, d in self.info.items() if "Type" in d}
        self.format_number = {k: d["Number"] for k, d in self.format.items() if "Number" in d}
        self.format_type = {k: d["Type"] for k, d in self.format.items() if "Type" in d}

    def copy(self) -> "VcfHeader":
        return copy.deepcopy(self)

    # ---- edits --------------------------------------------------------------------------------------
    def _upsert(self, kind: str, ident: str, line: str) -> None:
        prefixes = _declaration_prefixes(kind, ident)
        for i, existing in enumerate(self.meta):
            if existing.startswith(prefixes):
                self.meta[i] = line
                break
        else:
            # Keep structured lines grouped: insert after the last line of the same kind, else append.
            last = max((i for i, m in enumerate(self.meta) if m.startswith(f"##{kind}=")), default=None)
            if last is None:
                self.meta.append(line)
            else:
                self.meta.insert(last + 1, line)
        self._reparse()

    def add_info(self, ident: str, number: str, type_: str, description: str) -> None:
        """Declare (or redeclare) ``##INFO=<ID=ident,Number=..,Type=..,Description="..">``."""
        self._upsert("INFO", ident, f"##INFO=<ID={ident},Number={number},Type={type_},Description={_quote(description)}>")

    def add_format(self, ident: str, number: str, type_: str, description: str) -> None:
        """Declare (or redeclare) a FORMAT field."""
        self._upsert(
            "FORMAT", ident, f"##FORMAT=<ID={ident},Number={number},Type={type_},Description={_quote(description)}>"
        )

    def add_filter(self, ident: str, description: str) -> None:
        """Declare (or redeclare) a FILTER."""
        self._upsert("FILTER", ident, f"##FILTER=<ID={ident},Description={_quote(description)}>")

    def add_contig(self, name: str, length: int | None = None) -> None:
        """Declare (or redeclare) a contig, with its length in bp when known."""
        self._upsert("contig", name, f"##contig=<ID={name}" + (f",length={length}>" if length is not None else ">"))

    def add_meta(self, line: str) -> None:
        """Append a free-form meta line (``##key=value``), e.g. the command that produced the file."""
        if not line.startswith("##"):
            line = "##" + line
        self.meta.append(line.rstrip("\r\n"))
        self._reparse()

    # ---- output -------------------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """Names on the ``#CHROM`` line (without '#')."""
        cols = list(FIXED_COLUMNS)
        if self.has_format_column or self.samples:
            cols.append("FORMAT")
        return cols + list(self.samples)

    def chrom_line(self) -> str:
        return "#" + "\t".join(self.columns)

    def to_text(self) -> str:
        """The whole header: meta lines, then the ``#CHROM`` line, each ending in a newline."""
        return "".join(m + "\n" for m in self.meta) + self.chrom_line() + "\n"

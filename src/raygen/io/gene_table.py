"""SpliceAI's gene table: one transcript per gene, the format Illumina's ``spliceai`` reads with ``-A``.

Tab-separated with a header line ``#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END`` (other columns
are ignored, as by the release). ``TX_START`` and each ``EXON_START`` are 0-based, ``TX_END`` and each
``EXON_END`` 1-based inclusive (= 0-based exclusive), exon lists comma-separated with a trailing comma
(GENCODE/UCSC style). The release's own tables are ``grch37`` and ``grch38`` (GENCODE V24 canonical
transcripts, contigs without ``chr``); :mod:`raygen.io.gff` converts a GTF/GFF3 into this format.

:class:`GeneTable` answers the two questions scoring asks, with the release's definitions:
:meth:`GeneTable.at` (genes whose transcript contains a 1-based position, in table order) and
:meth:`GeneTable.boundary_distance` (signed distance from the position to the nearest exon boundary, the
1-based first and last base of each exon; ties go to the upstream one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raygen.errors import InputError
from raygen.io.atomic import atomic_path

COLUMNS = ("#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END")


@dataclass(frozen=True)
class Transcript:
    """One row: ``tx_start``/``exon_starts`` 0-based, ``tx_end``/``exon_ends`` exclusive (0-based half-open)."""

    name: str
    chrom: str
    strand: str
    tx_start: int
    tx_end: int
    exon_starts: tuple[int, ...]
    exon_ends: tuple[int, ...]

    def row(self) -> str:
        starts = "".join(f"{s}," for s in self.exon_starts)
        ends = "".join(f"{e}," for e in self.exon_ends)
        return f"{self.name}\t{self.chrom}\t{self.strand}\t{self.tx_start}\t{self.tx_end}\t{starts}\t{ends}"


def _ints(text: str, where: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"{where}: {what} {text[:60]!r} is not a comma-separated list of integers") from None


def _parse_row(parts: list[str], col: dict[str, int], where: str) -> Transcript:
    try:
        name, chrom, strand = (parts[col[k]] for k in ("#NAME", "CHROM", "STRAND"))
        tx_start, tx_end = int(parts[col["TX_START"]]), int(parts[col["TX_END"]])
    except IndexError:
        raise InputError(f"{where}: expected {len(col)} tab-separated columns, found {len(parts)}") from None
    except ValueError:
        raise InputError(f"{where}: TX_START/TX_END must be integers") from None
    starts = _ints(parts[col["EXON_START"]], where, "EXON_START")
    ends = _ints(parts[col["EXON_END"]], where, "EXON_END")
    if strand not in ("+", "-"):
        raise InputError(f"{where}: STRAND must be '+' or '-', not {strand!r}")
    if not starts or len(starts) != len(ends):
        raise InputError(f"{where}: {len(starts)} exon starts but {len(ends)} exon ends (need at least one exon)")
    if tx_end <= tx_start or tx_start < 0:
        raise InputError(f"{where}: TX_END {tx_end} is not after TX_START {tx_start}")
    return Transcript(name, chrom, strand, tx_start, tx_end, starts, ends)


def read_gene_table(path: str | os.PathLike[str]) -> list[Transcript]:
    """Rows of a gene table file, in file order; errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"gene table {str(p)!r} does not exist")
    rows: list[Transcript] = []
    col: dict[str, int] | None = None
    with open(p, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip("\r\n").split("\t")
            if col is None:
                col = {name: i for i, name in enumerate(parts)}
                missing = [c for c in COLUMNS if c not in col]
                if missing:
                    raise InputError(f"{p}:{lineno}: not a SpliceAI gene table: header lacks {', '.join(missing)} "
                                     f"(want {' '.join(COLUMNS)}, tab-separated)")
                continue
            if line.strip():
                rows.append(_parse_row(parts, col, f"{p}:{lineno}"))
    if not rows:
        raise InputError(f"gene table {str(p)!r} has no genes")
    return rows


def write_gene_table(rows: list[Transcript], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` in the release's format (atomically)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("\t".join(COLUMNS) + "\n")
            for r in rows:
                fh.write(r.row() + "\n")
    return Path(path)


class GeneTable:
    """Transcripts indexed by contig for position queries (the release's rules)."""

    def __init__(self, rows: list[Transcript], source: str = ""):
        self.rows = rows
        self.source = source
        self._by_chrom: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        chroms = np.array([r.chrom for r in rows], dtype=object)
        for c in dict.fromkeys(chroms.tolist()):
            idx = np.flatnonzero(chroms == c)
            self._by_chrom[c] = (idx, np.array([rows[i].tx_start for i in idx]), np.array([rows[i].tx_end for i in idx]))
        self._bounds: dict[int, np.ndarray] = {}

    @property
    def contigs(self) -> list[str]:
        return list(self._by_chrom)

    def at(self, chrom: str, pos: int) -> list[int]:
        """Rows (table order) whose transcript holds 1-based ``pos``: ``TX_START < pos <= TX_END``."""
        hit = self._by_chrom.get(chrom)
        if hit is None:
            return []
        idx, starts, ends = hit
        return idx[(starts < pos) & (pos <= ends)].tolist()

    def boundary_distance(self, row: int, pos: int) -> int:
        """Exon boundary nearest to 1-based ``pos`` minus ``pos`` (boundaries: 1-based first and last exon
        bases; on a tie the smaller, i.e. upstream, value, as the release's ``min(sorted, key=abs)``)."""
        b = self._bounds.get(row)
        if b is None:
            r = self.rows[row]
            b = np.union1d(np.asarray(r.exon_starts) + 1, np.asarray(r.exon_ends))
            self._bounds[row] = b
        d = b - pos
        return int(d[np.argmin(np.abs(d))])

    def renamed(self, mapping: dict[str, str]) -> "GeneTable":
        """The same table with contigs renamed by ``mapping`` (others unchanged)."""
        if not any(mapping.get(c, c) != c for c in self.contigs):
            return self
        rows = [Transcript(r.name, mapping.get(r.chrom, r.chrom), r.strand, r.tx_start, r.tx_end, r.exon_starts,
                           r.exon_ends) for r in self.rows]
        return GeneTable(rows, self.source)


def match_contig_names(table_contigs: list[str], reference_contigs: list[str]) -> dict[str, str]:
    """Table contig -> reference contig where they differ only by a ``chr`` prefix (``17`` vs ``chr17``,
    ``MT`` vs ``chrM``), so the release's ``grch38`` table (no ``chr``) works with a ``chr``-named FASTA."""
    ref = set(reference_contigs)
    out = {}
    for c in table_contigs:
        if c in ref:
            continue
        other = c[3:] if c.startswith("chr") else "chr" + c
        if other == "chrMT" and "chrM" in ref:
            other = "chrM"
        elif c == "chrM" and "MT" in ref:
            other = "MT"
        if other in ref:
            out[c] = other
    return out

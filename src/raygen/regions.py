"""Genomic regions, the one definition every package uses: intervals, region strings, BED files, interval
sets, work shards and contig-name mapping.

Coordinates
-----------
Every type here is **0-based half-open** ``[start, end)``, as in BED and in Parquet ``start``. Region
*strings* are **1-based inclusive** (``chr20:10,000,001-10,010,000``), as samtools, bcftools and IGV write
them: ``parse_region("chr1:11-20") == Region("chr1", 10, 20)`` and ``str(Region("chr1", 10, 20)) ==
"chr1:11-20"``.

Public API
----------
``Region(chrom, start, end, name=None)``; ``parse_region(text, lengths=None) -> Region``
``read_bed(path, lengths=None, *, against="the reference") -> list[Region]`` (file order, not merged)
``read_regions(spec, lengths) -> list[Region]`` (a BED path, ``chr:a-b,chr:c-d``, or every contig)
``RegionSet`` (sorted, merged intervals per contig; ``contains``/``contains_many``/``total_bp``)
``Shard(chrom, start0, end0, margin, ordinal)``; ``make_shards(regions, shard_bp, margin=0) -> list[Shard]``
``rename_map(spec, contigs)``; ``check_contigs(bam_contigs, ref_contigs, rename) -> dict``
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from raygen.errors import InputError, UsageError
from raygen.io.pairs import read_pairs

__all__ = [
    "Region",
    "parse_region",
    "as_region",
    "read_bed",
    "read_regions",
    "RegionSet",
    "Shard",
    "make_shards",
    "rename_map",
    "check_contigs",
]

# CHROM, CHROM:START or CHROM:START-END; commas allowed in numbers. A contig whose name holds ':' (HLA
# alleles) is recognised only when ``lengths`` knows it: whole, or followed by ``:START[-END]``.
_REGION = re.compile(r"^(?P<chrom>[^:\s]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?)?$")
_COLON_CONTIG = re.compile(r"^(?P<chrom>\S+):(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?$")


@dataclass(frozen=True, slots=True, order=True)
class Region:
    """A 0-based half-open interval ``[start, end)`` of contig ``chrom``.

    ``end`` is None only for a region parsed without a known contig length (``"chrX"``, ``"chrX:100"``):
    it then runs to the contig's end. ``name`` is the BED name column (CNVkit's gene labels), when read.
    """

    chrom: str
    start: int
    end: int | None = None
    name: str | None = field(default=None, compare=False)

    @property
    def length(self) -> int:
        """Length in bp (needs a known ``end``)."""
        if self.end is None:
            raise ValueError(f"{self}: the end of the contig is not known")
        return self.end - self.start

    def clip(self, length: int) -> Region:
        """This region with its end set or clipped to a contig of ``length`` bp."""
        end = length if self.end is None else min(self.end, length)
        return Region(self.chrom, min(self.start, end), end, self.name)

    def __str__(self) -> str:
        if self.end is None:
            return f"{self.chrom}:{self.start + 1}-" if self.start else self.chrom
        return f"{self.chrom}:{self.start + 1}-{self.end}"


def parse_region(text: str, lengths: Mapping[str, int] | None = None) -> Region:
    """``CHROM``, ``CHROM:START`` or ``CHROM:START-END`` (1-based inclusive, commas allowed) -> :class:`Region`.

    With ``lengths`` (contig -> bp) a region without an end runs to the contig's end and an end beyond it
    is clipped; without them (or for a contig they lack) an open end stays None. Whether the contig exists
    is the caller's question: each caller words that error for its own inputs. Raises
    :class:`UsageError` for text that is not a region or has ``START < 1`` or ``END < START``.
    """
    s = text.strip()
    if lengths is not None and s in lengths:
        return Region(s, 0, lengths[s])
    m = _REGION.match(s)
    if m is None and lengths is not None:
        m = _COLON_CONTIG.match(s)
        m = m if m is not None and m["chrom"] in lengths else None
    if not m:
        raise UsageError(f"region {text!r} is not CHROM, CHROM:START or CHROM:START-END (1-based, inclusive)")
    chrom = m["chrom"]
    start = int(m["start"].replace(",", "")) if m["start"] else 1
    end = int(m["end"].replace(",", "")) if m["end"] else None
    if start < 1 or (end is not None and end < start):
        raise UsageError(f"region {text!r}: need 1 <= START <= END")
    region = Region(chrom, start - 1, end)
    if lengths is not None and chrom in lengths:
        region = region.clip(lengths[chrom])
    return region


def as_region(obj: Region | str | Sequence, lengths: Mapping[str, int] | None = None) -> Region:
    """A :class:`Region` from a Region, a region string, or a ``(chrom, start0, end0)`` tuple (0-based)."""
    if isinstance(obj, Region):
        return obj
    if isinstance(obj, str):
        return parse_region(obj, lengths)
    chrom, start0, end0 = obj
    return Region(chrom, int(start0 or 0), None if end0 is None else int(end0))


def _open_text(path: str | os.PathLike[str]):
    p = os.fspath(path)
    try:
        if p.endswith((".gz", ".bgz")):
            return gzip.open(p, "rt", encoding="utf-8", newline="")
        return open(p, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"cannot read BED {p!r}: {exc.strerror or exc}") from None


def _contig_list(lengths: Mapping[str, int]) -> str:
    names = list(lengths)
    return ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")


#: Largest coordinate a BED interval may hold: the CSI index's 2^44 bp (a longer contig cannot be indexed).
MAX_COORDINATE = 2**44


def read_bed(path: str | os.PathLike[str], lengths: Mapping[str, int] | None = None, *,
             against: str = "the reference") -> list[Region]:
    """The intervals of a BED file (plain, gzip or bgzip), in file order, not merged.

    Columns 1-3 are ``chrom start end`` (0-based half-open); column 4, when present and not empty, becomes
    :attr:`Region.name`. Blank lines and ``#``, ``track`` and ``browser`` lines are skipped. With ``lengths``
    every contig must be in it (``against`` names that reference in the message) and ends are clipped to the
    contig. A short line, non-integer or negative coordinates, ``end < start`` or an unknown contig raise
    :class:`InputError` naming file, line and reason. Zero-length intervals are kept.
    """
    regions: list[Region] = []
    with _open_text(path) as fh:
        try:
            for lineno, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                cols = line.split("\t")
                where = f"{os.fspath(path)}:{lineno}"
                if len(cols) < 3:
                    raise InputError(f"{where}: expected at least 3 tab-separated columns (chrom start end): {line[:60]!r}")
                try:
                    start, end = int(cols[1]), int(cols[2])
                except ValueError:
                    raise InputError(f"{where}: start/end are not integers: {cols[1][:20]!r} {cols[2][:20]!r}") from None
                if start < 0 or end < start:
                    raise InputError(f"{where}: inverted or negative interval {start}-{end}")
                if end > MAX_COORDINATE:  # also keeps numpy's int64 from overflowing further on
                    raise InputError(f"{where}: end {end} is beyond any contig (2^44 bp, the CSI index limit)")
                chrom = cols[0]
                name = cols[3] if len(cols) > 3 and cols[3] else None
                region = Region(chrom, start, end, name)
                if lengths is not None:
                    if chrom not in lengths:
                        raise InputError(f"{where}: contig {chrom!r} is not in {against} (its contigs: {_contig_list(lengths)})")
                    region = region.clip(lengths[chrom])
                regions.append(region)
        except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as exc:
            raise InputError(f"cannot read BED {os.fspath(path)!r}: {exc}") from None
    return regions


def read_regions(spec: str | None, lengths: Mapping[str, int]) -> list[Region]:
    """Regions to work on: a BED file path, comma-separated region strings, or (``spec`` empty) every contig
    of ``lengths``. Each region must name a contig of ``lengths`` and is clipped to it; empty ones are dropped.
    A BED file's intervals are sorted and merged per contig (:class:`RegionSet`), so work over overlapping
    lines is not done twice; region strings are taken as given, in order."""
    if not spec:
        return [Region(c, 0, n) for c, n in lengths.items()]
    if os.path.exists(spec):
        regions = list(RegionSet(read_bed(spec)))
    else:
        regions = [parse_region(s, lengths) for s in spec.split(",") if s.strip()]
    out = []
    for r in regions:
        if r.chrom not in lengths:
            raise InputError(f"region contig {r.chrom!r} is not among the usable contigs ({_contig_list(lengths)})")
        r = r.clip(lengths[r.chrom])
        if r.end > r.start:
            out.append(r)
    return out


class RegionSet:
    """Sorted, merged intervals per contig (0-based half-open): membership of positions, total size."""

    def __init__(self, regions: Iterable[Region | tuple[str, int, int]] = ()):
        per: dict[str, list[tuple[int, int]]] = {}
        for r in regions:
            r = as_region(r)
            if r.end is None:
                raise ValueError(f"{r}: a RegionSet needs known ends")
            per.setdefault(r.chrom, []).append((r.start, r.end))
        self._iv: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for chrom, ivs in per.items():
            merged: list[list[int]] = []
            for s, e in sorted(ivs):
                if merged and s <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            arr = np.asarray(merged, dtype=np.int64).reshape(-1, 2)
            self._iv[chrom] = (arr[:, 0], arr[:, 1])

    @classmethod
    def from_bed(cls, path: str | os.PathLike[str]) -> RegionSet:
        """The merged intervals of a BED file (see :func:`read_bed`)."""
        return cls(read_bed(path))

    def contains(self, chrom: str, pos0: int) -> bool:
        """Whether 0-based position ``pos0`` of ``chrom`` lies in an interval."""
        return bool(self.contains_many(chrom, np.asarray([pos0]))[0])

    def contains_many(self, chrom: str, pos0: np.ndarray) -> np.ndarray:
        """Boolean mask: which 0-based positions of ``chrom`` lie in an interval."""
        pos0 = np.asarray(pos0, dtype=np.int64)
        iv = self._iv.get(chrom)
        if iv is None:
            return np.zeros(pos0.shape, dtype=bool)
        i = np.searchsorted(iv[0], pos0, side="right") - 1
        return (i >= 0) & (pos0 < iv[1][np.maximum(i, 0)])

    def total_bp(self) -> int:
        return int(sum((e - s).sum() for s, e in self._iv.values()))

    @property
    def contigs(self) -> list[str]:
        return list(self._iv)

    def __iter__(self) -> Iterator[Region]:
        for chrom, (s, e) in self._iv.items():
            for a, b in zip(s.tolist(), e.tolist()):
                yield Region(chrom, a, b)

    def __len__(self) -> int:
        return sum(len(s) for s, _ in self._iv.values())


@dataclass(frozen=True, slots=True)
class Shard:
    """One unit of region-sharded work: it **owns** the records (or calls) whose 0-based start ``POS - 1``
    lies in ``[start0, end0)`` of ``chrom``, and reads input over ``[start0 - margin, end0 + margin)`` so that
    work near an edge sees everything it needs (reads of a pileup, a long deletion). Owned intervals never
    overlap, so nothing is produced twice.

    ``chrom`` None is the whole input streamed in order (an unindexed file); ``end0`` None runs to the
    contig's end. ``ordinal`` is the shard's rank in genome (file) order, which sorts results back.
    """

    chrom: str | None
    start0: int = 0
    end0: int | None = None
    margin: int = 0
    ordinal: int = 0

    @property
    def fetch_start0(self) -> int:
        return max(0, self.start0 - self.margin)

    @property
    def fetch_end0(self) -> int | None:
        return None if self.end0 is None else self.end0 + self.margin

    def owns(self, pos0: np.ndarray) -> np.ndarray:
        """Boolean mask: which 0-based starts this shard owns (on its contig)."""
        pos0 = np.asarray(pos0, dtype=np.int64)
        keep = pos0 >= self.start0 if self.start0 > 0 else np.ones(pos0.shape, dtype=bool)
        if self.end0 is not None:
            keep &= pos0 < self.end0
        return keep

    def __str__(self) -> str:
        if self.chrom is None:
            return "<whole file>"
        return str(Region(self.chrom, self.start0, self.end0))


def make_shards(regions: Iterable[Region | tuple[str, int, int]], shard_bp: int, margin: int = 0) -> list[Shard]:
    """Cut each region into consecutive shards of at most ``shard_bp`` owned bases, numbered in order.
    A region with an unknown end becomes one shard that runs to the contig's end."""
    if shard_bp < 1:
        raise UsageError(f"shard size must be >= 1 bp, got {shard_bp}")
    out: list[Shard] = []
    for r in regions:
        r = as_region(r)
        if r.end is None:
            out.append(Shard(r.chrom, r.start, None, margin, len(out)))
            continue
        for a in range(r.start, r.end, shard_bp):
            out.append(Shard(r.chrom, a, min(r.end, a + shard_bp), margin, len(out)))
    return out


# -- contig names -----------------------------------------------------------------------------------------

def rename_map(spec: str | None, contigs: Sequence[str]) -> dict[str, str]:
    """Input contig name -> reference contig name from ``add-chr``, ``strip-chr`` or a two-column TSV file
    (``input_name<TAB>reference_name``); empty for no ``spec``."""
    if not spec:
        return {}
    if spec == "add-chr":
        return {c: c if c.startswith("chr") else "chr" + c for c in contigs}
    if spec == "strip-chr":
        return {c: c[3:] if c.startswith("chr") else c for c in contigs}
    if not os.path.exists(spec):
        raise UsageError(f"--rename-contigs {spec!r}: expected add-chr, strip-chr or a TSV file")
    return dict(read_pairs(spec, "input_name<TAB>reference_name"))


def naming_hint(names: Iterable[str], ref_contigs: Mapping[str, int] | Iterable[str]) -> str:
    """A sentence on ``20`` vs ``chr20`` naming when that explains why ``names`` miss ``ref_contigs``, else ''."""
    ref = set(ref_contigs)
    names = list(names)
    if any(("chr" + x) in ref for x in names):
        return " The input lacks the 'chr' prefix the reference uses: pass --rename-contigs add-chr."
    if any(x.startswith("chr") and x[3:] in ref for x in names):
        return " The input uses a 'chr' prefix the reference lacks: pass --rename-contigs strip-chr."
    return ""


def check_contigs(bam_contigs: Mapping[str, int], ref_contigs: Mapping[str, int],
                  rename: Mapping[str, str] | None = None) -> dict[str, int]:
    """Contigs usable for work on both inputs (input name -> length), after optional ``rename`` (input name
    -> reference name).

    Raises :class:`InputError` when no input contig is in the reference, explaining ``20`` vs ``chr20``
    style mismatches and how to fix them with ``--rename-contigs``. Lengths must agree where names do.
    """
    rename = rename or {}
    shared = {}
    bad_len = []
    for name, n in bam_contigs.items():
        fname = rename.get(name, name)
        if fname in ref_contigs:
            if ref_contigs[fname] != n:
                bad_len.append(f"{name} (BAM {n} bp, FASTA {ref_contigs[fname]} bp)")
            else:
                shared[name] = n
    if bad_len:
        raise InputError("BAM and FASTA disagree on contig lengths: " + ", ".join(bad_len[:5]) + " (wrong reference build?)")
    if not shared:
        b = sorted(bam_contigs)[:4]
        r = sorted(ref_contigs)[:4]
        hint = naming_hint(bam_contigs, ref_contigs).replace("The input", "The BAM")
        raise InputError(
            f"no contig of the BAM ({', '.join(b)}...) is in the reference FASTA ({', '.join(r)}...): "
            f"different naming or a different build.{hint} A TSV file of 'bam_name<TAB>fasta_name' lines "
            "also works with --rename-contigs."
        )
    return shared

"""Reference sequence access: indexed FASTA (plain or bgzipped) through pysam; the one reference class.

Coordinates here are 0-based half-open ``[start0, end0)``, like Python slices; outside a contig every
access pads with ``N``. :class:`Reference` serves two access patterns:

- **by interval**: :meth:`Reference.fetch` (upper case, characters as in the FASTA otherwise): windows
  for scoring, training, calling, the UI;
- **whole contig**, one contig held at a time: :meth:`Reference.load` / :meth:`Reference.array` /
  :meth:`Reference.fetcher` / :meth:`Reference.lower_count` for vectorised REF checks and realignment over a
  whole batch (``raygen normalize``). These read the characters as htslib does for ``bcftools norm``: an
  IUPAC code becomes its first base (``R`` -> ``A``), anything else outside ACGTN becomes ``N``
  (:func:`clean_keep_case`, :func:`iupac_to_n`).

Sequence comes back upper case unless the caller asks to keep the case (``keep_case``): soft-masked
(lower-case) bases matter to the RepeatMasker fraction of copy-number bins (``raygen.cohort.bias``).
"""

from __future__ import annotations

import functools

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pysam

from raygen.errors import InputError

#: IUPAC ambiguity code -> its first base, as htslib's table (``R`` -> ``A``, ``y`` -> ``c``).
IUPAC_FIRST = dict(zip("RYSWKMBDHVrysmkwbdhv", "ACCAGACAAAaccagacaaa"))
_UPPER_ACGTN = frozenset("ACGTN")


def _table(keep_case: bool) -> bytes:
    out = []
    for c in range(256):
        ch = chr(c)
        if ch in "ACGTNacgtn":
            ch = ch if keep_case else ch.upper()
        elif ch in IUPAC_FIRST:
            ch = IUPAC_FIRST[ch] if keep_case else IUPAC_FIRST[ch].upper()
        else:
            ch = "N"
        out.append(ord(ch))
    return bytes(out)


_TO_N = _table(keep_case=False)
_TO_N_KEEP_CASE = _table(keep_case=True)


def clean_keep_case(seq: str) -> str:
    """Reference bases as bcftools 1.24 reads them, case kept: IUPAC codes -> their first base, other
    non-ACGTN characters -> ``N`` (bcftools pads realigned alleles with soft-masked bases as they are)."""
    return seq.encode("latin-1", "replace").translate(_TO_N_KEEP_CASE).decode("ascii")


def iupac_to_n(seq: str) -> str:
    """Reference bases upper-cased as bcftools compares them: IUPAC codes -> their first base, other
    characters outside A, C, G, T, N -> ``N``."""
    up = seq.upper()
    if len(up) < 32 and set(up) <= _UPPER_ACGTN:
        return up
    return up.encode("latin-1", "replace").translate(_TO_N).decode("ascii")


def ensure_fasta_index(path: str | os.PathLike[str]) -> Path:
    """Check ``path`` exists and has a ``.fai`` (and ``.gzi`` if bgzipped); build a missing index.

    Raises :class:`InputError` for a missing file, or a gzip (not bgzip) file, which cannot be indexed:
    the message says how to fix it (``bgzip -d`` then ``bgzip``, or ``samtools faidx``).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"reference FASTA {str(p)!r} does not exist")
    if not Path(str(p) + ".fai").exists():
        old = pysam.set_verbosity(0)  # htslib's own "[E::fai_build_core]" line: the InputError says it better
        try:
            pysam.faidx(str(p))
        except pysam.SamtoolsError as exc:
            why = fasta_format_problem(p)
            if why:
                raise InputError(f"reference FASTA {why}") from None
            raise InputError(
                f"cannot index reference FASTA {str(p)!r} ({str(exc).strip()}); if it is gzip-compressed, "
                "recompress it with bgzip (`gunzip -c ref.fa.gz | bgzip > ref.fa.gz.new`) or decompress it"
            ) from None
        finally:
            pysam.set_verbosity(old)
    _check_index_fits(p)
    return p


def fasta_format_problem(p: Path, max_lines: int = 2_000_000) -> str | None:
    """Why ``samtools faidx`` refuses a plain FASTA, as ``FILE:LINE: reason`` (None: not found in the first
    ``max_lines`` lines, or compressed). htslib's rules: a ``>name`` line first; within a record every
    sequence line as long as the first but the last; no blank line inside a record."""
    with open(p, "rb") as fh:
        head = fh.read(2)
        if not head:
            return f"{p}: the file is empty"
        if head == b"\x1f\x8b":
            return None
        fh.seek(0)
        width, short_at, blank_at, any_seq = None, None, None, False
        for lineno, raw in enumerate(fh, 1):
            if lineno > max_lines:
                return None
            line = raw.rstrip(b"\r\n")
            if line.startswith(b">"):
                width, short_at, blank_at = 0, None, None
                continue
            if width is None:
                return f"{p}:{lineno}: expected a '>name' header line, got {line[:30].decode('latin-1')!r}"
            if not line:
                blank_at = blank_at or lineno
                continue
            if blank_at or short_at or (width and len(line) > width):
                at = blank_at or short_at or lineno
                return (f"{p}:{at}: sequence lines of unequal length (or a blank line) inside a record; "
                        "samtools faidx needs every line of a record as long as the first, but the last")
            short_at = lineno if width and len(line) < width else None
            width, any_seq = width or len(line), True
    return None if any_seq else f"{p}: no sequence lines, only '>name' headers"


def _check_index_fits(p: Path) -> None:
    """InputError when a plain FASTA's ``.fai`` points past the end of the file (a stale index of an edited
    or replaced FASTA): htslib would read such contigs short, or read neighbouring bytes, without a word.
    Each ``.fai`` row is name, length (bp), byte offset, bases per line, bytes per line. A bgzipped FASTA's
    offsets are into the uncompressed stream and are not checked here."""
    if p.suffix in (".gz", ".bgz"):
        return
    fai = Path(str(p) + ".fai")
    # once per (file, index) state: a task or request that opens the same reference again pays a stat only
    _index_fits(str(p), p.stat().st_size, fai.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _index_fits(path: str, size: int, fai_mtime_ns: int) -> None:
    p, fai = Path(path), Path(path + ".fai")
    with open(fai, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            cols = line.split("\t")
            try:
                length, offset, bases, width = (int(c) for c in cols[1:5])
                end = offset + (length // bases) * width + length % bases if bases > 0 else offset + length
            except (ValueError, IndexError):
                raise InputError(f"{fai}:{lineno}: not a FASTA index line; delete {str(fai)!r} so it is "
                                 "rebuilt") from None
            if end > size:
                raise InputError(f"reference FASTA {str(p)!r}: its index {str(fai)!r} does not fit the file "
                                 f"(contig {cols[0]} ends at byte {end}, the file has {size}); delete the index "
                                 "so it is rebuilt")


class Reference:
    """An open FASTA (see the module docstring for both access patterns; 0-based half-open, N-padded).

    ``lengths``: contig -> length in bp, in FASTA order. The whole-contig view holds one contig at a time:
    ``chrom`` (the loaded contig or None), ``seq`` (its bases upper case, IUPAC read as htslib does),
    ``raw`` (the same with the FASTA's case kept: soft-masked stretches stay lower case) and
    ``has_lower``. Not picklable: Ray tasks and actors open their own from the path (``Reference(path)``
    is cheap).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(ensure_fasta_index(path))
        self._fa = pysam.FastaFile(self.path)
        self.lengths: dict[str, int] = dict(zip(self._fa.references, self._fa.lengths))
        self.chrom: str | None = None
        self.seq = ""
        self.raw = ""
        self.has_lower = False
        self._array: np.ndarray | None = None
        self._lower_cum: np.ndarray | None = None

    @property
    def contigs(self) -> list[str]:
        return list(self._fa.references)

    def __contains__(self, chrom: str) -> bool:
        return chrom in self.lengths

    def length(self, chrom: str) -> int:
        try:
            return self.lengths[chrom]
        except KeyError:
            raise InputError(f"contig {chrom!r} is not in reference {self.path!r}") from None

    def fetch(self, chrom: str, start0: int, end0: int, *, keep_case: bool = False) -> str:
        """Bases of ``[start0, end0)``, upper-case unless ``keep_case`` (soft-masked repeats stay lower-case);
        positions outside the contig come back as ``N``."""
        n = self.length(chrom)
        lo, hi = max(0, start0), min(n, end0)
        if hi <= lo:
            return "N" * max(0, end0 - start0)
        seq = self._read(chrom, lo, hi)
        return "N" * (lo - start0) + (seq if keep_case else seq.upper()) + "N" * (end0 - hi)

    def _read(self, chrom: str, start0: int, end0: int) -> str:
        """htslib's read, its failures worded for the user: an index that does not fit the file (edited or
        replaced FASTA, stale ``.fai``) or a file that became unreadable."""
        try:
            seq = self._fa.fetch(chrom, start0, end0)
        except (ValueError, OSError) as exc:
            raise InputError(f"reference {self.path!r}: cannot read {chrom}:{start0 + 1}-{end0} ({exc}); if the "
                             f"FASTA changed, delete its index {self.path + '.fai'!r} so it is rebuilt") from None
        if len(seq) != end0 - start0:
            raise InputError(f"reference {self.path!r}: {chrom} is shorter than its index says ({len(seq)} of "
                             f"{end0 - start0} bp read); delete {self.path + '.fai'!r} so it is rebuilt")
        return seq

    # ---- whole contig, one at a time ------------------------------------------------------------------
    def load(self, chrom: str) -> str:
        """Hold contig ``chrom`` (see the class docstring) and return its upper-case bases; ``KeyError``
        for a contig the FASTA lacks (callers word that error for their input)."""
        if chrom != self.chrom:
            if chrom not in self.lengths:
                raise KeyError(chrom)
            self.raw = clean_keep_case(self._read(chrom, 0, self.lengths[chrom]))
            self.seq = self.raw.upper()
            self.has_lower = self.raw != self.seq
            self.chrom = chrom
            self._array = None
            self._lower_cum = None
        return self.seq

    def array(self, chrom: str) -> np.ndarray:
        """Contig ``chrom`` as a uint8 numpy array of upper-case ASCII bases (index = 0-based position)."""
        self.load(chrom)
        if self._array is None:
            self._array = np.frombuffer(self.seq.encode("ascii"), dtype=np.uint8)
        return self._array

    def lower_count(self, start0: np.ndarray, end0: np.ndarray) -> np.ndarray:
        """Soft-masked (lower-case) bases in each ``[start0, end0)`` of the loaded contig."""
        if not self.has_lower:
            return np.zeros(len(start0), dtype=np.int64)
        if self._lower_cum is None:
            low = np.frombuffer(self.raw.encode("ascii"), dtype=np.uint8) >= ord("a")
            self._lower_cum = np.concatenate([[0], np.cumsum(low, dtype=np.int64)])
        n = len(self.raw)
        a, b = np.clip(start0, 0, n), np.clip(end0, 0, n)
        return self._lower_cum[b] - self._lower_cum[a]

    def fetcher(self, chrom: str) -> Callable[[int, int], str]:
        """``fetch(start0, end0)`` over contig ``chrom`` held in memory: case kept, N-padded outside, one
        string slice per call (the per-record realignment calls it many times)."""
        self.load(chrom)
        seq = self.raw
        n = len(seq)

        def fetch(a: int, b: int) -> str:
            if a >= 0 and b <= n:
                return seq[a:b]
            lo, hi = max(0, a), min(n, b)
            return "N" * (lo - a) + (seq[lo:hi] if hi > lo else "") + "N" * (b - max(hi, lo, a))

        return fetch

    def close(self) -> None:
        self._fa.close()

    def __enter__(self) -> "Reference":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

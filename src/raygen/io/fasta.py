"""Reference sequence access: indexed FASTA (plain or bgzipped) through pysam.

Coordinates here are 0-based half-open, like Python slices. Sequence comes back upper-case unless the
caller asks to keep the case: soft-masked (lower-case) bases matter only to the RepeatMasker fraction of
copy-number bins (``raygen.cohort.bias``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pysam

from raygen.errors import InputError


def ensure_fasta_index(path: str | os.PathLike[str]) -> Path:
    """Check ``path`` exists and has a ``.fai`` (and ``.gzi`` if bgzipped); build a missing index.

    Raises :class:`InputError` for a missing file, or a gzip (not bgzip) file, which cannot be indexed:
    the message says how to fix it (``bgzip -d`` then ``bgzip``, or ``samtools faidx``).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"reference FASTA {str(p)!r} does not exist")
    if not Path(str(p) + ".fai").exists():
        try:
            pysam.faidx(str(p))
        except pysam.SamtoolsError as exc:
            raise InputError(
                f"cannot index reference FASTA {str(p)!r} ({str(exc).strip()}); if it is gzip-compressed, "
                "recompress it with bgzip (`gunzip -c ref.fa.gz | bgzip > ref.fa.gz.new`) or decompress it"
            ) from None
    return p


class Reference:
    """An open FASTA. ``fetch`` is 0-based half-open and pads with ``N`` outside the contig.

    Not picklable: Ray tasks and actors open their own from the path (``Reference(path)`` is cheap).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(ensure_fasta_index(path))
        self._fa = pysam.FastaFile(self.path)
        self.lengths: dict[str, int] = dict(zip(self._fa.references, self._fa.lengths))

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
        seq = self._fa.fetch(chrom, lo, hi)
        return "N" * (lo - start0) + (seq if keep_case else seq.upper()) + "N" * (end0 - hi)

    def close(self) -> None:
        self._fa.close()

    def __enter__(self) -> "Reference":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The served FASTA, read by concurrent requests in one ingress replica.

A pysam FASTA handle must not be used by two threads at once: the ingress reads the reference on its event
loop and on its thread pool together (``/v1/score``'s REF check, ``/v1/normalize``, the UI), and concurrent
fetches from a bgzipped FASTA fail with ``BlockingIOError`` / ``[E::fai_retrieve]``. :class:`SharedReference`
puts one handle behind a lock, per fetch. Chosen by measurement against a handle per thread
(``benchmarks/serve_reference.py``: threads doing normalize + REF-check work on the GIAB chr20 FASTA.gz, on a
2-core machine at load ~50): the lock was 1.16x the per-thread rate with 1 thread and 1.7-3.1x with 4-8
(likely because one handle keeps one warm BGZF block cache where each per-thread handle decompresses its own).

Coordinates as :class:`raygen.io.fasta.Reference`: 0-based half-open.
"""

from __future__ import annotations

import threading

from raygen.io.fasta import Reference


class SharedReference:
    """The read-only part of :class:`Reference` (``fetch``, ``lengths``, ``contigs``, ``length``, ``in``,
    ``path``), safe to call from any thread."""

    def __init__(self, path: str):
        self._ref = Reference(path)
        self._lock = threading.Lock()
        self.path = self._ref.path
        self.lengths = self._ref.lengths
        self.contigs = self._ref.contigs

    def __contains__(self, chrom: str) -> bool:
        return chrom in self.lengths

    def length(self, chrom: str) -> int:
        return self._ref.length(chrom)

    def fetch(self, chrom: str, start0: int, end0: int, *, keep_case: bool = False) -> str:
        """Bases of ``[start0, end0)`` as :meth:`Reference.fetch` gives them (``N`` beyond the contig)."""
        with self._lock:
            return self._ref.fetch(chrom, start0, end0, keep_case=keep_case)

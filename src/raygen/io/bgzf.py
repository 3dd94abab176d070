"""A BGZF writer that compresses blocks on several threads.

BGZF (the blocked gzip of bgzip/htslib) compresses every 64 KiB block independently, so blocks can be
deflated in parallel and written in order; zlib-ng (like zlib) releases the GIL while it compresses, so Python threads
use several cores. The output is byte-for-byte the same whatever the thread count, readable by htslib,
tabix, pysam and ``gzip``. ``pysam.BGZFile`` does the same job on one core: this exists because writing the
output is the largest single cost of ``raygen normalize`` on a VCF of a million records.
"""

from __future__ import annotations

import os
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# zlib-ng: the same DEFLATE format as zlib at about half its CPU per block at level 6 (output ~5% larger),
# and it releases the GIL likewise; deflating the output is the largest single cost of writing .vcf.gz
from zlib_ng import zlib_ng

#: Uncompressed bytes per block: htslib's BGZF_BLOCK_SIZE, so a deflated block always fits in 64 KiB.
BLOCK_SIZE = 0xFF00
#: The empty block that ends every BGZF file (htslib warns when it is missing).
EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
#: Blocks that may still be compressing when ``write`` returns. 0: the caller waits for every batch. Letting
#: the caller go on (format, normalize the next contig) while the threads deflate looks free, but each block
#: takes the GIL a few times on its way through a worker, and on a loaded machine every such hand-over waits
#: for a core: measured on the shared 2-core box at load ~25, `raygen normalize` of the issue13 mix took 74.7 s
#: wall with 1024 blocks in flight against 36.9 s with 0 (CPU 6.0 s vs 5.3 s).
MAX_INFLIGHT = 0
#: Compression level: htslib's default for bgzip / ``bcftools -Oz`` (zlib's 6; here zlib-ng's 6).
DEFAULT_LEVEL = 6
_HEADER = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00"


def has_eof_block(path: str | os.PathLike[str]) -> bool:
    """True when the file ends with the BGZF end-of-file block (a BGZF file without it was cut short, or
    written by a tool too old to add it)."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() < len(EOF_BLOCK):
            return False
        fh.seek(-len(EOF_BLOCK), os.SEEK_END)
        return fh.read() == EOF_BLOCK


def compress_block(data: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """One BGZF block (gzip member with the BC extra field) holding ``data`` (at most BLOCK_SIZE bytes)."""
    deflated = zlib_ng.compress(data, level, wbits=-15)
    return (
        _HEADER
        + struct.pack("<H", len(_HEADER) + 2 + len(deflated) + 8 - 1)
        + deflated
        + struct.pack("<II", zlib_ng.crc32(data), len(data))
    )


def default_threads() -> int:
    """Compression threads: the cores this process may use, at most 4 (beyond that the disk is the limit)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


class BgzfWriter:
    """File-like writer of BGZF; use as a context manager. ``write`` takes bytes-like objects of any size."""

    def __init__(self, path: str | os.PathLike[str], *, level: int = DEFAULT_LEVEL, threads: int | None = None):
        self.path = Path(path)
        self.level = level
        # threads: worker threads that deflate beside the caller's (as bcftools --threads); 0: in the caller
        self.threads = default_threads() if threads is None else threads
        self._fh = open(self.path, "wb")
        self._pool = ThreadPoolExecutor(self.threads) if self.threads >= 1 else None
        self._pending = bytearray()
        self.block_csize: list[int] = []  # compressed size of each data block written (for raygen.io.tbi)
        self._inflight: list = []  # futures of the blocks compressing in the background, in file order

    def _emit(self, blocks: list[bytes]) -> None:
        """Compress ``blocks`` (with threads, in parallel; written in order, the caller waiting until at most
        :data:`MAX_INFLIGHT` are pending)."""
        if self._pool is None:
            self._write([compress_block(b, self.level) for b in blocks])
            return
        self._inflight.extend(self._pool.submit(compress_block, b, self.level) for b in blocks)
        self._drain(MAX_INFLIGHT)

    def _drain(self, keep: int = 0) -> None:
        """Write the oldest blocks until at most ``keep`` are still compressing (finished ones always)."""
        n = 0
        while n < len(self._inflight) and (len(self._inflight) - n > keep or self._inflight[n].done()):
            n += 1
        if n:
            self._write([f.result() for f in self._inflight[:n]])
            del self._inflight[:n]

    def _write(self, out: list[bytes]) -> None:
        self.block_csize.extend(len(b) for b in out)
        self._fh.write(b"".join(out))

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if self._pending:
            take = min(BLOCK_SIZE - len(self._pending), n)
            self._pending += view[:take]
            view = view[take:]
            if len(self._pending) == BLOCK_SIZE:
                self._emit([bytes(self._pending)])
                self._pending = bytearray()
        full = len(view) // BLOCK_SIZE * BLOCK_SIZE
        if full:
            # Bounded batches keep memory flat however large ``data`` is.
            step = BLOCK_SIZE * 256
            for off in range(0, full, step):
                chunk = view[off : min(off + step, full)]
                self._emit([bytes(chunk[i : i + BLOCK_SIZE]) for i in range(0, len(chunk), BLOCK_SIZE)])
        self._pending += view[full:]
        return n

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            if self._pending:
                self._emit([bytes(self._pending)])
                self._pending = bytearray()
            self._drain()
            self._fh.write(EOF_BLOCK)
        finally:
            self._fh.close()
            if self._pool is not None:
                self._pool.shutdown()

    def __enter__(self) -> "BgzfWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""A BGZF writer that compresses blocks on several threads, or in a worker process for large outputs.

BGZF (the blocked gzip of bgzip/htslib) compresses every 64 KiB block independently, so blocks can be
deflated in parallel and written in order. The output is byte-for-byte the same whatever the thread count
or the place of compression, readable by htslib, tabix, pysam and ``gzip``. ``pysam.BGZFile`` does the same
job on one core: this exists because writing the output is the largest single cost of ``raygen normalize``
on a VCF of a million records.

Where the deflating happens:

- ``threads=0``: in the caller, block by block.
- ``threads>=1``, output below :data:`PROCESS_MIN_BYTES`: on that many threads of this process while the
  caller waits (zlib-ng releases the GIL while it compresses).
- ``threads>=1``, from :data:`PROCESS_MIN_BYTES` on: in one worker process (``python -m raygen.io.bgzf``)
  with ``threads`` threads, which appends the blocks to the same open file and reports their compressed
  sizes at the end; a feeder thread hands it the uncompressed bytes through a pipe, many blocks per hand-over,
  so the caller goes on (format, normalize the next contig) while the blocks deflate. Threads of the
  caller's own process cannot do that: each block takes the GIL a few times on its way through a worker
  thread, and on a loaded machine every such hand-over waits for a core (see :data:`MAX_INFLIGHT`).
"""

from __future__ import annotations

import errno
import os
import queue
import struct
import subprocess
import sys
import threading
from array import array
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# zlib-ng: the same DEFLATE format as zlib at about half its CPU per block at level 6 (output ~5% larger),
# and it releases the GIL likewise; deflating the output is the largest single cost of writing .vcf.gz
from zlib_ng import zlib_ng

#: Uncompressed bytes per block: htslib's BGZF_BLOCK_SIZE, so a deflated block always fits in 64 KiB.
BLOCK_SIZE = 0xFF00
#: The empty block that ends every BGZF file (htslib warns when it is missing).
EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
#: Blocks that may still be compressing on this process's threads when ``write`` returns. 0: the caller
#: waits for every batch. Letting the caller go on while the threads deflate looks free, but each block
#: takes the GIL a few times on its way through a worker, and on a loaded machine every such hand-over waits
#: for a core: measured on the shared 2-core box at load ~25, `raygen normalize` of the issue13 mix took 74.7 s
#: wall with 1024 blocks in flight against 36.9 s with 0 (CPU 6.0 s vs 5.3 s). The worker process
#: (:data:`PROCESS_MIN_BYTES`) is the way to overlap.
MAX_INFLIGHT = 0
#: Uncompressed output size from which a writer with ``threads >= 1`` compresses in a worker process: from
#: the first byte when the caller expects that much (``expected_bytes``), else once that much was written
#: (the bytes before stay on this process's threads). A worker costs a Python start (measured 54 ms CPU,
#: 0.26 s wall at load 12) that only an output of some size pays back: with nothing to overlap (writes
#: alone, ``benchmarks/bgzf_worker.py``, 2 threads, load 13-33) the worker was 0.69x the in-process writer's
#: speed at 16 MiB and 1.11x at 64 MiB, so 32 MiB, the crossover, is where it starts.
PROCESS_MIN_BYTES = 32 << 20
#: Blocks per hand-over to the worker process (one pipe write, one step of the worker): 4 MiB.
CHUNK_BLOCKS = 64
#: Chunks queued for the feeder thread before ``write`` waits (bounds the memory held: 128 MiB).
MAX_QUEUED_CHUNKS = 32
#: Compression level: htslib's default for bgzip / ``bcftools -Oz`` (zlib's 6; here zlib-ng's 6).
DEFAULT_LEVEL = 6
#: ``python -P`` (3.11+): the worker imports raygen from the installed package, never from a ``raygen``
#: folder in the working directory
_SAFE_PATH = ["-P"] if sys.version_info >= (3, 11) else []
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


def compress_block(data: bytes | memoryview, level: int = DEFAULT_LEVEL) -> bytes:
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


class _Worker:
    """The worker process of one :class:`BgzfWriter` (see the module docstring) and its feeder thread."""

    def __init__(self, fd: int, level: int, threads: int):
        self.proc = subprocess.Popen(
            [sys.executable, *_SAFE_PATH, "-m", "raygen.io.bgzf", str(fd), str(level), str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(fd,), bufsize=0)
        self.chunks: queue.Queue = queue.Queue(MAX_QUEUED_CHUNKS)
        self.feeder = threading.Thread(target=self._feed, name="bgzf-feeder", daemon=True)
        self.feeder.start()

    def _feed(self) -> None:
        """Pipe the queued chunks to the worker; after a broken pipe (the worker failed: :meth:`finish` says
        why) keep taking them, so ``put`` never blocks."""
        pipe = self.proc.stdin
        while (chunk := self.chunks.get()) is not None:
            view = memoryview(chunk)
            while view and pipe is not None:
                try:
                    view = view[os.write(pipe.fileno(), view):]
                except OSError:
                    pipe.close()
                    pipe = None
        if pipe is not None:
            pipe.close()

    def put(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def finish(self) -> list[int]:
        """Wait for every block to be written; their compressed sizes in file order. Raises OSError (with the
        worker's errno, e.g. ENOSPC) when the worker failed."""
        self.chunks.put(None)
        self.feeder.join()
        self.proc.stdin = None  # closed by the feeder (communicate would flush it)
        out, err = self.proc.communicate()
        if self.proc.returncode != 0:
            code, _, msg = err.decode("utf-8", "replace").strip().rpartition("\n")[2].partition("\t")
            if code.isdigit():
                raise OSError(int(code), msg)
            raise OSError(errno.EIO, f"BGZF compression worker exited with {self.proc.returncode}: {err[-500:]!r}")
        return array("I", out).tolist()

    def abort(self) -> None:
        self.proc.kill()
        self.chunks.put(None)
        self.feeder.join()
        self.proc.stdin = None
        self.proc.communicate()


class BgzfWriter:
    """File-like writer of BGZF; use as a context manager. ``write`` takes bytes-like objects of any size.

    ``threads``: compression threads beside the caller's (as bcftools' ``--threads``; default
    :func:`default_threads`; 0: in the caller). ``process_min_bytes``: uncompressed bytes from which those
    threads run in a worker process (default :data:`PROCESS_MIN_BYTES`); ``expected_bytes``: the uncompressed
    size the caller expects (a guess is fine: only where the work happens depends on it, not the bytes).
    :attr:`block_csize` holds the
    compressed size of every data block once the writer is closed (for :mod:`raygen.io.tbi`).
    """

    def __init__(self, path: str | os.PathLike[str], *, level: int = DEFAULT_LEVEL, threads: int | None = None,
                 process_min_bytes: int | None = None, expected_bytes: int | None = None):
        self.path = Path(path)
        self.level = level
        self.threads = default_threads() if threads is None else threads
        self.process_min_bytes = PROCESS_MIN_BYTES if process_min_bytes is None else process_min_bytes
        if expected_bytes is not None and expected_bytes >= self.process_min_bytes:
            self.process_min_bytes = 0  # the worker starts with the first write (its start overlaps the caller's work)
        self._fh = open(self.path, "wb")
        self._pool = ThreadPoolExecutor(self.threads) if self.threads >= 1 else None
        self._pending = bytearray()
        self._written = 0  # uncompressed bytes taken by write()
        self._worker: _Worker | None = None
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

    def _start_worker(self) -> None:
        """Hand the rest of the stream to a worker process: every block so far is written (the stream is at a
        block boundary but for ``_pending``, which goes first), then the worker appends to the same file."""
        self._drain()
        self._fh.flush()
        self._worker = _Worker(self._fh.fileno(), self.level, self.threads)
        if self._pending:
            self._worker.put(bytes(self._pending))
            self._pending = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        self._written += n
        if self._worker is None and self.threads >= 1 and sys.executable and self._written >= self.process_min_bytes:
            self._start_worker()
        if self._worker is not None:
            step = BLOCK_SIZE * CHUNK_BLOCKS
            for off in range(0, n, step):
                self._worker.put(bytes(view[off: off + step]))
            return n
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

    def close(self, abort: bool = False) -> None:
        """Write what is left and the EOF block; ``abort``: stop (the file is incomplete; the caller removes
        it)."""
        if self._fh.closed:
            return
        try:
            if self._worker is not None:
                if abort:
                    self._worker.abort()
                    return
                self.block_csize.extend(self._worker.finish())
                self._fh.seek(0, os.SEEK_END)  # the worker wrote through the same file description
            elif self._pending and not abort:
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

    def __exit__(self, exc_type, *exc: object) -> None:
        self.close(abort=exc_type is not None)


def _read_full(fh, buf: bytearray) -> int:
    """Fill ``buf`` from ``fh`` (a pipe: reads come in pieces); the bytes read (fewer only at the end)."""
    view, got = memoryview(buf), 0
    while got < len(buf):
        n = fh.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _worker_main(fd: int, level: int, threads: int) -> int:
    """The worker process: BGZF blocks of stdin appended to file descriptor ``fd``; at the end their compressed
    sizes (uint32, native order) on stdout. A write error ends it with ``ERRNO<TAB>message`` on stderr."""
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    sizes = array("I")
    buf = bytearray(BLOCK_SIZE * CHUNK_BLOCKS)
    stdin = sys.stdin.buffer.raw
    try:
        while n := _read_full(stdin, buf):
            view = memoryview(buf)[:n]
            blocks = [view[i: i + BLOCK_SIZE] for i in range(0, n, BLOCK_SIZE)]
            if pool is None:
                out = [compress_block(b, level) for b in blocks]
            else:
                out = list(pool.map(compress_block, blocks, [level] * len(blocks)))
            sizes.extend(len(b) for b in out)
            data = memoryview(b"".join(out))
            while data:
                data = data[os.write(fd, data):]
    except OSError as exc:
        sys.stderr.write(f"{exc.errno or errno.EIO}\t{exc.strerror or exc}\n")
        return 1
    sys.stdout.buffer.write(sizes.tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(*(int(a) for a in sys.argv[1:4])))

"""Keep freed memory inside the process while a shard is called, and give it back at the end.

A shard's pileup is tens of millions of entries, and each step allocates, fills and frees arrays of that size.
glibc hands every block above its mmap threshold (at most 32 MB) back to the kernel when it is freed, so the
next array of the same size is page-faulted and zero-filled by the kernel again: measured on the speed
benchmark's genome (``benchmarks/call.py speed``), that system time was 40-45% of a call's core-seconds (on a loaded machine).
Inside :func:`reuse_freed_memory` glibc serves large blocks from its heap and keeps freed ones there; a moment
after the last shard ends the settings go back to glibc's defaults and ``malloc_trim`` returns the free heap to
the kernel, so a long-lived process (a Ray worker, a Serve replica) does not keep a shard's peak. Where the C
library is not glibc (macOS, musl) this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_MAX = -4
DEFAULT_TRIM_THRESHOLD = 128 * 1024  # glibc's defaults, restored on exit
DEFAULT_MMAP_MAX = 65536
KEEP_BYTES = 2**31 - 1  # the largest trim threshold mallopt takes (an int): 2 GiB of free heap is kept


def _glibc():
    try:
        lib = ctypes.CDLL(None)  # the C library this process already uses
        lib.mallopt, lib.malloc_trim  # noqa: B018 - glibc only: AttributeError elsewhere
    except (OSError, AttributeError):
        return None
    lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.malloc_trim.argtypes = [ctypes.c_size_t]
    return lib


_LIBC = _glibc()
#: Seconds without a shard after which the kept memory is returned (shards back to back keep their pages).
RELEASE_AFTER_S = 2.0
_lock = threading.Lock()
_depth = 0  # shards running in this process (threads of one Serve replica may overlap)
_kept = False  # glibc set to keep freed memory
_timer: threading.Timer | None = None


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Within the block (and for :data:`RELEASE_AFTER_S` after the last one ends, so a worker calling shard
    after shard keeps its pages), freed memory stays in the process for the next allocation; then it is
    released and glibc's defaults are back."""
    global _depth, _kept, _timer
    if _LIBC is None:
        yield
        return
    with _lock:
        if _timer is not None:
            _timer.cancel()
            _timer = None
        if not _kept:
            _LIBC.mallopt(M_MMAP_MAX, 0)
            _LIBC.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)
            _kept = True
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _timer = threading.Timer(RELEASE_AFTER_S, release)
                _timer.daemon = True
                _timer.start()


def release() -> None:
    """Back to glibc's defaults and the free heap returned to the kernel (unless a shard is running)."""
    global _kept
    with _lock:
        if _LIBC is None or _depth or not _kept:
            return
        _LIBC.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        _LIBC.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        _LIBC.malloc_trim(0)
        _kept = False

"""Freed memory stays in the process inside reuse_freed_memory and goes back to the kernel after release()."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from raygen.calling import memory


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def _free_heap_bytes() -> int:
    f = memory._LIBC.mallinfo2
    f.restype = _MallInfo2
    return int(f().fordblks)


@pytest.mark.skipif(memory._LIBC is None or not hasattr(memory._LIBC, "mallinfo2"), reason="needs glibc >= 2.33")
def test_freed_arrays_are_kept_then_released():
    n = 64 * 2**20
    with memory.reuse_freed_memory():
        a = np.ones(n, np.uint8)  # above glibc's mmap threshold: without the setting it is mmapped, then unmapped
        del a
        assert _free_heap_bytes() >= n  # kept in the heap for the next array
    memory.release()  # what the timer does RELEASE_AFTER_S after the last shard
    assert _free_heap_bytes() < n
    b = np.ones(n, np.uint8)  # glibc's defaults again: a large block is its own mapping, not heap
    del b
    assert _free_heap_bytes() < n

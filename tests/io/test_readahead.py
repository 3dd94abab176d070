"""read_ahead: the items and the exception of the iterator, in its order, made on another thread; closing
early stops that thread."""

from __future__ import annotations

import threading
import time

import pytest

from raygen.io.readahead import read_ahead


def test_items_in_order_from_another_thread():
    seen = []

    def gen():
        for i in range(50):
            seen.append(threading.current_thread().name)
            yield i

    assert list(read_ahead(gen(), depth=2)) == list(range(50))
    assert set(seen) == {"raygen-read-ahead"}


def test_exception_comes_after_the_items_before_it():
    def gen():
        yield 1
        yield 2
        raise ValueError("line 3: bad")

    out = []
    with pytest.raises(ValueError, match="line 3: bad"):
        for x in read_ahead(gen()):
            out.append(x)
    assert out == [1, 2]


def test_closing_early_stops_the_thread_and_closes_the_source():
    made, closed = [], []

    def gen():
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            closed.append(True)

    def readers() -> int:
        return sum(t.name == "raygen-read-ahead" for t in threading.enumerate())

    before = readers()
    it = read_ahead(gen(), depth=1)
    assert next(it) == 0
    time.sleep(0.05)  # let the thread fill the queue and wait for room
    it.close()
    assert closed == [True]
    assert len(made) <= 4  # at most depth + the one in the making ahead of the caller, not all 1000
    assert readers() == before

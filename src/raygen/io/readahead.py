"""Read ahead: the next items of an iterator made on a background thread while the caller works on the last.

``raygen normalize`` in process reads with this: inflating the input (zlib), Arrow's CSV parser and the
field checks of the next block (C code that releases the GIL) run while the main thread normalizes the
block before, so on two cores reading leaves the command's critical path. Items, and an exception the
iterator raises, come out in the iterator's order, as iterating it directly would give them; the output of
the caller is the same.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


class ReadAhead(Iterator[T]):
    """What :func:`read_ahead` returns: an iterator whose thread runs from the start; ``close`` stops it."""

    def __init__(self, items: Iterable[T], depth: int):
        self._q: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._done = False
        # the thread holds the queue and the event, not this object: dropped without close(), it is collected
        # and __del__ stops the thread
        self._worker = threading.Thread(target=_produce, args=(items, self._q, self._stop), name="raygen-read-ahead",
                                        daemon=True)
        self._worker.start()

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        ok, item = self._q.get()
        if ok:
            return item
        self.close()
        if item is _END:
            raise StopIteration
        raise item

    def close(self) -> None:
        """Stop the thread at its next item and wait for it (also before the first item was taken)."""
        self._done = True
        self._stop.set()
        while self._worker.is_alive():  # drain, so a put that waits for room returns and the thread sees `stop`
            try:
                self._q.get(timeout=0.05)
            except queue.Empty:
                pass
        self._worker.join()

    def __del__(self) -> None:
        if getattr(self, "_worker", None) is not None:  # not when __init__ failed before the thread existed
            self.close()


def _produce(items: Iterable[T], q: queue.Queue, stop: threading.Event) -> None:
    it = iter(items)
    try:
        for item in it:
            q.put((True, item))
            if stop.is_set():
                break
        else:
            q.put((False, _END))
    except BaseException as exc:  # handed to the caller, raised there in order
        q.put((False, exc))
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


def read_ahead(items: Iterable[T], depth: int = 1) -> ReadAhead[T]:
    """Iterate ``items`` on a background thread, at most ``depth`` finished items (plus the one in the making)
    ahead of the caller. The thread starts at once, so the first item is made while the caller still
    prepares (``raygen normalize``: its provenance, the writer), not from the first ``next``. Closing the
    returned iterator early (the caller failed, Ctrl-C) stops the thread at its next item and waits for it."""
    return ReadAhead(items, depth)

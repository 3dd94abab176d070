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


def read_ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``items`` on a background thread, at most ``depth`` finished items (plus the one in the making)
    ahead of the caller. Closing the returned generator early (the caller failed, Ctrl-C) stops the thread at
    its next item and waits for it."""
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
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

    worker = threading.Thread(target=produce, name="raygen-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = q.get()
            if ok:
                yield item
            elif item is _END:
                return
            else:
                raise item
    finally:
        stop.set()
        while worker.is_alive():  # drain, so a put that waits for room returns and the thread sees `stop`
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()

"""Run an iterator of Arrow tables in a forked child process, so that producing them (reading, decompressing,
parsing a VCF) uses a second core while this process works on the tables already received.

A thread cannot do this here: reading a BGZF file through :mod:`gzip` runs Python code for every 64 KiB
member, and each such step waits for the GIL while the consumer runs Python, so a reader thread mostly
waits (as the compression threads of :mod:`raygen.io.bgzf` did). The child is a ``fork`` of this process
(no start-up, no imports, the same logging set-up); tables come back through a pipe in Arrow's IPC format,
one length-prefixed message each, read without a further copy. An exception raised by the producer is
raised here, where its next table would have come (pickled; one that cannot be pickled becomes a
:class:`raygen.errors.RaygenError` with its text).

Only for POSIX (``os.fork``); :func:`forked_tables` runs the iterator in this process elsewhere.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import signal
import struct
from collections.abc import Callable, Iterator

import pyarrow as pa

from raygen.errors import RaygenError

_FRAME = struct.Struct("<cQ")  # kind (T: table, E: exception, D: done), payload bytes
#: Pipe buffer asked for (Linux caps it at /proc/sys/fs/pipe-max-size, 1 MiB by default): the child runs
#: ahead by about this much beyond the table it is writing.
PIPE_BYTES = 1 << 20


def _write_all(fd: int, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


def _send(fd: int, kind: bytes, payload) -> None:
    _write_all(fd, _FRAME.pack(kind, len(payload)))
    if len(payload):
        _write_all(fd, payload)


def _child(fd: int, make: Callable[[], Iterator[pa.Table]]) -> None:
    """Runs in the forked child: every table of ``make()``, then D (or E with the exception)."""
    try:
        for table in make():
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            _send(fd, b"T", sink.getvalue())
    except BaseException as exc:  # every failure goes to the parent, which raises it
        try:
            payload = pickle.dumps(exc)
            pickle.loads(payload)
        except Exception:
            payload = pickle.dumps(RaygenError(f"{type(exc).__name__}: {exc}"))
        _send(fd, b"E", payload)
    else:
        _send(fd, b"D", b"")


def _read_exact(fd: int, n: int) -> bytearray:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            raise RaygenError("the reader process ended without finishing (killed?)")
        got += k
    return buf


def forked_tables(make: Callable[[], Iterator[pa.Table]]) -> Iterator[pa.Table]:
    """The tables of ``make()``, produced in a forked child process (see the module docstring). The child
    starts at once (it reads ahead while the caller sets up); closing the returned generator stops it."""
    if not hasattr(os, "fork"):
        return make()
    # pyarrow imports pandas (~0.3 s) the first time it converts a Python value: do it once, here, so the
    # child inherits it instead of importing it a second time
    pa.scalar(0)
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:  # the default pipe size works too, with less read-ahead
        pass
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        try:
            os.close(r)
            _child(w, make)
        finally:
            os._exit(0)
    os.close(w)
    return _receive(r, pid)


def _receive(fd: int, pid: int) -> Iterator[pa.Table]:
    try:
        while True:
            kind, n = _FRAME.unpack(_read_exact(fd, _FRAME.size))
            payload = _read_exact(fd, n) if n else b""
            if kind == b"T":
                with pa.ipc.open_stream(pa.py_buffer(payload)) as reader:
                    yield reader.read_all()
            elif kind == b"E":
                raise pickle.loads(payload)
            else:
                return
    finally:
        os.close(fd)
        try:
            os.kill(pid, signal.SIGKILL)  # done already, or no longer wanted
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)

"""Atomic file and directory writes: write under a temporary name beside the target, rename on success.

A crash or Ctrl-C leaves at most a ``.tmp-*`` name behind, never a file with the final name that looks
complete. ``os.replace`` is atomic on POSIX when source and target share a filesystem, which holds
because the temporary lives in the target's own directory. A full disk (ENOSPC, EDQUOT) while the block
writes becomes :class:`raygen.errors.DiskFull` naming the final path (one line, exit 1), the temporary removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from raygen.errors import UsageError, disk_full


def _tmp_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and parents) if needed and check we may write there; raise UsageError if not."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=p, prefix=".raygen-probe-", delete=True)
        probe.close()
    except OSError as exc:
        raise UsageError(f"output directory {str(p)!r} is not writable: {exc.strerror or exc}") from None
    return p


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` if the block succeeds.

    The caller writes the whole file to the yielded path. On an exception the temporary is removed and
    ``final`` is left untouched (an older complete version, if any, survives).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        raise disk_full(exc, final) or exc
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_paths(*finals: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Like :func:`atomic_path` for several files that belong together (a data file and its index).

    Renames happen in the given order once the block succeeds, so put the data file first and its index
    last: a reader that sees the index also sees the data it indexes.
    """
    paths = [Path(f) for f in finals]
    tmps = []
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmps.append(_tmp_name(p))
    try:
        yield tmps
        for tmp, final in zip(tmps, paths):
            os.replace(tmp, final)
    except OSError as exc:
        raise disk_full(exc, paths[0]) or exc
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside ``final``; on success it replaces ``final`` as a whole.

    Used for partitioned Parquet datasets: readers never see a half-written dataset under ``final``.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(final)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            old = _tmp_name(final)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except OSError as exc:
        raise disk_full(exc, final) or exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)

"""Exceptions that the CLI turns into one-line messages and exit codes.

``UsageError`` (exit 2) is for impossible parameters; ``InputError`` (exit 2) is for unreadable or
malformed input that stops a whole job; ``RaygenError`` (exit 1) is for everything else we anticipate.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class RaygenError(Exception):
    """An anticipated failure; the CLI prints ``raygen <cmd>: error: <message>`` and exits 1."""

    exit_code = 1


class UsageError(RaygenError):
    """Impossible or contradictory parameters (exit code 2, like argparse)."""

    exit_code = 2


class InputError(RaygenError):
    """Input that cannot be read at all: missing file, missing index that cannot be built, wrong format."""

    exit_code = 2


class DiskFull(RaygenError):
    """The filesystem ran out of space (or quota) while we wrote an output (exit 1: nothing the input can fix)."""


#: errno values that mean "the disk is full": ENOSPC, EDQUOT.
DISK_FULL_ERRNOS = (28, 122)


def disk_full(exc: BaseException, target: object) -> DiskFull | None:
    """A :class:`DiskFull` naming ``target`` if ``exc`` (or what it wraps) is a full disk, else None."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno in DISK_FULL_ERRNOS:
            return DiskFull(f"no space left on the device while writing {str(target)!r} ({cause.strerror}); "
                            "any previous version of it is untouched: free some space or write elsewhere")
    return None


def _chain(exc: BaseException):
    """``exc`` and what it wraps: Ray's ``.cause`` (a task's, actor's or replica's own exception), else
    ``__cause__``; each once."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        yield cause
        seen.add(id(cause))
        cause = getattr(cause, "cause", None) or cause.__cause__


def require(condition: bool, message: str) -> None:
    """Raise :class:`UsageError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UsageError(message)


def raygen_cause(exc: BaseException) -> RaygenError | None:
    """Our own error inside ``exc`` (Ray wraps what a task, actor or replica raised in its own exception
    types, keeping the original as ``.cause``), or None when ``exc`` is not one of ours."""
    for cause in _chain(exc):
        if isinstance(cause, RaygenError):
            # Ray's wrapper of our error is itself an instance of our class, and its text carries Ray's
            # traceback ("raygen.errors.InputError: ..."); the original it keeps as .cause says only the message.
            inner = getattr(cause, "cause", None)
            return inner if isinstance(inner, RaygenError) else cause
    return None


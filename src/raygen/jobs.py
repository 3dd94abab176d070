"""Inputs and outputs of batch commands that may run as Ray jobs: local paths or cloud URIs.

Under ``ray job submit`` the driver runs on the cluster's head node, in a fresh copy of the submitted
``--working-dir``; Ray Data tasks run on any node. So a path means something different there than on the
laptop that submitted the job: inputs named relative to the repo are found (they travel with the working
dir if git does not ignore them), but outputs written to a relative path land in that temporary copy on
the head node. Real jobs read and write shared storage: an absolute path every node mounts (NFS, EFS,
Lustre) or a URI that pyarrow understands (``s3://``, ``gs://``, ``hdfs://``, ``abfs://``, ``file://``).

Commands call :func:`check_inputs_exist` on their inputs *before* starting Ray, so a job that names a
missing file fails within a second with the path in the message (status FAILED, exit code 2), instead of
after cluster start-up or deep inside a Ray Data task.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from raygen.errors import InputError

log = logging.getLogger("raygen.jobs")

#: Set by Ray's job supervisor in the environment of a submitted job's entrypoint.
RAY_JOB_ENV_VAR = "RAY_JOB_CONFIG_JSON_ENV_VAR"

PathLike = str | os.PathLike[str]

# RFC 3986 scheme, then "://": "C:\\x" and "./a://b" are plain paths.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(path: PathLike) -> bool:
    """True for ``scheme://...`` strings (``s3://b/k``, ``gs://b/k``, ``file:///x``), False for plain paths."""
    return _URI.match(os.fspath(path)) is not None


def in_ray_job() -> bool:
    """True when this process is the entrypoint of a job submitted with ``ray job submit``."""
    return RAY_JOB_ENV_VAR in os.environ


def resolve(path: PathLike):
    """The pyarrow filesystem that holds ``path`` and the path within it.

    Plain paths map to the local filesystem as absolute paths (``~`` expanded, relative to the current
    directory); URIs go through :func:`pyarrow.fs.FileSystem.from_uri`, which picks S3, GCS, HDFS or Azure
    and takes credentials from the usual environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``,
    instance metadata). Returns ``(pyarrow.fs.FileSystem, str)``; raises :class:`InputError` when the
    URI's scheme is unknown or its filesystem cannot be set up.
    """
    import pyarrow.fs as pafs

    if not is_uri(path):
        return pafs.LocalFileSystem(), str(Path(os.fspath(path)).expanduser().absolute())
    try:
        return pafs.FileSystem.from_uri(os.fspath(path))
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"cannot open {os.fspath(path)!r}: {exc}") from None


def check_inputs_exist(*paths: PathLike | None) -> None:
    """Raise :class:`InputError` naming every input in ``paths`` that does not exist; ``None`` is skipped.

    Works for local paths (files or directories, e.g. a Parquet dataset) and pyarrow URIs. Call it first
    thing in a command's ``run`` (before ``init_ray``) so a bad job fails at once. An unreachable bucket or
    missing credentials also raise :class:`InputError`, with pyarrow's reason.
    """
    import pyarrow.fs as pafs

    missing: list[str] = []
    for path in paths:
        if path is None:
            continue
        fs, inner = resolve(path)
        try:
            info = fs.get_file_info(inner)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot access input {os.fspath(path)!r}: {exc}") from None
        if info.type == pafs.FileType.NotFound:
            missing.append(os.fspath(path))
    if missing:
        where = ""
        if in_ray_job():
            where = (f" (this Ray job's driver runs on the head node in {os.getcwd()}; give inputs as paths every "
                     "node can read or as s3:// / gs:// URIs)")
        raise InputError(f"input not found: {', '.join(missing)}{where}")


def warn_if_output_is_ephemeral(path: PathLike) -> None:
    """Log a warning when a submitted job writes to a relative local path.

    Such output lands in the job's temporary working-dir copy on the head node, not where the submitter
    expects it; absolute shared paths and URIs are fine.
    """
    if in_ray_job() and not is_uri(path) and not Path(os.fspath(path)).expanduser().is_absolute():
        log.warning(
            "output %r is relative: under `ray job submit` it is written to %s on the head node, inside the job's "
            "temporary working dir; use an absolute path on shared storage or an s3:// / gs:// URI",
            os.fspath(path), Path(os.getcwd()) / os.fspath(path),
        )

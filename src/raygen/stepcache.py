"""Content-keyed cache of a command's output files, so a rerun with the same inputs and settings is a copy.

``raygen demo`` uses it for its scoring step: the key is the SHA-256 of every input file's bytes (the VCF, the
FASTA, the model's config, weights and tokenizer), of the command line minus its output paths, and of the
raygen version. Any change to an input, a flag or raygen itself gives a new key and so a fresh run; the same
key means the outputs would be byte-identical (the scorer is deterministic on CPU for any batch or actor
count), so copying them is exact, not an approximation.

Entries are directories ``CACHE/<key>/`` written atomically (``raygen.io.atomic.atomic_dir``): an
interrupted run leaves no entry that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from raygen import __version__
from raygen.io.atomic import atomic_dir

_CHUNK = 1 << 20


def _hash_path(h: hashlib._Hash, path: Path) -> None:
    """Feed a file's bytes, or every file of a directory in sorted relative-path order, into ``h``."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)


def step_key(inputs: Iterable[str | os.PathLike[str]], argv: list[str]) -> str:
    """Hex SHA-256 of the inputs' bytes (files or directories), ``argv`` and the raygen version."""
    h = hashlib.sha256()
    h.update(json.dumps({"raygen": __version__, "argv": argv}).encode())
    for p in inputs:
        _hash_path(h, Path(p))
    return h.hexdigest()


_MANIFEST = "MANIFEST.json"


def restore(cache: Path, key: str, out_dir: Path, names: list[str]) -> bool:
    """Copy entry ``key``'s files into ``out_dir``; False (nothing copied) on a miss.

    Of ``names``, those the run did not write (a rejects file of a run without rejects) are removed from
    ``out_dir``, so the folder holds what the run would have left there.
    """
    entry = cache / key
    try:
        kept = json.loads((entry / _MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not all((entry / n).exists() for n in kept):
        return False
    for n in names:
        dst = out_dir / n
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        elif dst.exists() or dst.is_symlink():
            dst.unlink()
        if n in kept:
            src = entry / n
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    return True


def store(cache: Path, key: str, out_dir: Path, names: list[str]) -> None:
    """Keep copies of the ``names`` that exist in ``out_dir`` as entry ``key`` (replacing an older one)."""
    cache.mkdir(parents=True, exist_ok=True)
    kept = [n for n in names if (out_dir / n).exists()]
    with atomic_dir(cache / key) as tmp:
        for n in kept:
            src = out_dir / n
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp / n)
        (tmp / _MANIFEST).write_text(json.dumps(kept))

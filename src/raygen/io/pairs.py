"""Two-column tab-separated tables (a sample sheet, a contig rename map): one reader, one error shape."""

from __future__ import annotations

from raygen.errors import InputError


def read_pairs(path: str, columns: str) -> list[tuple[str, str]]:
    """(first, second) per data line of a two-column TSV; blank lines and ``#`` comments are skipped.

    ``columns`` names the two columns for the error message (e.g. ``"sample_id<TAB>bam_path"``); a line
    that does not have exactly two fields is an InputError naming file and 1-based line.
    """
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) != 2:
                raise InputError(f"{path}:{lineno}: expected '{columns}'")
            out.append((parts[0], parts[1]))
    return out

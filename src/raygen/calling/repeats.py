"""Tandem repeats in reference sequence, as the genotypers' indel error model and the haplotype re-scoring
see them (positions are indices into the string, 0-based)."""

from __future__ import annotations


def repeat_span(ref_seq: str, i: int, unit: str) -> int:
    """Bases of ``ref_seq`` from index ``i`` covered by consecutive copies of ``unit`` (0 if none)."""
    n = len(unit)
    if n == 0:
        return 0
    j = i
    while ref_seq[j:j + n] == unit:
        j += n
    return j - i

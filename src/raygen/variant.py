"""The one plain variant record shared by normalize, score, serve and call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Variant:
    """One REF/ALT pair at a position. ``pos`` is 1-based (VCF POS); REF starts at ``pos``."""

    chrom: str
    pos: int
    ref: str
    alt: str

    @property
    def start0(self) -> int:
        """0-based start of REF (half-open interval ``[start0, start0 + len(ref))``)."""
        return self.pos - 1

    @property
    def end0(self) -> int:
        """0-based exclusive end of REF."""
        return self.pos - 1 + len(self.ref)

    def __str__(self) -> str:
        return f"{self.chrom}:{self.pos}:{self.ref}>{self.alt}"

"""In-silico mutagenesis layout for the UI's heatmap: every single-base substitution around a variant, placed
in a 4 x L grid (rows A, C, G, T; columns positions). Pure: plain str/numpy over a reference.

Positions are 1-based (VCF POS); ``Reference.fetch`` underneath is 0-based half-open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from raygen.variant import Variant

BASES = "ACGT"


@dataclass(frozen=True)
class IsmLayout:
    """Every single-base substitution in ``[first_pos, first_pos + len(ref_bases))`` (1-based).

    ``variants`` lists them position by position (bases in ``ACGT`` order, skipping the reference base);
    ``cells[i] = (row, col)`` places ``variants[i]`` in a 4 x L grid (rows A, C, G, T; columns positions).
    Positions whose reference base is not A/C/G/T (N gaps, contig ends) get no variants.
    """

    chrom: str
    first_pos: int
    ref_bases: str
    variants: list[Variant]
    cells: list[tuple[int, int]]

    def matrix(self, values: Iterable[float | None]) -> np.ndarray:
        """4 x L float grid of ``values`` (one per variant); reference-base and unscored cells are NaN."""
        grid = np.full((4, len(self.ref_bases)), np.nan)
        for (row, col), val in zip(self.cells, values):
            if val is not None:
                grid[row, col] = val
        return grid


def ism_layout(reference, chrom: str, center_pos: int, flank: int) -> IsmLayout:
    """The in-silico mutagenesis grid of ``flank`` bases each side of 1-based ``center_pos``."""
    first = center_pos - flank
    seq = reference.fetch(chrom, first - 1, center_pos + flank)
    variants, cells = [], []
    for col, base in enumerate(seq):
        if base not in BASES:
            continue
        for row, alt in enumerate(BASES):
            if alt != base:
                variants.append(Variant(chrom, first + col, base, alt))
                cells.append((row, col))
    return IsmLayout(chrom, first, seq, variants, cells)

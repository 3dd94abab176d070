"""Chromosome names as CNVkit reads them: sort order, autosomes, the X and Y labels, PAR coordinates.

CNVkit decides which bins are "autosomes" (used to centre log2 ratios), which are chrX / chrY (ploidy
shifts for male and female references) and in which order chromosomes are written from the names alone.
raygen follows the same rules so that its files sort and centre identically:

* sort key: numbers first (``chr1 < chr2 < chr10``), then X and Y, then single-letter names (``chrM``),
  then longer names (``chr1_gl000191_random``, ``chrUn_*``); a ``chr`` prefix is ignored;
* autosome: a 1-3 digit name (``chr7``, ``22``) or a Roman numeral (``chrIV``, yeast), minus the sex
  chromosomes, mitochondria and alternative / unplaced contigs;
* X / Y labels: ``chrX``/``X`` and ``chrY``/``Y`` when present, none in a Roman-numeral genome (where
  ``chrX`` is chromosome 10).

Coordinates (PAR regions) are 0-based half-open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from raygen.errors import UsageError

_ARABIC = re.compile(r"^(?:chr|Chr)?\d{1,3}$")
_ALTERNATIVE = re.compile(r"^chrEBV$|^NC[_\-]|_random$|Un_|^HLA[\-_]|_alt$|hap\d+$|_decoy$")
_MITO = re.compile(r"^(?:chr|Chr)?(?:M|MT|Mito)$", re.IGNORECASE)


def _roman(n: int) -> str:
    out = []
    for v, sym in ((100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= v:
            out.append(sym)
            n -= v
    return "".join(out)


_ROMAN = frozenset(_roman(i) for i in range(1, 50))

#: Pseudo-autosomal regions per genome build (``--diploid-parx-genome``), 0-based half-open.
PAR_REGIONS: dict[str, dict[str, tuple[int, int]]] = {
    "grch37": {"PAR1X": (60000, 2699520), "PAR2X": (154931043, 155260560),
               "PAR1Y": (10000, 2649520), "PAR2Y": (59034049, 59363566)},
    "grch38": {"PAR1X": (10000, 2781479), "PAR2X": (155701382, 156030895),
               "PAR1Y": (10000, 2781479), "PAR2Y": (56887902, 57217415)},
}


def sort_key(name: str) -> tuple[int, str]:
    """CNVkit's chromosome sort key (``chr1 < chr2 < chr10 < chrX < chrY < chrM < chrUn_x``)."""
    chrom = name[3:] if name.lower().startswith("chr") else name
    if chrom in ("X", "Y"):
        return (1000, chrom)
    digits = len(chrom) - len(chrom.lstrip("0123456789"))
    num = int(chrom[:digits]) if digits else 0
    rest = chrom[digits:]
    if not rest:
        return (num, "")
    return (2000 + num, rest) if len(rest) == 1 else (3000 + num, rest)


def _strip_chr(name: str) -> str:
    return name.removeprefix("chr").removeprefix("Chr")


def is_canonical(name: str) -> bool:
    """Not an alternative / unplaced contig and not mitochondrial."""
    return not (_ALTERNATIVE.search(name) or _MITO.match(name))


def is_roman_genome(names: Iterable[str]) -> bool:
    """Whether the names look like a Roman-numeral genome (yeast): >= 3 Roman names, one of >1 letter."""
    roman = [n for n in names if _strip_chr(n) in _ROMAN]
    return len(roman) >= 3 and any(len(_strip_chr(n)) > 1 for n in roman)


def sex_labels(names: Iterable[str]) -> tuple[str | None, str | None]:
    """The X and Y chromosome labels used among ``names`` (``chrX``/``X``, ``chrY``/``Y``), or None."""
    names = {str(n) for n in names}
    if not names or is_roman_genome(names):
        return None, None
    x = next((c for c in ("chrX", "X") if c in names), None)
    y = next((c for c in ("chrY", "Y") if c in names), None)
    return x, y


def autosome_mask(chrom: np.ndarray) -> np.ndarray:
    """Boolean mask of bins on autosomes; all True when no name is recognised as one (CNVkit then uses
    every bin rather than none)."""
    uniq = list(dict.fromkeys(chrom.tolist()))
    x, y = sex_labels(uniq)
    ok = {c: (c not in (x, y) and bool(_ARABIC.match(c) or _strip_chr(c) in _ROMAN)
              and not _MITO.match(c) and not _ALTERNATIVE.search(c)) for c in uniq}
    if not any(ok.values()):
        return np.ones(len(chrom), dtype=bool)
    return np.fromiter((ok[c] for c in chrom.tolist()), dtype=bool, count=len(chrom))


def check_build(build: str | None) -> str | None:
    """The lower-cased ``--diploid-parx-genome`` build, or UsageError for an unknown one."""
    if build is None:
        return None
    key = build.lower()
    if key not in PAR_REGIONS:
        raise UsageError(f"--diploid-parx-genome {build!r}: supported builds are {', '.join(sorted(PAR_REGIONS))}")
    return key


def _par_mask(chrom, start, end, label, build, which) -> np.ndarray:
    par = PAR_REGIONS[check_build(build)]
    a1, b1 = par[f"PAR1{which}"]
    a2, b2 = par[f"PAR2{which}"]
    on = chrom == label
    return on & (((start >= a1) & (end <= b1)) | ((start >= a2) & (end <= b2)))


def x_mask(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, parx_build: str | None = None) -> np.ndarray:
    """Bins on chrX, without the PARs when ``parx_build`` (``grch37``/``grch38``) names a build."""
    x, _ = sex_labels(np.unique(chrom))
    if x is None:
        return np.zeros(len(chrom), dtype=bool)
    mask = chrom == x
    if parx_build is not None:
        mask &= ~_par_mask(chrom, start, end, x, parx_build, "X")
    return mask


def parx_mask(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, build: str) -> np.ndarray:
    """Bins inside the pseudo-autosomal regions of chrX."""
    x, _ = sex_labels(np.unique(chrom))
    return np.zeros(len(chrom), dtype=bool) if x is None else _par_mask(chrom, start, end, x, build, "X")


def y_mask(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, parx_build: str | None = None) -> np.ndarray:
    """Bins on chrY, without its PARs when ``parx_build`` names a build (they are never covered)."""
    _, y = sex_labels(np.unique(chrom))
    if y is None:
        return np.zeros(len(chrom), dtype=bool)
    mask = chrom == y
    if parx_build is not None:
        mask &= ~_par_mask(chrom, start, end, y, parx_build, "Y")
    return mask


def pary_mask(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, build: str) -> np.ndarray:
    """Bins inside the pseudo-autosomal regions of chrY."""
    _, y = sex_labels(np.unique(chrom))
    return np.zeros(len(chrom), dtype=bool) if y is None else _par_mask(chrom, start, end, y, build, "Y")


def genome_order(chrom: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Indices that sort bins as CNVkit does: by chromosome key, start, end; stable for ties."""
    keys = {c: sort_key(c) for c in set(chrom.tolist())}
    # rank by key, not by name: two names with one key ("chr1", "1") interleave by position, as in CNVkit
    rank = {k: i for i, k in enumerate(sorted(set(keys.values())))}
    ranks = np.fromiter((rank[keys[c]] for c in chrom.tolist()), dtype=np.int64, count=len(chrom))
    return np.lexsort((end, start, ranks))

"""Systematic coverage biases of a bin and their correction, as CNVkit defines them.

* GC fraction and RepeatMasker fraction of each bin from the reference FASTA (soft-masked, i.e.
  lower-case, bases are repeats); both are fractions of the A/C/G/T bases in the bin (N excluded).
* Edge bias of target bins: the expected relative loss of coverage at both ends of a baited interval
  and the gain from reads spilling over from neighbouring baits within one insert size (250 bp).
* :func:`center_by_window`: subtract from each bin's log2 the rolling median of log2 over bins with a
  similar value of the bias trait (GC, repeat fraction or edge bias), so coverage no longer trends
  with it.

Bins are 0-based half-open; log2 values are log2 ratios (or log2 depths), corrected in place of the input
array only where a function says so.
"""

from __future__ import annotations

import numpy as np

from raygen.cohort import robust
from raygen.errors import InputError, UsageError
from raygen.io.fasta import Reference

#: CNVkit's fragment size for the edge model, bp.
INSERT_SIZE = 250
#: Seed of the shuffle that breaks ties between bins with the same trait value (CNVkit's, kept so the
#: same bins become neighbours in the rolling median).
SHUFFLE_SEED = 0xA5EED

_UPPER_AT = np.zeros(256, dtype=bool)
_UPPER_AT[[ord("A"), ord("T")]] = True
_UPPER_GC = np.zeros(256, dtype=bool)
_UPPER_GC[[ord("G"), ord("C")]] = True
_LOWER_AT = np.zeros(256, dtype=bool)
_LOWER_AT[[ord("a"), ord("t")]] = True
_LOWER_GC = np.zeros(256, dtype=bool)
_LOWER_GC[[ord("g"), ord("c")]] = True


def gc_rmask(seq: str) -> tuple[float, float]:
    """(GC fraction, lower-case fraction) of the A/C/G/T bases of ``seq``; (0, 0) when it has none."""
    counts = np.bincount(np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8), minlength=256)
    at_up, gc_up = counts[_UPPER_AT].sum(), counts[_UPPER_GC].sum()
    at_lo, gc_lo = counts[_LOWER_AT].sum(), counts[_LOWER_GC].sum()
    total = float(at_up + gc_up + at_lo + gc_lo)
    if not total:
        return 0.0, 0.0
    return (gc_lo + gc_up) / total, (at_lo + gc_lo) / total


def fasta_gc_rmask(fasta: str, chrom: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GC and RepeatMasker fractions of every bin, read from ``fasta`` (bins clipped to the contig end).

    Raises :class:`InputError` when bins lie on contigs the FASTA lacks (naming the count and an example).
    """
    gc = np.zeros(len(chrom))
    rm = np.zeros(len(chrom))
    with Reference(fasta) as ref:
        missing = sorted(set(chrom.tolist()) - set(ref.contigs))
        if missing:
            n = int(np.isin(chrom, missing).sum())
            raise InputError(f"{n} bins lie on contigs that are not in {fasta} (e.g. {missing[0]!r}); "
                             "use the FASTA the bins were made from")
        for i, (c, a, b) in enumerate(zip(chrom.tolist(), start.tolist(), end.tolist())):
            b = min(b, ref.length(c))
            if b > a:
                gc[i], rm[i] = gc_rmask(ref.fetch(c, a, b, keep_case=True))
    return gc, rm


def edge_losses(sizes: np.ndarray, insert: int) -> np.ndarray:
    """Relative coverage lost at both edges of baits of ``sizes`` bp: ``i / 2t``, less the shoulder part
    that falls outside a bait shorter than the insert, ``(i - t)^2 / 2it``."""
    sizes = sizes.astype(np.float64)
    losses = insert / (2 * sizes)
    small = sizes < insert
    t = sizes[small]
    losses[small] -= (insert - t) ** 2 / (2 * insert * t)
    return losses


def edge_gains(sizes: np.ndarray, gaps: np.ndarray, insert: int) -> np.ndarray:
    """Relative coverage gained from a neighbour ``gaps`` bp away: ``(i - g)^2 / 4it``, less what spills
    beyond this bait when ``t + g < i``; overlapping neighbours count as adjacent."""
    sizes = sizes.astype(np.float64)
    gaps = np.maximum(0, gaps).astype(np.float64)
    gains = (insert - gaps) ** 2 / (4 * insert * sizes)
    past = sizes + gaps < insert
    g, t = gaps[past], sizes[past]
    gains[past] -= (insert - t - g) ** 2 / (4 * insert * t)
    return gains


def edge_bias(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, insert: int = INSERT_SIZE) -> np.ndarray:
    """CNVkit's edge-effect trait per bin (gains from close neighbours minus edge losses); bins must be
    in genome order within each chromosome."""
    out = np.zeros(len(chrom))
    for c in dict.fromkeys(chrom.tolist()):
        idx = np.flatnonzero(chrom == c)
        s, e = start[idx], end[idx]
        sizes = e - s
        losses = edge_losses(sizes, insert)
        gaps = s[1:] - e[:-1]
        ok = gaps < insert
        gains = np.zeros(len(idx))
        gains[np.concatenate([[False], ok])] += edge_gains(sizes[1:][ok], gaps[ok], insert)
        gains[np.concatenate([ok, [False]])] += edge_gains(sizes[:-1][ok], gaps[ok], insert)
        out[idx] = gains - losses
    return out


def center_by_window(log2: np.ndarray, fraction: float, trait: np.ndarray, smoother: str = "median") -> np.ndarray:
    """``log2`` minus its rolling median along ``trait`` (window: ``fraction`` of the bins).

    Bins are first shuffled with CNVkit's seed and then stably sorted by ``trait``, so bins with equal
    trait values become neighbours in the same order CNVkit uses. Returns a new array in the input order.
    """
    if smoother != "median":
        raise UsageError(f"bias smoother {smoother!r} is not supported (only 'median')")
    n = len(log2)
    if n == 0:
        return log2.copy()
    shuffle = np.random.default_rng(SHUFFLE_SEED).permutation(n)
    order = shuffle[np.argsort(np.asarray(trait, dtype=np.float64)[shuffle], kind="mergesort")]
    y = log2[order]
    out = np.empty(n)
    out[order] = y - robust.rolling_median(y, fraction)
    return out

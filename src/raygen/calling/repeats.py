"""Tandem repeats in reference sequence, as the genotypers' indel error model, the haplotype re-scoring, the
error profile and the evaluation strata see them. Positions are indices into the string / array, 0-based,
intervals half-open."""

from __future__ import annotations

import numpy as np

#: Longest repeat unit searched for (bp): units 2-6 are short tandem repeats, 1 is a homopolymer.
MAX_UNIT = 6


def repeat_span(ref_seq: str, i: int, unit: str) -> int:
    """Bases of ``ref_seq`` from index ``i`` covered by consecutive copies of ``unit`` (0 if none)."""
    n = len(unit)
    if n == 0:
        return 0
    j = i
    while ref_seq[j:j + n] == unit:
        j += n
    return j - i


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the runs of True in a boolean array."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    starts = np.flatnonzero(d == 1)
    return starts, np.flatnonzero(d == -1) - starts


def homopolymer_runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run-length encoding of base codes (A0 C1 G2 T3, N4): (starts, lengths) of every run of one base,
    runs of N excluded. Length-1 runs are included (every base belongs to exactly one run)."""
    codes = np.asarray(codes)
    if len(codes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.concatenate([[True], codes[1:] != codes[:-1]])
    starts = np.flatnonzero(change)
    lengths = np.diff(np.concatenate([starts, [len(codes)]]))
    keep = codes[starts] < 4
    return starts[keep], lengths[keep]


def tandem_tracts(codes: np.ndarray, min_copies: int = 3, max_unit: int = MAX_UNIT) -> tuple[np.ndarray, ...]:
    """Short tandem repeats with a unit of 2..``max_unit`` bp and at least ``min_copies`` copies (a partial
    last copy counts toward the span): (starts, ends, units), sorted by start. Units that are themselves
    periodic (``AAAA``, ``ATAT`` for unit 4) are skipped: the smaller unit reports that tract."""
    codes = np.asarray(codes)
    out_s, out_e, out_u = [], [], []
    for k in range(2, max_unit + 1):
        if len(codes) <= k:
            break
        eq = (codes[:-k] == codes[k:]) & (codes[:-k] < 4)
        s, m = _runs(eq)
        keep = m + k >= min_copies * k
        s, m = s[keep], m[keep]
        if not len(s):
            continue
        unit = codes[s[:, None] + np.arange(k)[None, :]]
        periodic = np.zeros(len(s), bool)
        for d in range(1, k):
            if k % d == 0:
                periodic |= np.all(unit == np.roll(unit, d, axis=1), axis=1)
        s, m = s[~periodic], m[~periodic]
        out_s.append(s)
        out_e.append(s + m + k)
        out_u.append(np.full(len(s), k))
    if not out_s:
        z = np.zeros(0, np.int64)
        return z, z, z
    s, e, u = (np.concatenate(x).astype(np.int64) for x in (out_s, out_e, out_u))
    order = np.argsort(s, kind="stable")
    return s[order], e[order], u[order]


def paint_max(n: int, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``out[i]`` = the largest value of the intervals ``[start, end)`` covering ``i`` (0 where none)."""
    out = np.zeros(n, dtype=np.int64)
    if not len(starts):
        return out
    starts, ends = np.clip(starts, 0, n), np.clip(ends, 0, n)
    lens = ends - starts
    pos = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(starts, lens)
    np.maximum.at(out, pos, np.repeat(values, lens))
    return out


def repeat_context(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per position of ``codes``: the length of the homopolymer it lies in (1 outside any) and the span of the
    longest short tandem repeat (unit 2-6, >= 3 copies) covering it (0 outside any)."""
    hs, hl = homopolymer_runs(codes)
    hp = paint_max(len(codes), hs, hs + hl, hl)
    ts, te, _ = tandem_tracts(codes)
    return hp, paint_max(len(codes), ts, te, te - ts)

"""The aligner's view of simulated reads: indels near a read end realigned gap-free or clipped (BWA-MEM
scores), soft clips with the CIGAR and POS they imply, and per-strand context error multipliers."""

from __future__ import annotations

import numpy as np

from raygen.simulate.artifacts import clip_ends, context_multiplier, end_realign, in_segments, parse_cigar

A = lambda s: np.frombuffer(s, np.uint8)  # noqa: E731
UNIQUE = b"ACGTGCATGCAGTCAGTCCATGA"  # no homopolymer longer than 2
REF = A(UNIQUE + b"A" * 12 + b"CGTAGCTAGCTGATCGATCGTAGCTAGCATGCATTGACCTGA")  # A12 at 23..35


def test_read_ending_inside_a_homopolymer_is_written_gap_free():
    """A 1 bp deletion in A12 with the read ending 9 bases into the run: no aligner sees the gap (the shifted
    tail matches), so the read is all M; the same deletion with the run spanned keeps its D."""
    q = np.concatenate([REF[:23], A(b"A" * 9)])  # one A deleted; the read ends inside the run
    assert end_realign(q, parse_cigar("23M1D9M"), 0, REF) == ([["M", 32]], 0)
    q = np.concatenate([REF[:23], REF[24:70]])  # the run spanned, 35 bases after it
    ops = parse_cigar("23M1D46M")
    assert end_realign(q, ops, 0, REF) == (ops, 0)


def test_unique_deletion_near_the_start_is_clipped_and_pos_moves():
    """2 bases, then a 2 bp deletion in unique sequence: clipping the 2 bases (-5) beats the gap (-8 + 2),
    so the read starts after the deletion with a 2 bp soft clip."""
    q = np.concatenate([REF[5:7], REF[9:40]])
    assert end_realign(q, parse_cigar("2M2D31M"), 5, REF) == ([["S", 2], ["M", 31]], 9)
    q = np.concatenate([REF[0:12], REF[14:40]])  # 12 bases before it: the gap is the better alignment
    assert end_realign(q, parse_cigar("12M2D26M"), 0, REF)[0] == [["M", 12], ["D", 2], ["M", 26]]


def test_clip_ends_adjusts_cigar_and_pos():
    assert clip_ends(parse_cigar("10M2D20M"), 100, 11, 0) == ([["S", 11], ["M", 19]], 113)  # deletion skipped
    assert clip_ends(parse_cigar("5M1I24M"), 100, 5, 3) == ([["S", 6], ["M", 21], ["S", 3]], 105)  # I eaten
    assert clip_ends(parse_cigar("3S27M"), 100, 2, 0) == ([["S", 3], ["M", 27]], 100)  # a clip never shrinks
    assert clip_ends(parse_cigar("30M"), 100, 20, 15) == ([["M", 30]], 100)  # nothing left aligned: unchanged


def test_context_multiplier_by_strand_and_preceding_bases():
    mult = np.arange(32, dtype=float).reshape(2, 16)
    b = A(b"ACGTAC" * 2).reshape(2, 6).copy()
    m = context_multiplier(b, np.array([False, True]), mult)
    assert m[0, 2] == mult[0, 4 * 1 + 0]  # forward G: sequenced after C, A
    assert m[1, 0] == mult[1, 4 * 2 + 1]  # reverse A: after complement(C)=G, complement(G)=C
    assert m[0, 0] == m[0, 1] == m[1, 5] == m[1, 4] == 1.0  # fewer than two bases sequenced before


def test_in_segments():
    segs = np.array([[10, 20], [50, 60]])
    assert in_segments(np.array([9, 10, 19, 20, 55, 60]), segs).tolist() == [False, True, True, False, True, False]

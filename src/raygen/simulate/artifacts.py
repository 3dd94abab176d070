"""What makes short reads lie, as a real aligner's output shows it: pure functions the profile-driven
simulator (:mod:`raygen.simulate.profiled`, :mod:`raygen.simulate.reads`) applies to each read.

- :func:`end_realign`: the alignment an aligner writes for a read with an indel near its end. The simulator
  knows each read's true CIGAR; an aligner does not, and for an indel a few bases from the end (or a read that
  ends inside the repeat holding it) it writes the read gap-free (a mismatching or, in a repeat, matching tail)
  or soft-clips the tail. Chosen by BWA-MEM's default scores (match 1, mismatch 4, gap open 6, gap extend 1,
  clipping penalty 5 per end): the best of the true gapped alignment, the gap-free one, and the gap-free one
  cut by a clip.
- :func:`clip_ends`: soft clips of ``left`` / ``right`` query bases (adapter or low-quality tails), the CIGAR
  and POS adjusted.
- :func:`context_multiplier`: the profile's per-strand error multiplier by the two bases sequenced before
  each base (strand- and context-specific errors recur at the same site on one strand).
- :func:`paralog_segments`, :func:`psv_shift`: segmental duplications (segments whose reads all get low MAPQ)
  and a diverged copy of the contig (paralogous sequence variants) that mis-mapped reads are drawn from.

CIGARs are lists of ``[op, n]`` with op one of ``M I D S``; positions are 0-based reference coordinates;
bases are uint8 ASCII.
"""

from __future__ import annotations

import re

import numpy as np

from raygen.simulate.haplotype import merge_ops

#: BWA-MEM's default scores (bwa mem -A1 -B4 -O6 -E1 -L5).
MATCH, MISMATCH, GAP_OPEN, GAP_EXTEND, CLIP = 1, 4, 6, 1, 5

_CIGAR = re.compile(r"(\d+)([MIDS])")


def parse_cigar(cigar: str) -> list[list]:
    return [[op, int(n)] for n, op in _CIGAR.findall(cigar)]


def format_cigar(ops: list[list]) -> str:
    return "".join(f"{n}{op}" for op, n in ops if n > 0)


def _scores(query: np.ndarray, ref_seg: np.ndarray) -> np.ndarray:
    return np.where(query == ref_seg, MATCH, -MISMATCH)


def end_realign(query: np.ndarray, ops: list[list], pos: int, ref: np.ndarray) -> tuple[list[list], int]:
    """The aligner's view of a read with true CIGAR ``ops`` at ``pos`` (0-based): the indel nearest each end
    is replaced by a gap-free alignment of the read's end, possibly soft-clipped, when that scores higher
    (BWA-MEM scores) than the true gapped alignment. Returns (ops, pos); unchanged when the truth wins."""
    ops = merge_ops([list(o) for o in ops])
    ops, pos = _realign_right(query, ops, pos, ref)
    return _realign_left(query, ops, pos, ref)


def _realign_right(query, ops, pos, ref):
    k = max((i for i, (op, _) in enumerate(ops) if op in "ID"), default=-1)
    if k < 0 or any(op != "M" for op, _ in ops[k + 1:]):
        return ops, pos
    qp = sum(n for op, n in ops[:k] if op in "MIS")
    rp = pos + sum(n for op, n in ops[:k] if op in "MD")
    op, n = ops[k]
    qt = qp + (n if op == "I" else 0)
    rt = rp + (n if op == "D" else 0)
    L = len(query)
    if rt + (L - qt) > len(ref) or rp + (L - qp) > len(ref):
        return ops, pos
    gapped = -(GAP_OPEN + GAP_EXTEND * n) + int(_scores(query[qt:], ref[rt:rt + L - qt]).sum())
    cum = np.concatenate([[0], np.cumsum(_scores(query[qp:], ref[rp:rp + L - qp]))])
    j_clip = int(np.argmax(cum[:-1]))  # aligned bases before a clip (0: the whole end clipped)
    full, clipped = int(cum[-1]), int(cum[j_clip]) - CLIP
    if max(full, clipped) <= gapped:
        return ops, pos
    j = L - qp if full >= clipped else j_clip
    return merge_ops(ops[:k] + [["M", j], ["S", L - qp - j]]), pos


def _realign_left(query, ops, pos, ref):
    k = min((i for i, (op, _) in enumerate(ops) if op in "ID"), default=-1)
    if k < 0 or any(op != "M" for op, _ in ops[:k]):
        return ops, pos
    h0 = sum(n for _, n in ops[:k])  # query bases before the indel (all M)
    op, n = ops[k]
    rp = pos + h0  # reference position at the indel
    qe = h0 + (n if op == "I" else 0)  # query bases the gap-free alternative aligns before the resumption
    re_ = rp + (n if op == "D" else 0)  # reference position where the alignment resumes after the indel
    if re_ - qe < 0 or pos < 0:
        return ops, pos
    gapped = -(GAP_OPEN + GAP_EXTEND * n) + int(_scores(query[:h0], ref[pos:rp]).sum())
    s = _scores(query[:qe], ref[re_ - qe:re_])[::-1]  # from the resumption leftwards
    cum = np.concatenate([[0], np.cumsum(s)])
    j_clip = int(np.argmax(cum[:-1]))
    full, clipped = int(cum[-1]), int(cum[j_clip]) - CLIP
    if max(full, clipped) <= gapped:
        return ops, pos
    j = qe if full >= clipped else j_clip
    return merge_ops([["S", qe - j], ["M", j]] + ops[k + 1:]), re_ - j


def clip_ends(ops: list[list], pos: int, left: int, right: int) -> tuple[list[list], int]:
    """Soft-clip ``left`` query bases at the start and ``right`` at the end (existing clips included in the
    count: a clip never shrinks). Deletions next to a clip are dropped and a clip never eats the last aligned
    base (it is shortened instead). Returns (ops, new 0-based POS)."""
    ops = merge_ops([list(o) for o in ops])
    qlen = sum(n for op, n in ops if op in "MIS")
    aligned = sum(n for op, n in ops if op == "M")
    if aligned <= 1:
        return ops, pos
    lead = ops[0][1] if ops[0][0] == "S" else 0
    trail = ops[-1][1] if ops[-1][0] == "S" and len(ops) > 1 else 0
    left, right = max(left, lead), max(right, trail)
    if left + right >= qlen - 1:
        return ops, pos
    ops, pos = _clip_front(ops, pos, left)
    rev = [list(o) for o in ops[::-1]]
    rev, _ = _clip_front(rev, 0, right)
    out = merge_ops(rev[::-1])
    if not any(op == "M" for op, _ in out):
        return merge_ops(ops), pos
    return out, pos


def _clip_front(ops: list[list], pos: int, c: int) -> tuple[list[list], int]:
    taken, i, out = 0, 0, [list(o) for o in ops]
    while i < len(out) and taken < c:
        op, n = out[i]
        if op in "S":
            taken += n
            out[i][1] = 0
        elif op == "I":
            t = min(n, c - taken)
            taken += t
            out[i][1] -= t
        elif op == "M":
            t = min(n, c - taken)
            taken += t
            pos += t
            out[i][1] -= t
        elif op == "D":
            pos += n
            out[i][1] = 0
        i += 1
    out = [o for o in out if o[1] > 0]
    while out and out[0][0] in "DI":  # a gap right after a clip: drop a deletion, clip an insertion
        op, n = out.pop(0)
        if op == "D":
            pos += n
        else:
            taken += n
    return [["S", taken]] + out if taken else out, pos


def context_multiplier(bases: np.ndarray, reverse: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """``[n, L]`` error multiplier of each base by strand and the two bases sequenced before it
    (``mult`` is ``ErrorProfile.context_multiplier()``, ``[strand, 4*prev1 + prev2]``); bases without two
    predecessors get 1. ``bases`` are in reference orientation; reverse reads are sequenced right to left,
    complemented, as the profile counts them."""
    code = np.full(256, 4, np.int8)
    for i, b in enumerate(b"ACGT"):
        code[b] = i
    n, L = bases.shape
    c = np.full((n, L + 4), 4, np.int8)
    c[:, 2:L + 2] = code[bases]
    r = reverse[:, None]
    comp = np.array([3, 2, 1, 0, 4], np.int8)
    p1 = np.where(r, comp[c[:, 3:L + 3]], c[:, 1:L + 1])  # forward: base i-1; reverse: complement of i+1
    p2 = np.where(r, comp[c[:, 4:L + 4]], c[:, 0:L])
    ctx = np.where((p1 < 4) & (p2 < 4), p1 * 4 + p2, 16).astype(np.int16) + np.where(r, 17, 0).astype(np.int16)
    table = np.ones(34)
    table[0:16], table[17:33] = mult[0], mult[1]
    return table[ctx]


def paralog_segments(rng: np.random.Generator, length: int, fraction: float, segment_bp: float) -> np.ndarray:
    """``[k, 2]`` sorted, non-overlapping 0-based half-open segments covering about ``fraction`` of a contig
    of ``length`` bp, each ``segment_bp`` long (at least 200 bp): the segmental duplications."""
    seg = int(max(200, round(segment_bp)))
    k = int(round(fraction * length / seg))
    if k <= 0 or length <= seg:
        return np.zeros((0, 2), np.int64)
    starts = np.sort(rng.choice(length - seg, size=min(k, max(1, (length - seg) // seg)), replace=False))
    keep = np.concatenate([[True], np.diff(starts) >= seg])
    starts = starts[keep]
    return np.stack([starts, starts + seg], axis=1).astype(np.int64)


def psv_shift(rng: np.random.Generator, length: int, divergence: float) -> np.ndarray:
    """Per reference position, the paralogous copy's difference: 0 = same base, 1-3 = the base shifted by that
    much in ACGT order (uint8; each position differs with probability ``divergence``)."""
    diff = rng.random(length) < divergence
    return np.where(diff, rng.integers(1, 4, length), 0).astype(np.uint8)


def in_segments(x: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """Whether each 0-based position ``x`` lies in one of the sorted segments ``segs``."""
    if not len(segs):
        return np.zeros(len(x), bool)
    i = np.searchsorted(segs[:, 0], x, side="right") - 1
    return (i >= 0) & (x < segs[np.maximum(i, 0), 1])

"""Vectorised left-alignment of biallelic sequence records (numpy over a whole batch at once).

Same result as :func:`raygen.normalize.leftalign.realign` for biallelic records whose REF and ALT are
upper-case ``[ACGT]+`` and match the reference; rows it cannot decide the same way (REF mismatch,
REF == ALT, alleles longer than :data:`MAX_ALLELE`, shifts reaching the first base of the contig or
longer than :data:`MAX_SHIFT`) come back with ``ok=False`` for the per-record path.

The algorithm, on the alleles after dropping their common suffix:
- both alleles non-empty: no shift; trim the common prefix, keeping at least one base;
- one allele empty (a pure indel of sequence ``S`` at boundary ``x``): shift left while the base before
  the boundary equals the last base of ``S`` (rotating ``S``), then anchor on the base before.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

MAX_ALLELE = 64  # bp; longer alleles take the per-record path
MAX_SHIFT = 10_000  # bp of left shift decided here; longer ones take the per-record path


def _matrix(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Strings as an (n, width) uint8 matrix (zero padded) and their lengths."""
    arr = arr.cast(pa.large_string())
    off = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    buf = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, np.uint8)
    starts, lens = off[:-1], off[1:] - off[:-1]
    m = np.zeros((len(arr), width), dtype=np.uint8)
    for j in range(int(min(width, lens.max(initial=0)))):  # columns past the longest string stay zero
        v = lens > j
        m[v, j] = buf[starts[v] + j]
    return m, lens


def realign_biallelic(pos0: np.ndarray, ref: pa.Array, alt: pa.Array, seq: np.ndarray, seq_str: str):
    """Left-align rows of one contig. Returns ``ok, changed, new_pos0, new_ref, new_alt``.

    ``pos0`` is 0-based; ``new_ref``/``new_alt`` are string arrays holding the alleles of changed rows ('' elsewhere).
    Only rows with ``ok`` are decided; the caller sends the others to the per-record path. ``seq_str``: the
    contig as text (unused: ``seq`` holds the same bases; kept for callers).
    """
    n = len(pos0)
    R, lr = _matrix(ref, MAX_ALLELE)
    A, la = _matrix(alt, MAX_ALLELE)
    ok = (lr <= MAX_ALLELE) & (la <= MAX_ALLELE) & (lr > 0) & (la > 0) & (pos0 + lr <= len(seq))
    lr = np.where(ok, lr, 1)  # undecided rows get harmless lengths so the loops below stay in bounds
    la = np.where(ok, la, 1)
    ok &= _ref_matches(pos0, R, lr, seq)
    cs = _common_suffix(R, lr, A, la, ok)
    ok &= ~((lr == la) & (cs == lr))  # REF == ALT: bcftools' duplicate-allele handling
    new_pos0 = pos0.copy()
    changed = np.zeros(n, dtype=bool)
    mn = np.minimum(lr, la)
    # A: both alleles keep bases after the suffix is dropped -> trim the common prefix (>= 1 base left)
    a_case = ok & (cs < mn)
    cp = _trim_prefix(a_case, pos0, R, A, lr - cs, la - cs, cs, new_pos0, changed)
    # B: a pure deletion or insertion -> shift left through the reference
    b_case = ok & (cs >= mn)
    shift = np.zeros(n, dtype=np.int64)
    if b_case.any():
        undecided, shift = _shift_left(b_case, pos0, A, lr, la, seq, new_pos0, changed)
        ok &= ~undecided
    new_ref, new_alt = _new_alleles(n, ref, alt, seq, a_case & changed, b_case & changed, cp, lr - cs, la - cs,
                                    new_pos0, np.abs(lr - la), shift, la < lr)
    return ok, changed, new_pos0, new_ref, new_alt


def _new_alleles(n, ref, alt, seq, a_ch, b_ch, cp, lr2, la2, new_pos0, L, k, dele):
    """REF and ALT of the changed rows ('' elsewhere), gathered in bulk. Case A: ``REF[cp:lr2]``,
    ``ALT[cp:la2]``. Case B (``new_pos0`` the anchor): a deletion is ``seq[anchor: anchor + 1 + L]`` -> the
    anchor base; an insertion of length ``L`` shifted by ``k`` is the anchor -> the anchor, then
    ``seq[anchor + 1: anchor + 1 + min(k, L)]`` (contiguous with it), then ``ALT[:L - min(k, L)]`` (the
    inserted sequence rotated)."""
    zero = np.zeros(n, dtype=np.int64)
    r_off, r_buf = _offsets(ref.cast(pa.large_string()))
    a_off, a_buf = _offsets(alt.cast(pa.large_string()))
    ins = b_ch & ~dele
    kk = np.minimum(k, L)
    anchor = np.where(b_ch, new_pos0, 0)
    new_ref = _gather(n, [(r_buf, r_off + cp, np.where(a_ch, lr2 - cp, zero)),
                          (seq, anchor, np.where(b_ch & dele, L + 1, np.where(ins, 1, zero)))])
    new_alt = _gather(n, [(a_buf, a_off + cp, np.where(a_ch, la2 - cp, zero)),
                          (seq, anchor, np.where(b_ch & dele, 1, np.where(ins, 1 + kk, zero))),
                          (a_buf, a_off, np.where(ins, L - kk, zero))])
    return new_ref, new_alt


def _ref_matches(pos0: np.ndarray, R: np.ndarray, lr: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Rows whose REF equals the reference at ``pos0``."""
    ok = np.ones(len(pos0), dtype=bool)
    nseq = len(seq)
    for j in range(int(min(MAX_ALLELE, lr.max(initial=0)))):
        v = lr > j
        p = np.minimum(pos0 + j, nseq - 1)
        ok &= ~v | (seq[p] == R[:, j])
    return ok


def _common_suffix(R: np.ndarray, lr: np.ndarray, A: np.ndarray, la: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Length of the common suffix of REF and ALT (0 where not ``ok``)."""
    rows = np.arange(len(lr))
    cs = np.zeros(len(lr), dtype=np.int64)
    active = ok.copy()
    mn = np.minimum(lr, la)
    for j in range(int(mn.max(initial=0))):
        ir, ia = np.maximum(lr - 1 - j, 0), np.maximum(la - 1 - j, 0)
        active &= (j < mn) & (R[rows, ir] == A[rows, ia])
        if not active.any():
            break
        cs += active
    return cs


def _trim_prefix(a_case, pos0, R, A, lr2, la2, cs, new_pos0, changed) -> np.ndarray:
    """Case A rows: drop the common suffix ``cs`` and the common prefix (one base kept). Sets ``new_pos0`` and
    ``changed``; returns the common prefix length dropped (REF/ALT keep ``[cp, lr2)`` / ``[cp, la2)``)."""
    lim = np.minimum(lr2, la2) - 1
    cp = np.zeros(len(pos0), dtype=np.int64)
    active = a_case.copy()
    for j in range(int(lim.max(initial=0)) if a_case.any() else 0):
        active &= (j < lim) & (R[:, j] == A[:, j])
        if not active.any():
            break
        cp += active
    ch = a_case & ((cp > 0) | (cs > 0))
    new_pos0[ch] = pos0[ch] + cp[ch]
    changed |= ch
    return cp


def _offsets(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(start byte of each string in the data buffer, the buffer as uint8) of a large_string array."""
    off = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return off[:-1], (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, np.uint8))


def _gather(n: int, pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> pa.Array:
    """``n`` strings, each the concatenation of its slices ``src[start:start + length]`` of ``pieces``
    (``(src, start, length)`` with per-row arrays; length 0 adds nothing), without a Python loop."""
    lens = sum(p[2] for p in pieces)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    at = offsets[:-1].copy()
    for src, start, length in pieces:
        tot = int(length.sum())
        if tot:
            ramp = np.arange(tot) - np.repeat(np.cumsum(length) - length, length)
            out[np.repeat(at, length) + ramp] = src[np.repeat(start, length) + ramp]
        at += length
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out)).cast(pa.string())


def _shift_left(b_case, pos0, A, lr, la, seq, new_pos0, changed) -> tuple[np.ndarray, np.ndarray]:
    """Case B rows (a pure deletion or insertion of sequence ``S``): shift left while the base before the
    boundary equals the last base of ``S`` (rotating ``S``), then anchor on the base before. Sets ``new_pos0``
    and ``changed`` of the rows decided; returns (the rows left undecided: a shift past :data:`MAX_SHIFT`, or one
    reaching the contig start, where bcftools' telomere rule goes per record; the shift of each row)."""
    n, nseq = len(pos0), len(seq)
    undecided = np.zeros(n, dtype=bool)
    dele = b_case & (la < lr)
    L = np.abs(lr - la)
    x = pos0
    k = np.zeros(n, dtype=np.int64)
    act = np.flatnonzero(b_case)  # rows still shifting: each step works on those only
    j = 0
    while len(act):
        if j >= MAX_SHIFT:
            undecided[act] = True
            break
        xa, la_ = x[act], L[act]
        before = xa - 1 - j
        bi = np.maximum(before, 0)
        # last base of the (rotated) indel sequence at step j
        last_del = seq[np.clip(xa + la_ - 1 - j, 0, nseq - 1)]
        jl = np.clip(la_ - 1 - j, 0, MAX_ALLELE - 1)
        last_ins = np.where(j < la_, A[act, jl], seq[np.clip(xa - 1 - j + la_, 0, nseq - 1)])
        last = np.where(dele[act], last_del, last_ins)
        act = act[(before >= 0) & (seq[bi] == last)]
        k[act] += 1
        j += 1
    xn = x - k
    undecided |= b_case & (xn - 1 < 0)
    b_ok = b_case & ~undecided
    new_pos0[b_ok] = xn[b_ok] - 1
    changed |= b_ok
    return undecided, k

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

    ``pos0`` is 0-based; ``new_ref``/``new_alt`` are Python lists holding strings for changed rows (None
    elsewhere). Only rows with ``ok`` are decided; the caller sends the others to the per-record path.
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
    new_ref: list = [None] * n
    new_alt: list = [None] * n
    mn = np.minimum(lr, la)
    # A: both alleles keep bases after the suffix is dropped -> trim the common prefix (>= 1 base left)
    _trim_prefix(ok & (cs < mn), pos0, ref, alt, R, A, lr - cs, la - cs, cs, new_pos0, new_ref, new_alt, changed)
    # B: a pure deletion or insertion -> shift left through the reference
    b_case = ok & (cs >= mn)
    if b_case.any():
        ok &= ~_shift_left(b_case, pos0, alt, A, lr, la, seq, seq_str, new_pos0, new_ref, new_alt, changed)
    return ok, changed, new_pos0, new_ref, new_alt


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


def _trim_prefix(a_case, pos0, ref, alt, R, A, lr2, la2, cs, new_pos0, new_ref, new_alt, changed) -> None:
    """Case A rows: drop the common suffix ``cs`` and the common prefix (one base kept); fills the outputs."""
    lim = np.minimum(lr2, la2) - 1
    cp = np.zeros(len(pos0), dtype=np.int64)
    active = a_case.copy()
    for j in range(int(lim.max(initial=0)) if a_case.any() else 0):
        active &= (j < lim) & (R[:, j] == A[:, j])
        if not active.any():
            break
        cp += active
    ch = a_case & ((cp > 0) | (cs > 0))
    if ch.any():
        refs, alts = ref.to_pylist(), alt.to_pylist()
        for i in np.flatnonzero(ch):
            new_ref[i] = refs[i][cp[i]: lr2[i]]
            new_alt[i] = alts[i][cp[i]: la2[i]]
        new_pos0[ch] = pos0[ch] + cp[ch]
        changed |= ch


def _shift_left(b_case, pos0, alt, A, lr, la, seq, seq_str, new_pos0, new_ref, new_alt, changed) -> np.ndarray:
    """Case B rows (a pure deletion or insertion of sequence ``S``): shift left while the base before the
    boundary equals the last base of ``S`` (rotating ``S``), then anchor on the base before. Fills the outputs
    of the rows decided; returns the rows left undecided (a shift past :data:`MAX_SHIFT`, or one reaching the
    contig start: bcftools' telomere rule goes per record)."""
    n, nseq = len(pos0), len(seq)
    undecided = np.zeros(n, dtype=bool)
    dele = b_case & (la < lr)
    ins = b_case & (lr < la)
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
    alts_l = alt.to_pylist() if ins.any() else None
    for i in np.flatnonzero(b_ok):
        xi, li = int(xn[i]), int(L[i])
        anchor = seq_str[xi - 1]
        if dele[i]:
            new_ref[i] = seq_str[xi - 1: xi + li]
            new_alt[i] = anchor
        else:
            kk = int(k[i])
            s_ins = (seq_str[xi: xi + kk] + alts_l[i][:li])[:li]
            new_ref[i] = anchor
            new_alt[i] = anchor + s_ins
    new_pos0[b_ok] = xn[b_ok] - 1
    changed |= b_ok
    return undecided

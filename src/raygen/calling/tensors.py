"""DeepVariant-style pileup tensors: reads x window x channels around each candidate, plus site features.

Tensor layout ``[N, C, H, W]`` (float32): ``H = max_reads`` rows of reads overlapping the candidate
(deterministically subsampled when deeper, kept in start order), ``W = window`` columns centred on the
candidate's first base (0-based column ``W // 2``). Channels, all 0 where a read has no aligned base:

0 read base (A .25, C .5, G .75, T 1)  1 base quality / 40  2 mapping quality / 60  3 strand (+1 fwd, -1 rev)
4 read supports the candidate ALT (+1) or not (-1)  5 base differs from the reference  6 reference base
(every row)  7 indel in the read anchored at this column (+1 insertion, -1 deletion)

Site features ``[N, N_SITE]``: is-indel, length change, log depth, re-scored VAF, log REF/ALT counts and the
classical genotyper's three posteriors, so the network refines the Bayesian call rather than starting
from nothing; the network also reads the evidence features of :mod:`raygen.calling.features`.
"""

from __future__ import annotations

import numpy as np

from raygen.calling.candidates import Candidate, Pileup
from raygen.calling.features import N_EVIDENCE
from raygen.config import CallConfig

#: Columns of :func:`site_features`; the CNN's feature input adds the evidence features after them.
N_SITE = 9
N_FEATURES = N_SITE + N_EVIDENCE


def site_features(cands: list[Candidate], log_posts: list[np.ndarray]) -> np.ndarray:
    """``[N, N_SITE]`` float32 candidate-level features (see module doc)."""
    out = np.zeros((len(cands), N_SITE), dtype=np.float32)
    for i, (c, lp) in enumerate(zip(cands, log_posts)):
        inf = c.ref_count + c.alt_count
        post = np.exp(lp - np.logaddexp.reduce(lp))
        out[i] = [float(c.is_indel), np.clip(len(c.alt) - len(c.ref), -10, 10) / 10.0, np.log1p(c.depth) / 5.0,
                  c.alt_count / inf if inf else 0.0, np.log1p(c.ref_count) / 5.0, np.log1p(c.alt_count) / 5.0,
                  post[0], post[1], post[2]]
    return out


def pileup_tensors(p: Pileup, cands: list[Candidate], cfg: CallConfig, supports: list[set[int] | None] | None = None) -> np.ndarray:
    """``[N, C, H, W]`` tensors for ``cands``. ``supports[i]``: read indices carrying candidate i's ALT
    (from haplotype re-scoring); None falls back to the read's base (SNV) or its CIGAR indel (indel)."""
    H, W, C = cfg.max_reads, cfg.window, cfg.tensor_channels
    out = np.zeros((len(cands), C, H, W), dtype=np.float32)
    if not len(p.read_start):
        return out
    max_span = int((p.read_end - p.read_start).max())
    by_anchor: dict[int, list[tuple[int, float]]] = {}
    for (a0, r, a), reads in p.indel_reads.items():
        sign = 1.0 if len(a) > len(r) else -1.0
        by_anchor.setdefault(a0, []).extend((rd, sign) for rd in reads)
    half = W // 2
    for n, c in enumerate(cands):
        ws = c.pos0 - half
        hi = int(np.searchsorted(p.read_start, c.pos0, side="right"))
        lo = int(np.searchsorted(p.read_start, c.pos0 - max_span, side="left"))
        rids = np.arange(lo, hi)
        rids = rids[p.read_end[rids] > c.pos0]
        if len(rids) == 0:
            continue
        if len(rids) > H:
            rids = rids[np.linspace(0, len(rids) - 1, H).round().astype(np.int64)]
        row_of = np.full(hi - lo, -1, dtype=np.int64)
        row_of[rids - lo] = np.arange(len(rids))
        e0, e1 = int(p.read_offset[lo]), int(p.read_offset[hi])
        pos = p.pos[e0:e1]
        rd = p.read[e0:e1].astype(np.int64)
        m = (pos >= ws) & (pos < ws + W)
        rows = row_of[rd[m] - lo]
        keep = rows >= 0
        rows = rows[keep]
        cols = (pos[m] - ws)[keep]
        idx = np.nonzero(m)[0][keep] + e0
        base = p.base[idx]
        rsel = p.read[idx]
        t = out[n]
        t[0, rows, cols] = np.where(base < 4, (base.astype(np.float32) + 1) / 4.0, 0.0)
        t[1, rows, cols] = np.minimum(p.qual[idx], 40) / 40.0
        t[2, rows, cols] = np.minimum(p.read_mapq[rsel], 60) / 60.0
        t[3, rows, cols] = np.where(p.read_reverse[rsel], -1.0, 1.0)
        # Windows can hang over the contig start: those columns read as N.
        ri = np.arange(ws, ws + W) - p.ref_start0
        ok = (ri >= 0) & (ri < len(p.ref_codes))
        refw = np.full(W, 4, dtype=np.uint8)
        refw[ok] = p.ref_codes[ri[ok]]
        t[5, rows, cols] = (base != refw[cols]).astype(np.float32)
        t[6, :, :] = np.where(refw < 4, (refw.astype(np.float32) + 1) / 4.0, 0.0)[None, :]
        sup = supports[n] if supports is not None else None
        if sup is None:
            if c.is_indel:
                sup = set(p.indel_reads.get((c.pos0, c.ref, c.alt), ()))
            else:
                alt = "ACGT".index(c.alt)
                at = (pos[m][keep] == c.pos0) & (base == alt)
                sup = set(rsel[at].tolist())
        sup_row = np.full(H, -1.0, dtype=np.float32)
        sup_row[: len(rids)] = [1.0 if r in sup else -1.0 for r in rids.tolist()]
        covered = t[1] > 0
        t[4] = np.where(covered, sup_row[:, None], 0.0)
        for col in range(W):
            for r, sign in by_anchor.get(ws + col, ()):
                if lo <= r < hi and row_of[r - lo] >= 0:
                    t[7, row_of[r - lo], col] = sign
    return out

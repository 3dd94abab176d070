"""Haplotype re-scoring of reads around indel candidates (a light form of local realignment).

Aligners often write a read that carries an indel near its end as mismatches or a soft clip, which makes
a hom-alt indel look het and leaves clusters of false SNVs beside it. For each indel site we build the
reference haplotype and one haplotype per candidate indel allele over a window that spans the repeat
tract, anchor every read on the side where its alignment is trustworthy (the flank outside the window),
and score it ungapped against each haplotype (sum of mismatching base qualities, soft-clipped bases
included). A read supports the haplotype that beats all others by ``margin``; the other reads are
uninformative. SNV candidates inside the window are re-counted by projecting each read's bases through
its haplotype, so mismatches that only come from misalignment disappear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygen.calling.candidates import Candidate, Pileup, encode
from raygen.calling.repeats import repeat_span

FLANK = 20  # bp of unique-ish sequence each side of the repeat tract
MIN_FLANK = 4  # bp the window keeps each side of the site when a neighbouring indel shortens its flank
MARGIN = 15.0  # Phred units a haplotype must win by for the read to count
MAX_QUAL = 40


@dataclass
class SiteAssignment:
    """Per-read haplotype assignment at one indel site (index 0 = reference haplotype)."""

    start0: int  # window start (0-based ref)
    haps: list[np.ndarray]  # base codes per haplotype
    alleles: list[tuple[str, str]]  # (ref, alt) per non-reference haplotype, in haps[1:] order
    anchor0: int
    reads: np.ndarray  # read indices considered
    hap: np.ndarray  # assigned haplotype per read, -1 = uninformative
    seg_start: np.ndarray  # query index aligned to haplotype index 0 (may be negative: read starts later)
    core_end0: int = -1  # end (exclusive, 0-based ref) of the alleles' repeat tract; [anchor0, core_end0) is the core


def _query_at(p: Pileup, r: int, x: int, left: bool) -> int | None:
    """Query index of read ``r`` at ref ``x``, extrapolating from the nearest aligned base on the anchor side."""
    a, b = int(p.read_offset[r]), int(p.read_offset[r + 1])
    if a == b:
        return None
    pos = p.pos[a:b]
    i = int(np.searchsorted(pos, x))
    if i < b - a and pos[i] == x:
        return int(p.qpos[a + i]) - int(p.read_qoff[r])
    if left:
        j = i - 1 if i > 0 else 0
    else:
        j = i if i < b - a else b - a - 1
    return int(p.qpos[a + j]) - int(p.read_qoff[r]) + (x - int(pos[j]))


def assign_site(p: Pileup, anchor0: int, alleles: list[tuple[str, str]],
                neighbours: list[tuple[int, str, str]] = ()) -> SiteAssignment:
    """Score every read overlapping the site against REF and each ``(ref, alt)`` indel allele at ``anchor0``.

    ``neighbours``: other indel candidates ``(anchor0, ref, alt)`` nearby. The window's flanks stop short of
    them (keeping at least :data:`MIN_FLANK` bp): an indel the haplotypes do not carry, inside a flank, shifts
    every read that has it, and in a repeat the shifted read can fit the reference haplotype better (a hom-alt
    deletion 22 bp from another read as 17 REF reads of 18)."""
    longest_ref = max(len(r) for r, _ in alleles)
    unit_tract = 0
    for r, a in alleles:
        unit = r[1:] if len(r) > len(a) else a[1:]
        unit_tract = max(unit_tract, repeat_span(p.ref_seq, anchor0 + 1 - p.ref_start0, unit))
    hp = repeat_span(p.ref_seq, anchor0 + 1 - p.ref_start0, p.ref_seq[anchor0 + 1 - p.ref_start0])
    w0 = max(anchor0 - FLANK, p.ref_start0)  # near a contig start the window cannot reach further left
    core1 = anchor0 + longest_ref + max(unit_tract, hp)
    w1 = core1 + FLANK
    for a2, r2, _ in neighbours:
        if a2 >= core1:  # right of the tract: stop before its first changed base
            w1 = min(w1, max(a2 + 1, core1 + MIN_FLANK))
        elif a2 + len(r2) <= anchor0:  # left of the site: start after its last changed base
            w0 = max(w0, min(a2 + len(r2), anchor0 - MIN_FLANK))
    rs = p.ref_start0
    href = p.ref_seq[w0 - rs:w1 - rs]
    haps_s = [href] + [p.ref_seq[w0 - rs:anchor0 + 1 - rs] + a[1:] + p.ref_seq[anchor0 + len(r) - rs:w1 - rs] for r, a in alleles]
    haps = [encode(h) for h in haps_s]
    order = np.nonzero((p.read_start < w1) & (p.read_end > w0))[0]
    hap = np.full(len(order), -1, dtype=np.int64)
    seg = np.zeros(len(order), dtype=np.int64)
    for k, r in enumerate(order.tolist()):
        q_lo, q_hi = int(p.read_qoff[r]), int(p.read_qoff[r + 1])
        bases = p.query_base[q_lo:q_hi]
        quals = np.minimum(p.query_qual[q_lo:q_hi], MAX_QUAL).astype(np.float64)
        # A read spanning the whole window is scored from both flanks, and the flank it fits better wins:
        # another variant of its haplotype in one flank (an indel 20 bp away) shifts that anchor, and from
        # there it would fit no haplotype and count for neither allele.
        tries = [t for t in (_score_left(p, r, w0, haps, bases, quals) if p.read_start[r] <= w0 else None,
                             _score_right(p, r, w1, haps, bases, quals) if p.read_end[r] >= w1 else None)
                 if t is not None]
        if not tries:
            continue
        sc, starts = min(tries, key=lambda t: float(t[0].min()))
        best = int(np.argmin(sc))
        second = np.partition(sc, 1)[1] if len(sc) > 1 else np.inf
        if second - sc[best] >= MARGIN:
            hap[k] = best
            seg[k] = starts[best]
    _one_per_fragment(p, order, hap)
    return SiteAssignment(w0, haps, alleles, anchor0, order, hap, seg, core1)


def _one_per_fragment(p: Pileup, order: np.ndarray, hap: np.ndarray) -> None:
    """Overlapping mates (:attr:`Pileup.read_mate`) are one fragment: where both were assigned, the mate whose
    bases were dropped is unassigned if they agree (its keeper counts, as for bases), and both if they
    disagree (in place; ``hap`` -1 = unassigned)."""
    if not len(p.read_mate) or not len(order):
        return
    keeper = p.read_mate[order]
    k_drop = np.flatnonzero((keeper >= 0) & (hap >= 0))
    if not len(k_drop):
        return
    where = {int(r): k for k, r in enumerate(order.tolist())}
    for kd in k_drop.tolist():
        kk = where.get(int(keeper[kd]))
        if kk is not None and hap[kk] >= 0:
            if hap[kk] != hap[kd]:
                hap[kk] = -1
            hap[kd] = -1


def _score_left(p: Pileup, r: int, w0: int, haps: list[np.ndarray], bases: np.ndarray, quals: np.ndarray
                ) -> tuple[np.ndarray, list[int]] | None:
    """Read ``r`` anchored at window start ``w0``: mismatching base qualities per haplotype, and the query
    index aligned to each haplotype's index 0 (None: not scorable)."""
    q0 = _query_at(p, r, w0, left=True)
    if q0 is None:
        return None
    scores = []
    for h in haps:
        n = min(len(h), len(bases) - q0)
        if n <= 0:
            return None
        scores.append(float(quals[q0:q0 + n][bases[q0:q0 + n] != h[:n]].sum()))
    return np.asarray(scores), [q0] * len(haps)


def _score_right(p: Pileup, r: int, w1: int, haps: list[np.ndarray], bases: np.ndarray, quals: np.ndarray
                 ) -> tuple[np.ndarray, list[int]] | None:
    """Read ``r`` anchored at window end ``w1`` (exclusive): as :func:`_score_left`, from the right."""
    q1 = _query_at(p, r, w1 - 1, left=False)
    if q1 is None:
        return None
    q1 += 1
    scores, starts = [], []
    for h in haps:
        n = min(len(h), q1)
        if n <= 0 or q1 > len(bases):
            return None
        scores.append(float(quals[q1 - n:q1][bases[q1 - n:q1] != h[len(h) - n:]].sum()))
        starts.append(q1 - len(h))
    return np.asarray(scores), starts


def hap_index(a: SiteAssignment, h: int, x: int) -> int | None:
    """Index in haplotype ``h`` of reference position ``x`` (None when ``x`` is deleted on it)."""
    k = x - a.start0
    if h == 0 or x <= a.anchor0:
        return k
    r, alt = a.alleles[h - 1]
    d = len(alt) - len(r)
    if d < 0 and x < a.anchor0 + len(r):
        return None
    return k + d


def recount_snv(p: Pileup, a: SiteAssignment, c: Candidate) -> tuple[Candidate, np.ndarray, np.ndarray]:
    """Re-count an SNV inside an indel window through the reads' haplotypes.

    A read the indel site left uninformative (it fits no haplotype by the margin: it ends inside the repeat,
    or spans neither flank) keeps its aligned base at an SNV in the window's flanks, outside the repeat core
    where the haplotypes differ: it says nothing against its alignment there, and dropping it left an SNV
    17 bp past a 48 bp STR holding an insertion with no read at all (AD 0/0; bcftools 2/6). Inside the core
    its alignment is what the re-scoring could not settle, and it stays out.

    Returns the updated candidate and, per informative read, its base code and error probability.
    """
    bases_out, errs = [], []
    alt_code = "ACGT".index(c.alt)
    for k, r in enumerate(a.reads.tolist()):
        h = int(a.hap[k])
        q_lo, q_hi = int(p.read_qoff[r]), int(p.read_qoff[r + 1])
        if h < 0:
            if a.anchor0 <= c.pos0 < a.core_end0:
                continue
            e_lo, e_hi = int(p.read_offset[r]), int(p.read_offset[r + 1])
            j = e_lo + int(np.searchsorted(p.pos[e_lo:e_hi], c.pos0))
            if j >= e_hi or int(p.pos[j]) != c.pos0:
                continue  # deleted there, or outside the read's aligned bases
            qi = int(p.qpos[j]) - q_lo
        else:
            i = hap_index(a, h, c.pos0)
            if i is None:
                continue
            qi = int(a.seg_start[k]) + i
        if not 0 <= qi < q_hi - q_lo:
            continue
        b = int(p.query_base[q_lo + qi])
        q = int(p.query_qual[q_lo + qi])
        if b > 3 or q < 10:
            continue
        bases_out.append(b)
        e_bq = 10 ** (-min(q, MAX_QUAL) / 10)
        e_mq = 10 ** (-min(int(p.read_mapq[r]), 60) / 10)
        errs.append(e_bq + e_mq - e_bq * e_mq)
    bs, es = np.asarray(bases_out, dtype=np.int64), np.asarray(errs)
    ref_code = "ACGT".index(c.ref)
    n_ref, n_alt = int((bs == ref_code).sum()), int((bs == alt_code).sum())
    c2 = Candidate(c.pos0, c.ref, c.alt, len(bs), n_ref, n_alt, c.alt_reverse)
    return c2, bs, es


def snv_loglik(bs: np.ndarray, es: np.ndarray, ref_code: int, alt_code: int) -> np.ndarray:
    """Log-likelihoods under 0/0, 0/1, 1/1 from per-read base codes and error probabilities."""
    es = np.clip(es, 1e-6, 0.75)

    def p_base(a: int) -> np.ndarray:
        return np.where(bs == a, 1.0 - es, es / 3.0)

    pr, pa = p_base(ref_code), p_base(alt_code)
    return np.array([np.log(pr).sum(), np.log(0.5 * pr + 0.5 * pa).sum(), np.log(pa).sum()])

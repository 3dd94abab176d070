"""Haplotype-aware matching of normalized truth and query variants, as vcfeval (and hap.py with it) does.

Input is two lists of :class:`raygen.eval.concordance.Allele` (normalized biallelic alleles; ``pos``
1-based, an allele covers the reference's 0-based half-open ``[pos - 1, pos - 1 + len(ref))``) and a
``fetch(chrom, start0, end0) -> str`` over the reference. Pure functions over plain data; no I/O.

1. **Exact pass** (the fast path, and the whole of ``matching="allele"``): alleles with the same
   ``(chrom, pos, ref, alt)`` on both sides match; their genotypes agree when the zygosities do.
2. **Clusters**: the alleles left on both sides are sorted by start and chained while the next one starts
   within ``window`` bp of the end of the cluster so far.
3. **Allele level** (ploidy squashed): in a cluster with alleles on both sides, the largest subsets of truth
   and query alleles (most alleles in total) whose application to the reference gives the same sequence,
   other than the reference itself, match. Alleles that overlap on one side cannot be applied together.
   Every subset of each side is tried (``2 ** n``), so a cluster with more than ``max_side`` alleles on
   either side is not searched: its alleles stay unmatched as the exact pass left them, and it is counted
   (``clusters_over_cap``). The exact pairs within ``window`` bp of a cluster (one-sided ones too) are
   replayed with it, and that result is kept when it matches more alleles than the exact pairs and the
   cluster alone do (``exact_pairs_rematched``): the exact pass may have taken an allele that the best
   combination needs.
   Alleles of one side that overlap (a 1/2 site) are matched one by one by the exact pass but cannot both be
   applied in a replay.
4. **Genotype level**: inside the allele-level matched subsets of a cluster, the largest subsets whose
   diploid genotypes are equal: the pair of haplotypes ``{h0, h1}`` (hom-alt alleles on both, each het on
   one, every phasing tried: the data are taken as unphased). Matched alleles outside them are genotype
   mismatches. More than ``max_genotype_side`` matched alleles on a side (``3 ** n`` assignments), or an
   allele of unknown zygosity, leaves the cluster's genotypes uncompared (``genotype_not_compared``).

A truth allele matched in a cluster takes as its score the lowest QUAL among the query alleles it was
matched with (None when any is missing), so a QUAL threshold recovers it only when all of them pass.
Alleles whose REF disagrees with the reference, or whose contig the reference lacks, are left to the
exact pass (``not_replayable``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from bisect import bisect_left
from itertools import combinations

Fetch = Callable[[str, int, int], str]

#: ``matching=`` / ``--matching`` values: vcfeval-style replay after the exact pass, or the exact pass alone.
MATCHING = ("haplotype", "allele")


@dataclass
class MatchResult:
    """Per-allele outcome of a matching, indexed like the truth and query lists it was computed from.

    ``*_tp``: matched (allele level); ``*_gt``: genotype agrees (True/False) or was not compared (None);
    ``truth_score``: QUAL of the query alleles that recover the truth allele (the weakest of them);
    ``gt_pairs``: (truth index, query index) of genotype mismatches (in a cluster: the nearest mismatched
    query allele of the same cluster); ``stats``: what the matching did (counts, for the report).
    """

    truth_tp: list[bool]
    query_tp: list[bool]
    truth_gt: list[bool | None]
    query_gt: list[bool | None]
    truth_score: list[float | None]
    gt_pairs: list[tuple[int, int]] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    pairs: dict[int, int] = field(default_factory=dict)  # the exact pass's truth -> query index (still standing)


def _span(a) -> tuple[int, int]:
    return a.pos - 1, a.pos - 1 + len(a.ref)


def exact_pass(truth: Sequence, query: Sequence) -> MatchResult:
    """Match alleles with equal ``key`` on both sides; the zygosities decide the genotype (0: unknown)."""
    qidx = {a.key: i for i, a in enumerate(query)}
    res = MatchResult([False] * len(truth), [False] * len(query), [None] * len(truth), [None] * len(query),
                      [None] * len(truth))
    for ti, t in enumerate(truth):
        qi = qidx.get(t.key)
        if qi is None:
            continue
        q = query[qi]
        gt = (t.zyg == q.zyg) if t.zyg and q.zyg else None
        res.truth_tp[ti] = res.query_tp[qi] = True
        res.pairs[ti] = qi
        res.truth_gt[ti] = res.query_gt[qi] = gt
        res.truth_score[ti] = q.qual
        if gt is False:
            res.gt_pairs.append((ti, qi))
    res.stats = {"matching": "allele", "exact_tp": sum(res.truth_tp)}
    return res


def clusters(truth: Sequence, query: Sequence, t_idx: Sequence[int], q_idx: Sequence[int],
             window: int) -> list[tuple[list[int], list[int]]]:
    """Chains of alleles (truth indices, query indices), sorted by start: the next allele joins when it lies
    on the same contig and starts less than ``window`` bp after the end of the cluster so far."""
    items = sorted([(truth[i].chrom, *_span(truth[i]), 0, i) for i in t_idx]
                   + [(query[i].chrom, *_span(query[i]), 1, i) for i in q_idx])
    out: list[tuple[list[int], list[int]]] = []
    chrom, end = None, -1
    for c, s, e, side, i in items:
        if c != chrom or s >= end + window:
            out.append(([], []))
            chrom, end = c, e
        out[-1][side].append(i)
        end = max(end, e)
    return out


def _edit(a) -> tuple[int, int, str]:
    """0-based half-open reference interval an allele replaces and what it puts there: an indel's shared
    padding base is dropped, so an insertion is empty at the base after its anchor and an SNV on the anchor
    can share a haplotype with it (as VCF writes them: two records at one POS)."""
    s, e = _span(a)
    if len(a.ref) != len(a.alt) and a.ref[:1] == a.alt[:1]:
        return s + 1, e, a.alt[1:]
    return s, e, a.alt


def apply(seg: str, seg_start: int, alleles: Sequence) -> str | None:
    """``seg`` (reference from 0-based ``seg_start``) with the alleles applied; None when two overlap (or
    two insertions fall at the same point: their order is unknown)."""
    parts, at, ins_at = [], seg_start, None
    for s, e, alt in sorted(_edit(a) for a in alleles):
        if s < at or (s == e and s == ins_at):
            return None
        parts.append(seg[at - seg_start:s - seg_start])
        parts.append(alt)
        at, ins_at = e, (s if s == e else None)
    parts.append(seg[at - seg_start:])
    return "".join(parts)


def _subsets(n: int):
    """Index tuples of every subset of ``range(n)``, largest first."""
    for k in range(n, -1, -1):
        yield from combinations(range(n), k)


def best_allele_match(seg: str, seg_start: int, tv: Sequence, qv: Sequence) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Largest subsets (most alleles in total) of ``tv`` and ``qv`` whose applied sequences are equal, as
    index tuples; both empty when nothing but the reference itself is shared. A subset whose application
    gives back the reference (an insertion and the deletion that undoes it) matches nothing."""
    by_seq: dict[str, tuple[int, ...]] = {}
    for sub in _subsets(len(tv)):  # largest first: the first subset seen for a sequence is its largest
        h = apply(seg, seg_start, [tv[i] for i in sub])
        if h is not None and h != seg and h not in by_seq:
            by_seq[h] = sub
    best: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    for sub in _subsets(len(qv)):
        if len(sub) + len(tv) <= sum(map(len, best)):
            break  # no remaining query subset can beat the best total
        h = apply(seg, seg_start, [qv[i] for i in sub])
        t = by_seq.get(h) if h is not None else None
        if t is not None and len(t) + len(sub) > sum(map(len, best)):
            best = (t, sub)
    return best


def _diplotypes(seg: str, seg_start: int, vs: Sequence, sub: tuple[int, ...]):
    """Every unordered haplotype pair of the alleles ``sub`` of ``vs`` (hom on both, hets phased every way;
    the first het fixed on haplotype 0, since the pair is unordered)."""
    homs = [vs[i] for i in sub if vs[i].zyg == 2]
    hets = [vs[i] for i in sub if vs[i].zyg != 2]
    for mask in range(1 << max(0, len(hets) - 1)):
        h0 = homs + [v for j, v in enumerate(hets) if j == 0 or not (mask >> (j - 1)) & 1]
        h1 = homs + [v for j, v in enumerate(hets) if j > 0 and (mask >> (j - 1)) & 1]
        a, b = apply(seg, seg_start, h0), apply(seg, seg_start, h1)
        if a is not None and b is not None:
            yield (a, b) if a <= b else (b, a)


def best_genotype_match(seg: str, seg_start: int, tv: Sequence,
                        qv: Sequence) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Largest subsets of ``tv`` and ``qv`` (alleles with zygosity 1 or 2) with equal diploid genotypes."""
    by_pair: dict[tuple[str, str], tuple[int, ...]] = {}
    for sub in _subsets(len(tv)):
        for pair in _diplotypes(seg, seg_start, tv, sub):
            if pair != (seg, seg):
                by_pair.setdefault(pair, sub)
    best: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    for sub in _subsets(len(qv)):
        if len(sub) + len(tv) <= sum(map(len, best)):
            break
        for pair in _diplotypes(seg, seg_start, qv, sub):
            t = by_pair.get(pair)
            if t is not None and len(t) + len(sub) > sum(map(len, best)):
                best = (t, sub)
    return best


def _replayable(a, fetch: Fetch, contigs) -> bool:
    s, e = _span(a)
    return a.chrom in contigs and fetch(a.chrom, s, e).upper() == a.ref.upper()


def match_haplotypes(truth: Sequence, query: Sequence, fetch: Fetch, contigs, *, window: int = 30,
                     max_side: int = 12, max_genotype_side: int = 8) -> MatchResult:
    """The exact pass, then allele- and genotype-level replay of the clusters of what it left (see the
    module docstring). ``contigs``: the reference's contig names (a container)."""
    res = exact_pass(truth, query)
    st = res.stats
    st.update(matching="haplotype", window=window, max_side=max_side, clusters=0, clusters_replayed=0,
              haplotype_tp_truth=0, haplotype_tp_query=0, exact_pairs_rematched=0, clusters_over_cap=0,
              alleles_over_cap=0, genotype_not_compared=0, not_replayable=0)
    t_left = [i for i, m in enumerate(res.truth_tp) if not m and _replayable(truth[i], fetch, contigs)]
    q_left = [i for i, m in enumerate(res.query_tp) if not m and _replayable(query[i], fetch, contigs)]
    st["not_replayable"] = (res.truth_tp.count(False) - len(t_left)) + (res.query_tp.count(False) - len(q_left))
    near = _ExactPairs(truth, res.pairs)
    for ti, qi in clusters(truth, query, t_left, q_left, window):
        st["clusters"] += 1
        if len(ti) > max_side or len(qi) > max_side:
            if ti and qi:
                st["clusters_over_cap"] += 1
                st["alleles_over_cap"] += len(ti) + len(qi)
            continue
        seg, start, mt, mq = _solve(truth, query, ti, qi, fetch) if ti and qi else ("", 0, (), ())
        # Exact pairs next to the cluster join it when the replay of all together matches more: the exact
        # pass may have taken a query allele that the best combination needs (vcfeval has no such pass).
        members = [truth[i] for i in ti] + [query[i] for i in qi]
        lo, hi = min(_span(a)[0] for a in members) - window, max(_span(a)[1] for a in members) + window
        et = [t for t in near.around(members[0].chrom, lo, hi)
              if t in res.pairs and _replayable(truth[t], fetch, contigs)]  # not taken by an earlier cluster
        eq = [res.pairs[t] for t in et]
        if et and len(ti) + len(et) <= max_side and len(qi) + len(eq) <= max_side:
            seg2, start2, mt2, mq2 = _solve(truth, query, ti + et, qi + eq, fetch)
            if len(mt2) + len(mq2) > len(mt) + len(mq) + 2 * len(et):
                for t, q in zip(et, eq):
                    _unmatch(res, t, q)
                st["exact_pairs_rematched"] += len(et)
                ti, qi, seg, start, mt, mq = ti + et, qi + eq, seg2, start2, mt2, mq2
        elif not (ti and qi):
            continue
        st["clusters_replayed"] += 1
        if mt and mq:
            _mark(truth, query, ti, qi, seg, start, mt, mq, res, max_genotype_side)
    st["haplotype_tp_truth"] = sum(res.truth_tp) - st["exact_tp"]
    st["haplotype_tp_query"] = sum(res.query_tp) - st["exact_tp"]
    return res


class _ExactPairs:
    """The exact pass's matched truth alleles by contig and start, for the ones next to a cluster."""

    def __init__(self, truth: Sequence, pairs: dict[int, int]):
        self.by_chrom: dict[str, tuple[list[int], list[int]]] = {}
        for t in sorted(pairs, key=lambda i: (truth[i].chrom, truth[i].pos)):
            starts, idx = self.by_chrom.setdefault(truth[t].chrom, ([], []))
            starts.append(truth[t].pos - 1)
            idx.append(t)

    def around(self, chrom: str, lo: int, hi: int) -> list[int]:
        """Exact-matched truth indices whose 0-based start lies in ``[lo, hi)`` on ``chrom``."""
        starts, idx = self.by_chrom.get(chrom, ([], []))
        return idx[bisect_left(starts, lo):bisect_left(starts, hi)]


def _unmatch(res: MatchResult, t: int, q: int) -> None:
    """Undo an exact pair (its alleles join a replay); ``res.pairs`` keeps the pairs still standing."""
    del res.pairs[t]
    res.truth_tp[t] = res.query_tp[q] = False
    res.truth_gt[t] = res.query_gt[q] = None
    res.truth_score[t] = None
    res.gt_pairs[:] = [p for p in res.gt_pairs if p != (t, q)]


def _solve(truth, query, ti: list[int], qi: list[int], fetch: Fetch):
    """The reference segment of a cluster, its start (0-based) and the allele-level match (positions in
    ``ti`` / ``qi``)."""
    tv, qv = [truth[i] for i in ti], [query[i] for i in qi]
    start = min(_span(a)[0] for a in tv + qv)
    end = max(_span(a)[1] for a in tv + qv)
    seg = fetch((tv + qv)[0].chrom, start, end).upper()
    mt, mq = best_allele_match(seg, start, tv, qv)
    return seg, start, mt, mq


def _mark(truth, query, ti: list[int], qi: list[int], seg: str, start: int, mt, mq, res: MatchResult,
          max_genotype_side: int) -> None:
    """Write a cluster's allele-level match into ``res``, then its genotype-level match."""
    tv, qv = [truth[i] for i in ti], [query[i] for i in qi]
    quals = [qv[j].qual for j in mq]
    score = None if any(q is None for q in quals) else min(quals)
    for j in mt:
        res.truth_tp[ti[j]] = True
        res.truth_score[ti[j]] = score
    for j in mq:
        res.query_tp[qi[j]] = True
    mtv, mqv = [tv[j] for j in mt], [qv[j] for j in mq]
    if any(a.zyg == 0 for a in mtv + mqv) or max(len(mtv), len(mqv)) > max_genotype_side:
        res.stats["genotype_not_compared"] += len(mt)
        return
    gt, gq = best_genotype_match(seg, start, mtv, mqv)
    gt_set, gq_set = {mt[j] for j in gt}, {mq[j] for j in gq}
    for j in mt:
        res.truth_gt[ti[j]] = j in gt_set
    for j in mq:
        res.query_gt[qi[j]] = j in gq_set
    bad_q = [j for j in mq if j not in gq_set] or list(mq)
    for j in mt:
        if j not in gt_set:
            near = min(bad_q, key=lambda k: abs(qv[k].pos - tv[j].pos))
            res.gt_pairs.append((ti[j], qi[near]))

"""One haplotype of a reference region with variants applied, and the map back to the reference.

A :class:`Haplotype` knows, for every haplotype base, the 0-based reference position it came from
(``-1`` for inserted bases) and where the indels lie, so reads cut from it can be placed on the
reference with exact CIGARs without an aligner. Indels are placed at their left-aligned position, the
convention aligners and ``bcftools norm`` share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INS, DEL = 1, 2


def pure_event(pos0: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Strip the bases REF and ALT share: common suffix first, then prefix (so a left-aligned indel
    stays left-aligned). Returns (0-based start, remaining REF, remaining ALT)."""
    r, a = ref, alt
    while r and a and r[-1] == a[-1] and len(r) > 1 and len(a) > 1:
        r, a = r[:-1], a[:-1]
    cp = 0
    while cp < min(len(r), len(a)) and r[cp] == a[cp]:
        cp += 1
    return pos0 + cp, r[cp:], a[cp:]


@dataclass
class Haplotype:
    """Haplotype of reference ``[ref_start, ref_end)`` with ``alleles`` applied.

    Arrays are indexed by 0-based haplotype position; ``*_cum`` arrays have one extra leading 0 so
    ``cum[b] - cum[a]`` counts over ``[a, b)``.
    """

    seq: np.ndarray  # uint8 ASCII
    hap2ref: np.ndarray  # int64, reference position of each base, -1 for inserted bases
    ref_start: int
    ref_end: int
    at_contig_end: bool
    ev_pos: np.ndarray  # haplotype position of each indel: first inserted base, or first base after a deletion
    ev_kind: np.ndarray  # INS or DEL
    ev_len: np.ndarray
    ins_cum: np.ndarray
    del_cum: np.ndarray  # counts deletion boundaries: mark[k] = 1 when bases were deleted between k-1 and k
    n_cum: np.ndarray
    retained: np.ndarray  # haplotype positions of non-inserted bases (increasing)

    @property
    def length(self) -> int:
        return int(self.seq.shape[0])

    def ref2hap(self, x: np.ndarray) -> np.ndarray:
        """Haplotype position of reference position ``x`` (the next kept base if ``x`` was deleted)."""
        i = np.searchsorted(self.hap2ref[self.retained], x)
        return self.retained[np.minimum(i, self.retained.shape[0] - 1)]

    def place(self, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reference placement of reads ``[s, s + length)`` of this haplotype.

        Returns 0-based POS (first aligned base), 0-based exclusive END, and a boolean mask of reads
        that overlap an indel (their CIGAR is not simply ``{length}M``; see :meth:`cigar`).
        """
        b = starts + length
        first = self.retained[np.searchsorted(self.retained, starts)]
        last = self.retained[np.searchsorted(self.retained, b - 1, side="right") - 1]
        pos = self.hap2ref[first]
        end = self.hap2ref[last] + 1
        impure = (self.ins_cum[b] - self.ins_cum[starts] > 0) | (self.del_cum[b] - self.del_cum[starts + 1] > 0)
        return pos, end, impure

    def cigar(self, s: int, length: int) -> str:
        """CIGAR of read ``[s, s + length)``: M for aligned bases, I/D for the indels it crosses; an
        insertion cut by a read end becomes a soft clip (S), as an aligner would report it."""
        b = s + length
        lo = int(np.searchsorted(self.ev_pos, s - 4096))
        hi = int(np.searchsorted(self.ev_pos, b))
        raw: list[list] = []  # merged below (merge_ops)

        def push(op: str, n: int) -> None:
            raw.append([op, n])

        cur = s
        for e in range(lo, hi):
            p, kind, n = int(self.ev_pos[e]), int(self.ev_kind[e]), int(self.ev_len[e])
            if kind == INS:
                es, ee = max(p, s), min(p + n, b)
                if ee <= es:
                    continue
                push("M", es - cur)
                push("I", ee - es)
                cur = ee
            elif s < p < b:
                push("M", p - cur)
                push("D", n)
                cur = p
        push("M", b - cur)
        ops = merge_ops(raw)
        if ops[0][0] == "I":
            ops[0][0] = "S"
        if ops[-1][0] == "I":
            ops[-1][0] = "S"
        return "".join(f"{n}{op}" for op, n in ops)


def merge_ops(ops: list[list]) -> list[list]:
    """CIGAR operations ``[op, length]`` with empty ones dropped and neighbours of the same op joined."""
    out: list[list] = []
    for op, n in ops:
        if n <= 0:
            continue
        if out and out[-1][0] == op:
            out[-1][1] += n
        else:
            out.append([op, n])
    return out


def build_haplotype(ref: np.ndarray, ref_start: int, ref_end: int, alleles: list[tuple[int, str, str]]) -> Haplotype:
    """Apply ``alleles`` — (pos0, REF, ALT) records, sorted, non-overlapping, inside
    ``[ref_start, ref_end)`` — to the reference segment. ``ref`` is the whole contig (uint8 ASCII)."""
    seqs: list[np.ndarray] = []
    maps: list[np.ndarray] = []
    ev_pos: list[int] = []
    ev_kind: list[int] = []
    ev_len: list[int] = []
    cur, hlen = ref_start, 0
    for pos0, r, a in alleles:
        start, r2, a2 = pure_event(pos0, r, a)
        seqs.append(ref[cur:start])
        maps.append(np.arange(cur, start, dtype=np.int64))
        hlen += start - cur
        if len(r2) == len(a2):
            seqs.append(np.frombuffer(a2.encode(), np.uint8))
            maps.append(np.arange(start, start + len(r2), dtype=np.int64))
            hlen += len(a2)
        elif not r2:
            ev_pos.append(hlen), ev_kind.append(INS), ev_len.append(len(a2))
            seqs.append(np.frombuffer(a2.encode(), np.uint8))
            maps.append(np.full(len(a2), -1, np.int64))
            hlen += len(a2)
        elif not a2:
            ev_pos.append(hlen), ev_kind.append(DEL), ev_len.append(len(r2))
        else:
            raise ValueError(f"complex allele {pos0 + 1}:{r}>{a} cannot be simulated as reads")
        cur = start + len(r2)
    seqs.append(ref[cur:ref_end])
    maps.append(np.arange(cur, ref_end, dtype=np.int64))
    seq = np.concatenate(seqs)
    hap2ref = np.concatenate(maps)
    is_ins = hap2ref < 0
    del_mark = np.zeros(seq.shape[0] + 1, np.int64)
    kinds = np.asarray(ev_kind, np.int64)
    pos = np.asarray(ev_pos, np.int64)
    del_mark[pos[kinds == DEL]] = 1
    zero = np.zeros(1, np.int64)
    return Haplotype(
        seq=seq,
        hap2ref=hap2ref,
        ref_start=ref_start,
        ref_end=ref_end,
        at_contig_end=ref_end == ref.shape[0],
        ev_pos=pos,
        ev_kind=kinds,
        ev_len=np.asarray(ev_len, np.int64),
        ins_cum=np.concatenate([zero, np.cumsum(is_ins)]),
        del_cum=np.concatenate([zero, np.cumsum(del_mark[:-1])]),
        n_cum=np.concatenate([zero, np.cumsum(seq == ord("N"))]),
        retained=np.flatnonzero(~is_ins),
    )

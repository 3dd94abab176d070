"""Read one shard of a BAM into flat numpy arrays, count alleles per position, and find candidates.

Reads are filtered once (unmapped, secondary, supplementary, duplicate, QC-fail, MAPQ below the
threshold). Every aligned base becomes one entry of flat arrays (reference position, base code, base
quality, read index) built with vectorized range expansion, so no per-base Python runs; only the CIGAR
walk is per read. Indel events are left-aligned against the reference as they are read, so one indel
written at different places by the aligner is counted once. All positions are 0-based.

The two mates of a short fragment read the same bases: one molecule, so one observation (the library's and
the DNA's errors are in both mates; counted twice, an artifact of one fragment has two reads on both
strands). Over the span both mates of a proper pair cover, as bcftools mpileup does by default (htslib's
rule): one mate of each pair, chosen by a hash of the read name, keeps the fragment's bases; agreeing bases
become one of quality q1 + q2 (capped at :data:`OVERLAP_MAX_QUAL`), the other mate's quality 0; disagreeing
ones keep the better base at 0.8 of its quality (equal: the keeper's) and 0 for the other; across one mate's
deletion the other's bases keep 0.8 of their quality in the keeper, 0 otherwise. An indel both mates carry
counts once, for the keeper (:attr:`Pileup.read_mate`; the realigner keeps one mate too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pysam

from raygen.config import CallConfig
from raygen.errors import InputError
from raygen.io.bgzf import has_eof_block
from raygen.regions import Shard

BASES = "ACGTN"
#: ASCII -> base code (A0 C1 G2 T3, anything else N=4).
CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    CODE[ord(_b)] = _i
    CODE[ord(_b.lower())] = _i

_MATCH_OPS = (0, 7, 8)  # M, =, X


def encode(seq: str) -> np.ndarray:
    """Base codes (uint8, A0 C1 G2 T3 N4) of a string."""
    return CODE[np.frombuffer(seq.encode(), dtype=np.uint8)]


@dataclass
class ReadStats:
    """Reads seen in a shard and why some were not used."""

    total: int = 0
    used: int = 0
    unmapped: int = 0
    secondary: int = 0
    supplementary: int = 0
    duplicate: int = 0
    qcfail: int = 0
    low_mapq: int = 0

    def add(self, other: "ReadStats") -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class Pileup:
    """Aligned bases of the usable reads of one shard, as flat arrays.

    ``entries``: one per aligned base, sorted by read then reference position. ``ref_codes`` covers
    ``[ref_start0, ref_start0 + len)``. Indel events are keyed ``(anchor0, ref_allele, alt_allele)`` in
    left-aligned VCF form (anchor base included).
    """

    chrom: str
    ref_start0: int
    ref_seq: str
    ref_codes: np.ndarray
    read_start: np.ndarray  # int64 [R], 0-based first aligned ref position
    read_end: np.ndarray  # int64 [R], exclusive
    read_mapq: np.ndarray  # uint8 [R]
    read_reverse: np.ndarray  # bool [R]
    read_clip: np.ndarray  # int32 [R, 2], soft-clipped bases before the first / after the last aligned base
    read_tlen: np.ndarray  # int64 [R], template length of the leftmost mate of a proper pair, else 0
    read_offset: np.ndarray  # int64 [R+1], entry offsets per read
    read_qoff: np.ndarray  # int64 [R+1], offsets of each read's full query in ``query_base``/``query_qual``
    query_base: np.ndarray  # uint8 [Q], every query base (soft clips included)
    query_qual: np.ndarray  # uint8 [Q]
    pos: np.ndarray  # int32 [E] (BAM positions are int32 by the format)
    qpos: np.ndarray  # int32 [E] (int64 if the shard's queries pass 2^31 bases), index into query_base
    base: np.ndarray  # uint8 [E]
    qual: np.ndarray  # uint8 [E]
    read: np.ndarray  # int32 [E]
    indel_reads: dict[tuple[int, str, str], list[int]] = field(default_factory=dict)
    stats: ReadStats = field(default_factory=ReadStats)
    _per_entry: dict = field(default_factory=dict, repr=False)  # read-level columns expanded to entries, cached
    #: aligned spans ``[start, end)`` (sorted by start) of the reads skipped for MAPQ below the threshold:
    #: what a site's low-MAPQ depth is counted from
    lowmq_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lowmq_end: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: int64 [R]: for the mate of an overlapping pair whose bases were dropped, the read index of the mate that
    #: keeps them (:func:`merge_mates`); else -1 (empty: none paired, e.g. ``cfg.mate_overlap`` off)
    read_mate: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def ref_base(self, pos0: int) -> str:
        return self.ref_seq[pos0 - self.ref_start0]


def _left_align_del(ref: str, off: int, p: int, n: int) -> int:
    """Leftmost start of deleting ``n`` bases at ref index ``p`` (same sequence after deletion)."""
    while p > 1 and ref[p - 1] == ref[p + n - 1]:
        p -= 1
    return p


def _left_align_ins(ref: str, p: int, ins: str) -> tuple[int, str]:
    """Leftmost insertion point (bases inserted before ref index ``p``) and the rotated inserted string."""
    while p > 1 and ref[p - 1] == ins[-1]:
        ins = ref[p - 1] + ins[:-1]
        p -= 1
    return p, ins


#: SAM flag bits of reads the caller skips, with the ReadStats counter each one goes to (checked in order).
_SKIP_FLAGS = ((0x4, "unmapped"), (0x100, "secondary"), (0x800, "supplementary"), (0x400, "duplicate"),
               (0x200, "qcfail"))
_SKIP_MASK = sum(bit for bit, _ in _SKIP_FLAGS)


#: pysam >= 0.23 gives the quality string directly; ``qual`` builds it through a slower path (~3x per read).
_QUAL_ATTR = "query_qualities_str" if hasattr(pysam.AlignedSegment, "query_qualities_str") else "qual"


def _skip_reason(flag: int) -> str | None:
    """The ReadStats counter of a read skipped for its SAM ``flag`` (None: the flag keeps it)."""
    if flag & _SKIP_MASK:
        for bit, reason in _SKIP_FLAGS:
            if flag & bit:
                return reason
    return None


_NO_CLIPS = (0, 0)
#: The quality of a base both overlapping mates agree on (q1 + q2) is capped here: the error tables stop at
#: Phred 63 (:data:`raygen.calling.profile.Q_MAX`).
OVERLAP_MAX_QUAL = 63


@dataclass
class _Reads:
    """Per-read lists and aligned blocks gathered while walking CIGARs (turned into arrays at the end)."""

    starts: list = field(default_factory=list)
    ends: list = field(default_factory=list)
    mapqs: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    clips: list = field(default_factory=list)
    tlens: list = field(default_factory=list)  # TLEN as written (proper pairs and sign are applied at the end)
    seqs: list = field(default_factory=list)
    quals: list = field(default_factory=list)
    blk_r: list = field(default_factory=list)  # reference start of each aligned block
    blk_q: list = field(default_factory=list)  # offset of its first base in the concatenated queries
    blk_n: list = field(default_factory=list)
    blk_read: list = field(default_factory=list)
    indel_reads: dict = field(default_factory=dict)
    qoff: int = 0

    def add(self, r: pysam.AlignedSegment, flag: int, mapq: int, seq: str, qual: str, cigar: list,
            ref_seq: str, ref_start0: int) -> None:
        """Walk one read's CIGAR: aligned blocks, and its indels left-aligned against ``ref_seq`` (which
        starts at ``ref_start0``). ``flag``, ``mapq``, ``seq``, ``qual`` and ``cigar`` are ``r``'s, read once
        by the caller (each pysam attribute access costs a conversion)."""
        nread, rp = len(self.starts), r.reference_start
        self.starts.append(rp)
        self.mapqs.append(mapq)
        self.flags.append(flag)
        self.tlens.append(r.template_length)
        self.seqs.append(seq)
        self.quals.append(qual)
        if len(cigar) == 1 and cigar[0][0] in _MATCH_OPS:  # one aligned block, no clip or indel: most reads
            n = cigar[0][1]
            self.blk_r.append(rp)
            self.blk_q.append(self.qoff)
            self.blk_n.append(n)
            self.blk_read.append(nread)
            self.ends.append(rp + n)
            self.clips.append(_NO_CLIPS)
            self.qoff += len(seq)
            return
        qp = 0
        for op, n in cigar:
            if op in _MATCH_OPS:
                self.blk_r.append(rp)
                self.blk_q.append(self.qoff + qp)
                self.blk_n.append(n)
                self.blk_read.append(nread)
                rp += n
                qp += n
            elif op == 1:  # insertion before rp
                i = rp - ref_start0
                if 1 < i < len(ref_seq):
                    p, ins = _left_align_ins(ref_seq, i, seq[qp:qp + n].upper())
                    anchor = ref_seq[p - 1]
                    self.indel_reads.setdefault((ref_start0 + p - 1, anchor, anchor + ins), []).append(nread)
                qp += n
            elif op == 2:  # deletion of ref [rp, rp+n)
                i = rp - ref_start0
                if 1 < i and i + n < len(ref_seq):
                    p = _left_align_del(ref_seq, 0, i, n)
                    key = (ref_start0 + p - 1, ref_seq[p - 1:p + n], ref_seq[p - 1])
                    self.indel_reads.setdefault(key, []).append(nread)
                rp += n
            elif op == 3:
                rp += n
            elif op == 4:
                qp += n
        cig = [c for c in cigar if c[0] != 5]  # hard clips carry no bases
        self.ends.append(rp)
        self.clips.append((cig[0][1] if cig[0][0] == 4 else 0, cig[-1][1] if cig[-1][0] == 4 else 0))
        self.qoff += len(seq)


def load_pileup(bam: pysam.AlignmentFile, reference, shard: Shard, cfg: CallConfig, contig_alias: str | None = None) -> Pileup:
    """Read ``shard``'s reads (fetch window with margins) into a :class:`Pileup`.

    ``reference`` is a :class:`raygen.io.fasta.Reference`; ``contig_alias`` is the FASTA name of the BAM
    contig when they differ (``--rename-contigs``). Raises :class:`InputError` on a truncated/corrupt BAM.
    Reads left out (flags, MAPQ below ``cfg.min_mapping_quality``, no sequence/qualities/CIGAR) are counted
    in the pileup's :class:`ReadStats` under their reason.
    """
    pad = cfg.window + 2 * cfg.max_indel_shift
    ref_start0 = max(0, shard.fetch_start0 - pad - 1000)
    ref_seq = reference.fetch(contig_alias or shard.chrom, ref_start0, shard.fetch_end0 + pad + 1000)
    stats = ReadStats()
    reads = _Reads()
    low: list[tuple[int, int]] = []
    min_mq, total = cfg.min_mapping_quality, 0
    mates: dict[str, int] | None = {} if cfg.mate_overlap else None  # name -> index of a read its mate starts in
    pairs: list[tuple[int, int, str]] = []  # (left, right) read indices of overlapping mates, their name
    try:
        for r in bam.fetch(shard.chrom, shard.fetch_start0, shard.fetch_end0):
            total += 1
            flag, mq = r.flag, r.mapping_quality
            if flag & _SKIP_MASK or mq < min_mq:
                reason = _skip_reason(flag)
                if reason is None:  # a primary, mapped read below the MAPQ threshold: its span is kept
                    stats.low_mapq += 1
                    if r.reference_end:
                        low.append((r.reference_start, r.reference_end))
                else:
                    setattr(stats, reason, getattr(stats, reason) + 1)
                continue
            seq, qual, cigar = r.query_sequence, getattr(r, _QUAL_ATTR), r.cigartuples
            if not seq or qual is None or cigar is None:
                stats.unmapped += 1
                continue
            reads.add(r, flag, mq, seq, qual, cigar, ref_seq, ref_start0)
            if mates is not None and flag & 0x2 and not flag & 0x8 and r.next_reference_id == r.reference_id:
                _pair_mates(mates, pairs, r, len(reads.starts) - 1, reads.starts[-1], reads.ends[-1])
    except OSError as exc:
        raise InputError(f"BAM {bam.filename.decode() if isinstance(bam.filename, bytes) else bam.filename}: "
                         f"cannot read {shard} ({exc}); the file may be truncated or corrupt") from None
    stats.total, stats.used = total, len(reads.starts)
    p = _as_pileup(shard.chrom, ref_start0, ref_seq, reads, stats)
    if mates is not None:
        merge_mates(p, pairs)
    if low:
        arr = np.asarray(low, dtype=np.int64)
        p.lowmq_start, p.lowmq_end = arr[:, 0], arr[:, 1]
    return p


def _pair_mates(mates: dict[str, int], pairs: list, r: pysam.AlignedSegment, i: int, start: int, end: int) -> None:
    """Pair read ``r`` (index ``i``, aligned ``[start, end)``, a proper pair's mate on the same contig) with its
    mate where their spans overlap: a read its mate starts inside waits in ``mates`` by name for it (reads come
    in position order; at equal starts the first one waits). ``pairs`` gets (left, right, name)."""
    ms = r.next_reference_start
    if start <= ms < end:
        j = mates.pop(r.query_name, None)
        if j is None:
            mates[r.query_name] = i
        else:  # the same start: the mate came first
            pairs.append((j, i, r.query_name))
    elif ms < start:
        j = mates.pop(r.query_name, None)
        if j is not None:
            pairs.append((j, i, r.query_name))


def _left_keeps(names: list[str]) -> np.ndarray:
    """Per read name: whether the left mate keeps the fragment's bases (bool). htslib's choice, so calls match
    bcftools mpileup's: bit 0 of Thomas Wang's integer hash of the X31 string hash (khash's functions, 32-bit
    arithmetic), computed over all names at once."""
    fixed = np.array([n.encode() for n in names])  # zero-padded to the longest name
    width = fixed.dtype.itemsize
    codes = fixed.view(np.uint8).reshape(len(names), width).astype(np.uint32)
    with np.errstate(over="ignore"):
        h = codes[:, 0].copy()
        for c in range(1, width):  # h = h * 31 + c, over each name's own length
            h = np.where(codes[:, c] > 0, (h << np.uint32(5)) - h + codes[:, c], h)
        h = h + ~(h << np.uint32(15))
        h ^= h >> np.uint32(10)
        h = h + (h << np.uint32(3))
        h ^= h >> np.uint32(6)
        h = h + ~(h << np.uint32(11))
        h ^= h >> np.uint32(16)
    return (h & np.uint32(1)) == 1


def _matched_entries(p: Pileup, a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, left: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mates ``a`` (left) and ``b`` with a deletion (or skip) somewhere: their entries at the same positions of
    ``[lo, hi)`` as (left entries, right entries, left keeps), and in place, a base across the other mate's
    deletion at 0.8 of its quality in the keeper (``left``: per pair, the left mate keeps), 0 otherwise."""
    offs = p.read_offset
    na, nb = offs[a + 1] - offs[a], offs[b + 1] - offs[b]
    ea, eb = concat_ranges(offs[a], na), concat_ranges(offs[b], nb)
    pa, pb = np.repeat(np.arange(len(a)), na), np.repeat(np.arange(len(a)), nb)
    ina = (p.pos[ea] >= lo[pa]) & (p.pos[ea] < hi[pa])
    inb = (p.pos[eb] >= lo[pb]) & (p.pos[eb] < hi[pb])
    ea, pa, eb, pb = ea[ina], pa[ina], eb[inb], pb[inb]
    # (pair, position) keys: a read's entries are in position order, so the left mates' keys are sorted
    ka = pa << 32 | p.pos[ea].astype(np.int64)
    kb = pb << 32 | p.pos[eb].astype(np.int64)
    j = np.minimum(np.searchsorted(ka, kb), max(len(ka) - 1, 0))
    hit = ka[j] == kb if len(ka) else np.zeros(len(kb), bool)
    both_a = np.zeros(len(ea), bool)
    both_a[j[hit]] = True
    for e, pr, mine in ((ea[~both_a], pa[~both_a], left), (eb[~hit], pb[~hit], ~left)):
        p.qual[e] = np.where(mine[pr], (0.8 * p.qual[e]).astype(np.uint8), 0)
    return ea[j[hit]], eb[hit], left[pb[hit]]


def merge_mates(p: Pileup, pairs: list[tuple[int, int, str]]) -> None:
    """Count each base of an overlapping pair of mates once (the module doc's rule), in place: entry qualities
    over the span both mates cover, :attr:`Pileup.read_mate`, and the indel reads (the dropped mate leaves an
    indel its keeper carries). ``pairs``: (left, right, name)."""
    mate = np.full(len(p.read_start), -1, np.int64)
    p.read_mate = mate
    if not pairs:
        return
    a = np.array([x[0] for x in pairs], np.int64)
    b = np.array([x[1] for x in pairs], np.int64)
    left = _left_keeps([x[2] for x in pairs])
    keeper, dropped = np.where(left, a, b), np.where(left, b, a)
    mate[dropped] = keeper
    offs, start, end = p.read_offset, p.read_start, p.read_end
    lo, hi = start[b], np.minimum(end[a], end[b])  # the span both mates cover
    span = np.maximum(hi - lo, 0)
    # Most reads have one entry per reference position of their span (no deletion): their overlapping entries
    # are two aligned runs, found by offset alone.
    gapless = np.diff(offs) == end - start
    easy = gapless[a] & gapless[b]
    ea = concat_ranges(offs[a[easy]] + (lo - start[a])[easy], span[easy])
    eb = concat_ranges(offs[b[easy]], span[easy])
    keep_left = np.repeat(left[easy], span[easy])
    hard = np.flatnonzero(~easy & (span > 0))
    if len(hard):
        ha, hb, hk = _matched_entries(p, a[hard], b[hard], lo[hard], hi[hard], left[hard])
        ea, eb, keep_left = np.concatenate([ea, ha]), np.concatenate([eb, hb]), np.concatenate([keep_left, hk])
    qa, qb = p.qual[ea].astype(np.int64), p.qual[eb].astype(np.int64)
    same = p.base[ea] == p.base[eb]
    total = np.minimum(qa + qb, OVERLAP_MAX_QUAL)
    a_wins = np.where(qa == qb, keep_left, qa > qb)  # disagreeing: the better base, a tie the keeper's
    p.qual[ea] = np.where(same, np.where(keep_left, total, 0), np.where(a_wins, (0.8 * qa).astype(np.int64), 0))
    p.qual[eb] = np.where(same, np.where(keep_left, 0, total), np.where(a_wins, 0, (0.8 * qb).astype(np.int64)))
    for key, rs in p.indel_reads.items():
        if any(mate[x] >= 0 for x in rs):
            have = set(rs)
            p.indel_reads[key] = [x for x in rs if mate[x] not in have]


def concat_ranges(starts: np.ndarray, lengths: np.ndarray, dtype=np.int64) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])`` as ``dtype`` (every value must
    fit it), by one cumulative sum over steps of 1 with a jump at each range start: several times faster
    than repeat + arange on tens of millions of entries."""
    starts, lengths = np.asarray(starts, np.int64), np.asarray(lengths, np.int64)
    keep = lengths > 0
    s, n = starts[keep], lengths[keep]
    out = np.ones(int(n.sum()), dtype=dtype)
    if len(s):
        first = np.cumsum(n) - n
        out[0] = s[0]
        out[first[1:]] = s[1:] - (s[:-1] + n[:-1] - 1)
    return np.add.accumulate(out, out=out)  # in ``dtype`` (np.cumsum would widen int32 to int64)


def _as_pileup(chrom: str, ref_start0: int, ref_seq: str, reads: _Reads, stats: ReadStats) -> Pileup:
    """Flat arrays from the gathered reads: every aligned base by vectorised range expansion of the blocks."""
    nread = len(reads.starts)
    flags, tlen = np.asarray(reads.flags, dtype=np.int64), np.asarray(reads.tlens, dtype=np.int64)
    seq_all = CODE[np.frombuffer("".join(reads.seqs).encode(), dtype=np.uint8)]
    qual_all = np.frombuffer("".join(reads.quals).encode(), dtype=np.uint8) - 33 if reads.quals else np.zeros(0, np.uint8)
    bn = np.asarray(reads.blk_n, dtype=np.int64)
    # int32 entry columns: half the memory of int64 on the largest arrays of a shard, and the first shard's
    # fresh pages (zeroed by the kernel) were a third of a call's CPU (``benchmarks/call.py speed``).
    pos = concat_ranges(np.asarray(reads.blk_r, dtype=np.int64), bn, np.int32)
    qpos = concat_ranges(np.asarray(reads.blk_q, dtype=np.int64), bn, np.int32 if reads.qoff < 2**31 else np.int64)
    read = np.repeat(np.asarray(reads.blk_read, dtype=np.int32), bn)
    qoffs = np.zeros(nread + 1, dtype=np.int64)
    offs = np.zeros(nread + 1, dtype=np.int64)
    if nread:
        qoffs[1:] = np.cumsum([len(x) for x in reads.seqs])
        # Entries come grouped by read in read order: a read's entry count is the sum of its block lengths.
        offs[1:] = np.cumsum(np.bincount(np.asarray(reads.blk_read, dtype=np.int64), weights=bn,
                                         minlength=nread)).astype(np.int64)
    return Pileup(
        chrom=chrom, ref_start0=ref_start0, ref_seq=ref_seq, ref_codes=encode(ref_seq),
        read_start=np.asarray(reads.starts, dtype=np.int64), read_end=np.asarray(reads.ends, dtype=np.int64),
        read_mapq=np.asarray(reads.mapqs, dtype=np.uint8), read_reverse=(flags & 0x10) != 0,
        read_clip=np.asarray(reads.clips, dtype=np.int32).reshape(nread, 2),
        read_tlen=np.where(((flags & 0x2) != 0) & (tlen > 0), tlen, 0),
        read_offset=offs, read_qoff=qoffs, query_base=seq_all, query_qual=qual_all,
        pos=pos, qpos=qpos, base=seq_all[qpos], qual=qual_all[qpos], read=read,
        indel_reads=reads.indel_reads, stats=stats,
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate allele. ``pos0`` is the 0-based start of REF (the anchor base for indels)."""

    pos0: int
    ref: str
    alt: str
    depth: int  # reads informative at the site (bases passing the quality filter; spanning reads for indels)
    ref_count: int
    alt_count: int
    alt_reverse: int  # alt-supporting reads on the reverse strand

    @property
    def is_indel(self) -> bool:
        return len(self.ref) != len(self.alt)


@dataclass
class SiteTables:
    """Per-position sums used by the genotypers; arrays are indexed by ``pos0 - start0``.

    ``counts`` holds every position; the strand and likelihood sums only where a candidate can be (a
    non-reference base with at least ``min_alt_count`` reads), zero elsewhere: nothing reads them there, and
    skipping the rest of the positions saves most of their cost."""

    start0: int
    counts: np.ndarray  # int [L, 5] bases passing min base quality
    counts_rev: np.ndarray  # int [L, 5] of those on the reverse strand
    log_match: np.ndarray  # float [L, 5] sum over reads of log(1 - e)
    log_mis: np.ndarray  # float [L, 5] sum of log(e / 3)
    log_half: np.ndarray  # float [L, 5] sum of log((1 - e) / 2 + e / 6)


def per_entry(p: Pileup, name: str) -> np.ndarray:
    """A per-read column expanded to every pileup entry (entries are grouped by read in ``read_offset`` order,
    so a repeat replaces a gather): ``"reverse"``, ``"mapq"``, ``"qlen"`` or ``"cycle"`` (0-based position
    of the entry's base in sequencing direction). Cached on ``p``."""
    got = p._per_entry.get(name)
    if got is not None:
        return got
    cnt = np.diff(p.read_offset)
    if name == "cycle":
        ql = per_entry(p, "qlen")
        c = (p.qpos - np.repeat(p.read_qoff[:-1], cnt)).astype(np.int32)
        got = np.where(per_entry(p, "reverse"), ql - 1 - c, c)
    else:
        col = {"reverse": p.read_reverse, "mapq": p.read_mapq, "qlen": np.diff(p.read_qoff).astype(np.int32)}[name]
        got = np.repeat(col, cnt)
    p._per_entry[name] = got
    return got


def entry_cycle_bins(p: Pileup, entries: np.ndarray | slice, bins: int) -> np.ndarray:
    """Read-cycle bin (0 .. bins-1, in sequencing direction) of the given entries of ``p`` (int64), computed
    for those entries only (a mask or an index array; the site tables need a small subset of the entries)."""
    ent = np.arange(len(p.pos))[entries] if isinstance(entries, slice) else entries
    if ent.dtype == bool:
        ent = np.flatnonzero(ent)
    return _cycle_bins(p, ent, p.read[ent], bins)


def _cycle_bins(p: Pileup, ent: np.ndarray, rd: np.ndarray, bins: int) -> np.ndarray:
    """:func:`entry_cycle_bins` of entry indices ``ent`` whose reads ``rd`` = ``p.read[ent]`` are known."""
    ql = p.read_qoff[rd + 1] - p.read_qoff[rd]
    c = p.qpos[ent] - p.read_qoff[rd]
    cyc = np.where(p.read_reverse[rd], ql - 1 - c, c)
    return np.minimum(cyc * bins // np.maximum(ql, 1), bins - 1).astype(np.int64)


def site_tables(p: Pileup, lo0: int, hi0: int, cfg: CallConfig, bq_error: np.ndarray | None = None) -> SiteTables:
    """Allele counts and base-quality likelihood sums over ``[lo0, hi0)``.

    e = P(base wrong) combines the base error and the mapping error 10^(-MAPQ/10). The base error is
    ``bq_error[cycle_bin, BQ]`` (the BAM's calibrated rates, :class:`raygen.calling.errormodel.ErrorModel`)
    or, without it, what the quality states (10^(-BQ/10), capped at ``cfg.max_base_quality``).
    """
    L = hi0 - lo0
    n = L * 5
    # Every entry gets a bin, n for the ones left out: one pass over the tens of millions of entries, where
    # compacting them first (flatnonzero, then gathers) cost several times more.
    idx = p.pos - lo0  # built in place: one array of entry size
    out = idx < 0
    out |= idx >= L
    out |= p.qual < cfg.min_base_quality
    out |= p.base >= 4
    idx *= 5
    idx += p.base
    np.copyto(idx, n, where=out)
    del out
    counts = np.bincount(idx, minlength=n + 1)[:n].reshape(L, 5)
    refc = np.full(L, 4, dtype=np.int64)  # N past the reference's end (a span beyond the contig)
    got = p.ref_codes[lo0 - p.ref_start0: hi0 - p.ref_start0]
    refc[:len(got)] = got
    nonref = counts[:, :4].copy()
    nonref[np.flatnonzero(refc < 4), refc[refc < 4]] = 0
    hot = nonref.max(axis=1) >= cfg.min_alt_count  # positions where find_candidates can make an SNV
    hot5 = np.zeros(n + 1, dtype=bool)
    hot5[:n] = np.repeat(hot, 5)
    keep = np.flatnonzero(hot5[idx])  # kept entries at those positions, in entry order
    idx = idx[keep]
    rd = p.read[keep]  # read-level columns gathered for these entries only
    # Every (cycle bin, BQ, MAPQ) maps to one error rate: look the three log terms up in small tables
    # instead of computing powers and logs per base.
    mm = cfg.max_mapping_quality
    if bq_error is None:
        mb = cfg.max_base_quality
        e_bq = 10.0 ** (-np.arange(mb + 1) / 10.0)[None, :]
        cb = np.zeros(len(keep), dtype=np.int64)
    else:
        mb = bq_error.shape[1] - 1
        e_bq = bq_error
        cb = _cycle_bins(p, keep, rd, bq_error.shape[0])
    e_mq = 10.0 ** (-np.arange(mm + 1) / 10.0)
    e_tab = np.clip(e_bq[:, :, None] + e_mq[None, None, :] - e_bq[:, :, None] * e_mq[None, None, :], 1e-6, 0.75).ravel()
    k = (cb * (mb + 1) + np.minimum(p.qual[keep], mb).astype(np.int64)) * (mm + 1) \
        + np.minimum(p.read_mapq[rd], mm)
    counts_rev = np.bincount(idx, weights=p.read_reverse[rd], minlength=n).reshape(L, 5).astype(np.int64)
    log_match = np.bincount(idx, weights=np.log1p(-e_tab)[k], minlength=n).reshape(L, 5)
    log_mis = np.bincount(idx, weights=np.log(e_tab / 3.0)[k], minlength=n).reshape(L, 5)
    log_half = np.bincount(idx, weights=np.log((1.0 - e_tab) / 2.0 + e_tab / 6.0)[k], minlength=n).reshape(L, 5)
    return SiteTables(lo0, counts, counts_rev, log_match, log_mis, log_half)


def find_candidates(p: Pileup, tables: SiteTables, shard: Shard, cfg: CallConfig) -> list[Candidate]:
    """SNV and indel candidates whose position lies in the shard's owned interval, sorted by position."""
    out: list[Candidate] = []
    lo, hi = shard.start0, shard.end0
    c = tables.counts
    depth = c[:, :4].sum(axis=1)
    s0 = tables.start0
    refc = p.ref_codes[s0 - p.ref_start0: s0 - p.ref_start0 + len(c)].astype(np.int64)
    alt_c = c[:, :4].copy()
    valid_ref = refc < 4
    alt_c[np.arange(len(c))[valid_ref], refc[valid_ref]] = 0
    ok = (alt_c >= cfg.min_alt_count) & (alt_c >= cfg.min_alt_fraction * depth[:, None]) & valid_ref[:, None]
    rows, bases = np.nonzero(ok)
    for i, b in zip(rows.tolist(), bases.tolist()):
        pos0 = s0 + i
        if not lo <= pos0 < hi:
            continue
        r = int(refc[i])
        out.append(Candidate(pos0, BASES[r], BASES[b], int(depth[i]), int(c[i, r]), int(c[i, b]), int(tables.counts_rev[i, b])))
    if p.indel_reads:
        by_anchor: dict[int, set[int]] = {}
        for (b0, _, _), reads in p.indel_reads.items():
            by_anchor.setdefault(b0, set()).update(reads)
        # Reads spanning the event plus one flanking base each side count as informative.
        order = np.argsort(p.read_start, kind="stable")
        starts_sorted = p.read_start[order]
        for (a0, ref, alt), reads in p.indel_reads.items():
            if not lo <= a0 < hi:
                continue
            n_alt = len(set(reads))
            if n_alt < cfg.min_alt_count:
                continue
            b0 = a0 + len(ref) + 1
            k = int(np.searchsorted(starts_sorted, a0, side="right"))
            span = int(np.count_nonzero(p.read_end[order[:k]] >= b0))
            # Reads with a different indel at the same anchor support neither REF nor this ALT.
            other = len(by_anchor[a0]) - n_alt
            n_ref = max(0, span - n_alt - other)
            dp = max(span, n_alt)
            if n_alt < cfg.min_alt_fraction * dp:
                continue
            n_rev = int(p.read_reverse[np.asarray(reads)].sum())
            out.append(Candidate(a0, ref, alt, dp, n_ref, n_alt, n_rev))
    out.sort(key=lambda x: (x.pos0, len(x.ref), x.ref, x.alt))
    return out


def _bam_problem(path: str) -> str:
    """Why samtools could not index ``path``, in words (read from the file itself)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] != b"\x1f\x8b":
        what = "SAM text" if head[:1] == b"@" else "not BGZF-compressed"
        return f"it is {what}, not BAM (convert: `samtools sort -o sorted.bam {path}`)"
    if not has_eof_block(path):
        return "it is truncated (the BGZF end-of-file block is missing): copy it again"
    return ("it must be coordinate-sorted: run `samtools sort -o sorted.bam in.bam && samtools index "
            "sorted.bam`")


def contigs_with_reads(af: pysam.AlignmentFile) -> set[str] | None:
    """BAM contigs with at least one mapped read by the index (``samtools idxstats``: no read is opened);
    None where the index holds no such counts (e.g. a CRAM's)."""
    try:
        return {s.contig for s in af.get_index_statistics() if s.mapped > 0}
    except (ValueError, AttributeError, OSError):
        return None


def open_bam(path: str, reference: str | None = None) -> pysam.AlignmentFile:
    """Open an indexed BAM/CRAM; build a missing index (or say how when that fails). ``reference``: the FASTA
    a CRAM's bases are decoded against (a CRAM made elsewhere names a reference path, in its @SQ UR tags, that
    is not here); BAMs ignore it."""
    if not os.path.exists(path):
        raise InputError(f"BAM {path!r} does not exist")
    if os.path.isdir(path):
        raise InputError(f"BAM {path!r} is a directory, not a file")
    try:
        # A truncated BAM still opens: the shards before the damage are called, the others fail and are counted.
        af = _open(path, reference)
    except (OSError, ValueError) as exc:
        with open(path, "rb") as fh:
            head = fh.read(2)
        why = ("the file is empty" if not head else
               "it is not a BAM or CRAM file" if head != b"\x1f\x8b" and not path.endswith(".cram") else
               "its header has no @SQ lines (reads not aligned to a reference?): align it first"
               if "no sequences defined" in str(exc) else str(exc))
        raise InputError(f"cannot open BAM {path!r}: {why}") from None
    if not af.has_index():
        af.close()
        try:
            pysam.index(path)
        except pysam.SamtoolsError:
            # samtools' own text here is errno noise ("No such file or directory" for an unsorted BAM)
            raise InputError(f"BAM {path!r} has no index and cannot be indexed: {_bam_problem(path)}") from None
        except OSError as exc:
            raise InputError(f"BAM {path!r} has no index and its directory is not writable ({exc}); "
                             f"run `samtools index {path}` where you can write, or copy it") from None
        af = _open(path, reference)
    return af


def _open(path: str, reference: str | None) -> pysam.AlignmentFile:
    if path.endswith(".cram"):
        return pysam.AlignmentFile(path, "rc", ignore_truncation=True,
                                   **({"reference_filename": reference} if reference else {}))
    return pysam.AlignmentFile(path, "rb", ignore_truncation=True)

"""Read one shard of a BAM into flat numpy arrays, count alleles per position, and find candidates.

Reads are filtered once (unmapped, secondary, supplementary, duplicate, QC-fail, MAPQ below the
threshold). Every aligned base becomes one entry of flat arrays (reference position, base code, base
quality, read index) built with vectorized range expansion, so no per-base Python runs; only the CIGAR
walk is per read. Indel events are left-aligned against the reference as they are read, so one indel
written at different places by the aligner is counted once. All positions are 0-based.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pysam

from raygen.config import CallConfig
from raygen.errors import InputError
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
    read_offset: np.ndarray  # int64 [R+1], entry offsets per read
    read_qoff: np.ndarray  # int64 [R+1], offsets of each read's full query in ``query_base``/``query_qual``
    query_base: np.ndarray  # uint8 [Q], every query base (soft clips included)
    query_qual: np.ndarray  # uint8 [Q]
    pos: np.ndarray  # int64 [E]
    qpos: np.ndarray  # int64 [E], index into query_base
    base: np.ndarray  # uint8 [E]
    qual: np.ndarray  # uint8 [E]
    read: np.ndarray  # int32 [E]
    indel_reads: dict[tuple[int, str, str], list[int]] = field(default_factory=dict)
    stats: ReadStats = field(default_factory=ReadStats)

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


def _skipped(r: pysam.AlignedSegment, cfg: CallConfig, stats: ReadStats) -> bool:
    """Whether read ``r`` is left out (counted in ``stats`` under its reason)."""
    for bit, reason in _SKIP_FLAGS:
        if r.flag & bit:
            setattr(stats, reason, getattr(stats, reason) + 1)
            return True
    if r.mapping_quality < cfg.min_mapping_quality:
        stats.low_mapq += 1
        return True
    if not r.query_sequence or r.qual is None or r.cigartuples is None:
        stats.unmapped += 1
        return True
    return False


@dataclass
class _Reads:
    """Per-read lists and aligned blocks gathered while walking CIGARs (turned into arrays at the end)."""

    starts: list = field(default_factory=list)
    ends: list = field(default_factory=list)
    mapqs: list = field(default_factory=list)
    revs: list = field(default_factory=list)
    seqs: list = field(default_factory=list)
    quals: list = field(default_factory=list)
    blk_r: list = field(default_factory=list)  # reference start of each aligned block
    blk_q: list = field(default_factory=list)  # offset of its first base in the concatenated queries
    blk_n: list = field(default_factory=list)
    blk_read: list = field(default_factory=list)
    indel_reads: dict = field(default_factory=dict)
    qoff: int = 0

    def add(self, r: pysam.AlignedSegment, ref_seq: str, ref_start0: int) -> None:
        """Walk one read's CIGAR: aligned blocks, and its indels left-aligned against ``ref_seq``."""
        nread, seq = len(self.starts), r.query_sequence
        rp, qp = r.reference_start, 0
        for op, n in r.cigartuples:
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
        self.starts.append(r.reference_start)
        self.ends.append(rp)
        self.mapqs.append(r.mapping_quality)
        self.revs.append(bool(r.flag & 0x10))
        self.seqs.append(seq)
        self.quals.append(r.qual)
        self.qoff += len(seq)


def load_pileup(bam: pysam.AlignmentFile, reference, shard: Shard, cfg: CallConfig, contig_alias: str | None = None) -> Pileup:
    """Read ``shard``'s reads (fetch window with margins) into a :class:`Pileup`.

    ``reference`` is a :class:`raygen.io.fasta.Reference`; ``contig_alias`` is the FASTA name of the BAM
    contig when they differ (``--rename-contigs``). Raises :class:`InputError` on a truncated/corrupt BAM.
    """
    pad = cfg.window + 2 * cfg.max_indel_shift
    ref_start0 = max(0, shard.fetch_start0 - pad - 1000)
    ref_seq = reference.fetch(contig_alias or shard.chrom, ref_start0, shard.fetch_end0 + pad + 1000)
    stats = ReadStats()
    reads = _Reads()
    try:
        for r in bam.fetch(shard.chrom, shard.fetch_start0, shard.fetch_end0):
            stats.total += 1
            if _skipped(r, cfg, stats):
                continue
            stats.used += 1
            reads.add(r, ref_seq, ref_start0)
    except OSError as exc:
        raise InputError(f"BAM {bam.filename.decode() if isinstance(bam.filename, bytes) else bam.filename}: "
                         f"cannot read {shard} ({exc}); the file may be truncated or corrupt") from None
    return _as_pileup(shard.chrom, ref_start0, ref_seq, reads, stats)


def _as_pileup(chrom: str, ref_start0: int, ref_seq: str, reads: _Reads, stats: ReadStats) -> Pileup:
    """Flat arrays from the gathered reads: every aligned base by vectorised range expansion of the blocks."""
    nread = len(reads.starts)
    seq_all = CODE[np.frombuffer("".join(reads.seqs).encode(), dtype=np.uint8)]
    qual_all = np.frombuffer("".join(reads.quals).encode(), dtype=np.uint8) - 33 if reads.quals else np.zeros(0, np.uint8)
    bn = np.asarray(reads.blk_n, dtype=np.int64)
    first = np.cumsum(bn) - bn
    ar = np.arange(int(bn.sum()), dtype=np.int64)
    pos = np.repeat(np.asarray(reads.blk_r, dtype=np.int64) - first, bn) + ar
    qpos = np.repeat(np.asarray(reads.blk_q, dtype=np.int64) - first, bn) + ar
    read = np.repeat(np.asarray(reads.blk_read, dtype=np.int32), bn)
    qoffs = np.zeros(nread + 1, dtype=np.int64)
    offs = np.zeros(nread + 1, dtype=np.int64)
    if nread:
        qoffs[1:] = np.cumsum([len(x) for x in reads.seqs])
        np.add.at(offs, read.astype(np.int64) + 1, 1)
        offs = np.cumsum(offs)
    return Pileup(
        chrom=chrom, ref_start0=ref_start0, ref_seq=ref_seq, ref_codes=encode(ref_seq),
        read_start=np.asarray(reads.starts, dtype=np.int64), read_end=np.asarray(reads.ends, dtype=np.int64),
        read_mapq=np.asarray(reads.mapqs, dtype=np.uint8), read_reverse=np.asarray(reads.revs, dtype=bool),
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
    """Per-position sums used by the genotypers; arrays are indexed by ``pos0 - start0``."""

    start0: int
    counts: np.ndarray  # int [L, 5] bases passing min base quality
    counts_rev: np.ndarray  # int [L, 5] of those on the reverse strand
    log_match: np.ndarray  # float [L, 5] sum over reads of log(1 - e)
    log_mis: np.ndarray  # float [L, 5] sum of log(e / 3)
    log_half: np.ndarray  # float [L, 5] sum of log((1 - e) / 2 + e / 6)


def site_tables(p: Pileup, lo0: int, hi0: int, cfg: CallConfig) -> SiteTables:
    """Allele counts and base-quality likelihood sums over ``[lo0, hi0)``; e = P(base wrong) from BQ and MAPQ."""
    L = hi0 - lo0
    keep = (p.pos >= lo0) & (p.pos < hi0) & (p.qual >= cfg.min_base_quality) & (p.base < 4)
    pos = p.pos[keep] - lo0
    base = p.base[keep].astype(np.int64)
    idx = pos * 5 + base
    rd = p.read[keep]
    # Every (BQ, MAPQ) pair maps to one error rate: look the three log terms up in small tables
    # instead of computing powers and logs per base.
    mb, mm = cfg.max_base_quality, cfg.max_mapping_quality
    e_bq = 10.0 ** (-np.arange(mb + 1) / 10.0)
    e_mq = 10.0 ** (-np.arange(mm + 1) / 10.0)
    e_tab = np.clip(e_bq[:, None] + e_mq[None, :] - e_bq[:, None] * e_mq[None, :], 1e-6, 0.75).ravel()
    k = np.minimum(p.qual[keep], mb).astype(np.int64) * (mm + 1) + np.minimum(p.read_mapq[rd], mm)
    n = L * 5
    counts = np.bincount(idx, minlength=n).reshape(L, 5)
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


def open_bam(path: str) -> pysam.AlignmentFile:
    """Open an indexed BAM/CRAM; build a missing index (or say how when that fails)."""
    if not os.path.exists(path):
        raise InputError(f"BAM {path!r} does not exist")
    try:
        # A truncated BAM still opens: the shards before the damage are called, the others fail and are counted.
        af = pysam.AlignmentFile(path, "rb" if not path.endswith(".cram") else "rc", ignore_truncation=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot open BAM {path!r}: {exc}") from None
    if not af.has_index():
        af.close()
        try:
            pysam.index(path)
        except pysam.SamtoolsError as exc:
            raise InputError(
                f"BAM {path!r} has no index and indexing it failed ({str(exc).strip()[:200]}); it must be "
                "coordinate-sorted: run `samtools sort -o sorted.bam in.bam && samtools index sorted.bam`"
            ) from None
        except OSError as exc:
            raise InputError(f"BAM {path!r} has no index and its directory is not writable ({exc}); "
                             f"run `samtools index {path}` where you can write, or copy it") from None
        af = pysam.AlignmentFile(path, "rb", ignore_truncation=True)
    return af

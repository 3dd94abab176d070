"""Sequencing errors as a real BAM makes them: reads drawn with the error profile `raygen profile` measured.

``SimulateConfig.error_profile`` names a profile JSON (:class:`raygen.calling.profile.ErrorProfile`). The
simulator then draws, instead of its stated-quality model (:func:`raygen.simulate.reads.quality_and_errors`):

- each base's reported quality from the real BAM's quality histogram of its read-cycle bin, and whether it is
  miscalled from the real BAM's *empirical* error rate for that (cycle bin, quality) (``error_table``), so the
  qualities are as miscalibrated as the real run's;
- indel errors at homopolymers and short tandem repeats with the profile's per-read rates (``hp_indel_rate``
  per run length, ``str_indel_rate`` per tract span): one base (homopolymer) or one repeat unit (STR) deleted
  or inserted, at the tract's left end (the left-aligned representation an aligner writes), at most one per
  read, only in reads that carry no simulated variant indel (their CIGAR is then ``aM kD bM`` / ``aM kI bM``);
  a read that ends inside the tract can slip too (its aligner-written CIGAR then hides it, below);
- strand- and context-specific errors: each base's miscall probability times the profile's multiplier for
  its strand and the two bases sequenced before it (``context_multiplier``);
- aligner-like CIGARs (:func:`raygen.simulate.artifacts.end_realign`): a read whose indel (true or error) lies
  near its end is written gap-free or soft-clipped when an aligner would (BWA-MEM scores);
- soft-clipped ends: per read end in sequencing direction (5', 3') a clip length drawn from the profile's
  per-end histogram (``clip_lengths``); the clipped bases are random (adapter / low-quality tail);
- mis-mapping (``paralog``): segmental duplications covering the profile's fraction of low-MAPQ bins, where every
  read gets a low MAPQ (drawn from the profile's MAPQ histogram below 30), plus scattered low-MAPQ reads elsewhere
  up to the profile's low-MAPQ read fraction (less the reads the ALT-linked loss below explains); of the low-MAPQ
  reads the profile's ``share`` carries the bases of a diverged paralogous copy (one per contig, the profile's
  divergence per base), so their mismatches cluster at the same sites (paralogous sequence variants);
- MAPQ lost with the ALT allele (``allele_linked``): in the profile's share of 200-bp bins, a read that carries two
  or more ALT bases of its haplotype's variants there (substituted or inserted bases, the base after a deletion: a
  het cluster, or an indel) gets, with the profile's probability, a MAPQ drawn from the real BAM's histogram of
  such reads; its bases and qualities stay a good read's (on NA12878 true het clusters read this way: ALT reads at
  MAPQ ~29-47, REF reads at 60);
- GC coverage: fragments kept with probability proportional to the profile's (shrunk) relative coverage of
  their GC bin, and drawn that much more often, so extreme-GC fragments dip as in the real BAM.

Not modelled (stated, not faked): the mate fields (MPOS, TLEN) keep the true placement when a read's left end
is realigned or clipped; chimeric and discordant pairs; duplicates. Coordinates: haplotype positions 0-based.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygen.calling.profile import CYCLE_BINS, GC_BINS, LOW_MAPQ, LOWMQ_BIN_BP, MAX_HP, MAX_STR_SPAN, ErrorProfile
from raygen.calling.repeats import homopolymer_runs, tandem_tracts
from raygen.simulate.artifacts import context_multiplier
from raygen.simulate.haplotype import DEL, Haplotype
from raygen.simulate.reference import CODE

#: Indel errors are not placed within this many bases of a read end (aligners soft-clip those instead).
END_GUARD = 5


@dataclass(frozen=True)
class ProfiledErrors:
    """What the simulator draws from: per cycle bin the quality CDF and the error rate per quality."""

    q_cdf: np.ndarray  # [CYCLE_BINS, Q_MAX + 1] cumulative quality distribution (clean sites, MAPQ >= 30)
    err: np.ndarray  # [CYCLE_BINS, Q_MAX + 1] P(miscalled | cycle bin, reported quality)
    hp_rate: np.ndarray  # [MAX_HP + 1] per-read indel error by homopolymer length
    str_rate: np.ndarray  # [MAX_STR_SPAN + 1] per-read indel error by tandem-repeat span (bp)
    ctx_mult: np.ndarray  # [2, 16] error multiplier by strand and the two preceding bases
    clip_cdf: np.ndarray  # [2, 301] cumulative soft-clip length per read end (5', 3')
    gc_accept: np.ndarray  # [GC_BINS] probability a fragment of that GC bin is kept
    gc_oversample: float  # fragments drawn per kept fragment, on average (so the mean depth holds)
    lowmq_cdf: np.ndarray  # [LOW_MAPQ] cumulative MAPQ of the low-MAPQ reads
    segment_fraction: float  # of the genome in segmental duplications (every read low MAPQ)
    segment_bp: float
    background_lowmq: float  # probability a read outside the segments gets a low MAPQ
    copy_share: float  # of the low-MAPQ reads, the fraction drawn from the paralogous copy
    divergence: float  # per base, copy vs reference
    q_cdf_low: np.ndarray | None = None  # the same over every base (low-MAPQ reads' qualities are worse)
    artifact_weight: float = 0.0  # fraction of positions with a systematic (site-specific) error
    artifact_fraction: float = 0.0  # of the reads there, the fraction showing it
    linked_share: float = 0.0  # of the genome (per LOWMQ_BIN_BP bin) where an ALT allele costs its reads MAPQ
    linked_p: float = 0.0  # there, the probability an ALT-carrying read loses MAPQ
    linked_cdf: np.ndarray | None = None  # [61] cumulative MAPQ of those reads

    @classmethod
    def from_profile(cls, prof: ErrorProfile) -> "ProfiledErrors":
        def cdf(hist: np.ndarray) -> np.ndarray:
            h = np.asarray(hist, np.float64) + 1e-9
            h[:, 0] = 0.0  # Q0 bases ('!') are padding in some BAMs, not a quality to reproduce
            return np.cumsum(h, axis=1) / h.sum(axis=1, keepdims=True)

        # Good reads get the qualities of the bases the error table was measured on (MAPQ >= 30, clean
        # sites); over all bases the real BAM's qualities are worse (0.0022 vs 0.0016 stated on NA12878).
        q_good = prof.q_obs if prof.q_obs.sum() > 0 else prof.q_hist
        rel = prof.gc_coverage_shrunk()
        accept = rel / rel.max()
        w = prof.gc_exp if prof.gc_exp.sum() > 0 else np.ones(GC_BINS)
        par = prof.paralog()
        low = float(prof.mapq_hist[:LOW_MAPQ].sum() / max(prof.mapq_hist.sum(), 1.0))
        seg = par["fraction"] if par["segment_bp"] > 0 else 0.0
        link = prof.allele_linked()
        return cls(cdf(q_good), prof.error_table(), prof.hp_indel_rate(),
                   prof.str_indel_rate(), prof.context_multiplier(), np.cumsum(prof.clip_lengths(), axis=1),
                   accept, float(w.sum() / (w * accept).sum()), prof.low_mapq_cdf(), seg, par["segment_bp"],
                   max(0.0, (low - seg - link["low_read_fraction"]) / max(1e-9, 1.0 - seg)), par["share"],
                   par["divergence"],
                   cdf(prof.q_hist), float((prof.mixture or {}).get("artifact_weight", 0.0)),
                   float((prof.mixture or {}).get("artifact_fraction", 0.0)), link["share"], link["p"],
                   np.asarray(link["mapq_cdf"]) if link["mapq_cdf"] else None)

    @classmethod
    def load(cls, path: str) -> "ProfiledErrors":
        return cls.from_profile(ErrorProfile.load(path))


def profiled_quality_and_errors(rng: np.random.Generator, n: int, length: int, reverse: np.ndarray,
                                pe: ProfiledErrors, bases: np.ndarray | None = None,
                                low: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Phred qualities (reference orientation, uint8) and a boolean miscall mask for ``n`` reads of ``length``;
    with ``bases`` (``[n, length]`` uint8 ASCII, reference orientation) the miscall probability is scaled by
    the strand / preceding-base multiplier; reads flagged in ``low`` (low MAPQ) draw their qualities from
    every base's histogram (``q_cdf_low``)."""
    cycle = np.arange(length)
    bins = np.minimum(cycle * CYCLE_BINS // length, CYCLE_BINS - 1)
    b = np.where(reverse[:, None], bins[::-1][None, :], bins[None, :])  # [n, length] cycle bin per base
    u = rng.random((n, length))
    # One search over the tables laid end to end: row + CDF increases across rows (each CDF ends at 1), so
    # searching row + u counts the earlier rows' entries plus this row's entries <= u.
    tables = pe.q_cdf if low is None or pe.q_cdf_low is None else np.concatenate([pe.q_cdf, pe.q_cdf_low])
    row = b if tables is pe.q_cdf else b + CYCLE_BINS * low[:, None]
    width = tables.shape[1]
    flat = (np.arange(len(tables))[:, None] + tables).ravel()
    q = np.minimum(np.searchsorted(flat, row + u, side="right") - row * width, width - 1)
    p = pe.err[b, q]
    if bases is not None:
        p = np.minimum(p * context_multiplier(bases, reverse, pe.ctx_mult), 0.75)
    err = rng.random((n, length)) < p
    return np.clip(q, 2, 93).astype(np.uint8), err


def linked_alt_cum(H: Haplotype, ref: np.ndarray, linked: np.ndarray) -> np.ndarray:
    """``[H.length + 1]`` cumulative count (``cum[b] - cum[a]`` over haplotype ``[a, b)``) of the positions where
    ``H`` carries an ALT allele (a substituted or inserted base, or the first base after a deletion) inside a
    linked bin: ``linked`` is a bool per :data:`LOWMQ_BIN_BP` bin of the contig (0-based reference position //
    bin size; an inserted base counts in the bin of the reference base before it)."""
    rp = H.hap2ref
    alt = (rp < 0) | (ref[np.maximum(rp, 0)] != H.seq)
    dels = H.ev_pos[H.ev_kind == DEL]
    alt[dels[dels < H.length]] = True
    anchor = np.maximum(np.maximum.accumulate(rp), 0)  # an insertion's bases take the reference base before them
    alt &= linked[np.minimum(anchor // LOWMQ_BIN_BP, len(linked) - 1)]
    return np.concatenate([[0], np.cumsum(alt)])


def tract_table(seq: np.ndarray, pe: ProfiledErrors) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Homopolymers and tandem repeats of a haplotype (uint8 ASCII): (start, span, unit, per-read error rate),
    sorted by start. Length-1 runs count as homopolymers of length 1 (the profile's rate there is the
    background indel error)."""
    codes = CODE[seq]
    hs, hl = homopolymer_runs(codes)
    ts, te, tu = tandem_tracts(codes)
    start = np.concatenate([hs, ts]).astype(np.int64)
    span = np.concatenate([hl, te - ts]).astype(np.int64)
    unit = np.concatenate([np.ones(len(hs), np.int64), np.asarray(tu, np.int64)])
    rate = np.concatenate([pe.hp_rate[np.minimum(hl, MAX_HP)], pe.str_rate[np.minimum(te - ts, MAX_STR_SPAN)]])
    o = np.argsort(start, kind="stable")
    return start[o], span[o], unit[o], rate[o]


def indel_errors(rng: np.random.Generator, seq: np.ndarray, hap2ref: np.ndarray, hstart: np.ndarray, length: int,
                 tracts: tuple[np.ndarray, ...]) -> list[tuple[int, int, int, bool]]:
    """Indel errors for reads starting at haplotype positions ``hstart`` (all without variant indels):
    ``(read index, offset in the read, unit, is_deletion)``, at most one per read. A tract counts for a read
    when it starts inside it, :data:`END_GUARD` bases from each end (a read ending inside the tract slips too;
    the aligner-like CIGAR then hides the slip, as a real aligner's does); a deletion needs ``unit`` more
    haplotype bases that continue the reference without a gap."""
    start, span, unit, rate = tracts
    out = []
    lo = np.searchsorted(start, hstart + END_GUARD)
    hi = np.searchsorted(start, hstart + length - END_GUARD)
    for r in np.flatnonzero(hi > lo).tolist():
        s = slice(int(lo[r]), int(hi[r]))
        hit = np.flatnonzero(rng.random(s.stop - s.start) < rate[s])
        if not len(hit):
            continue
        j = s.start + int(hit[0])
        k, off, dele = int(unit[j]), int(start[j] - hstart[r]), bool(rng.random() < 0.5)
        if not dele and off + k > length - END_GUARD:  # the inserted copy must leave aligned bases after it
            continue
        end = int(hstart[r]) + length + k  # one past the last haplotype base a deletion reads
        if dele and (end > len(seq) or hap2ref[end - 1] - hap2ref[int(hstart[r])] != length + k - 1):
            continue
        out.append((r, off, k, dele))
    return out


def apply_indel_error(seq: np.ndarray, h0: int, length: int, off: int, k: int, dele: bool) -> tuple[bytes, str]:
    """The read's bases and CIGAR with one ``k``-base indel error at read offset ``off``: deleted bases are
    skipped, an inserted copy repeats the ``k`` bases at ``off`` (so the read stays ``length`` long)."""
    if dele:
        b = np.concatenate([seq[h0:h0 + off], seq[h0 + off + k:h0 + length + k]])
        return b.tobytes(), f"{off}M{k}D{length - off}M"
    b = np.concatenate([seq[h0:h0 + off], seq[h0 + off:h0 + off + k], seq[h0 + off:h0 + length - k]])
    return b.tobytes(), f"{off}M{k}I{length - off - k}M"

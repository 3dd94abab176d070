"""Sequencing errors as a real BAM makes them: reads drawn with the error profile `raygen profile` measured.

``SimulateConfig.error_profile`` names a profile JSON (:class:`raygen.calling.profile.ErrorProfile`). The
simulator then draws, instead of its stated-quality model (:func:`raygen.simulate.reads.quality_and_errors`):

- each base's reported quality from the real BAM's quality histogram of its read-cycle bin, and whether it is
  miscalled from the real BAM's *empirical* error rate for that (cycle bin, quality) (``error_table``), so the
  qualities are as miscalibrated as the real run's;
- indel errors at homopolymers and short tandem repeats with the profile's per-read rates (``hp_indel_rate``
  per run length, ``str_indel_rate`` per tract span): one base (homopolymer) or one repeat unit (STR) deleted
  or inserted, at the tract's left end (the left-aligned representation an aligner writes), at most one per
  read, only in reads that carry no simulated variant indel (their CIGAR is then ``aM kD bM`` / ``aM kI bM``).

Not modelled (stated, not faked): low-MAPQ and paralogous mis-mapping, soft clips, strand-specific and context
errors, GC coverage dips. Coordinates: haplotype positions 0-based.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygen.calling.profile import CYCLE_BINS, MAX_HP, MAX_STR_SPAN, ErrorProfile
from raygen.calling.repeats import homopolymer_runs, tandem_tracts
from raygen.simulate.reference import CODE

#: Indel errors are not placed within this many bases of a read end (aligners soft-clip those instead).
END_GUARD = 5


@dataclass(frozen=True)
class ProfiledErrors:
    """What the simulator draws from: per cycle bin the quality CDF and the error rate per quality."""

    q_cdf: np.ndarray  # [CYCLE_BINS, Q_MAX + 1] cumulative quality distribution
    err: np.ndarray  # [CYCLE_BINS, Q_MAX + 1] P(miscalled | cycle bin, reported quality)
    hp_rate: np.ndarray  # [MAX_HP + 1] per-read indel error by homopolymer length
    str_rate: np.ndarray  # [MAX_STR_SPAN + 1] per-read indel error by tandem-repeat span (bp)

    @classmethod
    def from_profile(cls, prof: ErrorProfile) -> "ProfiledErrors":
        h = np.asarray(prof.q_hist, np.float64) + 1e-9
        h[:, 0] = 0.0  # Q0 bases ('!') are padding in some BAMs, not a quality to reproduce
        return cls(np.cumsum(h, axis=1) / h.sum(axis=1, keepdims=True), prof.error_table(), prof.hp_indel_rate(),
                   prof.str_indel_rate())

    @classmethod
    def load(cls, path: str) -> "ProfiledErrors":
        return cls.from_profile(ErrorProfile.load(path))


def profiled_quality_and_errors(rng: np.random.Generator, n: int, length: int, reverse: np.ndarray,
                                pe: ProfiledErrors) -> tuple[np.ndarray, np.ndarray]:
    """Phred qualities (reference orientation, uint8) and a boolean miscall mask for ``n`` reads of ``length``."""
    cycle = np.arange(length)
    bins = np.minimum(cycle * CYCLE_BINS // length, CYCLE_BINS - 1)
    b = np.where(reverse[:, None], bins[::-1][None, :], bins[None, :])  # [n, length] cycle bin per base
    u = rng.random((n, length))
    q = np.empty((n, length), np.int64)
    for k in range(CYCLE_BINS):
        m = b == k
        q[m] = np.minimum(np.searchsorted(pe.q_cdf[k], u[m], side="right"), pe.q_cdf.shape[1] - 1)
    err = rng.random((n, length)) < pe.err[b, q]
    return np.clip(q, 2, 93).astype(np.uint8), err


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
    when it lies wholly inside it, :data:`END_GUARD` bases from each end; a deletion needs ``unit`` more
    haplotype bases that continue the reference without a gap."""
    start, span, unit, rate = tracts
    out = []
    lo = np.searchsorted(start, hstart + END_GUARD)
    hi = np.searchsorted(start, hstart + length - END_GUARD)
    for r in np.flatnonzero(hi > lo).tolist():
        s = slice(int(lo[r]), int(hi[r]))
        inside = start[s] + span[s] <= hstart[r] + length - END_GUARD
        hit = np.flatnonzero(inside & (rng.random(s.stop - s.start) < rate[s]))
        if not len(hit):
            continue
        j = s.start + int(hit[0])
        k, off, dele = int(unit[j]), int(start[j] - hstart[r]), bool(rng.random() < 0.5)
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

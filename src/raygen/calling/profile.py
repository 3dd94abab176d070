"""The error profile of a BAM, estimated from the BAM itself (no truth set): what `raygen profile` writes and
what `raygen call` calibrates its error model with (:mod:`raygen.calling.errormodel`; the caller reads the
quality calibration, the repeat indel rates, the allele-fraction mixture and the depth median; the rest is
measured for the user and for the profile-driven simulator, :mod:`raygen.simulate.profiled`).

Measured over windows of the regions (evenly spaced, up to ``max_bp`` in all, so the result does not depend
on how a later call is sharded), from reads of every MAPQ:

- base qualities: the reported-quality histogram per read-cycle bin, and the empirical mismatch rate per
  (cycle bin, reported quality) at *clean* sites (reference base known, no non-reference base above 20% of
  the reads: germline variants are not errors); mismatch rate by the two preceding bases in sequencing
  direction, per strand (context and strand-specific errors);
- indel errors: per homopolymer length and per short-tandem-repeat span, the fraction of spanning reads with
  an indel there (sites where 20% or more of the reads carry one are germline and skipped);
- mapping: the MAPQ histogram and the mismatch rate of low-MAPQ (< 30) vs other reads (mis-mapped paralogs);
  per MAPQ class, reads by their number of mismatches (a paralog's reads carry several: what share of the
  low-MAPQ reads comes from a diverged copy, and how diverged it is), and the fraction and run length of
  the ``LOWMQ_BIN_BP`` bins where most reads starting there have low MAPQ (the segmental duplications);
- soft clips: clip-length histogram per read end (pooled, and per end in sequencing direction: 5', 3');
  insert sizes; reverse-strand fraction;
- coverage: the depth median and relative fragment coverage per GC bin;
- site allele fractions: an EM fit of how often a hom-ref site shows a systematic artifact allele and at
  what fraction, and how over-dispersed heterozygous allele counts are (a beta-binomial concentration).

Coordinates: windows are 0-based half-open. Quality tables are indexed ``[cycle_bin, phred]``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import binom

from raygen.calling.candidates import Pileup, entry_cycle_bins, load_pileup, open_bam, per_entry
from raygen.calling.repeats import homopolymer_runs, tandem_tracts
from raygen.calling.vafmix import fit_vaf_mixture
from raygen.config import CallConfig
from raygen.errors import InputError
from raygen.io.atomic import atomic_path
from raygen.io.fasta import Reference
from raygen.regions import Region, Shard, make_shards

FORMAT = "raygen-error-profile/1"
CYCLE_BINS = 10
Q_MAX = 63
MAX_HP = 20  # homopolymers of this length or longer are pooled
MAX_STR_SPAN = 40  # STR spans (bp) pooled beyond this
GC_BINS = 20
CLEAN_MAX_FRACTION = 0.2  # a site with a non-reference allele above this fraction is not used for error rates
GERMLINE_INDEL_FRACTION = 0.2
#: A tract whose indel reads are this unlikely under the fitted error rate holds a germline indel (left out).
GERMLINE_INDEL_P = 1e-3
LOW_MAPQ = 30
MAX_READ_MIS = 40  # reads with this many mismatches or more are pooled
LOWMQ_BIN_BP = 200  # bins (by read start) for the low-MAPQ segments
#: A read with this many mismatches more than its MAPQ class's typical read is counted as a paralog's
#: (a diverged copy's read carries several; sequencing errors rarely put 3 in one read of a good run).
PARALOG_MIN_MIS = 3
#: A het-like site (both alleles in 3+ reads, the non-reference one 30-70% of the reads) is *allele-linked* when
#: its ALT reads are below the BAM's top MAPQ this much more often than its REF reads: the ALT haplotype makes
#: the reads ambiguous (it matches a paralog, or carries enough differences that a second hit scores close).
LINKED_MIN_EXCESS = 0.2
LINKED_AF = (0.3, 0.7)


@dataclass
class ErrorProfile:
    """Counts measured on one BAM (arrays are numpy; JSON holds lists). Rates come from the methods."""

    source: str = ""
    bp: int = 0  # reference bp profiled
    reads: int = 0
    read_length: int = 150
    fragment_mean: float = 400.0
    fragment_sd: float = 50.0
    reverse_fraction: float = 0.5
    q_hist: np.ndarray = field(default_factory=lambda: np.zeros((CYCLE_BINS, Q_MAX + 1)))  # all bases
    q_obs: np.ndarray = field(default_factory=lambda: np.zeros((CYCLE_BINS, Q_MAX + 1)))  # bases at clean sites
    q_err: np.ndarray = field(default_factory=lambda: np.zeros((CYCLE_BINS, Q_MAX + 1)))  # of those, mismatches
    ctx_obs: np.ndarray = field(default_factory=lambda: np.zeros((2, 16)))  # [strand, 4*prev1 + prev2]
    ctx_err: np.ndarray = field(default_factory=lambda: np.zeros((2, 16)))
    hp_obs: np.ndarray = field(default_factory=lambda: np.zeros(MAX_HP + 1))  # spanning reads by run length
    hp_err: np.ndarray = field(default_factory=lambda: np.zeros(MAX_HP + 1))
    str_obs: np.ndarray = field(default_factory=lambda: np.zeros(MAX_STR_SPAN + 1))
    str_err: np.ndarray = field(default_factory=lambda: np.zeros(MAX_STR_SPAN + 1))
    # tracts (>= 4 spanning reads) by run length / span, and of those the ones holding a germline indel
    hp_sites: np.ndarray = field(default_factory=lambda: np.zeros(MAX_HP + 1))
    hp_germ: np.ndarray = field(default_factory=lambda: np.zeros(MAX_HP + 1))
    str_sites: np.ndarray = field(default_factory=lambda: np.zeros(MAX_STR_SPAN + 1))
    str_germ: np.ndarray = field(default_factory=lambda: np.zeros(MAX_STR_SPAN + 1))
    mapq_hist: np.ndarray = field(default_factory=lambda: np.zeros(61))
    mismatch_mapq: np.ndarray = field(default_factory=lambda: np.zeros((2, 2)))  # [low, high MAPQ] x [mis, bases]
    clip_hist: np.ndarray = field(default_factory=lambda: np.zeros(301))  # read ends by soft-clip length
    clip_end: np.ndarray = field(default_factory=lambda: np.zeros((2, 301)))  # [5' end, 3' end] x clip length
    read_mis: np.ndarray = field(default_factory=lambda: np.zeros((2, MAX_READ_MIS + 1)))  # [low, high MAPQ] x mismatches
    lowmq_bins: np.ndarray = field(default_factory=lambda: np.zeros(3))  # low-MAPQ bins, bins with reads, runs
    # het-like sites, of those the allele-linked ones, and the sum of their ALT reads' below-top share
    allele_mapq: np.ndarray = field(default_factory=lambda: np.zeros(3))
    allele_mapq_hist: np.ndarray = field(default_factory=lambda: np.zeros(61))  # those ALT reads' MAPQ below top
    linked_low_reads: float = 0.0  # reads below LOW_MAPQ that carry an allele-linked site's ALT (each read once)
    gc_obs: np.ndarray = field(default_factory=lambda: np.zeros(GC_BINS))
    gc_exp: np.ndarray = field(default_factory=lambda: np.zeros(GC_BINS))
    depth_median: float = 0.0
    mixture: dict = field(default_factory=dict)  # fit_vaf_mixture's result

    # -- rates -------------------------------------------------------------------------------------------
    def error_table(self, prior: float = 200.0) -> np.ndarray:
        """Empirical P(base wrong) per ``[cycle_bin, reported phred]``: shrunk toward the per-quality rate
        over all cycles, which is shrunk toward what the quality states (``prior`` pseudo-bases each)."""
        stated = 10.0 ** (-np.arange(Q_MAX + 1) / 10.0)
        obs_q, err_q = self.q_obs.sum(axis=0), self.q_err.sum(axis=0)
        per_q = (err_q + prior * stated) / (obs_q + prior)
        table = (self.q_err + prior * per_q[None, :]) / (self.q_obs + prior)
        return np.clip(table, 1e-5, 0.75)

    def context_multiplier(self, prior: float = 2000.0) -> np.ndarray:
        """``[strand, context]`` error rate relative to the strand's mean (1 = no context effect)."""
        mean = self.ctx_err.sum() / max(self.ctx_obs.sum(), 1.0)
        rate = (self.ctx_err + prior * mean) / (self.ctx_obs + prior)
        return rate / max(mean, 1e-9)

    def hp_indel_rate(self, prior: float = 500.0) -> np.ndarray:
        """Per-read indel error in a homopolymer of length ``h`` (index; pooled from ``MAX_HP``), made
        non-decreasing in ``h`` and shrunk toward the next shorter length."""
        out = np.zeros(MAX_HP + 1)
        prev = (self.hp_err[1] + 1.0) / (self.hp_obs[1] + 1e4)
        for h in range(1, MAX_HP + 1):
            prev = max(prev, (self.hp_err[h] + prior * prev) / (self.hp_obs[h] + prior))
            out[h] = prev
        out[0] = out[1]
        return np.clip(out, 1e-5, 0.3)

    def str_indel_rate(self, prior: float = 500.0) -> np.ndarray:
        """Per-read indel error in a short tandem repeat spanning ``s`` bp (index), non-decreasing in ``s``."""
        base = self.hp_indel_rate()[1]
        out = np.zeros(MAX_STR_SPAN + 1)
        prev = base
        for s in range(MAX_STR_SPAN + 1):
            prev = max(prev, (self.str_err[s] + prior * prev) / (self.str_obs[s] + prior))
            out[s] = prev
        return np.clip(out, 1e-5, 0.3)

    def germline_indel_rate(self, kind: str, floor: float, prior: float = 200.0) -> np.ndarray | None:
        """P(a tract holds a germline indel) per homopolymer length (``kind`` "hp") or STR span ("str"): the
        sample's own repeat-dependent indel prior (as DRAGEN's STR calibration measures it), made
        non-decreasing in length, each length shrunk toward the next shorter one (``prior`` pseudo-tracts),
        never below ``floor``. None when too few tracts were seen (older profiles: none)."""
        sites, germ = (self.hp_sites, self.hp_germ) if kind == "hp" else (self.str_sites, self.str_germ)
        if self.hp_sites.sum() < 10_000:  # every base starts a run: ~10 kbp with reads (older profiles: 0)
            return None
        out = np.zeros(len(sites))
        prev = floor
        for h in range(len(sites)):
            prev = max(prev, (germ[h] + prior * prev) / (sites[h] + prior))
            out[h] = prev
        return np.clip(out, floor, 0.3)

    def gc_coverage(self) -> np.ndarray:
        """Relative fragment coverage per GC bin (1 = average; bins without sequence read 1)."""
        ok = self.gc_exp >= 50
        rel = np.ones(GC_BINS)
        if ok.any():
            rel[ok] = (self.gc_obs[ok] / self.gc_exp[ok]) / (self.gc_obs[ok].sum() / self.gc_exp[ok].sum())
        return rel

    def low_mapq_excess(self) -> float:
        """Mismatches per base of low-MAPQ reads beyond those of the others (paralog divergence)."""
        (lm, lb), (hm, hb) = self.mismatch_mapq
        return float(max(0.0, lm / max(lb, 1.0) - hm / max(hb, 1.0)))

    def clip_fraction(self) -> float:
        """Fraction of read ends that are soft-clipped."""
        return float(self.clip_hist[1:].sum() / max(self.clip_hist.sum(), 1.0))

    def clip_lengths(self) -> np.ndarray:
        """``[5' end, 3' end]`` x soft-clip length (bp) distribution per read end in sequencing direction
        (rows sum to 1); profiles written before the per-end table existed give the pooled one for both."""
        h = self.clip_end if self.clip_end.sum() > 0 else np.stack([self.clip_hist, self.clip_hist])
        if h.sum() == 0:
            h = np.zeros((2, h.shape[1]))
            h[:, 0] = 1.0
        return h / np.maximum(h.sum(axis=1, keepdims=True), 1e-12)

    def gc_coverage_shrunk(self, prior: float = 2000.0) -> np.ndarray:
        """Relative fragment coverage per GC bin, each bin shrunk toward 1 by ``prior`` pseudo-positions (a
        bin seen at a few hundred positions says little): what the simulator thins fragments with."""
        if self.gc_exp.sum() <= 0 or self.gc_obs.sum() <= 0:
            return np.ones(GC_BINS)
        c = self.gc_obs.sum() / self.gc_exp.sum()
        return (self.gc_obs + prior * c) / (self.gc_exp + prior) / c

    def paralog(self) -> dict:
        """Mis-mapping from a diverged copy, as plain floats: ``fraction`` of the genome in low-MAPQ segments
        (bins where most reads have MAPQ < :data:`LOW_MAPQ`), their mean length ``segment_bp``, the ``share`` of
        low-MAPQ reads that come from the copy (reads with :data:`PARALOG_MIN_MIS` or more mismatches beyond the
        high-MAPQ reads' rate of such reads) and the copy's ``divergence`` per base (the extra mismatches of
        low-MAPQ reads per base, over that share). Zeros when the profile has no low-MAPQ reads."""
        low_bins, bins, runs = (float(x) for x in self.lowmq_bins)
        lo, hi = self.read_mis
        out = {"fraction": low_bins / bins if bins else 0.0,
               "segment_bp": LOWMQ_BIN_BP * low_bins / runs if runs else 0.0, "share": 0.0, "divergence": 0.0}
        if lo.sum() < 20 or hi.sum() < 20:
            return out
        k = np.arange(len(lo))
        many = lambda h: h[PARALOG_MIN_MIS:].sum() / h.sum()  # noqa: E731
        share = max(0.0, (many(lo) - many(hi)) / max(1e-9, 1.0 - many(hi)))
        extra = max(0.0, (lo * k).sum() / lo.sum() - (hi * k).sum() / hi.sum())  # per read
        out["share"] = float(min(1.0, share))
        if share > 0:
            out["divergence"] = float(min(0.2, extra / share / max(self.read_length, 1)))
        return out

    def allele_linked(self) -> dict:
        """MAPQ lost with the ALT allele, as plain floats: ``share`` of the het-like sites that are allele-linked
        (:data:`LINKED_MIN_EXCESS`), ``p``: the share of their ALT reads below the top MAPQ, and ``mapq_cdf``
        (list, 61 entries): the cumulative MAPQ of those reads, and ``low_read_fraction``: of all reads, those
        below :data:`LOW_MAPQ` for this reason (part of the BAM's low-MAPQ reads). Zeros when fewer than 20
        het-like sites were seen (a profile that cannot say). Truth-free, so artifact sites with the same look
        are counted too."""
        sites, linked, low = (float(x) for x in self.allele_mapq)
        h = np.asarray(self.allele_mapq_hist, np.float64)
        if sites < 20 or linked == 0 or h.sum() == 0:
            return {"share": 0.0, "p": 0.0, "mapq_cdf": [], "low_read_fraction": 0.0}
        return {"share": linked / sites, "p": low / linked, "mapq_cdf": (np.cumsum(h) / h.sum()).tolist(),
                "low_read_fraction": self.linked_low_reads / max(float(self.mapq_hist.sum()), 1.0)}

    def low_mapq_cdf(self) -> np.ndarray:
        """Cumulative distribution of MAPQ among the reads below :data:`LOW_MAPQ` (uniform when none)."""
        h = np.asarray(self.mapq_hist[:LOW_MAPQ], np.float64)
        if h.sum() == 0:
            h = np.ones(LOW_MAPQ)
        return np.cumsum(h) / h.sum()

    # -- files -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}
        return {"format": FORMAT, **d}

    @classmethod
    def from_dict(cls, d: dict) -> "ErrorProfile":
        if d.get("format") != FORMAT:
            raise InputError(f"not a raygen error profile (format {d.get('format')!r}, expected {FORMAT!r})")
        proto = cls()
        kw = {}
        for k in proto.__dataclass_fields__:
            if k in d:
                v, like = d[k], getattr(proto, k)
                if isinstance(like, np.ndarray):
                    v = np.asarray(v, dtype=np.float64)
                    if v.shape != like.shape:  # a hand-edited or foreign file: it would fail later, in numpy
                        raise InputError(f"field {k!r} has shape {list(v.shape)}, expected {list(like.shape)}")
                kw[k] = v
        return cls(**kw)

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "ErrorProfile":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, InputError) as exc:
            raise InputError(f"cannot read error profile {str(path)!r}: {exc}") from None


def summary(prof: ErrorProfile) -> dict:
    """The headline numbers of a profile (what `raygen profile` prints): plain floats, JSON-ready."""
    obs = prof.q_obs.sum()
    hp = prof.hp_indel_rate()
    mix = prof.mixture or {}
    return {
        "bp_profiled": int(prof.bp), "reads": int(prof.reads), "read_length": int(prof.read_length),
        "fragment_mean_sd": [round(prof.fragment_mean, 1), round(prof.fragment_sd, 1)],
        "depth_median": round(prof.depth_median, 1),
        "mismatch_rate_clean_sites": round(float(prof.q_err.sum() / max(obs, 1.0)), 5),
        "stated_error_rate": round(float((prof.q_obs * 10.0 ** (-np.arange(Q_MAX + 1) / 10.0)).sum() / max(obs, 1.0)), 5),
        "indel_error_hp_1_6_12": [round(float(hp[i]), 5) for i in (1, 6, 12)],
        "low_mapq_excess_mismatch": round(prof.low_mapq_excess(), 5),
        "clipped_read_end_fraction": round(prof.clip_fraction(), 4),
        "clipped_5p_3p_fraction": [round(float(1 - x), 4) for x in prof.clip_lengths()[:, 0]],
        "low_mapq_read_fraction": round(float(prof.mapq_hist[:LOW_MAPQ].sum() / max(prof.mapq_hist.sum(), 1.0)), 4),
        "paralog": {k: round(v, 4) for k, v in prof.paralog().items()},
        "allele_linked_mapq_share_p_lowreads": [round(prof.allele_linked()[k], 4)
                                                for k in ("share", "p", "low_read_fraction")],
        "max_context_multiplier": round(float(prof.context_multiplier().max()), 2),
        "gc_coverage_min_max": [round(float(x), 2) for x in (prof.gc_coverage().min(), prof.gc_coverage().max())],
        "artifact_weight_fraction": [round(mix.get("artifact_weight", 0.0), 5), round(mix.get("artifact_fraction", 0.0), 3)],
        "het_concentration": mix.get("het_concentration"),
    }


def profile_windows(regions: list[Region], window_bp: int, max_bp: int,
                    usable: Callable[[Shard], bool] | None = None) -> list[Shard]:
    """Windows of at most ``window_bp`` (and ``max_bp``) over ``regions``, evenly thinned to at most ``max_bp`` in
    all (deterministic): one window of each of k equal strata of the window list, its middle one. Why middles:
    the list's two ends are the first contig's start and the last contig's end (a telomere, and a decoy or chrM
    on a whole-genome BAM), which ``linspace`` over the ends picked when k was 2, the default. ``usable`` (a
    window -> bool, e.g. "has reads and is not mostly N"): each stratum takes its usable window nearest its
    middle (none: the middle), so a centromere's N gap, an unsequenced stretch or a BAM sliced from a larger one
    does not leave the profile a window short, or empty. A probe is an index lookup (and a reference fetch
    where there are reads): a stratum of 15k windows without reads costs a fraction of a second."""
    size = max(1, min(window_bp, max_bp))
    shards = make_shards(regions, size, 0)
    if sum(s.end0 - s.start0 for s in shards) <= max_bp:
        return shards
    n, k = len(shards), max(1, max_bp // size)  # n > k here
    picks: list[int] = []
    for j in range(k):
        lo, hi, mid = j * n // k, (j + 1) * n // k, int((j + 0.5) * n / k)
        order = sorted({mid, *range(lo, hi)}, key=lambda i: (abs(i - mid), i))
        pick = next((i for i in order if usable(shards[i])), mid) if usable is not None else mid
        if pick not in picks:
            picks.append(pick)
    return [shards[i] for i in picks]


#: Reads per bp a profile window must hold (about 0.75x of 150 bp reads): a window next to the covered
#: stretch of a sliced BAM holds only the reads that spill over its edge (about one depth's worth).
MIN_WINDOW_READS_PER_BP = 1 / 200


def _usable_window(af, ref: Reference, alias: dict[str, str]) -> Callable[[Shard], bool]:
    """The window test of :func:`estimate_profile`: the BAM holds at least :data:`MIN_WINDOW_READS_PER_BP` reads
    per bp of it (an index lookup, then reads counted until there are enough: the pileup reads them all next)
    and at least half its reference bases are A/C/G/T (an assembly gap is N)."""
    def usable(w: Shard) -> bool:
        need = max(1, int(MIN_WINDOW_READS_PER_BP * (w.end0 - w.start0)))
        if sum(1 for _ in itertools.islice(af.fetch(w.chrom, w.start0, w.end0), need)) < need:
            return False
        seq = ref.fetch(alias.get(w.chrom, w.chrom), w.start0, w.end0)
        return 2 * (len(seq) - seq.count("N")) >= len(seq)
    return usable


@dataclass
class _Acc:
    """Per-window arrays kept until the end: read lengths, insert sizes, strands, site depths and top
    non-reference counts (for the depth median and the allele-fraction mixture)."""

    lengths: list = field(default_factory=list)
    tlens: list = field(default_factory=list)
    revs: list = field(default_factory=list)
    depth: list = field(default_factory=list)
    top_alt: list = field(default_factory=list)
    indel_sites: list = field(default_factory=list)  # per window: [kind (0 homopolymer, 1 STR), index, span, n_ind]


def estimate_profile(bam: str, reference: str, regions: list[Region], *, cfg: CallConfig | None = None,
                     alias: dict[str, str] | None = None, max_bp: int | None = None, window_bp: int = 100_000,
                     source: str | None = None) -> ErrorProfile:
    """Measure the error profile of ``bam`` over (a deterministic subset of) ``regions`` (0-based half-open).

    ``alias`` maps BAM contig names to FASTA names. ``max_bp`` caps the bp profiled (default
    ``cfg.profile_max_bp``). Raises :class:`InputError` when no read could be used.
    """
    cfg = cfg or CallConfig()
    max_bp = cfg.profile_max_bp if max_bp is None else max_bp
    load_cfg = _all_reads(cfg)
    prof = ErrorProfile(source=source or str(bam))
    acc = _Acc()
    af = open_bam(bam, reference)
    ref = Reference(reference)
    try:
        for w in profile_windows(regions, window_bp, max_bp, _usable_window(af, ref, alias or {})):
            p = load_pileup(af, ref, w, load_cfg, (alias or {}).get(w.chrom))
            _add_window(prof, acc, p, w, cfg)
    finally:
        af.close()
        ref.close()
    if prof.reads == 0:
        raise InputError(f"BAM {bam!r}: no mapped reads in the profiled regions")
    _finish(prof, acc)
    return prof


def _all_reads(cfg: CallConfig) -> CallConfig:
    """The load settings of the profile: every MAPQ and base quality (the filters are applied per table)."""
    import dataclasses

    return dataclasses.replace(cfg, min_mapping_quality=0, min_base_quality=0)


def _finish(prof: ErrorProfile, acc: _Acc) -> None:
    prof.read_length = int(np.bincount(np.concatenate(acc.lengths)).argmax())
    prof.reverse_fraction = float(np.concatenate(acc.revs).mean())
    tl = np.concatenate(acc.tlens)
    tl = tl[(tl > 0) & (tl < 5000)]
    if len(tl) >= 20:
        med = float(np.median(tl))
        prof.fragment_mean = med
        prof.fragment_sd = float(1.4826 * np.median(np.abs(tl - med)))
    depth = np.concatenate(acc.depth)
    prof.depth_median = float(np.median(depth[depth > 0])) if np.any(depth > 0) else 0.0
    prof.mixture = fit_vaf_mixture(depth, np.concatenate(acc.top_alt))
    _indel_errors(prof, np.concatenate(acc.indel_sites, axis=1) if acc.indel_sites else np.zeros((4, 0)))


def _add_window(prof: ErrorProfile, acc: _Acc, p: Pileup, w: Shard, cfg: CallConfig) -> None:
    """Add one window's counts (entries in ``[w.start0, w.end0)``; reads whose start lies in it)."""
    own = (p.read_start >= w.start0) & (p.read_start < w.end0)
    prof.bp += w.end0 - w.start0
    prof.reads += int(own.sum())
    if not own.any():
        return
    qlen = np.diff(p.read_qoff)
    acc.lengths.append(qlen[own])
    acc.tlens.append(p.read_tlen[own])
    acc.revs.append(p.read_reverse[own])
    prof.mapq_hist += np.bincount(np.minimum(p.read_mapq[own], 60), minlength=61)
    cap = len(prof.clip_hist) - 1
    clips = np.minimum(p.read_clip[own], cap)
    prof.clip_hist += np.bincount(clips.ravel(), minlength=cap + 1)
    rev = p.read_reverse[own]
    for end in (0, 1):  # 5' end: the left clip of a forward read, the right clip of a reverse read
        c = np.where(rev, clips[:, 1 - end], clips[:, end])
        prof.clip_end[end] += np.bincount(c, minlength=cap + 1)
    _lowmq_bins(prof, p, w, own)
    _allele_mapq(prof, p, w, own)
    clean, depth, top = _site_counts(p, w, cfg)
    acc.depth.append(depth)
    acc.top_alt.append(top)
    _base_errors(prof, p, w, clean)
    acc.indel_sites.append(_indel_sites(p, w))
    _gc_coverage(prof, p, w, own)


def _in_window(p: Pileup, w: Shard) -> np.ndarray:
    return (p.pos >= w.start0) & (p.pos < w.end0)


def _allele_counts(p: Pileup, w: Shard, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the pileup entries ``m`` (A/C/G/T bases inside window ``w``): each entry's window offset (0-based
    position - ``w.start0``), the ``[L, 4]`` A/C/G/T counts per window position, and the reference code there
    (int64; 4 = N)."""
    L = w.end0 - w.start0
    i = p.pos[m] - w.start0
    allc = np.bincount(i * 4 + p.base[m], minlength=L * 4).reshape(L, 4)
    return i, allc, p.ref_codes[w.start0 - p.ref_start0: w.end0 - p.ref_start0].astype(np.int64)


def _site_counts(p: Pileup, w: Shard, cfg: CallConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean-site mask over the window, caller-filtered depth, top non-reference count) per position."""
    L = w.end0 - w.start0
    m = _in_window(p, w) & (p.base < 4)
    _, allc, refc = _allele_counts(p, w, m)
    known = refc < 4
    nonref = allc.copy()
    nonref[np.arange(L)[known], refc[known]] = 0
    tot = allc.sum(axis=1)
    clean = known & (tot >= 4) & (nonref.max(axis=1) <= CLEAN_MAX_FRACTION * np.maximum(tot, 1))
    f = m & (p.qual >= cfg.min_base_quality) & (p.read_mapq[p.read] >= cfg.min_mapping_quality)
    _, fc, _ = _allele_counts(p, w, f)
    depth = fc.sum(axis=1)
    fc[np.arange(L)[known], refc[known]] = 0
    depth[~known] = 0
    return clean, depth, fc.max(axis=1)


def _base_errors(prof: ErrorProfile, p: Pileup, w: Shard, clean: np.ndarray) -> None:
    """Quality calibration, context and MAPQ mismatch tables from the entries at clean sites. Qualities are
    the reads' own (``query_qual``), not the pileup's merged ones of overlapping mates
    (:func:`raygen.calling.candidates.merge_mates`): the tables describe the sequencer, per read, and the
    caller looks a merged quality up in them."""
    raw = p.query_qual[p.qpos]
    allq = _in_window(p, w)
    m = allq & (p.base < 4)
    m[m] = clean[p.pos[m] - w.start0]
    mis = p.base[m] != p.ref_codes[p.pos[m] - p.ref_start0]
    mq = per_entry(p, "mapq")[m]
    low = mq < LOW_MAPQ
    for k, sel in enumerate((low, ~low)):
        prof.mismatch_mapq[k] += [float(mis[sel].sum()), float(sel.sum())]
    _read_mismatches(prof, p, w)
    good = mq >= LOW_MAPQ  # sequencing errors, not mapping errors
    q = np.minimum(raw[m], Q_MAX).astype(np.int64)
    rev = per_entry(p, "reverse")[m]
    cyc = per_entry(p, "cycle")[m]
    cb = entry_cycle_bins(p, m, CYCLE_BINS)
    qa = np.minimum(raw[allq], Q_MAX).astype(np.int64)
    cba = entry_cycle_bins(p, allq, CYCLE_BINS)
    n = CYCLE_BINS * (Q_MAX + 1)
    prof.q_hist += np.bincount(cba * (Q_MAX + 1) + qa, minlength=n).reshape(CYCLE_BINS, Q_MAX + 1)
    k = (cb * (Q_MAX + 1) + q)[good]
    prof.q_obs += np.bincount(k, minlength=n).reshape(CYCLE_BINS, Q_MAX + 1)
    prof.q_err += np.bincount(k, weights=mis[good], minlength=n).reshape(CYCLE_BINS, Q_MAX + 1)
    _context_errors(prof, p, m, good, mis, rev, cyc)


def _context_errors(prof: ErrorProfile, p: Pileup, m: np.ndarray, good: np.ndarray, mis: np.ndarray,
                    rev: np.ndarray, cyc: np.ndarray) -> None:
    """Mismatch rate by the two read bases sequenced just before, per strand (reverse reads: complemented)."""
    qp = p.qpos[m]
    ok = good & (cyc >= 2)
    step = np.where(rev, 1, -1)
    b1 = p.query_base[np.clip(qp + step, 0, len(p.query_base) - 1)]
    b2 = p.query_base[np.clip(qp + 2 * step, 0, len(p.query_base) - 1)]
    ok &= (b1 < 4) & (b2 < 4)
    comp = np.array([3, 2, 1, 0, 4], dtype=np.int64)
    b1 = np.where(rev, comp[b1], b1)
    b2 = np.where(rev, comp[b2], b2)
    ctx = (b1 * 4 + b2)[ok]
    s = rev[ok].astype(np.int64)
    prof.ctx_obs += np.bincount(s * 16 + ctx, minlength=32).reshape(2, 16)
    prof.ctx_err += np.bincount(s * 16 + ctx, weights=mis[ok], minlength=32).reshape(2, 16)


def spanning_reads(p: Pileup, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Reads (approximately: reads longer than the interval) covering ``[lo, hi)`` with one base each side."""
    starts = np.sort(p.read_start)
    ends = np.sort(p.read_end)
    return np.maximum(0, np.searchsorted(starts, lo - 1, side="right") - np.searchsorted(ends, hi + 1, side="left"))


def _indel_sites(p: Pileup, w: Shard) -> np.ndarray:
    """Homopolymers and STR tracts of the window with at least 4 spanning reads: ``[4, N]`` rows kind (0 homopolymer, 1 STR), length index (run
    length or span, pooled at the cap), spanning reads, reads with an indel anchored just before the tract."""
    by_anchor: dict[int, set] = {}
    for (a0, _, _), reads in p.indel_reads.items():
        by_anchor.setdefault(a0, set()).update(reads)
    anchors = np.array(sorted(by_anchor), dtype=np.int64)  # reads with an indel per anchor, looked up by search
    n_reads = np.array([len(by_anchor[a]) for a in anchors.tolist()], dtype=np.float64)
    codes = p.ref_codes[w.start0 - p.ref_start0: w.end0 - p.ref_start0]
    hs, hl = homopolymer_runs(codes)
    ts, te, _ = tandem_tracts(codes)
    out = []
    for kind, (starts, lens, cap) in enumerate(((hs, hl, MAX_HP), (ts, te - ts, MAX_STR_SPAN))):
        s0 = starts + w.start0
        span = spanning_reads(p, s0, s0 + lens)
        n_ind = np.zeros(len(s0))
        if len(anchors):
            j = np.minimum(np.searchsorted(anchors, s0 - 1), len(anchors) - 1)
            hit = anchors[j] == s0 - 1
            n_ind[hit] = n_reads[j[hit]]
        ok = span >= 4
        out.append(np.stack([np.full(int(ok.sum()), kind), np.minimum(lens[ok], cap), span[ok], n_ind[ok]]).astype(np.float64))
    return np.concatenate(out, axis=1)


def _indel_errors(prof: ErrorProfile, sites: np.ndarray, rounds: int = 3) -> None:
    """Indel error counts per homopolymer length and STR span from :func:`_indel_sites`' rows, without the
    germline indels: a site with indel reads at :data:`GERMLINE_INDEL_FRACTION` or more, or whose indel reads
    (2 or more) are more than the current rate explains (binomial tail below :data:`GERMLINE_INDEL_P`), is
    left out and the rate refitted. (The fraction cut alone counts a het indel seen by 2 of 16 reads as
    errors, which then raises the rate that makes the caller miss such hets.) The left-out sites are the
    tracts' germline counts (:meth:`ErrorProfile.germline_indel_rate`)."""
    kind, idx, span, n_ind = sites[0].astype(int), sites[1].astype(int), sites[2], sites[3]
    keep = n_ind < GERMLINE_INDEL_FRACTION * np.maximum(span, 1)
    for r in range(rounds + 1):
        for k, obs, err, cap in ((0, prof.hp_obs, prof.hp_err, MAX_HP), (1, prof.str_obs, prof.str_err, MAX_STR_SPAN)):
            m = keep & (kind == k)
            obs[:] = np.bincount(idx[m], weights=span[m], minlength=cap + 1)[: cap + 1]
            err[:] = np.bincount(idx[m], weights=n_ind[m], minlength=cap + 1)[: cap + 1]
        if r == rounds or not len(span):
            break
        rate = np.where(kind == 0, prof.hp_indel_rate()[np.minimum(idx, MAX_HP)],
                        prof.str_indel_rate()[np.minimum(idx, MAX_STR_SPAN)])
        keep = (n_ind < GERMLINE_INDEL_FRACTION * np.maximum(span, 1)) & (
            (n_ind < 2) | (binom.sf(n_ind - 1, span, rate) >= GERMLINE_INDEL_P))
    for k, sites_, germ, cap in ((0, prof.hp_sites, prof.hp_germ, MAX_HP), (1, prof.str_sites, prof.str_germ, MAX_STR_SPAN)):
        m = kind == k
        sites_[:] = np.bincount(idx[m], minlength=cap + 1)[: cap + 1]
        germ[:] = np.bincount(idx[m & ~keep], minlength=cap + 1)[: cap + 1]


def _gc_coverage(prof: ErrorProfile, p: Pileup, w: Shard, own: np.ndarray) -> None:
    """Fragments per GC bin (leftmost mates of proper pairs starting in the window) vs positions per GC bin."""
    tl = p.read_tlen[own]
    st = p.read_start[own]
    ok = (tl > 0) & (tl < 2000)
    if ok.sum() < 20:
        return
    flen = int(np.median(tl[ok]))
    codes = p.ref_codes
    gc = np.concatenate([[0], np.cumsum((codes == 1) | (codes == 2))])
    nn = np.concatenate([[0], np.cumsum(codes == 4)])
    a = st[ok] - p.ref_start0
    b = np.minimum(a + tl[ok], len(codes))
    frac = (gc[b] - gc[a]) / np.maximum(b - a, 1)
    prof.gc_obs += np.bincount(np.minimum((frac * GC_BINS).astype(int), GC_BINS - 1), minlength=GC_BINS)
    x = np.arange(w.start0, w.end0) - p.ref_start0
    x = x[x + flen <= len(codes)]
    clean = nn[x + flen] - nn[x] == 0
    fx = (gc[x + flen] - gc[x])[clean] / flen
    prof.gc_exp += np.bincount(np.minimum((fx * GC_BINS).astype(int), GC_BINS - 1), minlength=GC_BINS)


def _read_mismatches(prof: ErrorProfile, p: Pileup, w: Shard) -> None:
    """Reads starting in the window by their number of mismatches at known reference bases (every site: a
    paralog's differences sit where the copy's reads are many, not only at clean sites), per MAPQ class."""
    own = (p.read_start >= w.start0) & (p.read_start < w.end0)
    ri = np.flatnonzero(own)
    if not len(ri):
        return
    refc = p.ref_codes[p.pos - p.ref_start0]
    mis = (p.base < 4) & (refc < 4) & (p.base != refc)
    per_read = np.bincount(p.read, weights=mis, minlength=len(p.read_start))[ri]
    low = p.read_mapq[ri] < LOW_MAPQ
    k = np.minimum(per_read.astype(np.int64), MAX_READ_MIS)
    for c, sel in enumerate((low, ~low)):
        prof.read_mis[c] += np.bincount(k[sel], minlength=MAX_READ_MIS + 1)


def _allele_mapq(prof: ErrorProfile, p: Pileup, w: Shard, own: np.ndarray) -> None:
    """At the window's het-like SNV sites (every MAPQ counted; :data:`LINKED_AF`), count the sites, the
    allele-linked ones (ALT reads below the window's top MAPQ :data:`LINKED_MIN_EXCESS` more often than REF
    reads) with their ALT reads' below-top share, and those reads' MAPQs (bounded at 60). A mate's base merged
    into the other mate's (quality 0, :func:`raygen.calling.candidates.merge_mates`) is not counted twice; the
    window's own reads (``own``) below :data:`LOW_MAPQ` carrying such an ALT are counted once each."""
    m = _in_window(p, w) & (p.base < 4) & (p.qual > 0)
    if not m.any():
        return
    top = int(p.read_mapq.max())
    L = w.end0 - w.start0
    i, allc, refc = _allele_counts(p, w, m)
    known = refc < 4
    rc = np.minimum(refc, 3)
    nonref = allc.copy()
    nonref[np.arange(L), rc] = 0
    alt, a, r, tot = nonref.argmax(axis=1), nonref.max(axis=1), allc[np.arange(L), rc], allc.sum(axis=1)
    lo, hi = LINKED_AF
    het = known & (a >= 3) & (r >= 3) & (a >= lo * tot) & (a <= hi * tot)
    if not het.any():
        return
    low = np.bincount(i * 4 + p.base[m], weights=p.read_mapq[p.read[m]] < top, minlength=L * 4).reshape(L, 4)
    a_low = low[np.arange(L), alt] / np.maximum(a, 1)
    r_low = low[np.arange(L), rc] / np.maximum(r, 1)
    linked = het & (a_low - r_low >= LINKED_MIN_EXCESS)
    prof.allele_mapq += [float(het.sum()), float(linked.sum()), float(a_low[linked].sum())]
    sel = np.flatnonzero(m)
    at = linked[i] & (p.base[m] == alt[i])
    reads = p.read[sel[at]]
    mq = p.read_mapq[reads]
    prof.allele_mapq_hist += np.bincount(np.minimum(mq[mq < top], 60), minlength=61)
    u = np.unique(reads)
    prof.linked_low_reads += float((own[u] & (p.read_mapq[u] < LOW_MAPQ)).sum())


def _lowmq_bins(prof: ErrorProfile, p: Pileup, w: Shard, own: np.ndarray) -> None:
    """Bins of :data:`LOWMQ_BIN_BP` by read start: bins with 4 or more reads, of those the ones where most
    reads have MAPQ below :data:`LOW_MAPQ`, and the runs of consecutive such bins (segments)."""
    nb = max(1, (w.end0 - w.start0) // LOWMQ_BIN_BP)
    b = np.minimum((p.read_start[own] - w.start0) // LOWMQ_BIN_BP, nb - 1)
    n = np.bincount(b, minlength=nb)
    lo = np.bincount(b, weights=p.read_mapq[own] < LOW_MAPQ, minlength=nb)
    seen = n >= 4
    low = seen & (lo > 0.5 * n)
    starts = low & ~np.concatenate([[False], low[:-1]])
    prof.lowmq_bins += [float(low.sum()), float(seen.sum()), float(starts.sum())]

"""Labelled candidates for the site model, and its fit: the protocol behind the shipped ``site_model.json``.

A candidate is labelled real when its normalized allele (chrom, 1-based POS, REF, ALT) is an allele of the
truth VCF (normalized and MNP-decomposed by :func:`raygen.eval.concordance.read_alleles`, as the evaluation
matches). Candidates are collected shard by shard in-process (no Ray: this runs on a few hundred kb of
training data), each BAM with its own error profile, exactly as ``raygen call`` sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from raygen.calling.candidates import find_candidates, load_pileup, open_bam
from raygen.calling.classical import RESCUE
from raygen.calling.errormodel import ErrorModel
from raygen.calling.features import FEATURES
from raygen.calling.shard import bam_profile, normalized_calls, shard_tables
from raygen.calling.records import CallRecord
from raygen.calling.sitemodel import LOW_DEPTH, SiteModel, depth_scaled_qual, fit_site_model, site_evidence
from raygen.config import CallConfig
from raygen.eval.calibration import fit_platt
from raygen.eval.concordance import read_alleles
from raygen.io.fasta import Reference
from raygen.regions import Region, make_shards


@dataclass
class Labelled:
    """Candidates of one or more BAMs: classical records, genotype log-likelihoods, features and labels."""

    records: list[CallRecord] = field(default_factory=list)
    lls: list[np.ndarray] = field(default_factory=list)
    X: np.ndarray = field(default_factory=lambda: np.zeros((0, len(FEATURES)), np.float32))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    source: list[str] = field(default_factory=list)  # one name per row: the weighting group (source_weights)
    truth_by: dict[str, int] = field(default_factory=dict)  # per BAM: truth alleles in its regions (the recall denominator)
    depth: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row: its BAM's median depth (0: unknown)
    genome: list[str] = field(default_factory=list)  # one name per row: its BAM (the keys of truth_by)

    @property
    def truth_total(self) -> int:
        """Truth alleles in every BAM's regions, found by a candidate or not."""
        return sum(self.truth_by.values())

    def __add__(self, other: "Labelled") -> "Labelled":
        return Labelled(self.records + other.records, self.lls + other.lls, np.concatenate([self.X, other.X]),
                        np.concatenate([self.y, other.y]), self.source + other.source,
                        {**self.truth_by, **other.truth_by}, np.concatenate([self.depth, other.depth]),
                        self.genome + other.genome)


def collect(bam: str, reference: str, regions: list[Region], cfg: CallConfig | None = None, *,
            truth_vcf: str | None = None, name: str = "", genome: str = "") -> Labelled:
    """Every candidate of ``bam`` in ``regions`` (0-based half-open) with its features; labelled against
    ``truth_vcf`` (without one every label is 0). ``name``: the weighting group; ``genome``: the name its
    recall is held to (default ``name``)."""
    cfg = cfg or CallConfig()
    em = ErrorModel.build(cfg, bam_profile(bam, reference, regions, cfg))
    ref = Reference(reference)
    af = open_bam(bam, reference)
    recs, lls, xs = [], [], []
    try:
        for s in make_shards(regions, cfg.shard_bp, cfg.margin_bp):
            p = load_pileup(af, ref, s, cfg)
            t = shard_tables(p, s, cfg, em)
            _, r, ll, x = site_evidence(p, t, find_candidates(p, t, s, cfg), cfg, s.chrom, em)
            recs += normalized_calls(r, ref, s.chrom)
            lls += ll
            xs.append(x)
        truth = {a.key for a in read_alleles(truth_vcf, ref, pass_only=False, regions=regions)
                 if any(g.chrom == a.chrom and g.start <= a.pos - 1 < g.end for g in regions)} if truth_vcf else set()
    finally:
        af.close()
        ref.close()
    y = np.array([(r.chrom, r.pos, r.ref, r.alt) in truth for r in recs], dtype=np.int8)
    X = np.concatenate(xs) if xs else np.zeros((0, len(FEATURES)), np.float32)
    return Labelled(recs, lls, X, y, [name] * len(recs), {genome or name: len(truth)},
                    np.full(len(recs), em.depth_median or 0.0), [genome or name] * len(recs))


def source_weights(source: list[str]) -> np.ndarray:
    """Per row: the rows of each source weigh as much in all as every other source's (mean weight 1), so a
    small real BAM is not drowned by a large simulation."""
    src = np.asarray(source)
    w = np.ones(len(src))
    for s in set(source):
        m = src == s
        w[m] = len(src) / (len(set(source)) * m.sum())
    return w


def fit(data: Labelled, *, l2: float = 1.0, card: dict | None = None) -> SiteModel:
    """The site model fitted on ``data``, each source weighted alike (:func:`source_weights`)."""
    w = source_weights(data.source)
    card = dict(card or {})
    card.setdefault("fitted_on", sorted(set(data.source)))
    card.update(candidates=int(len(data.y)), real=int(data.y.sum()), l2=l2)
    return fit_site_model(data.X, data.y, l2=l2, weights=w, card=card)


#: L2 strengths tried by :func:`cross_fit` (on standardized columns) and the veto thresholds on P(real).
L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
#: Classical QUALs at or above which the veto may not remove a call (0: it removes none; then a factor-2
#: ladder; None: no bound).
#: The site model learns from a few hundred candidates of one BAM: a class of true variants that is rare
#: there (long-homopolymer indels in one half of NA12878) gets a low P(real) elsewhere although the
#: classical evidence for it is overwhelming. Bounding the veto's reach keeps those, unless the training data
#: show the veto needs the reach (cross-validated with the threshold).
PROTECT_QUALS = (0.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, None)
#: P(real) at which a record the classical model did not call becomes a call (None: never), narrowest first.
RESCUE_THRESHOLDS = (None, 0.98, 0.95, 0.9, 0.8, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02)
#: P(real) below which the QUAL bound protects no call (the model nearly certain it is false), narrowest first:
#: on NA12878 subsampled to 30x the bound kept SNVs with AD 16/10 at P(real) 0.003.
HARD_VETOES = (0.0, 0.005, 0.01, 0.02, 0.05)


#: Cross-validation folds are blocks of this many bp (0-based POS // FOLD_BP per contig), each in one fold for
#: every BAM: neighbouring candidates share reads, and a BAM subsampled from another holds the same variants,
#: so a random split per row would score a call with its twin in the training folds.
FOLD_BP = 5_000


def _folds(data: Labelled, k: int, seed: int) -> np.ndarray:
    """Fold index per row: blocks of :data:`FOLD_BP` bp dealt to the ``k`` folds in a seeded random order."""
    blocks = sorted({(r.chrom, r.pos // FOLD_BP) for r in data.records})
    deal = dict(zip(blocks, np.random.default_rng(seed).permutation(len(blocks)) % k))
    return np.array([deal[(r.chrom, r.pos // FOLD_BP)] for r in data.records], np.int64)


def out_of_fold(data: Labelled, l2: float, k: int = 5, seed: int = 0) -> np.ndarray:
    """P(real) of every candidate from a model fitted on the other ``k - 1`` folds (:func:`_folds`)."""
    fold = _folds(data, k, seed)
    p = np.zeros(len(data.y))
    for f in range(k):
        tr = fold != f
        p[~tr] = fit(rows(data, tr), l2=l2).predict(data.X[~tr])
    return p


def calibrate(data: Labelled, p: np.ndarray) -> dict | None:
    """The Platt mapping of the out-of-fold logit ``log(p / (1 - p))`` to the label, fitted on the classical
    PASS calls and the rescue candidates (the records that can become calls a user thresholds by QUAL), each
    source weighted alike; as a card entry. None
    (QUAL stays the model's own P(real)) without both true and false calls to fit it on."""
    called = np.array([r.filter in ("PASS", RESCUE) and r.gt != (0, 0) for r in data.records], bool)
    if len(set(data.y[called].tolist())) < 2:
        return None
    s = np.log(p[called]) - np.log1p(-p[called])
    src = [x for x, c in zip(data.source, called) if c]
    m = fit_platt(data.y[called], s, source="out-of-fold calls of " + ", ".join(sorted(set(src))),
                  weights=source_weights(src))
    return m.as_dict()


class Outcomes:
    """The per-row arrays a site model's decisions are counted on (built once per cross-validation): classical
    QUAL restated at the bound's depth, which rows are classical PASS calls and rescue candidates, labels and
    each BAM's rows."""

    def __init__(self, data: Labelled, p: np.ndarray):
        depth = data.depth if len(data.depth) == len(data.records) else None
        self.p, self.y = p, data.y == 1
        self.qual = depth_scaled_qual(np.array([r.qual for r in data.records], np.float64), depth)
        self.passed = np.array([r.filter == "PASS" and r.gt != (0, 0) for r in data.records], bool)
        self.rescue = np.array([r.filter == RESCUE for r in data.records], bool)
        names = np.array(data.genome, dtype=object)
        self.rows = {g: names == g for g in set(data.genome)}
        self.truth = dict(data.truth_by)

    def counts(self, th: float, protect: float | None = None, genome: str | None = None,
               rescue: float | None = None, hard: float = 0.0) -> tuple[int, int, int]:
        """(TP, FP, FN): see :func:`veto_counts`."""
        p = self.p
        safe = (self.qual >= protect) & (p >= hard) if protect is not None else np.zeros(len(p), bool)
        called = self.passed & ((p >= th) | safe)
        if rescue is not None:
            called = called | (self.rescue & (p >= rescue))
        if genome is not None:
            called, y, total = called & self.rows[genome], self.y & self.rows[genome], self.truth.get(genome, 0)
        else:
            y, total = self.y, sum(self.truth.values())
        tp = int((called & y).sum())
        return tp, int(called.sum()) - tp, max(total, int(y.sum())) - tp


def veto_counts(data: Labelled, p: np.ndarray, th: float, protect: float | None = None,
                genome: str | None = None, rescue: float | None = None, hard: float = 0.0) -> tuple[int, int, int]:
    """(TP, FP, FN) of the calls a site model with veto threshold ``th``, QUAL bound ``protect``, rescue
    threshold ``rescue`` and hard veto ``hard`` makes from the opened records
    (:func:`raygen.calling.classical.open_records`): the classical PASS calls with P(real) >= ``th``, or with a
    classical QUAL (restated at the bound's depth, :func:`depth_scaled_qual`) >= ``protect`` (None: no bound)
    and P(real) >= ``hard``; and the :data:`RESCUE` records with P(real) >= ``rescue`` (None: none; 0: every
    one). ``genome``: that BAM's rows alone."""
    return Outcomes(data, p).counts(th, protect, genome, rescue, hard)


#: Of the recall the un-vetoed candidates reach above the peer's on a training BAM, the share the veto must keep
#: out of fold: the peer's recall alone is met by a coin flip on a new sample, every true call kept (lossless)
#: leaves the veto no reach at 10x, where true hets and artifacts share a few reads.
RECALL_SHARE = 0.5


#: True alleles per training BAM the veto may lose below its floor out of fold: at 30x bcftools finds every true
#: allele of a simulated genome, and a floor of 100% lets no veto threshold but the loosest through.
RECALL_SLACK = 1


def recall_floor(eligible: float, peer: float | None, share: float = RECALL_SHARE) -> float:
    """The out-of-fold recall a veto must keep on one training BAM: its candidates' own (``eligible``) where
    there is no peer recall or the peer's is higher, else the peer's plus ``share`` of the gap."""
    if peer is None or eligible <= peer:
        return eligible
    return peer + share * (eligible - peer)


def _recall(c: tuple[int, int, int]) -> float:
    return c[0] / max(c[0] + c[2], 1)


def cross_fit(data: Labelled, *, targets: dict[str, float] | None = None, k: int = 5, seed: int = 0,
              card: dict | None = None) -> SiteModel:
    """Choose the L2 strength (lowest out-of-fold log loss), then the rescue threshold
    (:data:`RESCUE_THRESHOLDS`), the veto threshold (:data:`THRESHOLDS`), the veto's QUAL bound
    (:data:`PROTECT_QUALS`) and the hard veto below it (:data:`HARD_VETOES`) by ``k``-fold cross-validation on
    ``data`` alone; fit on all of ``data``.

    The choice is the one with the best out-of-fold F1 among those whose out-of-fold recall on EVERY training
    BAM reaches its :func:`recall_floor`: the issue's goal is F1 above bcftools' at equal or higher recall on
    every sample, so ``targets`` holds bcftools' recall per training BAM (``data.genome`` names; a BAM without
    one keeps every true call out of fold). Ties go to the narrowest (no rescue, then the strictest; lowest
    bound, lowest threshold, no hard veto). None reaching every floor: the one with the smallest worst shortfall.
    QUAL's calibration is fitted on the same out-of-fold P(real) (:func:`calibrate`)."""
    targets = targets or {}
    best = None
    for l2 in L2_GRID:
        p = np.clip(out_of_fold(data, l2, k, seed), 1e-6, 1 - 1e-6)
        loss = float(-(data.y * np.log(p) + (1 - data.y) * np.log1p(-p)).mean())
        if best is None or loss < best[0]:
            best = (loss, l2, p)
    loss, l2, p = best
    genomes = sorted(set(data.genome))
    out = Outcomes(data, p)
    floors = {g: recall_floor(_recall(out.counts(0.0, None, g, 0.0)), targets.get(g))
              - RECALL_SLACK / max(data.truth_by.get(g, 0), 1) for g in genomes}
    rows = {}
    for rescue in RESCUE_THRESHOLDS:  # narrowest first: max() below keeps the first of equal keys
        for protect in PROTECT_QUALS:
            for th in THRESHOLDS:
                for hard in HARD_VETOES if protect is not None else (0.0,):
                    tp, fp, fn = out.counts(th, protect, None, rescue, hard)
                    short = min(_recall(out.counts(th, protect, g, rescue, hard)) - floors[g] for g in genomes)
                    rows[(rescue, protect, th, hard)] = (2 * tp / max(2 * tp + fp + fn, 1), tp / max(tp + fn, 1),
                                                         min(short + 1e-9, 0.0))
    rescue, protect, th, hard = max(rows, key=lambda t: (rows[t][2], rows[t][0]))
    cv = {"folds": k, "fold_bp": FOLD_BP, "seed": seed, "l2": l2, "log_loss": round(loss, 4), "threshold": th,
          "protect_qual": protect, "rescue_threshold": rescue, "hard_veto": hard, "recall_share": RECALL_SHARE,
          "recall_slack": RECALL_SLACK, "peer_recall": {g: round(v, 4) for g, v in targets.items() if g in floors},
          "recall_floor": {g: round(v, 4) for g, v in floors.items()},
          "oof_recall": {g: round(_recall(out.counts(th, protect, g, rescue, hard)), 4) for g in genomes},
          "oof_f1_recall_by_threshold": {str(t): [round(f, 4), round(r, 4)]
                                         for (x, b, t, h), (f, r, _) in rows.items()
                                         if b == protect and x == rescue and h == hard}}
    return fit(data, l2=l2, card={**(card or {}), "threshold": th, "protect_qual": protect,
                                  "rescue_threshold": rescue, "hard_veto": hard, "cross_validation": cv,
                                  "calibration": calibrate(data, p)})


def rows(data: Labelled, keep: np.ndarray) -> Labelled:
    """The rows of ``data`` where ``keep`` (bool per row), with the truth counts of the BAMs they come from."""
    idx = np.flatnonzero(keep)
    genome = [data.genome[i] for i in idx]
    return Labelled([data.records[i] for i in idx], [data.lls[i] for i in idx], data.X[idx], data.y[idx],
                    [data.source[i] for i in idx], {g: n for g, n in data.truth_by.items() if g in set(genome)},
                    data.depth[idx], genome)


def cross_fit_by_depth(data: Labelled, *, targets: dict[str, float] | None = None, card: dict | None = None,
                       **kw) -> SiteModel:
    """:func:`cross_fit` on the BAMs of median depth >= :data:`LOW_DEPTH`, and separately on those below it
    (the returned model's :attr:`SiteModel.low`; none there: no stratum)."""
    low = data.depth < LOW_DEPTH
    if low.all() or not low.any():
        return cross_fit(data, targets=targets, card=card, **kw)
    strata = []
    for keep, depth in ((~low, f">= {LOW_DEPTH:g}x"), (low, f"< {LOW_DEPTH:g}x")):
        sub = rows(data, keep)
        strata.append(cross_fit(sub, targets=targets, **kw, card={
            **(card or {}), "depth": f"BAMs of median depth {depth}", "fitted_on": sorted(sub.truth_by)}))
    strata[0].low = strata[1]
    return strata[0]

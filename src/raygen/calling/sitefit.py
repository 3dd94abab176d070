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
from raygen.calling.errormodel import ErrorModel
from raygen.calling.features import FEATURES
from raygen.calling.shard import bam_profile, normalized_calls, shard_tables
from raygen.calling.records import CallRecord
from raygen.calling.sitemodel import SiteModel, depth_scaled_qual, fit_site_model, site_evidence
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
    source: list[str] = field(default_factory=list)  # one name per row
    truth_total: int = 0  # truth alleles in the regions (found by a candidate or not): the recall denominator
    depth: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row: its BAM's median depth (0: unknown)

    def __add__(self, other: "Labelled") -> "Labelled":
        return Labelled(self.records + other.records, self.lls + other.lls, np.concatenate([self.X, other.X]),
                        np.concatenate([self.y, other.y]), self.source + other.source,
                        self.truth_total + other.truth_total, np.concatenate([self.depth, other.depth]))


def collect(bam: str, reference: str, regions: list[Region], cfg: CallConfig | None = None, *,
            truth_vcf: str | None = None, name: str = "") -> Labelled:
    """Every candidate of ``bam`` in ``regions`` (0-based half-open) with its features; labelled against
    ``truth_vcf`` (without one every label is 0)."""
    cfg = cfg or CallConfig()
    em = ErrorModel.build(cfg, bam_profile(bam, reference, regions, cfg))
    ref = Reference(reference)
    af = open_bam(bam)
    recs, lls, xs = [], [], []
    try:
        for s in make_shards(regions, cfg.shard_bp, cfg.margin_bp):
            p = load_pileup(af, ref, s, cfg)
            t = shard_tables(p, s, cfg, em)
            r, ll, x = site_evidence(p, t, find_candidates(p, t, s, cfg), cfg, s.chrom, em)
            recs += normalized_calls(r, ref, s.chrom)
            lls += ll
            xs.append(x)
        truth = {a.key for a in read_alleles(truth_vcf, ref, pass_only=False)
                 if any(g.chrom == a.chrom and g.start <= a.pos - 1 < g.end for g in regions)} if truth_vcf else set()
    finally:
        af.close()
        ref.close()
    y = np.array([(r.chrom, r.pos, r.ref, r.alt) in truth for r in recs], dtype=np.int8)
    X = np.concatenate(xs) if xs else np.zeros((0, len(FEATURES)), np.float32)
    return Labelled(recs, lls, X, y, [name] * len(recs), len(truth), np.full(len(recs), em.depth_median or 0.0))


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


def _folds(n: int, k: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % k


def out_of_fold(data: Labelled, l2: float, k: int = 5, seed: int = 0) -> np.ndarray:
    """P(real) of every candidate from a model fitted on the other ``k - 1`` folds."""
    fold = _folds(len(data.y), k, seed)
    p = np.zeros(len(data.y))
    for f in range(k):
        tr = fold != f
        sub = Labelled([], [], data.X[tr], data.y[tr], [s for s, t in zip(data.source, tr) if t])
        p[~tr] = fit(sub, l2=l2).predict(data.X[~tr])
    return p


def calibrate(data: Labelled, p: np.ndarray) -> dict | None:
    """The Platt mapping of the out-of-fold logit ``log(p / (1 - p))`` to the label, fitted on the classical
    PASS calls (the records a user thresholds by QUAL), each source weighted alike; as a card entry. None
    (QUAL stays the model's own P(real)) without both true and false calls to fit it on."""
    called = np.array([r.filter == "PASS" and r.gt != (0, 0) for r in data.records], bool)
    if len(set(data.y[called].tolist())) < 2:
        return None
    s = np.log(p[called]) - np.log1p(-p[called])
    src = [x for x, c in zip(data.source, called) if c]
    m = fit_platt(data.y[called], s, source="out-of-fold calls of " + ", ".join(sorted(set(src))),
                  weights=source_weights(src))
    return m.as_dict()


def veto_counts(data: Labelled, p: np.ndarray, th: float, protect: float | None = None) -> tuple[int, int, int]:
    """(TP, FP, FN) of the classical PASS calls that a veto at P(real) >= ``th`` keeps; calls with a classical
    QUAL (restated at the bound's depth, :func:`depth_scaled_qual`) >= ``protect`` are kept whatever P(real)
    (None: no bound)."""
    depth = data.depth if len(data.depth) == len(data.records) else None
    qual = depth_scaled_qual(np.array([r.qual for r in data.records], np.float64), depth)
    safe = (qual >= protect) if protect is not None else np.zeros(len(qual), bool)
    called = np.array([r.filter == "PASS" and r.gt != (0, 0) for r in data.records], bool) & ((p >= th) | safe)
    tp, fp = int((called & (data.y == 1)).sum()), int((called & (data.y == 0)).sum())
    return tp, fp, max(data.truth_total, int(data.y.sum())) - tp


def cross_fit(data: Labelled, *, target_recall: float | None = None, lossless: bool = True, k: int = 5,
              seed: int = 0, card: dict | None = None) -> SiteModel:
    """Choose the L2 strength (lowest out-of-fold log loss), the veto threshold and the veto's QUAL bound
    (:data:`PROTECT_QUALS`) by ``k``-fold cross-validation on ``data`` alone, then fit on all of ``data``.

    The pair is the one with the best out-of-fold F1 among those whose out-of-fold recall is at least
    ``target_recall`` (the issue's goal: F1 above bcftools' at equal or higher recall, so the target is
    bcftools' recall on the same training data). ``lossless``: the target is also at least the recall of the
    classical calls themselves, so the veto may not remove one true call out of fold: on a new sample the
    classical caller and bcftools find the same true variants (issue #18), and every true call the veto
    drops there is recall below bcftools'. Ties go to the narrowest veto (lowest bound, then lowest
    threshold): a veto reaches no further than the training data show it must. No pair reaching the target:
    the pairs of the highest recall compete. QUAL's calibration is fitted on the same out-of-fold P(real)
    (:func:`calibrate`)."""
    best = None
    for l2 in L2_GRID:
        p = np.clip(out_of_fold(data, l2, k, seed), 1e-6, 1 - 1e-6)
        loss = float(-(data.y * np.log(p) + (1 - data.y) * np.log1p(-p)).mean())
        if best is None or loss < best[0]:
            best = (loss, l2, p)
    loss, l2, p = best
    rows = {}
    for protect in PROTECT_QUALS:  # narrowest veto first: max() below keeps the first of equal F1s
        for th in THRESHOLDS:
            tp, fp, fn = veto_counts(data, p, th, protect)
            rows[(protect, th)] = (2 * tp / max(2 * tp + fp + fn, 1), tp / max(tp + fn, 1))
    if lossless:
        tp, _, fn = veto_counts(data, p, 0.0, None)
        target_recall = max(target_recall or 0.0, tp / max(tp + fn, 1))
    reach = min(target_recall or 0.0, max(r for _, r in rows.values()))
    ok = [key for key, (_, r) in rows.items() if r >= reach - 1e-9]
    protect, th = max(ok, key=lambda t: rows[t][0])
    cv = {"folds": k, "seed": seed, "l2": l2, "log_loss": round(loss, 4), "threshold": th,
          "protect_qual": protect, "target_recall": target_recall,
          "oof_f1_recall_by_threshold": {str(t): [round(f, 4), round(r, 4)] for (b, t), (f, r) in rows.items()
                                         if b == protect}}
    return fit(data, l2=l2, card={**(card or {}), "threshold": th, "protect_qual": protect,
                                  "cross_validation": cv, "calibration": calibrate(data, p)})

"""The site model: a calibrated P(the allele is real) from the classical call and its evidence features, and a
FILTER that says why a call failed.

A logistic regression over the standardized :data:`raygen.calling.features.FEATURES` (plus a few products
with ``is_indel``, so SNVs and indels weigh the evidence differently), L2-regularized, fitted on labelled
candidates (:func:`fit_site_model`; the protocol that fits the shipped model is in docs/call.md's calling
section). It judges the opened classical records (:func:`raygen.calling.classical.open_records`): the veto
compares a classical call's P(real) with its cross-validated threshold, the rescue a candidate only the plain
likelihood calls with its own; BAMs below :data:`LOW_DEPTH` median depth get the model's low-depth stratum.
QUAL is -10 log10 P(not real) after a Platt calibration of the model's logit (fitted on out-of-fold
predictions of the training calls, :func:`raygen.calling.sitefit.cross_fit`), so a QUAL threshold is a
precision threshold on data like the training data. A vetoed (or unrescued) call gets FILTER ``LowQual`` plus
the evidence groups that pulled it down (:data:`FILTER_GROUPS`), each declared in the VCF header.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from raygen.calling.candidates import Candidate, Pileup, SiteTables
from raygen.calling.classical import (RESCUE, cluster_filter, genotype_classical, genotype_open, paralog_filter,
                                      snv_alt_mapq)
from raygen.calling.errormodel import ErrorModel
from raygen.calling.features import FEATURES, evidence_features
from raygen.calling.records import CallRecord
from raygen.config import CallConfig
from raygen.errors import InputError
from raygen.eval.calibration import PlattMapping
from raygen.io.atomic import atomic_path

FORMAT = "raygen-site-model/1"
#: The model shipped with raygen (fitted by `benchmarks/call.py fit`; its card is MODEL_CARD.md beside it).
DEFAULT_PATH = Path(__file__).parent / "models" / "site_model.json"
#: Features multiplied by ``is_indel`` as extra columns (indel evidence differs from SNV evidence).
INDEL_INTERACTIONS = ("lod", "vaf", "vaf_dev", "hp_len", "str_span", "noise_alt", "strand_alt", "clip_alt")
#: Features multiplied by ``1 - het`` (hom-alt-like rows) as extra columns: a true hom-alt inside a segmental
#: duplication reads at the copies' low MAPQ like a paralog's artifact does, but a paralog's reads seldom make
#: a hom-alt fraction; one slope for both lets low MAPQ veto those hom-alts (NA12878 10,012,570-572, AD 1/13).
HOM_INTERACTIONS = ("mq_alt",)
#: FILTER names and the features whose contribution they sum; a filtered call lists every group whose
#: contribution, against a typical true variant's, is below -1 (its odds fell by more than e).
FILTER_GROUPS = {
    "LowMQ": ("lowmq_frac", "mq_alt", "mq_diff"),
    "StrandBias": ("strand_alt", "sor", "strand_p"),
    "Paralog": ("noise_alt", "noise_diff", "density", "depth_ratio"),
    "SoftClip": ("clip_alt", "clip_diff", "readpos_alt"),
    "LowComplexity": ("hp_len", "str_span", "complexity", "gc"),
}
FILTER_DESCRIPTIONS = {
    "LowQual": "QUAL below the threshold",
    "LowMQ": "ALT reads mapped with low MAPQ, or many reads below the MAPQ threshold (multi-mapping)",
    "StrandBias": "ALT reads on one strand only, or allele and strand associated",
    "Paralog": "ALT reads carry extra low-fraction mismatches, or clustered noisy sites or excess depth "
               "(mis-mapped paralog or collapsed duplication)",
    "SoftClip": "ALT reads soft-clipped or the allele only near read ends",
    "LowComplexity": "homopolymer, tandem repeat or low-complexity sequence",
}
MAX_QUAL = 99.0
#: The depth the veto's QUAL bound is stated at: a classical QUAL grows about linearly with depth at the same
#: allele fractions, so the bound compares ``QUAL * BOUND_DEPTH / (the BAM's median depth)`` (a bound fitted
#: on a 50x BAM keeps at 10x the calls whose evidence is as strong for their depth).
BOUND_DEPTH = 30.0


def depth_scaled_qual(qual: np.ndarray | float, depth_median: np.ndarray | float | None):
    """Classical QUAL restated at :data:`BOUND_DEPTH` (``depth_median`` unknown or 0: unchanged)."""
    d = np.asarray(depth_median if depth_median is not None else 0.0, np.float64)
    return np.asarray(qual, np.float64) * np.where(d > 0, BOUND_DEPTH / np.where(d > 0, d, 1.0), 1.0)


#: Features the site model does not read: absolute levels that differ between sequencing runs (depth 30x vs
#: 60x, one aligner's MAPQ scale, a run's error and soft-clip rates, read length) and would not transfer to
#: another BAM. The model reads their relative forms instead: ALT reads against the same site's REF reads
#: (``mq_diff``, ``noise_diff``, ``clip_diff``) and depth against the BAM's own median (``depth_ratio``). ALT reads'
#: mean MAPQ (``mq_alt``) is read: BWA-like aligners share the 0-60 scale, and it is what tells a paralog's
#: reads at 2-3 ALT reads (the training genomes hold 10x, 30x and 52x BAMs).
NOT_TRANSFERABLE = ("log_depth", "noise_alt", "clip_alt")
#: BAMs whose median depth is below this are judged by the model's low-depth stratum (:attr:`SiteModel.low`):
#: at 10x a true het and an artifact share 2-3 ALT reads, and a model fitted mostly on 30-50x candidates ranks
#: those hets below the artifacts it learnt there (measured: out of fold it kept 343 of 352 true 10x calls at
#: the first threshold, a 10x-only model 352). The bound sits between the 10x and 30x training genomes.
LOW_DEPTH = 18.0


def design(X: np.ndarray) -> np.ndarray:
    """Feature matrix ``[N, len(FEATURES)]`` -> the model's columns (:func:`column_names`: features, then indel
    and hom-alt interactions); :data:`NOT_TRANSFERABLE` columns are zeroed (a zero column gets a zero
    coefficient)."""
    X = np.array(X, dtype=np.float64)
    X[:, [FEATURES.index(f) for f in NOT_TRANSFERABLE]] = 0.0
    ind = X[:, FEATURES.index("is_indel")][:, None]
    hom = 1.0 - X[:, FEATURES.index("het")][:, None]
    return np.concatenate([X, X[:, [FEATURES.index(f) for f in INDEL_INTERACTIONS]] * ind,
                           X[:, [FEATURES.index(f) for f in HOM_INTERACTIONS]] * hom], axis=1)


def column_names() -> list[str]:
    """The names of :func:`design`'s columns (``feature*is_indel``, ``feature*hom``: the interactions)."""
    return (list(FEATURES) + [f"{f}*is_indel" for f in INDEL_INTERACTIONS]
            + [f"{f}*hom" for f in HOM_INTERACTIONS])


@dataclass
class SiteModel:
    """Fitted coefficients over :func:`design` columns (standardized with ``mean``/``scale``)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    typical: np.ndarray  # mean standardized columns of the true variants it was fitted on
    card: dict = field(default_factory=dict)  # what it was fitted on
    low: "SiteModel | None" = None  # the stratum for BAMs of median depth below LOW_DEPTH (None: this one)

    def for_depth(self, depth_median: float | None) -> "SiteModel":
        """The stratum that judges a BAM of this median depth (unknown: this one)."""
        return self.low if self.low is not None and depth_median and depth_median < LOW_DEPTH else self

    @property
    def threshold(self) -> float:
        """The veto's P(real) threshold (uncalibrated :meth:`predict`), chosen on the training data (card)."""
        return float(self.card.get("threshold", 0.5))

    @property
    def min_qual(self) -> float:
        """Phred of :attr:`threshold` (the uncalibrated P(real) a PASS call needs)."""
        return float(qual_from_p(np.array([self.threshold]))[0])

    @property
    def calibration(self) -> PlattMapping | None:
        """The Platt mapping logit -> calibrated P(real) (card; absent in models fitted before it: identity)."""
        c = self.card.get("calibration")
        return PlattMapping.from_dict(c) if c else None

    @property
    def rescue_threshold(self) -> float:
        """The P(real) at or above which a record the classical model did not call becomes a call
        (:data:`raygen.calling.classical.RESCUE`; card; absent: never)."""
        r = self.card.get("rescue_threshold")
        return float("inf") if r is None else float(r)

    @property
    def hard_veto(self) -> float:
        """The P(real) below which :attr:`protect_qual` protects no call (card; absent: 0, the bound always
        protects)."""
        return float(self.card.get("hard_veto") or 0.0)

    @property
    def protect_qual(self) -> float:
        """The classical QUAL, restated at :data:`BOUND_DEPTH` (:func:`depth_scaled_qual`), at or above which
        the veto keeps a call (card; absent: no bound, infinity)."""
        b = self.card.get("protect_qual")
        return float("inf") if b is None else float(b)

    def logit(self, X: np.ndarray) -> np.ndarray:
        z = (design(X) - self.mean) / self.scale
        return z @ self.coef + self.intercept

    def predict(self, X: np.ndarray) -> np.ndarray:
        """P(real) per row of ``X`` (features in :data:`FEATURES` order), as fitted: what the veto reads."""
        return 1.0 / (1.0 + np.exp(-self.logit(X)))

    def calibrated(self, X: np.ndarray, logit: np.ndarray | None = None) -> np.ndarray:
        """Calibrated P(real) per row of ``X``: what QUAL reports (:attr:`calibration`; none: :meth:`predict`).
        ``logit``: :meth:`logit` of ``X`` when the caller has it already."""
        s = self.logit(X) if logit is None else logit
        cal = self.calibration
        return 1.0 / (1.0 + np.exp(-s)) if cal is None else cal(s)

    def reasons(self, x: np.ndarray) -> list[str]:
        """FILTER groups that pull one row's odds down by more than e against a typical true variant, the
        strongest first."""
        z = (design(x[None, :])[0] - self.mean) / self.scale
        contrib = self.coef * (z - self.typical)
        names = column_names()
        sums = {g: float(contrib[[i for i, n in enumerate(names) if n.split("*")[0] in feats]].sum())
                for g, feats in FILTER_GROUPS.items()}
        return sorted((g for g, v in sums.items() if v < -1.0), key=lambda g: sums[g])

    def to_dict(self) -> dict:
        return {"format": FORMAT, "features": list(FEATURES), "interactions": list(INDEL_INTERACTIONS),
                "hom_interactions": list(HOM_INTERACTIONS),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept, "typical": self.typical.tolist(), "card": self.card,
                **({"low_depth": self.low.to_dict()} if self.low is not None else {})}

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "SiteModel":
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read site model {str(path)!r}: {exc}") from None
        if d.get("format") != FORMAT or tuple(d.get("features", ())) != FEATURES \
                or tuple(d.get("interactions", ())) != INDEL_INTERACTIONS \
                or tuple(d.get("hom_interactions", ())) != HOM_INTERACTIONS:
            raise InputError(f"{str(path)!r} is not a {FORMAT} model for this raygen's features; refit it "
                             "(`python benchmarks/call.py fit --out FILE`, docs/call.md)")
        try:
            return cls._from_dict(d)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{str(path)!r} is not a complete {FORMAT} model ({type(exc).__name__}: {exc}); "
                             "refit it (`python benchmarks/call.py fit --out FILE`, docs/call.md)") from None

    @classmethod
    def _from_dict(cls, d: dict) -> "SiteModel":
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef", "typical")}
        low = cls._from_dict(d["low_depth"]) if d.get("low_depth") else None
        return cls(intercept=float(d["intercept"]), card=d.get("card", {}), low=low, **arr)


@functools.lru_cache(maxsize=8)
def load_site_model(spec: str) -> SiteModel | None:
    """``"default"`` (the shipped model), ``"none"`` (no recalibration) or a path; cached per process."""
    if spec == "none":
        return None
    path = DEFAULT_PATH if spec == "default" else Path(spec)
    if spec == "default" and not path.exists():
        return None
    return SiteModel.load(path)


def fit_site_model(X: np.ndarray, y: np.ndarray, *, l2: float = 1.0, weights: np.ndarray | None = None,
                   card: dict | None = None) -> SiteModel:
    """Fit P(real) = sigmoid(z . coef + b) by L-BFGS on the weighted log loss plus ``l2`` / 2 |coef|^2.

    ``X``: ``[N, len(FEATURES)]``; ``y``: 1 real, 0 not; ``weights`` per row (default 1).
    """
    D = design(X)
    mean = D.mean(axis=0)
    scale = D.std(axis=0)
    scale[scale < 1e-6] = 1.0
    Z = (D - mean) / scale
    w = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
    y = np.asarray(y, np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, c = theta[0], theta[1:]
        s = Z @ c + b
        lse = np.logaddexp(0.0, s)
        val = float((w * (lse - y * s)).sum() + 0.5 * l2 * (c @ c))
        g = w * (1.0 / (1.0 + np.exp(-s)) - y)
        return val, np.concatenate([[g.sum()], Z.T @ g + l2 * c])

    res = minimize(loss, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    typical = Z[y > 0.5].mean(axis=0) if (y > 0.5).any() else np.zeros(Z.shape[1])
    return SiteModel(mean, scale, res.x[1:], float(res.x[0]), typical, dict(card or {}))


def qual_from_p(p: np.ndarray) -> np.ndarray:
    """QUAL = -10 log10(1 - p), capped at :data:`MAX_QUAL`."""
    return np.minimum(-10.0 * np.log10(np.clip(1.0 - p, 1e-12, 1.0)), MAX_QUAL)


def recalibrate(recs: list[CallRecord], lls: list[np.ndarray], X: np.ndarray, model: SiteModel,
                min_qual: float | None = None, depth_median: float | None = None) -> list[CallRecord]:
    """Records with QUAL from the site model and FILTER PASS / RefCall / LowQual[;reasons].

    ``recs`` are the opened records (:func:`raygen.calling.classical.open_records`). A classical PASS call stays
    PASS if its P(real) reaches the model's threshold (fitted by cross-validation on its training data,
    :func:`raygen.calling.sitefit.cross_fit`; ``min_qual`` given: its calibrated QUAL reaches that instead), or
    its classical QUAL, restated at the bound's depth (``depth_median``: the BAM's), reaches the model's
    ``protect_qual`` and its P(real) the model's ``hard_veto`` (both cross-validated with the threshold): the
    veto. A record the classical model did not call
    (:data:`~raygen.calling.classical.RESCUE`) becomes PASS only if its P(real) reaches the model's
    ``rescue_threshold`` (cross-validated too; absent: never; ``min_qual`` given: its calibrated QUAL reaches
    that instead): the rescue. QUAL is the calibrated P(real)'s
    Phred (:meth:`SiteModel.calibrated`). GQ becomes P(this genotype wrong) = P(not real) + P(real, the other
    non-ref genotype by the likelihoods ``lls``: natural log, 0/0 0/1 1/1)."""
    if not recs:
        return recs
    s = model.logit(X)
    raw = 1.0 / (1.0 + np.exp(-s))
    p = model.calibrated(X, s)
    quals = qual_from_p(p)
    keep = raw >= model.threshold if min_qual is None else quals >= min_qual
    out = []
    for r, ll, x, q, pr, ok, rs in zip(recs, lls, X, quals, p, keep, raw):
        q = float(round(q, 2))
        gq = r.gq
        if r.gt != (0, 0):
            other = ll[2] if r.gt == (0, 1) else ll[1]
            p_other = float(np.exp(other - np.logaddexp(ll[1], ll[2])))
            p_wrong = (1.0 - pr) + pr * p_other
            gq = int(min(gq, round(-10.0 * np.log10(max(p_wrong, 1e-10)))))
        if r.gt == (0, 0):
            filt = "RefCall"
        elif r.filter == "PASS" and (ok or (depth_scaled_qual(r.qual, depth_median) >= model.protect_qual
                                             and rs >= model.hard_veto)):
            filt = "PASS"
        elif r.filter == RESCUE and (rs >= model.rescue_threshold if min_qual is None else q >= min_qual):
            filt = "PASS"
        else:
            filt = ";".join(["LowQual", *model.reasons(x)])
        out.append(dataclasses.replace(r, qual=q, gq=max(gq, 0), filter=filt))
    return out


#: The strand features of a muted row (:func:`mute_strand`): about the mean of the true calls in the training
#: data (NA12878 and the simulated genomes: minor-strand share 0.4, |log SOR| 0.5, strand_p 0.3), so a muted
#: row's strand neither lowers its P(real) nor names StrandBias.
MUTED_STRAND = {"strand_alt": 0.4, "sor": 0.5, "strand_p": 0.3}


def mute_strand(X: np.ndarray, alt_count: np.ndarray, min_alt: int) -> np.ndarray:
    """``X`` with the strand features (:data:`MUTED_STRAND`'s) of SNVs seen by fewer than ``min_alt`` ALT reads
    set to :data:`MUTED_STRAND`: two ALT reads sit on one strand half the time, a strand test on them has no
    power. The same rows are muted in training (:func:`site_evidence`) and calling, so the model learns them as
    they are called. Indels are left as they are (their strand columns also enter the indel interactions)."""
    rows = (alt_count < min_alt) & (X[:, FEATURES.index("is_indel")] == 0)
    if not rows.any():
        return X
    X = X.copy()
    for f, v in MUTED_STRAND.items():
        X[rows, FEATURES.index(f)] = v
    return X


def site_evidence(p: Pileup, t: SiteTables, cands: list[Candidate], cfg: CallConfig, chrom: str, em: ErrorModel
                  ) -> tuple[list[Candidate], list[CallRecord], list[np.ndarray], np.ndarray]:
    """The re-scored candidates, their opened classical records (:func:`raygen.calling.classical.open_records`:
    QUAL the Bayesian model's own), genotype log-likelihoods and evidence features ``[N, len(FEATURES)]``
    (strand muted where it has no power, :func:`mute_strand`): what the site model reads, in calling and in
    :mod:`raygen.calling.sitefit`'s training data alike."""
    cands2, recs, sups, lls, plain = genotype_open(p, t, cands, cfg, chrom, em)
    X = evidence_features(p, t, cands2, recs, sups, cfg, em.depth_median, plain)
    return cands2, recs, lls, mute_strand(X, np.array([c.alt_count for c in cands2], np.int64), cfg.strand_min_alt)


def genotype_sites(p: Pileup, t: SiteTables, cands: list[Candidate], cfg: CallConfig, chrom: str, em: ErrorModel,
                   model: SiteModel | None) -> list[CallRecord]:
    """The classical genotyper, then (with a model) the recalibrated QUAL/FILTER; without one, the classical
    QUAL with ``cfg.min_qual`` and the SNV-cluster filter."""
    if model is None:
        cands2, recs, sups, lls = genotype_classical(p, t, cands, cfg, chrom, em)
        recs = cluster_filter(t, cands2, recs, cfg)
    else:
        cands2, recs, lls, X = site_evidence(p, t, cands, cfg, chrom, em)
        recs = recalibrate(recs, lls, X, model.for_depth(em.depth_median), cfg.site_min_qual, em.depth_median)
    # the site model was fitted on data without segmental-duplication PSVs at het fractions: the rule is both paths'
    if cfg.paralog_min_sites <= 0:
        return recs
    near = (cfg.cluster_window, cfg.paralog_min_sites)
    return paralog_filter(cands2, recs, snv_alt_mapq(p, cands2, near), snv_alt_mapq(p, cands2, near, "ref"), cfg)

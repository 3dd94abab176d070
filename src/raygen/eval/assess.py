"""How good and how calibrated a score is, on labelled variants: the computation behind ``raygen assess``.

Inputs are an allele table (:mod:`raygen.eval.scored`) and labels (``chrom pos ref alt label``, 1-based
pos, label 0/1; :func:`raygen.train.labels.read_labels`). Both sides are keyed by the normalized allele
(:func:`raygen.normalize.normalize_allele`: left-aligned against the reference when one is given, else
trimmed), so an indel written differently on the two sides still meets.

Per score (oriented so that larger means "more likely positive": ``-RAYGEN_LLR`` by default):

- AUROC and AUPRC with percentile confidence intervals from a seeded Poisson bootstrap
  (:mod:`raygen.eval.ranking`); the AUPRC of a random score equals the positive fraction, printed beside it;
- calibration (ECE, Brier, reliability table; :mod:`raygen.eval.calibration`) of a probability: the score
  itself for ``RAYGEN_PROB`` (and ``KEY:prob``), else the Platt mapping fitted on ``calibration`` labels;
- PP3/BP4 thresholds (:mod:`raygen.eval.thresholds`) on that probability, fitted on ``calibration`` labels,
  then applied to the assessed labels to show how they hold on data they were not chosen on;
- the same metrics per slice (:mod:`raygen.eval.slices`); a slice with fewer than ``min_slice_variants``
  labelled variants, or fewer than ``min_slice_class`` of either class, says so instead of a number.

Nothing is fitted on the assessed labels: mapping and thresholds come from ``calibration`` alone, and a
variant in both sets stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from raygen.config import AssessConfig
from raygen.errors import InputError, UsageError
from raygen.eval.calibration import PlattMapping, brier, ece, fit_platt, reliability
from raygen.eval.scored import SPLICEAI_KEY
from raygen.eval.ranking import auprc_weighted, auroc_weighted, bootstrap_ci, curve_points
from raygen.eval.slices import level_key
from raygen.eval.thresholds import STRENGTHS, choose_thresholds, spliceai_thresholds, strength_of
from raygen.normalize import normalize_allele
from raygen.train.labels import LabelTable

#: Scores that are probabilities already (calibration is measured on them directly).
PROBABILITY_KEYS = ("RAYGEN_PROB",)
#: Scores where a lower value means "more likely an effect" (negated before ranking).
NEGATIVE_KEYS = ("RAYGEN_LLR",)
ORIENTS = ("pos", "neg", "abs", "prob")
#: Labelled variants listed (not only counted) when they are missing from the scores.
MAX_LISTED = 50


@dataclass(frozen=True)
class ScoreSpec:
    """A score column and how to read it: ``pos`` (larger = effect), ``neg`` (smaller = effect), ``abs``
    (larger magnitude = effect) or ``prob`` (a probability of an effect, larger = effect)."""

    key: str
    orient: str

    @classmethod
    def parse(cls, text: str) -> "ScoreSpec":
        key, _, orient = text.partition(":")
        if not orient:
            orient = "prob" if key in PROBABILITY_KEYS else ("neg" if key in NEGATIVE_KEYS else "pos")
        if orient not in ORIENTS or not key:
            raise UsageError(f"--score {text!r}: write KEY or KEY:{'|'.join(ORIENTS)} (e.g. RAYGEN_LLR:neg)")
        return cls(key, orient)

    @property
    def label(self) -> str:
        return {"neg": f"-{self.key}", "abs": f"|{self.key}|"}.get(self.orient, self.key)

    def oriented(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        return -v if self.orient == "neg" else (np.abs(v) if self.orient == "abs" else v)


def allele_keys(chroms, positions, refs, alts, reference) -> list[tuple[str, int, str, str]]:
    """Normalized ``(chrom, pos, ref, alt)`` of each allele (1-based pos)."""
    out = []
    for c, p, r, a in zip(chroms, positions, refs, alts):
        npos, nref, nalt = normalize_allele(str(c), int(p), str(r), str(a), reference)
        out.append((str(c), npos, nref, nalt))
    return out


def match_labels(alleles: pa.Table, labels: LabelTable, reference) -> dict:
    """Labelled alleles found among the scored ones: ``{"index"`` (allele rows), ``"y"``, ``"missing"``
    (labelled variants absent from the scores, as ``chrom:pos:ref>alt``), ``"duplicates"`` (later rows of an
    allele already labelled: ignored) and ``"conflicting_duplicates"`` (those with another label)}``."""
    scored = allele_keys(alleles["chrom"].to_pylist(), alleles["pos"].to_pylist(), alleles["ref"].to_pylist(),
                         alleles["alt"].to_pylist(), reference)
    where: dict[tuple, int] = {}
    for i, k in enumerate(scored):
        where.setdefault(k, i)
    lab = allele_keys(labels.chrom, labels.pos, labels.ref, labels.alt, reference)
    index, y, missing, seen, dup, conflicts = [], [], [], {}, 0, 0
    for k, label, (c, p, r, a) in zip(lab, labels.label, zip(labels.chrom, labels.pos, labels.ref, labels.alt)):
        if k in seen:  # the first label of an allele counts; a later, different one is counted as a conflict
            dup += 1
            conflicts += int(seen[k] != int(label))
            continue
        seen[k] = int(label)
        i = where.get(k)
        if i is None:
            missing.append(f"{c}:{p}:{r}>{a}")
        else:
            index.append(i)
            y.append(int(label))
    return {"index": np.array(index, dtype=np.int64), "y": np.array(y, dtype=np.int64), "missing": missing,
            "duplicates": dup, "conflicting_duplicates": conflicts, "keys": {lab[j] for j in range(len(lab))}}


def too_few(n: int, pos: int, cfg: AssessConfig) -> str | None:
    """Why a set of ``n`` labelled variants (``pos`` positive) is too small for a number, else None."""
    neg = n - pos
    if n < cfg.min_slice_variants or pos < cfg.min_slice_class or neg < cfg.min_slice_class:
        return (f"too few variants: {n} ({pos} with effect, {neg} without); needs >= {cfg.min_slice_variants} "
                f"with >= {cfg.min_slice_class} of each class")
    return None


def metrics(y: np.ndarray, score: np.ndarray, prob: np.ndarray | None, cfg: AssessConfig, *,
            reliability_table: bool = False) -> dict:
    """Counts, AUROC/AUPRC with CIs, and (given probabilities) ECE, Brier and the reliability table; with
    ``reliability_table`` also the ROC and precision-recall curve points."""
    n, pos = int(len(y)), int(np.sum(y))
    out: dict = {"n": n, "positives": pos}
    why = too_few(n, pos, cfg)
    if why:
        out["too_few"] = why
        return out
    for name, fn in (("auroc", auroc_weighted), ("auprc", auprc_weighted)):
        est, lo, hi = bootstrap_ci(fn, y, score, replicates=cfg.bootstrap, level=cfg.ci_level, seed=cfg.seed)
        out[name] = {"value": est, "ci_low": lo, "ci_high": hi}
    out["auprc"]["random"] = pos / n
    if prob is not None:
        out["ece"] = ece(y, prob, cfg.calibration_bins)
        out["brier"] = brier(y, prob)
        if reliability_table:
            out["reliability"] = reliability(y, prob, cfg.calibration_bins)
    if reliability_table:
        out["curves"] = curve_points(y, score)
    return out


def evidence_counts(y: np.ndarray, prob: np.ndarray, thresholds: dict) -> dict:
    """How the thresholds sort the assessed variants: per code and strength, the count, the positives and
    the observed likelihood ratio ``(positives / all positives) / (negatives / all negatives)``."""
    codes = [strength_of(float(p), thresholds) for p in prob]
    n_pos, n_neg = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    out = {}
    for code in ("PP3", "BP4"):
        for name in STRENGTHS:
            m = np.array([c == (code, name) for c in codes], dtype=bool)
            if not m.any():
                continue
            k, j = int(y[m].sum()), int(m.sum() - y[m].sum())
            lr = (k / n_pos) / (j / n_neg) if j else float("inf")
            out[f"{code}_{name}"] = {"n": int(m.sum()), "positives": k, "observed_lr": lr}
    out["none"] = {"n": int(sum(c[0] is None for c in codes))}
    return out


def _probability(spec: ScoreSpec, values: np.ndarray, mapping: PlattMapping | None) -> np.ndarray | None:
    if spec.orient == "prob":
        return np.clip(values, 0.0, 1.0)
    return mapping(spec.oriented(values)) if mapping is not None else None


def assess_score(spec: ScoreSpec, values: np.ndarray, y: np.ndarray, slices: dict[str, list[str]],
                 calibration: tuple[np.ndarray, np.ndarray, str] | None, cfg: AssessConfig) -> dict:
    """Everything ``raygen assess`` reports for one score (see the module docstring).

    ``values``/``y``/``slices`` are the assessed labelled alleles; ``calibration`` is ``(values, y, source)``
    of the calibration labels (or None: no mapping, no thresholds).
    """
    ok = np.isfinite(values)
    out: dict = {"key": spec.key, "orientation": spec.orient, "label": spec.label,
                 "unscored": int((~ok).sum())}
    mapping, thresholds = None, None
    if calibration is not None:
        cv, cy, src = calibration
        cok = np.isfinite(cv)
        if spec.orient != "prob" and cok.sum() >= 2 and 0 < cy[cok].sum() < cok.sum():
            mapping = fit_platt(cy[cok], spec.oriented(cv[cok]), src)
            out["mapping"] = mapping.as_dict()
        cp = _probability(spec, cv[cok], mapping)
        if cp is not None:
            thresholds = choose_thresholds(cy[cok], cp, source=src, window_fraction=cfg.threshold_window_fraction,
                                           min_window=cfg.threshold_min_window, replicates=cfg.threshold_bootstrap,
                                           seed=cfg.seed)
            out["thresholds"] = thresholds
    v, yy = values[ok], y[ok]
    prob = _probability(spec, v, mapping)
    out["overall"] = metrics(yy, spec.oriented(v), prob, cfg, reliability_table=True)
    out["calibrated"] = prob is not None
    if thresholds is not None and prob is not None:
        out["evidence_on_assessed"] = evidence_counts(yy, prob, thresholds)
    if spec.key == SPLICEAI_KEY:  # the published thresholds apply to the raw delta score
        out["published_thresholds"] = spliceai_thresholds(cfg.spliceai_pp3, cfg.spliceai_bp4)
        out["evidence_published_on_assessed"] = evidence_counts(yy, v, out["published_thresholds"])
    out["slices"] = {}
    for name, labels in slices.items():
        lab = np.asarray(labels, dtype=object)[ok]
        out["slices"][name] = {level: metrics(yy[lab == level], spec.oriented(v[lab == level]),
                                              None if prob is None else prob[lab == level], cfg)
                               for level in sorted(set(lab.tolist()), key=level_key)}
    return out


def check_disjoint(assessed: set, calibration: set, labels: str, calib: str) -> None:
    """Stop when a variant is labelled in both sets: nothing may be fitted on the data reported."""
    both = assessed & calibration
    if both:
        first = ", ".join(f"{c}:{p}:{r}>{a}" for c, p, r, a in sorted(both)[:5])
        raise InputError(f"{len(both)} variant(s) are in both {labels} and the calibration labels {calib} "
                         f"(e.g. {first}); mappings and thresholds are never fitted on the variants assessed: "
                         "give disjoint label sets")


def labelled_values(alleles: pa.Table, matched: dict, keys: list[str]) -> dict[str, np.ndarray]:
    """Per score key, the values of the matched labelled alleles."""
    idx = pa.array(matched["index"])
    return {k: np.asarray(alleles[k].take(idx).to_numpy(zero_copy_only=False), dtype=float) for k in keys}


def describe_missing(missing: list[str]) -> dict:
    return {"count": len(missing), "listed": missing[:MAX_LISTED]}


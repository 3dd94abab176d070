"""The error rates and priors the genotypers use: from the BAM's own error profile when there is one
(:mod:`raygen.calling.profile`), else the fixed defaults of :class:`raygen.config.CallConfig`.

One object per call, shared by every shard: base error per (read-cycle bin, reported quality), indel error per
homopolymer length and STR span, the artifact-site prior and fraction, the het allele-count dispersion and
the depth median.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygen.calling.profile import CYCLE_BINS, MAX_HP, MAX_STR_SPAN, Q_MAX, ErrorProfile
from raygen.config import CallConfig


@dataclass(frozen=True)
class ErrorModel:
    """Rates used by :func:`raygen.calling.candidates.site_tables` and :mod:`raygen.calling.classical`."""

    bq_error: np.ndarray  # [CYCLE_BINS, Q_MAX + 1] P(base wrong | cycle bin, reported quality)
    hp_rate: np.ndarray | None  # [MAX_HP + 1] per-read indel error by homopolymer length; None: cfg's linear rule
    str_rate: np.ndarray | None  # [MAX_STR_SPAN + 1] by STR span (bp)
    artifact_weight: float
    artifact_fraction: float
    het_concentration: float | None  # beta-binomial concentration of het allele counts; None: binomial
    depth_median: float | None
    profiled: bool = False
    hp_prior: np.ndarray | None = None  # [MAX_HP + 1] P(germline indel) per homopolymer length; None: cfg's priors
    str_prior: np.ndarray | None = None  # [MAX_STR_SPAN + 1] by STR span

    @classmethod
    def build(cls, cfg: CallConfig, profile: ErrorProfile | None = None) -> "ErrorModel":
        """From ``profile`` (with enough data) or the config's defaults alone."""
        stated = np.tile(10.0 ** (-np.arange(Q_MAX + 1) / 10.0), (CYCLE_BINS, 1))
        if profile is None or profile.q_obs.sum() < 10_000:
            return cls(stated, None, None, cfg.artifact_weight, cfg.artifact_fraction, None, None)
        mix = profile.mixture or {}
        floor = cfg.indel_het_prior + cfg.indel_hom_prior
        return cls(
            bq_error=profile.error_table(),
            hp_rate=profile.hp_indel_rate() if profile.hp_obs.sum() >= 10_000 else None,
            str_rate=profile.str_indel_rate() if profile.hp_obs.sum() >= 10_000 else None,
            artifact_weight=_artifact_weight(mix, cfg),
            artifact_fraction=float(mix.get("artifact_fraction", cfg.artifact_fraction)),
            het_concentration=mix.get("het_concentration"),
            depth_median=profile.depth_median or None,
            profiled=True,
            hp_prior=profile.germline_indel_rate("hp", floor),
            str_prior=profile.germline_indel_rate("str", floor),
        )

    def indel_error(self, hp_len: int, str_span: int, cfg: CallConfig) -> float:
        """Per-read P(spurious or missed indel) at an indel in a homopolymer of ``hp_len`` bp / an STR of
        ``str_span`` bp (0 outside any)."""
        if self.hp_rate is None:
            tract = max(hp_len, str_span)
            return float(min(cfg.max_indel_error, cfg.indel_error + cfg.indel_error_per_repeat_bp * tract))
        e = max(self.hp_rate[min(hp_len, MAX_HP)], self.str_rate[min(str_span, MAX_STR_SPAN)] if str_span else 0.0)
        return float(min(cfg.max_indel_error, e))

    def indel_prior(self, hp_len: int, str_span: int, cfg: CallConfig) -> tuple[float, float]:
        """(P(het), P(hom-alt)) of an indel in a homopolymer of ``hp_len`` bp / an STR of ``str_span`` bp: the
        BAM's repeat-dependent germline rate (split het:hom as the config's priors are) where it was
        profiled, else the config's flat indel priors."""
        het, hom = cfg.indel_het_prior, cfg.indel_hom_prior
        if self.hp_prior is None or self.str_prior is None:
            return het, hom
        rate = max(self.hp_prior[min(hp_len, MAX_HP)], self.str_prior[min(str_span, MAX_STR_SPAN)] if str_span else 0.0)
        return rate * het / (het + hom), rate * hom / (het + hom)


def _artifact_weight(mix: dict, cfg: CallConfig) -> float:
    """The artifact-site prior the EM measured, floored at its resolution, one site of those it was fitted on
    (a weight below ``1 / sites`` is no artifact site at all: the EM cannot tell it from zero), never above
    the former fixed floor 1e-4, and capped at 0.05. The fixed floor alone told a BAM without systematic
    errors (200k sites, EM weight 2e-6) that 1 in 10,000 sites is an artifact at 3% of the reads, which
    outweighs a het seen in 3 of 16 reads (QUAL 5; bcftools 26)."""
    w = mix.get("artifact_weight")
    if w is None:
        return cfg.artifact_weight
    return float(np.clip(w, min(1e-4, 1.0 / max(int(mix.get("sites", 0)), 1)), 0.05))

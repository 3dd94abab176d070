"""The call record every genotyper returns, the VCF/JSON face of a call."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from raygen.schema import TEXT_SCHEMA

#: Genotypes of a biallelic candidate, in VCF PL order.
GENOTYPES = ((0, 0), (0, 1), (1, 1))
#: The FORMAT of every call record (declared in :data:`raygen.calling.pipeline.VCF_HEADER`).
CALL_FORMAT = "GT:GQ:DP:AD:VAF:PL"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One biallelic call. ``pos`` is 1-based (VCF POS); REF/ALT are normalized (trimmed, left-aligned)."""

    chrom: str
    pos: int
    ref: str
    alt: str
    gt: tuple[int, int]
    gq: int
    pl: tuple[int, int, int]
    dp: int
    ad: tuple[int, int]
    vaf: float
    qual: float
    filter: str  # PASS, RefCall or LowQual

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gt"] = f"{self.gt[0]}/{self.gt[1]}"
        return d


def phred_from_log_post(log_post: np.ndarray, max_gq: int) -> tuple[int, float, int]:
    """(best genotype index, QUAL, GQ) from natural-log posteriors over GENOTYPES (need not be normalized).

    QUAL = -10 log10 P(hom-ref | data); GQ = -10 log10 P(genotype is wrong), capped at ``max_gq``.
    """
    lp = log_post - np.logaddexp.reduce(log_post)
    best = int(np.argmax(lp))
    p_ref = float(np.exp(lp[0]))
    qual = -10.0 * np.log10(max(p_ref, 1e-300)) if best != 0 else -10.0 * np.log10(max(1.0 - p_ref, 1e-300))
    p_wrong = float(-np.expm1(lp[best]))
    gq = int(min(max_gq, round(-10.0 * np.log10(max(p_wrong, 1e-300)))))
    return best, float(round(max(qual, 0.0), 2)), gq


def ref_phred(log_post: np.ndarray) -> float:
    """-10 log10 P(0/0) from natural-log genotype posteriors (need not be normalized), capped at 10,000: a
    record's QUAL whatever its genotype (:func:`phred_from_log_post` gives a RefCall its confidence instead)."""
    lp = log_post - np.logaddexp.reduce(log_post)
    return float(round(min(-10.0 * lp[0] / np.log(10.0), 1e4), 2))


def pl_from_loglik(loglik: np.ndarray) -> tuple[int, int, int]:
    """Phred-scaled genotype likelihoods, normalized so the best is 0 (VCF PL)."""
    pl = -10.0 * (loglik - loglik.max()) / np.log(10.0)
    return tuple(int(min(round(x), 99999)) for x in pl)  # type: ignore[return-value]


def vcf_float(x: float) -> str:
    """A Float as htslib writes it: stored as float32, printed like ``%g`` (``45.67``, ``0.5455``, ``1``, ``3000``);
    a test pins it against pysam on generated values."""
    return "%g" % float(np.float32(x))


def calls_text_table(records: list[CallRecord]) -> pa.Table:
    """``records`` (in the order given) as a VCF text table (:data:`raygen.schema.TEXT_SCHEMA`): ID and INFO
    ``.``, FORMAT :data:`CALL_FORMAT`, one sample; LINE null (calls have no source line)."""
    def sample(r: CallRecord) -> str:
        return (f"{r.gt[0]}/{r.gt[1]}:{r.gq}:{r.dp}:{r.ad[0]},{r.ad[1]}:{vcf_float(r.vaf)}:"
                f"{','.join(str(x) for x in r.pl)}")

    n = len(records)
    cols = {
        "CHROM": [r.chrom for r in records], "POS": [r.pos for r in records], "ID": ["."] * n,
        "REF": [r.ref for r in records], "ALT": [r.alt for r in records], "QUAL": [vcf_float(r.qual) for r in records],
        "FILTER": [r.filter for r in records], "INFO": ["."] * n, "FORMAT": [CALL_FORMAT] * n,
        "SAMPLES": [sample(r) for r in records], "LINE": [None] * n,
    }
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in TEXT_SCHEMA}, schema=TEXT_SCHEMA)

"""Normalization of request records for ``POST /v1/normalize`` and the UI, with the same pure function as
``raygen normalize`` (:func:`raygen.normalize.leftalign.normalize_variant`: ``bcftools norm -f``-exact).

Positions are 1-based (VCF POS).
"""

from __future__ import annotations

from raygen.errors import InputError
from raygen.normalize.leftalign import normalize_variant
from raygen.serve.parse import FieldError, unknown_contig
from raygen.variant import Variant


def normalize_items(items: list, reference) -> tuple[list[dict], list[FieldError]]:
    """Each record (``chrom, pos, ref, alt`` with ALT comma-separated) normalized: result rows as
    ``NormalizeResultOut`` wants them, and one :class:`FieldError` per record that cannot be normalized
    (that record's row keeps its input and carries ``error``)."""
    results, errors = [], []
    for i, it in enumerate(items):
        alts = it.alt.split(",")
        try:
            if it.chrom not in reference:  # said here: the reference's own message names its path on the server
                raise InputError(unknown_contig(it.chrom, reference))
            pos, ref, nalts = normalize_variant(it.chrom, it.pos, it.ref, alts, reference)
            err = None
        except (ValueError, InputError) as exc:
            field = "chrom" if it.chrom not in reference else "ref"
            errors.append(FieldError(("body", "variants", i, field), str(exc), "normalize_error"))
            pos, ref, nalts, err = it.pos, it.ref, alts, str(exc)
        results.append({"chrom": it.chrom, "pos": pos, "ref": ref, "alt": ",".join(nalts),
                        "changed": (pos, ref, list(nalts)) != (it.pos, it.ref, alts), "input": it, "error": err})
    return results, errors


def normalize_one(chrom: str, pos: int, ref: str, alt: str, reference) -> tuple[Variant | None, str | None]:
    """One typed variant normalized (the UI): ``(variant, None)``, or ``(None, why not)``."""
    if chrom not in reference:
        return None, unknown_contig(chrom, reference)
    try:
        npos, nref, nalts = normalize_variant(chrom, pos, ref, [alt], reference)
    except (ValueError, InputError) as exc:
        return None, str(exc)
    return Variant(chrom, npos, nref, nalts[0]), None

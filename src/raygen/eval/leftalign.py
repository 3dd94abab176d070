"""Variant normalization used by ``evaluate`` and ``call``: trim and left-align one REF/ALT pair.

``normalize_allele`` prefers the NORMALIZE area's ``raygen.normalize.normalize_variant`` (bcftools-norm
exact) when it is importable and falls back to the textbook algorithm here (Tan et al. 2015, as in
``vt normalize``): trim the shared suffix, extending left from the reference whenever an allele would
empty, then trim the shared prefix while both alleles keep at least one base. Positions are 1-based.
"""

from __future__ import annotations

from collections.abc import Callable

#: fetch(chrom, start0, end0) -> upper-case bases of the 0-based half-open interval (N-padded).
Fetch = Callable[[str, int, int], str]


def is_symbolic(alt: str) -> bool:
    """True for alleles that are not plain bases (``<DEL>``, breakends, ``*``, missing ``.``)."""
    return alt in ("*", ".", "") or alt.startswith("<") or "[" in alt or "]" in alt


def trim_left_align(chrom: str, pos: int, ref: str, alt: str, fetch: Fetch | None) -> tuple[int, str, str]:
    """Parsimonious, left-aligned form of one biallelic REF/ALT at 1-based ``pos``.

    Without ``fetch`` the variant is only trimmed (nothing to shift along). Symbolic or equal alleles come
    back unchanged.
    """
    ref, alt = ref.upper(), alt.upper()
    if ref == alt or not ref or is_symbolic(alt):
        return pos, ref, alt
    if fetch is None:
        while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
            ref, alt = ref[:-1], alt[:-1]
    else:
        while True:
            changed = False
            if ref and alt and ref[-1] == alt[-1]:
                ref, alt = ref[:-1], alt[:-1]
                changed = True
            if (not ref or not alt) and pos > 1:
                pos -= 1
                b = fetch(chrom, pos - 1, pos)
                ref, alt = b + ref, b + alt
                changed = True
            if not changed or not ref or not alt:
                break
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
        pos += 1
    return pos, ref, alt


def normalize_allele(chrom: str, pos: int, ref: str, alt: str, fetch: Fetch | None, fasta=None) -> tuple[int, str, str]:
    """Normalized ``(pos, ref, alt)`` of one biallelic variant (1-based ``pos``).

    Uses ``raygen.normalize.normalize_variant(chrom, pos, ref, [alt], fasta)`` when that module exists and
    a reference object is given; otherwise :func:`trim_left_align`.
    """
    if fasta is not None:
        fn = _shared_normalizer()
        if fn is not None:
            try:
                out = fn(chrom, pos, ref, [alt], fasta)
                p, r, a = _unpack(out)
                if p is not None:
                    return p, r, a
            except Exception:  # noqa: BLE001 - their contract may differ; the fallback is exact enough
                pass
    return trim_left_align(chrom, pos, ref, alt, fetch)


def _shared_normalizer():
    try:
        from raygen.normalize import normalize_variant  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - not landed yet
        return None
    return normalize_variant


def _unpack(out) -> tuple[int | None, str, str]:
    """Accept ``(pos, ref, alts)``, an object with pos/ref/alts, or a Variant; else (None, '', '')."""
    if isinstance(out, tuple) and len(out) >= 3:
        pos, ref, alts = out[-3], out[-2], out[-1]
    else:
        pos, ref = getattr(out, "pos", None), getattr(out, "ref", None)
        alts = getattr(out, "alts", None) or ([getattr(out, "alt")] if hasattr(out, "alt") else None)
    if pos is None or ref is None or alts is None:
        return None, "", ""
    alt = alts if isinstance(alts, str) else alts[0]
    return int(pos), str(ref), str(alt)

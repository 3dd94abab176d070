"""Which variants can be scored, and the reference windows each score is computed on (pure, no torch).

Coordinates: ``Variant.pos`` is 1-based (VCF POS); everything else here is 0-based half-open, as
:meth:`raygen.io.fasta.Reference.fetch`, which pads with ``N`` beyond contig edges.

Windows for a window size ``W`` (bases):

- **SNV** at 0-based ``p``: the W reference bases starting at ``p - W // 2``; the variant base sits at
  window index ``W // 2``. A masked LM masks the token covering it; a causal LM compares that window with
  the same window carrying the ALT base.
- **Indel / MNV** with REF of length ``r`` at 0-based ``s``: left flank = the ``W // 2`` bases before ``s``,
  right flank = the ``W - W // 2 - r`` bases after REF. The REF window is ``left + REF + right`` (exactly W
  bases, so an SNV's REF window is the SNV window) and the ALT window is ``left + ALT + right``: the same
  flanks on both sides of the comparison.

Equal-length REF/ALT pairs that differ at exactly one base (``ACG>ATG``) are scored as that SNV.
"""

from __future__ import annotations

from dataclasses import dataclass

from raygen.variant import Variant

#: Skip reasons written into INFO RAYGEN_SKIP (one word each; docs/score.md lists their meaning).
SKIP_REASONS: dict[str, str] = {
    "unknown_contig": "CHROM is not in the reference FASTA",
    "no_alt": "ALT is missing ('.')",
    "symbolic_allele": "symbolic ALT (<DEL>, <*>, ...) or the spanning deletion '*'",
    "breakend": "breakend ALT (t[p[, ]p]t, .t, t.)",
    "non_acgtn": "REF or ALT has letters other than A, C, G, T, N",
    "n_allele": "REF or ALT contains N (no base to score)",
    "ref_mismatch": "REF differs from the reference FASTA at POS",
    "no_change": "ALT equals REF",
    "too_long": "REF or ALT is longer than half the window (--window)",
    "allele_not_in_vocab": "the tokenizer has no token carrying this allele at the variant's offset",
}

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
BASE_INDEX = {"A": 0, "C": 1, "G": 2, "T": 3}


def revcomp(seq: str) -> str:
    """Reverse complement of an upper-case ACGTN string."""
    return seq.translate(_COMPLEMENT)[::-1]


@dataclass(frozen=True)
class Plan:
    """How one REF/ALT pair is scored: skipped (``skip`` set), as an SNV or as a window pair.

    ``kind``: "snv" (``window`` with the variant at ``center``; ``ref_base``/``alt_base``) or "pair"
    (``ref_window`` vs ``alt_window``, equal flanks). An SNV also carries its pair, for causal models.
    """

    kind: str | None
    skip: str | None = None
    ref_window: str = ""
    alt_window: str = ""
    center: int = 0
    ref_base: str = ""
    alt_base: str = ""
    start: int = 0  # 0-based reference coordinate of window index 0 (both windows share the left flank)


def _allele_problem(ref: str, alt: str) -> str | None:
    if alt in ("", "."):
        return "no_alt"
    if alt.startswith("<") or alt == "*" or ref.startswith("<"):
        return "symbolic_allele"
    if "[" in alt or "]" in alt or (len(alt) > 1 and (alt.startswith(".") or alt.endswith("."))):
        return "breakend"
    if not set(ref) <= set("ACGTN") or not set(alt) <= set("ACGTN"):
        return "non_acgtn"
    if "N" in ref or "N" in alt:
        return "n_allele"
    return None


def ref_mismatch(ref: str, reference_bases: str) -> bool:
    """The one REF rule of ``raygen score``, ``POST /v1/score`` (its 422 gate) and the UI: whether REF differs
    from ``reference_bases``, the reference at REF's span (``Reference.fetch(chrom, pos - 1, pos - 1 +
    len(REF))``: upper-case, ``N`` beyond the contig end).

    Case-insensitive. An ``N`` in the reference matches only an ``N`` in REF: a base facing an unknown
    reference base is a mismatch, as ``bcftools norm --check-ref`` (and so ``/v1/normalize``) says too.
    """
    return ref.upper() != reference_bases.upper()


def plan_variant(v: Variant, reference, window: int) -> Plan:
    """The :class:`Plan` for one variant against ``reference`` (a :class:`raygen.io.fasta.Reference`)."""
    ref, alt = v.ref.upper(), v.alt.upper()
    if v.chrom not in reference:
        return Plan(None, "unknown_contig")
    problem = _allele_problem(ref, alt)
    if problem:
        return Plan(None, problem)
    s = v.pos - 1
    if ref_mismatch(ref, reference.fetch(v.chrom, s, s + len(ref))):
        return Plan(None, "ref_mismatch")
    if ref == alt:
        return Plan(None, "no_change")
    if len(ref) == len(alt):
        diff = [i for i, (a, b) in enumerate(zip(ref, alt)) if a != b]
        if len(diff) == 1:  # an SNV written with context: score it as the SNV it is
            s += diff[0]
            ref, alt = ref[diff[0]], alt[diff[0]]
    half = window // 2
    if len(ref) == 1 and len(alt) == 1:
        win = reference.fetch(v.chrom, s - half, s - half + window)
        return Plan("snv", None, win, win[:half] + alt + win[half + 1:], half, ref, alt, start=s - half)
    if max(len(ref), len(alt)) > half:
        return Plan(None, "too_long")
    left = reference.fetch(v.chrom, s - half, s)
    right = reference.fetch(v.chrom, s + len(ref), s + len(ref) + window - half - len(ref))
    return Plan("pair", None, left + ref + right, left + alt + right, start=s - half)

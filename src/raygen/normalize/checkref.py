"""``-c s``: set REF from the reference, as bcftools 1.24's ``fix_ref`` does (on VCF text columns).

Steps, each returning once REF agrees with the reference (compared case-insensitively; IUPAC codes in the
reference read as their first base, e.g. ``R`` -> ``A``):

1. IUPAC codes in every sequence allele become their first base (``Y`` -> ``C``; case kept);
2. a missing REF (``.``) takes the reference base;
3. ``N`` bases in REF take the reference base (so do ``N`` at the same offset in ALTs);
4. if an ALT of REF's length equals the reference, REF and that ALT swap places: genotypes swap
   ``0`` <-> that ALT and ``INFO/AC`` of that ALT becomes the number of ``0`` alleles swapped;
5. otherwise REF is set from the reference, and ALT bases copied from the old REF (same offset) follow.

Bases taken from the reference keep its case (soft-masked stretches stay lower case), as bcftools writes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from raygen.io.fasta import IUPAC_FIRST

_GT_SPLIT = re.compile(r"([/|])")
_IUPAC_FIRST = str.maketrans(IUPAC_FIRST)


def iupac_first(seq: str) -> str:
    """IUPAC ambiguity codes replaced by their first base (``R`` -> ``A``, ``y`` -> ``c``); other
    characters unchanged."""
    return seq.translate(_IUPAC_FIRST)


def is_sequence_allele(a: str) -> bool:
    """Not symbolic (``<...>``), missing (``.``), spanning deletion (``*``) or a breakend."""
    return bool(a) and not a.startswith("<") and a not in (".", "*") and "[" not in a and "]" not in a


def _swap_gt(gt: str, i: int) -> tuple[str, int]:
    """Genotype with alleles ``0`` and ``i`` swapped, and how many ``0`` alleles it had."""
    parts = _GT_SPLIT.split(gt)
    zeros = 0
    for j in range(0, len(parts), 2):
        if parts[j] == "0":
            parts[j] = str(i)
            zeros += 1
        elif parts[j] == str(i):
            parts[j] = "0"
    return "".join(parts), zeros


def _set_ac(info: str, ialt: int, value: int) -> str:
    """INFO with ``AC``'s value for ALT ``ialt`` (1-based) set to ``value``, when AC has that many values."""
    fields = info.split(";")
    for k, field in enumerate(fields):
        if field.startswith("AC="):
            vals = field[3:].split(",")
            if ialt <= len(vals) and all(v.lstrip("-").isdigit() or v == "." for v in vals):
                vals[ialt - 1] = str(value)
                fields[k] = "AC=" + ",".join(vals)
            break
    return ";".join(fields)


def fix_ref(f: list[str], fetch: Callable[[int, int], str]) -> tuple[list[str], str]:
    """Return the record with REF set from the reference and what was done: ``""``, ``set`` or ``swap``.

    ``f`` holds the VCF columns as text; ``fetch(start0, end0)`` returns reference bases (0-based,
    half-open) in their FASTA case.
    """
    ref_allele = f[3]
    reflen = len(ref_allele)
    pos0 = int(f[1]) - 1
    ref = iupac_first(fetch(pos0, pos0 + reflen))
    alleles = [ref_allele, *(f[4].split(",") if f[4] != "." else [])]
    cleaned = [iupac_first(a) if is_sequence_allele(a) else a for a in alleles]
    changed = cleaned != alleles
    alleles = cleaned

    def done(action: str) -> tuple[list[str], str]:
        out = list(f)
        out[3] = alleles[0]
        if len(alleles) > 1:
            out[4] = ",".join(alleles[1:])
        return out, action

    if reflen == 1 and alleles[0] == ".":
        alleles[0] = ref[0]
        return done("set")
    if alleles[0].upper() == ref.upper():
        return done("set") if changed else (f, "")
    # REF N placeholders first: a REF that only lacked bases may now match.
    r = list(alleles[0])
    alts = [list(a) if is_sequence_allele(a) else a for a in alleles[1:]]
    n_fixed = False
    for j, c in enumerate(r):
        if c in "Nn" and j < len(ref) and ref[j] not in "Nn":
            r[j] = ref[j]
            n_fixed = True
            for a in alts:
                if isinstance(a, list) and len(a) > j and a[j] in "Nn":
                    a[j] = ref[j]
    alleles = ["".join(r), *("".join(a) if isinstance(a, list) else a for a in alts)]
    if n_fixed and alleles[0].upper() == ref.upper():
        return done("set")
    # A swap needs an ALT of REF's length equal to the reference: a shorter ALT is no evidence.
    ialt = next((i for i in range(1, len(alleles)) if is_sequence_allele(alleles[i])
                 and len(alleles[i]) == reflen and alleles[i].upper() == ref.upper()), 0)
    if not ialt:
        old = alleles[0]
        for i in range(1, len(alleles)):
            if is_sequence_allele(alleles[i]):
                a = list(alleles[i])
                for j in range(min(len(a), reflen)):
                    if a[j].upper() == old[j].upper():
                        a[j] = ref[j]
                alleles[i] = "".join(a)
        alleles[0] = ref
        return done("set")
    alleles = [alleles[ialt], *(alleles[0] if j == ialt else alleles[j] for j in range(1, len(alleles)))]
    out, _ = done("swap")
    zeros = 0
    if len(out) > 9 and out[8].split(":")[0] == "GT":
        for s in range(9, len(out)):
            gt, sep, rest = out[s].partition(":")
            gt, n = _swap_gt(gt, ialt)
            zeros += n
            out[s] = gt + sep + rest
    if "AC=" in out[7]:
        out[7] = _set_ac(out[7], ialt, zeros)
    return out, "swap"


def fix_dup_alt(f: list[str]) -> list[str]:
    """``-c s`` on a record with an ALT equal to REF (case-insensitive): drop such ALTs (``.`` when none is
    left) and renumber genotypes, the removed alleles becoming ``0``, as bcftools' ``fix_dup_alt``.
    INFO and the other FORMAT fields are left as they are, as bcftools leaves them."""
    alts = f[4].split(",") if f[4] != "." else []
    new_index = {"0": "0"}
    kept = []
    for i, a in enumerate(alts, start=1):
        if a.upper() == f[3].upper():
            new_index[str(i)] = "0"
        else:
            kept.append(a)
            new_index[str(i)] = str(len(kept))
    out = list(f)
    out[4] = ",".join(kept) if kept else "."
    if len(out) > 9 and out[8].split(":")[0] == "GT":
        for s in range(9, len(out)):
            gt, sep, rest = out[s].partition(":")
            parts = _GT_SPLIT.split(gt)
            for j in range(0, len(parts), 2):
                if parts[j] not in (".", ""):
                    parts[j] = new_index.get(parts[j], "0")
            out[s] = "".join(parts) + sep + rest
    return out

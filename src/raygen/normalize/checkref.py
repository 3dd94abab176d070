"""``-c s``: set REF from the reference, as bcftools' ``fix_ref`` does (on VCF text columns).

Order of attempts, each stopping once REF agrees with the reference: a missing REF (``.``) takes the
reference base; IUPAC codes in any allele become ``N``; ``N`` bases in REF (and at the same offset in ALTs)
take the reference base; otherwise, if an ALT equals the reference sequence, REF and that ALT are
swapped (genotypes swapped too), else the reference base is added as a new ALT and swapped in.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from raygen.normalize.leftalign import clean_keep_case, has_non_acgtn, iupac_to_n

_GT_SPLIT = re.compile(r"([/|])")


def _swap_gt(gt: str, i: int) -> str:
    parts = _GT_SPLIT.split(gt)
    for j in range(0, len(parts), 2):
        if parts[j] == "0":
            parts[j] = str(i)
        elif parts[j] == str(i):
            parts[j] = "0"
    return "".join(parts)


def fix_ref(f: list[str], fetch: Callable[[int, int], str]) -> tuple[list[str], str]:
    """Return the record with REF set from the reference and what was done: ``""``, ``set`` or ``swap``."""
    ref = f[3]
    pos0 = int(f[1]) - 1
    raw = clean_keep_case(fetch(pos0, pos0 + len(ref)))  # bcftools writes soft-masked bases as they are
    seq = raw.upper()
    if ref.upper() == seq:
        return f, ""
    f = list(f)
    if ref == ".":
        f[3] = raw[0]
        return f, "set"
    alts = f[4].split(",") if f[4] != "." else []
    alleles = [ref, *alts]
    if any(has_non_acgtn(a) for a in alleles if not a.startswith("<") and a not in ("*", ".")):
        alleles = [a if a.startswith("<") or a in ("*", ".") else iupac_to_n(a) for a in alleles]
        f[3], f[4] = alleles[0], ",".join(alleles[1:]) if alleles[1:] else f[4]
        if alleles[0].upper() == seq:
            return f, "set"
    if "N" in alleles[0]:
        r = list(alleles[0])
        alts_l = [list(a) for a in alleles[1:]]
        for i, c in enumerate(r):
            if c == "N":
                r[i] = raw[i]
                for a in alts_l:
                    if len(a) > i and a[i] == "N":
                        a[i] = raw[i]
        alleles = ["".join(r), *("".join(a) for a in alts_l)]
        f[3], f[4] = alleles[0], ",".join(alleles[1:]) if alleles[1:] else f[4]
        if alleles[0].upper() == seq:
            return f, "set"
    idx = next((i for i in range(1, len(alleles)) if alleles[i].upper() == seq[: len(alleles[i])] and alleles[i]), 0)
    action = "swap"
    if idx == 0:
        alleles.append(raw[0])
        idx = len(alleles) - 1
        action = "set"
    new = [alleles[idx], *alleles[1:idx], alleles[0], *alleles[idx + 1:]]
    f[3], f[4] = new[0], ",".join(new[1:])
    if len(f) > 9 and f[8].split(":")[0] == "GT":
        for s in range(9, len(f)):
            gt, sep, rest = f[s].partition(":")
            f[s] = _swap_gt(gt, idx) + sep + rest
    return f, action

"""``-a/--atomize``: decompose complex variants into SNVs and indels, as bcftools norm does.

Each ALT is compared with REF after dropping their common suffix (keeping a base): mismatching bases
become SNVs and a length difference becomes one indel anchored on the last compared REF base. Pure indels
(one allele a prefix or suffix of the other) are left whole, for realignment. Atoms shared by several ALTs
become one record; records are ordered by position, then REF and ALT (case-insensitive), then source
ALT. An atom gets a ``*`` ALT (or ``.`` genotypes with ``--atom-overlaps .``) for the haplotypes whose own
allele overlaps it differently; with ``*`` it is added when the input was multi-allelic or atoms overlap.
Number=A/R values come from the first ALT carrying the atom (``.`` for ``*``), Number=G is rebuilt for 0/0,
0/k, k/k and INFO Number=G dropped.
"""

from __future__ import annotations

import re

from raygen.io.header import VcfHeader
from raygen.normalize.multiallelic import join_info, parse_info, reformat_floats

_GT_SPLIT = re.compile(r"([/|])")


def decompose(ref: str, alt: str) -> list[tuple[int, str, str]] | None:
    """Atoms ``(offset, ref, alt)`` of one ALT; None when it is a pure indel or already atomic."""
    if alt.startswith("<") or alt in ("*", ".") or "[" in alt or "]" in alt:
        return None
    # bcftools compares bases case-sensitively here (a lower-case REF base and its upper-case ALT differ)
    r, a = ref, alt
    if r.startswith(a) or a.startswith(r) or r.endswith(a) or a.endswith(r):
        return None
    while len(r) > 1 and len(a) > 1 and r[-1] == a[-1]:
        r, a = r[:-1], a[:-1]
    ref_c = ref[: len(r)]
    atoms = []
    m = min(len(r), len(a))
    for i in range(m):
        if r[i] != a[i]:
            atoms.append((i, ref_c[i], alt[i]))
    if len(r) > len(a):
        atoms.append((m - 1, ref_c[m - 1:], ref_c[m - 1]))
    elif len(a) > len(r):
        atoms.append((m - 1, ref_c[m - 1], ref_c[m - 1] + alt[m: len(a)]))
    return atoms


def _span(atom: tuple[int, str, str]) -> tuple[int, int]:
    return atom[0], atom[0] + len(atom[1]) - 1


def atomize_record(f: list[str], hdr: VcfHeader, overlaps: str = "*", old_rec_tag: str | None = None) -> list[list[str]]:
    """Atomized records of one VCF record (text columns); the record itself when nothing to do."""
    alts = f[4].split(",") if f[4] != "." else []
    if not alts or any(decompose(f[3], a) is None and not (len(a) == len(f[3]) == 1) for a in alts) and len(alts) == 1:
        return [f]
    per_alt: list[list[tuple[int, str, str]]] = []
    for a in alts:
        d = decompose(f[3], a)
        if d is None:
            if a.startswith("<") or a in ("*", ".") or "[" in a or "]" in a:
                return [f]
            d = [(0, f[3], a)]  # kept whole (pure indel or SNV)
        per_alt.append(d)
    if len(alts) == 1 and len(per_alt[0]) == 1 and per_alt[0][0] == (0, f[3], alts[0]):
        return [f]
    atoms: list[tuple[int, str, str]] = []
    carriers: dict[tuple[int, str, str], list[int]] = {}
    for ai, d in enumerate(per_alt, start=1):
        for atom in d:
            if atom not in carriers:
                carriers[atom] = []
                atoms.append(atom)
            carriers[atom].append(ai)
    # bcftools' atom order: position, then REF and ALT compared case-insensitively, then the source ALT
    order = sorted(range(len(atoms)), key=lambda i: (atoms[i][0], atoms[i][1].lower(), atoms[i][2].lower(),
                                                     carriers[atoms[i]][0]))
    atoms = [atoms[i] for i in order]
    pos = int(f[1])
    info = parse_info(f[7])
    fmt_keys = f[8].split(":") if len(f) > 8 else []
    samples = [s.split(":") for s in f[9:]]
    out = []
    for atom in atoms:
        lo, hi = _span(atom)
        carry = carriers[atom]
        overlapping_alts = [ai for ai, d in enumerate(per_alt, start=1) if ai not in carry and any(
            not (_span(x)[1] < lo or _span(x)[0] > hi) for x in d)]
        self_overlap = any(x != atom and not (_span(x)[1] < lo or _span(x)[0] > hi) for x in atoms)
        star = overlaps == "*" and (len(alts) > 1 or self_overlap)
        first = carry[0]
        new_info = []
        for key, val in info:
            number = hdr.info_number.get(key, ".")
            if val is None or number not in ("A", "R", "G"):
                new_info.append([key, val])
                continue
            if number == "G":
                continue
            vals = val.split(",")
            if number == "A":
                v = [vals[first - 1] if first - 1 < len(vals) else "."]
            else:
                v = [vals[0], vals[first] if first < len(vals) else "."]
            if star:
                v.append(".")
            new_info.append([key, ",".join(v)])
        if old_rec_tag and not any(k == old_rec_tag for k, _ in new_info):
            new_info.append([old_rec_tag, f"{f[0]}|{f[1]}|{f[3]}|{f[4]}|{','.join(map(str, carry))}"])
        rec = [f[0], str(pos + atom[0]), f[2], atom[1], atom[2] + (",*" if star else ""), f[5], f[6], join_info(new_info)]
        if fmt_keys:
            rec.append(f[8])
            other = "2" if star else "."
            for s in samples:
                vals = []
                for j, key in enumerate(fmt_keys):
                    v = s[j] if j < len(s) else "."
                    number = hdr.format_number.get(key, ".")
                    if key == "GT":
                        parts = _GT_SPLIT.split(v)
                        for i in range(0, len(parts), 2):
                            al = parts[i]
                            if al in (".", "0", ""):
                                continue
                            ai = int(al)
                            parts[i] = "1" if ai in carry else (other if ai in overlapping_alts else "0")
                        vals.append("".join(parts))
                    elif number in ("A", "R") and v == ".":
                        # htslib reads a missing vector as (missing, end); bcftools 1.24 then writes one
                        # '.' per new ALT for Number=A, one per allele for R strings, a single '.' otherwise.
                        n_new = 2 if star else 1
                        if number == "A":
                            vals.append(",".join(["."] * n_new))
                        elif hdr.format_type.get(key) == "String":
                            vals.append(",".join(["."] * (n_new + 1)))
                        else:
                            vals.append(".")
                    elif number in ("A", "R", "G") and v != ".":
                        xs = v.split(",")
                        if number == "A":
                            nv = [xs[first - 1] if first - 1 < len(xs) else "."] + (["."] if star else [])
                        elif number == "R":
                            nv = [xs[0], xs[first] if first < len(xs) else "."] + (["."] if star else [])
                        else:
                            k = len(alts) + 1
                            if len(xs) == k:  # haploid
                                nv = [xs[0], xs[first]] + (["."] if star else [])
                            else:
                                b = first * (first + 1) // 2
                                idx = [0, b, b + first]
                                nv = [xs[i] if i < len(xs) else "." for i in idx] + (["."] * 3 if star else [])
                        vals.append(",".join(nv))
                    else:
                        vals.append(v)
                rec.append(":".join(vals))
        out.append(reformat_floats(rec, hdr))
    return out

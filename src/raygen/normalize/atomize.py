"""``-a/--atomize``: decompose complex variants into SNVs and indels, ported from bcftools 1.24 (``abuf.c``).

Every record with two or more alleles, all of them A/C/G/T/N, is rebuilt (even a plain SNV): each ALT is
cut into atoms by greedy matching against REF after its common suffix is dropped (no alignment); atoms
are sorted by offset, REF, ALT (ignoring case) and source ALT, identical atoms become one record, and a
table says for each record and source ALT whether the ALT carries the atom (1), overlaps it differently
(2) or neither (0). A record gets a ``*`` ALT when some other atom overlaps it (``--atom-overlaps *``,
the default) and genotypes follow the table (2 -> ``*``, or ``.`` with ``--atom-overlaps .``). INFO
Number=G tags are dropped, and so are numeric Number=A/R tags of the wrong length and FORMAT String
Number=G tags; values come from the atom's first source ALT, AD and QS (Integer) summed over the ALTs
that carry the atom.

bcftools keeps its atom buffer between records and never resets one field (``plen``, set for an SNV that
sits before an indel), so whether two atoms at one offset count as overlapping can depend on earlier
records; :class:`Atomizer` keeps that state so the output matches record for record.
"""

from __future__ import annotations

from dataclasses import dataclass

from raygen.errors import InputError
from raygen.normalize import bcfrec
from raygen.normalize.bcfrec import Rec
from raygen.io.header import VcfHeader
from raygen.normalize.join import END, copy_string_field

INT32_MISSING = -2147483648
INT32_END = -2147483647


@dataclass
class Atom:
    ref: str
    alt: str
    ial: int  # source ALT, 1-based
    beg: int  # 0-based offset into REF
    end: int
    plen: int = 0


def _gt_index(a: int, b: int) -> int:
    return b * (b + 1) // 2 + a if a <= b else a * (a + 1) // 2 + b


def _strcase_cmp(a: str, b: str) -> int:
    a, b = a.lower(), b.lower()
    return (a > b) - (a < b)


def _inconsistent(a: Atom, b: Atom) -> int:
    if a.beg != b.beg:
        return -1 if a.beg < b.beg else 1
    return _strcase_cmp(a.ref, b.ref) or _strcase_cmp(a.alt, b.alt)


def _overlap(a: Atom, b: Atom) -> int:
    """``_atoms_overlap``: 0 identical, 1 not in conflict (SNV beside an indel), 2 conflicting."""
    if a.beg != b.beg:
        return 2
    if (a.plen and a.plen >= len(b.ref)) or (b.plen and b.plen >= len(a.ref)):
        return 1
    if a.ref.lower() != b.ref.lower():
        return 2
    if (a.plen and a.plen >= len(b.alt)) or (b.plen and b.plen >= len(a.alt)):
        return 1
    return 2 if a.alt.lower() != b.alt.lower() else 0


class Atomizer:
    """bcftools' atom buffer across records (see the module docstring); one per output stream."""

    def __init__(self) -> None:
        self.slot_plen: list[int] = []

    def atoms(self, ref: str, alts: list[str]) -> list[Atom]:
        out: list[Atom] = []
        for ial, alt in enumerate(alts, start=1):
            self._atomize_allele(ref, alt, ial, out)
        out.sort(key=_SortKey)
        for k, a in enumerate(out):  # the sorted atoms occupy the first slots (qsort moves whole structs)
            if k < len(self.slot_plen):
                self.slot_plen[k] = a.plen
            else:
                self.slot_plen.append(a.plen)
        return out

    def _new(self, out: list[Atom], ref: str, alt: str, ial: int, i: int, plen: int | None = None) -> Atom:
        k = len(out)
        stale = self.slot_plen[k] if k < len(self.slot_plen) else 0
        atom = Atom(ref, alt, ial, i, i, stale if plen is None else plen)
        if k >= len(self.slot_plen):
            self.slot_plen.append(atom.plen)
        else:
            self.slot_plen[k] = atom.plen
        out.append(atom)
        return atom

    def _atomize_allele(self, ref: str, alt: str, ial: int, out: list[Atom]) -> None:
        rlen, alen = len(ref), len(alt)
        while rlen > 1 and alen > 1 and ref[rlen - 1] == alt[alen - 1]:
            rlen -= 1
            alen -= 1
        atom = None
        for i in range(max(rlen, alen)):
            rb = ref[i] if i < rlen else "-"
            ab = alt[i] if i < alen else "-"
            if rb != ab:
                if rb == "-" or ab == "-":
                    if ab != "-":
                        atom.alt += ab
                    if rb != "-":
                        atom.ref += rb
                        atom.end += 1
                    continue
                atom = self._new(out, rb, ab, ial, i)
                if rlen != alen and (i + 1 >= rlen or i + 1 >= alen):  # an SNV followed by an indel
                    atom = self._new(out, rb, rb, ial, i, plen=1)
                continue
            if i + 1 >= rlen or i + 1 >= alen:  # the next base starts an indel
                atom = self._new(out, rb, ab, ial, i)


class _SortKey:
    __slots__ = ("a",)

    def __init__(self, a: Atom):
        self.a = a

    def __lt__(self, other: "_SortKey") -> bool:
        c = _inconsistent(self.a, other.a)
        return c < 0 if c else self.a.ial < other.a.ial


def _is_acgtn(a: str) -> bool:
    return all(c in "ACGTNacgtn" for c in a)


def _table(atoms: list[Atom], nori: int) -> tuple[list[Atom], list[list[int]], list[bool]]:
    """Output atoms (unique), the table (row x source ALT: 0/1/2) and whether each row needs ``*``."""
    rows: list[Atom] = []
    for i, a in enumerate(atoms):
        if i and _inconsistent(atoms[i - 1], a) == 0:
            continue
        rows.append(a)
    tbl = [[0] * nori for _ in rows]
    for r, a in zip(tbl, rows):
        r[a.ial - 1] = 1
    overlaps = [False] * len(rows)
    for a in atoms:
        for j, out in enumerate(rows):
            if a is out or a.beg > out.end:
                continue
            if a.end < out.beg:
                break
            tbl[j][a.ial - 1] = 2 if _overlap(a, out) > 1 else 1
            overlaps[j] = True
    return rows, tbl, overlaps


def _summed(first, vals: list, ial: int, nori: int, types: list) -> str:
    """An atom's ALT entry of a summed Number=R vector (AD/QS): ``first`` plus the values of the source ALTs
    from ``ial`` on that the atom's table row marks 1 (``types``: :func:`_table`), in int32 arithmetic as
    abuf.c adds them."""
    x = _num(first)
    for i in range(ial, nori):
        if types[i] == 1:
            x = _int32(x + _num(vals[i + 1]))
    return _txt(x)


def _int32(x: int) -> int:
    return (x + 2 ** 31) % 2 ** 32 - 2 ** 31


def _num(v) -> int:
    """A stored Integer as htslib's int32 (missing and vector end are its sentinels)."""
    return INT32_MISSING if v is None else (INT32_END if v is END else int(v))


def _txt(x: int):
    return None if x == INT32_MISSING else (END if x == INT32_END else str(x))


def _info(rec: Rec, rows, tbl, stars, hdr: VcfHeader) -> list[list[list]]:
    n, nori = len(rec.alleles), len(rec.alleles) - 1
    out: list[list[list]] = [[] for _ in rows]
    for key, kind, val in rec.info:
        number = hdr.info_number.get(key, "1")
        if number == "G":
            continue
        if kind in ("int", "float") and ((number == "A" and len(val) != n - 1) or (number == "R" and len(val) != n)):
            continue
        sums = key in ("QS", "AD") and kind == "int"
        if hdr.info_type.get(key) == "Flag":
            kind, val = "flag", None
        for r, (atom, t, star) in enumerate(zip(rows, tbl, stars)):
            if number not in ("A", "R"):
                out[r].append([key, kind, list(val) if isinstance(val, list) else val])
            elif kind in ("int", "float"):
                if number == "A":
                    v = [val[atom.ial - 1]]
                else:
                    v = [val[0], val[atom.ial]]
                    if sums:
                        v[1] = _summed(v[1], val, atom.ial, nori, t)
                out[r].append([key, kind, _cut(v + ([None] if star else []))])  # a sum can land on vector end
            else:
                fields = ["."] * ((1 if number == "A" else 2) + star)
                if number == "R":
                    copy_string_field(val, 0, fields, 0)
                copy_string_field(val, atom.ial - (1 if number == "A" else 0), fields, 0 if number == "A" else 1)
                out[r].append([key, "str", ",".join(fields)])
    return out


def _history(rec: Rec, tag: str, tbl) -> list[str] | None:
    item = rec.info_item(tag)
    if item is not None and item[1] == "str" and item[2]:
        return None  # bcftools keeps a tag set by an earlier step (-m -)
    head = f"{rec.chrom}|{rec.pos}|{rec.alleles[0]}|{','.join(rec.alleles[1:])}|"
    return [head + ",".join(str(j + 1) for j, x in enumerate(t) if x == 1) for t in tbl]


def _gt(codes_per_sample: list[list[int]], t: list[int], star: bool, n: int, rec: Rec) -> list[list[int]]:
    out = []
    for codes in codes_per_sample:
        new = []
        for c in codes:
            if not (c >> 1):
                new.append(c)
                continue
            iori = (c >> 1) - 1
            if iori < 0 or iori >= n:
                raise InputError(f"Out-of-bounds genotypes at {rec.chrom}:{rec.pos}")
            ial = t[iori - 1] if iori else 0
            new.append(c & 1 if (ial == 2 and not star) else bcfrec.make_gt(ial, c))
        out.append(new)
    return out


def _format_numeric(key, kind, number, vals, rec, rows, tbl, stars, width) -> list[list] | None:
    n, nori = len(rec.alleles), len(rec.alleles) - 1
    if number == "G" and width not in (n, n * (n + 1) // 2):
        return None
    if (number == "A" and width != n - 1) or (number == "R" and width != n):
        return None
    sums = key in ("QS", "AD") and kind == "int"
    per_row = []
    for atom, t, star in zip(rows, tbl, stars):
        samples = []
        for v in vals:
            v = list(v) + [END] * (width - len(v))
            if number == "A":
                x = v[atom.ial - 1]
                o = [None if x is END else x] + ([None] if star else [])
            elif number == "R":
                o = [v[0], v[atom.ial]]
                if sums:
                    o[1] = _summed(o[1], v, atom.ial, nori, t)
                o += [None] if star else []
            else:
                o = _g_values(v, atom.ial, n, width, star, key, rec)
            samples.append(_cut(o))
        per_row.append([key, kind, samples])
    return per_row


def _g_values(v: list, iori: int, n: int, width: int, star: bool, key: str, rec: Rec) -> list:
    k = next((i for i, x in enumerate(v) if x is END), width)
    if k == n:  # haploid
        return [v[0], v[iori]] + ([None] if star else [])
    if k == width:
        return [v[0], v[_gt_index(0, iori)], v[_gt_index(iori, iori)]] + ([None] * 3 if star else [])
    if k == 1 and v[0] is None:
        return [None]
    raise InputError(f"Incorrect number of values at {rec.chrom}:{rec.pos} .. tag=FORMAT/{key} Number=G "
                     f"nAlleles={n} nValues={k}")


def _cut(v: list) -> list:
    return v[: v.index(END)] if any(x is END for x in v) else v


def _format_string(number, vals, rows, stars, width: int) -> list[list[str]] | None:
    """Number=A/R Strings per output row. bcftools writes each sample into a slot as wide as the source
    field (plus 2 for ``*``) and keeps only that much, so wider results are cut; a width of 0 drops the tag."""
    per_row = []
    for atom, star in zip(rows, stars):
        slot = width + (2 if star else 0)
        if slot == 0:
            per_row.append(None)
            continue
        samples = []
        for v in vals:
            src = "" if v is None else v
            fields = ["."] * (1 + star + (number == "R"))
            off = 1 if number == "R" else 0
            if number == "R":
                copy_string_field(src, 0, fields, 0)
            copy_string_field(src, atom.ial - 1 + off, fields, off)
            samples.append(",".join(fields)[:slot])
        per_row.append(samples)
    return per_row


def _format(rec: Rec, rows, tbl, stars, hdr: VcfHeader, star_allele: bool, just_split: bool) -> list[list[list]]:
    n = len(rec.alleles)
    out: list[list[list]] = [[] for _ in rows]
    for j, (key, kind, vals) in enumerate(rec.fmt):
        if key == "GT" and kind == "gt":
            for r, (t, star) in enumerate(zip(tbl, stars)):
                out[r].append([key, kind, _gt(vals, t, star, n, rec)])
            continue
        number = hdr.format_number.get(key, "1")
        if kind == "str" and number not in ("A", "R") and all(v is None for v in vals):
            continue  # a String field no sample wrote has width 0: bcftools' update with 0 values drops it
        if number not in ("A", "R", "G"):
            for r in range(len(rows)):
                out[r].append([key, kind, [list(v) if isinstance(v, list) else v for v in vals]])
        elif kind in ("int", "float"):
            width = max((len(v) for v in vals), default=0)
            got = _format_numeric(key, kind, number, vals, rec, rows, tbl, stars, width)
            for r, item in enumerate(got or []):
                out[r].append(item)
        elif kind == "str" and number in ("A", "R"):
            # a record bcftools has just split holds its Number=A/R strings at their longest value's width
            width = (max((len(v) for v in vals if v is not None), default=0) if just_split
                     else bcfrec.string_width(vals, j))
            for r, samples in enumerate(_format_string(number, vals, rows, stars, width)):
                if samples is not None:
                    out[r].append([key, "str", samples])
    return out


def atomize_record(f: list[str], hdr: VcfHeader, overlaps: str = "*", old_rec_tag: str | None = None,
                   state: Atomizer | None = None, just_split: bool = False) -> list[list[str]]:
    """Atomized records of one VCF record (text columns), in bcftools' order; ``state`` carries bcftools'
    atom buffer from record to record (a fresh one per call when None); ``just_split``: the record comes
    straight from ``-m -`` in the same run (bcftools then holds some fields at other widths)."""
    alts = f[4].split(",") if f[4] != "." else []
    if not alts or not all(_is_acgtn(a) for a in [f[3], *alts]):
        return [f]
    state = state or Atomizer()
    rec = bcfrec.parse(list(f), hdr)
    atoms = state.atoms(rec.alleles[0], rec.alleles[1:])
    rows, tbl, ovl = _table(atoms, len(alts))
    stars = [overlaps == "*" and o for o in ovl]
    infos = _info(rec, rows, tbl, stars, hdr)
    hist = _history(rec, old_rec_tag, tbl) if old_rec_tag else None
    fmts = _format(rec, rows, tbl, stars, hdr, overlaps == "*", just_split) if rec.n_sample else [[] for _ in rows]
    out = []
    for r, atom in enumerate(rows):
        info = infos[r]
        if hist is not None:
            info = [it for it in info if it[0] != old_rec_tag] + [[old_rec_tag, "str", hist[r]]]
        alleles = [atom.ref, atom.alt] + (["*"] if stars[r] else [])
        new = Rec(rec.chrom, rec.pos + atom.beg, rec.id, alleles, rec.qual, rec.filters, info, fmts[r], rec.n_sample)
        out.append(bcfrec.format_columns(new))
    return out

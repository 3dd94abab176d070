"""Seeded generator of small VCFs as real pipelines meet them, with their reference, for differential tests.

``generate_vcf(seed, profile)`` returns a :class:`GeneratedVcf`: a reference (contig name -> sequence, with
soft-masked stretches, IUPAC codes and ``N`` runs where the profile asks) and a VCF (header lines and record
lines, sorted by contig and POS) whose records use every INFO/FORMAT ``Number`` (A, R, G, ., 0, 1, 2, 3) and
``Type`` (Integer, Float, String, Character, Flag) with missing, partly missing and ``.``-padded values and
floats in the forms htslib reprints (``1.0``, ``1e-05``, ``0.10``); haploid, diploid, triploid and missing
genotypes, phased and unphased, 0 to many samples, sample columns with trailing fields left out; SNVs,
MNVs, indels in homopolymers and tandem repeats written right-shifted or padded, complex alleles,
multi-allelic records, records at the same position, overlapping records, duplicates (also in another
representation of the same indel), symbolic alleles (``<DEL>`` with END and/or SVLEN, ``<DUP>``, ``<INS>``,
``<*>``, ``<NON_REF>``), breakends, ``*`` alleles, REF-only records, records at contig starts and ends.
The ``messy`` profile adds what only ``-c w|x|s`` accept: REF that differs from the reference, IUPAC
codes and ``N`` in alleles, missing REF, REF/ALT swapped; ``malformed`` adds Number=A/R/G vectors of the
wrong length (for ``--force``).

Everything is pure and deterministic in ``seed`` (``random.Random``); positions in records are 1-based VCF
POS, offsets into reference strings 0-based. The output is valid input for bcftools 1.24 under the
profile's options; the reliability fuzzer of issue #19 mutates it further.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path

BASES = "ACGT"
IUPAC = "RYSWKMBDHV"
_IUPAC_FIRST = dict(zip("RYSWKMBDHVrysmkwbdhv", "ACCAGACAAAaccagacaaa"))

#: (ID, Number, Type) of the INFO fields a generated header may declare (beside END/SVLEN/SVTYPE).
INFO_CATALOG = (
    ("AC", "A", "Integer"), ("AN", "1", "Integer"), ("AF", "A", "Float"), ("DP", "1", "Integer"),
    ("IA", "A", "Integer"), ("FA", "A", "Float"), ("SA", "A", "String"), ("CA", "A", "Character"),
    ("IR", "R", "Integer"), ("FR", "R", "Float"), ("SR", "R", "String"), ("AD", "R", "Integer"),
    ("IG", "G", "Integer"), ("FG", "G", "Float"), ("SG", "G", "String"),
    ("IV", ".", "Integer"), ("FV", ".", "Float"), ("SV", ".", "String"),
    ("FL", "0", "Flag"), ("DB", "0", "Flag"), ("I2", "2", "Integer"), ("F3", "3", "Float"),
    ("S1", "1", "String"), ("C1", "1", "Character"), ("F1", "1", "Float"), ("QS", "R", "Float"),
)
#: (ID, Number, Type) of the FORMAT fields (GT is always first when present).
FORMAT_CATALOG = (
    ("AD", "R", "Integer"), ("DP", "1", "Integer"), ("GQ", "1", "Integer"), ("PL", "G", "Integer"),
    ("GL", "G", "Float"), ("FA", "A", "Float"), ("IA", "A", "Integer"), ("SA", "A", "String"),
    ("SR", "R", "String"), ("FR", "R", "Float"), ("F2", "2", "Float"), ("SV", ".", "String"),
    ("IV", ".", "Integer"), ("C1", "1", "Character"), ("QS", "R", "Integer"),
)
FILTERS = ("q10", "s50", "LowQual")


@dataclass(frozen=True)
class VcfGenProfile:
    """What a generated file may contain. Ranges are inclusive; rates are per record unless said."""

    contigs: tuple[int, int] = (1, 3)
    contig_len: tuple[int, int] = (150, 1200)
    records: tuple[int, int] = (8, 60)
    samples: tuple[int, ...] = (0, 1, 1, 2, 2, 3, 5, 12)  # drawn uniformly
    soft_mask: float = 0.35  # per contig: soft-masked stretches
    iupac_ref: float = 0.25  # per contig: a few IUPAC codes in the reference
    n_runs: float = 0.2  # per contig: a run of N
    symbolic: float = 0.06
    breakend: float = 0.03
    star: float = 0.04
    duplicate: float = 0.1  # repeat (or re-represent) an earlier record at the same site
    lower_case: float = 0.05  # alleles written in lower case
    messy: float = 0.0  # REF mismatch, IUPAC/N in alleles, missing REF, swapped REF/ALT
    malformed: float = 0.0  # Number=A/R/G vectors of the wrong length
    missing_values: float = 0.15  # per value: '.'
    info_keep: float = 0.55  # per declared INFO key and record: present


#: Named profiles: ``clean`` passes ``-c e``; ``messy`` needs ``-c w|x|s``; ``malformed`` needs ``--force``.
PROFILES = {
    "clean": VcfGenProfile(),
    "messy": VcfGenProfile(messy=0.2),
    "malformed": VcfGenProfile(malformed=0.08),
    "gvcf": VcfGenProfile(symbolic=0.35, breakend=0.0, star=0.1),
    "dense": VcfGenProfile(contig_len=(80, 300), records=(30, 90), duplicate=0.25),
}


@dataclass
class GeneratedVcf:
    """A generated VCF and its reference; ``header`` holds the ``##`` lines and the ``#CHROM`` line."""

    seed: int
    profile: str
    reference: dict[str, str]
    header: list[str]
    records: list[str]
    samples: list[str] = field(default_factory=list)

    def vcf_text(self) -> str:
        return "\n".join(self.header + self.records) + "\n"

    def fasta_text(self, width: int = 60) -> str:
        out = []
        for name, seq in self.reference.items():
            out.append(f">{name}")
            out.extend(seq[i:i + width] for i in range(0, len(seq), width))
        return "\n".join(out) + "\n"

    def write(self, directory: str | Path, stem: str = "gen") -> tuple[Path, Path]:
        """Write ``STEM.vcf`` and ``STEM.fa`` (no index: readers build it) into ``directory``."""
        d = Path(directory)
        vcf, fa = d / f"{stem}.vcf", d / f"{stem}.fa"
        vcf.write_text(self.vcf_text())
        fa.write_text(self.fasta_text())
        return vcf, fa


# --------------------------------------------------------------------------------------------------
# reference
# --------------------------------------------------------------------------------------------------
def _sequence(rng: random.Random, n: int) -> str:
    """Random bases with homopolymers and tandem repeats planted (what makes indels ambiguous)."""
    s: list[str] = []
    while len(s) < n:
        r = rng.random()
        if r < 0.12:
            s.extend(rng.choice(BASES) * rng.randint(3, 10))
        elif r < 0.22:
            unit = "".join(rng.choice(BASES) for _ in range(rng.randint(2, 4)))
            s.extend(unit * rng.randint(2, 5))
        else:
            s.append(rng.choice(BASES))
    return "".join(s[:n])


def _decorate(rng: random.Random, seq: str, p: VcfGenProfile) -> str:
    """Soft-mask stretches, sprinkle IUPAC codes, add an N run (as the profile asks)."""
    b = list(seq)
    n = len(b)
    if rng.random() < p.soft_mask:
        for _ in range(rng.randint(1, 3)):
            a = rng.randrange(n)
            for i in range(a, min(n, a + rng.randint(10, 120))):
                b[i] = b[i].lower()
    if rng.random() < p.iupac_ref:
        for i in rng.sample(range(n), min(n, rng.randint(1, 4))):
            b[i] = rng.choice(IUPAC)
    if rng.random() < p.n_runs and n > 60:
        a = rng.randrange(20, n - 20)
        for i in range(a, min(n, a + rng.randint(1, 12))):
            b[i] = "N"
    return "".join(b)


def clean_base(c: str) -> str:
    """The base bcftools reads at a reference position, upper-cased (IUPAC -> first base)."""
    return _IUPAC_FIRST.get(c, c).upper()


# --------------------------------------------------------------------------------------------------
# header
# --------------------------------------------------------------------------------------------------
def _header(ref: dict[str, str], samples: list[str], info: list[tuple], fmt: list[tuple],
            symbolic: bool) -> list[str]:
    lines = ["##fileformat=VCFv4.2"]
    lines += [f'##FILTER=<ID={f},Description="filter {f}">' for f in FILTERS]
    for name, seq in ref.items():
        lines.append(f"##contig=<ID={name},length={len(seq)}>")
    if symbolic:
        lines += ['##ALT=<ID=DEL,Description="Deletion">', '##ALT=<ID=DUP,Description="Duplication">',
                  '##ALT=<ID=INS,Description="Insertion">', '##ALT=<ID=*,Description="Any other allele">',
                  '##ALT=<ID=NON_REF,Description="Any other allele">']
    for key, number, typ in info:
        lines.append(f'##INFO=<ID={key},Number={number},Type={typ},Description="{key} {number} {typ}">')
    for key, number, typ in fmt:
        lines.append(f'##FORMAT=<ID={key},Number={number},Type={typ},Description="{key} {number} {typ}">')
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:  # htslib refuses a FORMAT column without samples
        cols.append("FORMAT")
    lines.append("\t".join(cols + samples))
    return lines


def _pick_fields(rng: random.Random, n_samples: int) -> tuple[list[tuple], list[tuple]]:
    info = [x for x in INFO_CATALOG if rng.random() < 0.45]
    info += [("END", "1", "Integer"), ("SVLEN", "A" if rng.random() < 0.8 else ".", "Integer"),
             ("SVTYPE", "1", "String")]
    fmt = [("GT", "1", "String")] + [x for x in FORMAT_CATALOG if n_samples and rng.random() < 0.4]
    return info, fmt


# --------------------------------------------------------------------------------------------------
# alleles
# --------------------------------------------------------------------------------------------------
@dataclass
class Site:
    """One record's variant part: 0-based ``pos0`` of REF, alleles, and INFO it must carry (END, SVLEN...)."""

    pos0: int
    ref: str
    alts: list[str]
    info: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    forms: list[tuple[int, str, str]] = field(default_factory=list)  # other ways to write the same indel


def _ref_text(seq: str, a: int, b: int) -> str:
    """REF as a caller writes it; ``seq`` is the cleaned contig (upper case, IUPAC codes as their first base)."""
    return seq[max(0, a):b]


def _other_base(rng: random.Random, b: str) -> str:
    return rng.choice([c for c in BASES if c != b.upper()])


def _repeat_at(seq: str, p: int) -> tuple[int, int, int]:
    """The longest tandem repeat (unit 1-4) starting at ``p``: ``(unit, start, end)``, 0-based half-open."""
    best = (1, p, p + 1)
    up = seq.upper()
    for k in range(1, 5):
        unit = up[p:p + k]
        if len(unit) < k:
            break
        e = p + k
        while up[e:e + k] == unit:
            e += k
        if e - p > best[2] - best[1] and (e - p) >= 2 * k:
            best = (k, p, e)
    return best


def _del_forms(seq: str, d: int, L: int) -> list[tuple[int, str, str]]:
    """Every way to write the deletion of ``seq[d:d+L]`` with one anchor base (0-based pos, REF, ALT)."""
    up = seq.upper()
    lo = d
    while lo > 0 and up[lo - 1] == up[lo + L - 1]:
        lo -= 1
    hi = d
    while hi + L < len(up) and up[hi] == up[hi + L]:
        hi += 1
    out = []
    for x in range(lo, hi + 1):
        if x == 0:
            if L < len(seq):
                out.append((0, _ref_text(seq, 0, L + 1), _ref_text(seq, L, L + 1)))
        else:
            out.append((x - 1, _ref_text(seq, x - 1, x + L), _ref_text(seq, x - 1, x)))
    return out


def _ins_forms(seq: str, d: int, ins: str) -> list[tuple[int, str, str]]:
    """Every way to write inserting ``ins`` before ``seq[d]`` with an anchor base."""
    up = seq.upper()
    while d > 0 and ins[-1] == up[d - 1]:  # move to the leftmost equivalent place
        ins, d = up[d - 1] + ins[:-1], d - 1
    out = []
    while True:
        if d == 0:
            out.append((0, _ref_text(seq, 0, 1), ins + _ref_text(seq, 0, 1)))
        else:
            out.append((d - 1, _ref_text(seq, d - 1, d), _ref_text(seq, d - 1, d) + ins))
        if d >= len(up) or ins[0] != up[d]:
            break
        ins, d = ins[1:] + up[d], d + 1
    return out


def _pad(rng: random.Random, seq: str, form: tuple[int, str, str]) -> tuple[int, str, str]:
    """Add 1-3 shared reference bases on the left and/or right (a non-parsimonious representation)."""
    p, r, a = form
    left = min(p, rng.randint(0, 3))
    right = min(len(seq) - (p + len(r)), rng.randint(0, 3))
    lt, rt = _ref_text(seq, p - left, p), _ref_text(seq, p + len(r), p + len(r) + right)
    return p - left, lt + r + rt, lt + a + rt


def _choose_form(rng: random.Random, seq: str, forms: list[tuple[int, str, str]]) -> tuple[int, str, str]:
    r = rng.random()
    form = forms[0] if r < 0.2 else (forms[-1] if r < 0.6 else rng.choice(forms))
    return _pad(rng, seq, form) if rng.random() < 0.25 else form


def _indel(rng: random.Random, seq: str, p: int) -> Site | None:
    n = len(seq)
    unit, a, e = _repeat_at(seq, p)
    up = seq.upper()
    if rng.random() < 0.5:  # deletion
        L = unit * rng.randint(1, max(1, (e - a) // unit - 1)) if e - a > unit else rng.randint(1, 4)
        d = a + rng.randint(0, max(0, e - a - L)) if e - a > L else p
        if d + L >= n:
            return None
        forms = _del_forms(seq, d, L)
        kind = "del"
    else:
        ins = up[a:a + unit] * rng.randint(1, 2) if e - a > unit else "".join(
            rng.choice(BASES) for _ in range(rng.randint(1, 5)))
        d = min(n, max(0, rng.choice([a, e, p + 1])))
        forms = _ins_forms(seq, d, ins.upper())
        kind = "ins"
    if not forms:
        return None
    q, r, alt = _choose_form(rng, seq, forms)
    return Site(q, r, [alt], kind=kind, forms=forms)


def _snv(rng: random.Random, seq: str, p: int) -> Site:
    return Site(p, seq[p], [_other_base(rng, seq[p])], kind="snv")


def _mnv(rng: random.Random, seq: str, p: int) -> Site | None:
    L = rng.randint(2, 4)
    if p + L > len(seq):
        return None
    ref = seq[p:p + L]
    alt = list(ref)
    for i in rng.sample(range(L), rng.randint(1, L)):
        alt[i] = _other_base(rng, ref[i])
    return Site(p, ref, ["".join(alt)], kind="mnv")


def _complex(rng: random.Random, seq: str, p: int) -> Site | None:
    L = rng.randint(2, 5)
    if p + L > len(seq):
        return None
    ref = seq[p:p + L]
    alt = "".join(rng.choice(BASES) for _ in range(rng.choice([1, 2, 3, L + 1, L + 2])))
    if rng.random() < 0.5:
        alt = ref[0] + alt  # shared first base, as callers write a complex event
    return None if alt == ref else Site(p, ref, [alt], kind="complex")


def _alt_on(rng: random.Random, ref: str) -> str:
    """One ALT of a multi-allelic record over ``ref``: SNV, deletion, insertion, MNV or complex."""
    r = rng.random()
    if r < 0.35:
        return _other_base(rng, ref[0]) + ref[1:]
    if r < 0.55 and len(ref) > 1:
        k = rng.randint(1, len(ref) - 1)
        return ref[0] + ref[1 + k:]
    if r < 0.75:
        return ref[0] + "".join(rng.choice(BASES) for _ in range(rng.randint(1, 3))) + ref[1:]
    if r < 0.88 and len(ref) > 1:
        return "".join(_other_base(rng, c) if rng.random() < 0.6 else c for c in ref)
    return ref[0] + "".join(rng.choice(BASES) for _ in range(rng.randint(0, 4)))


def _multiallelic(rng: random.Random, seq: str, p: int, star: float) -> Site | None:
    unit, a, e = _repeat_at(seq, p)
    L = min(len(seq) - p, rng.choice([1, 1, 2, 3, max(1, e - p)]))
    ref = seq[p:p + L]
    alts: list[str] = []
    for _ in range(rng.randint(2, 4)):
        alt = _alt_on(rng, ref)
        if alt and alt != ref and alt not in alts:
            alts.append(alt)
    if rng.random() < star:
        alts.insert(rng.randint(0, len(alts)), "*")
    if len(alts) < 2:
        return None
    return Site(p, ref, alts, kind="multi")


def _symbolic(rng: random.Random, seq: str, p: int) -> Site | None:
    n = len(seq)
    L = rng.randint(1, 12)
    r = rng.random()
    if r < 0.35 and p + L < n:
        info = {}
        how = rng.random()
        if how < 0.7:
            info["END"] = str(p + 1 + L)
        if how > 0.4:
            info["SVLEN"] = str(-L)
        info["SVTYPE"] = "DEL"
        return Site(p, seq[p], ["<DEL>"], info, kind="symbolic")
    if r < 0.5 and p + L < n:
        return Site(p, seq[p], ["<DUP>"], {"SVLEN": str(L), "END": str(p + 1 + L), "SVTYPE": "DUP"}, kind="symbolic")
    if r < 0.6:
        return Site(p, seq[p], ["<INS>"], {"SVLEN": str(L), "SVTYPE": "INS"}, kind="symbolic")
    gv = rng.choice(["<*>", "<NON_REF>"])
    if r < 0.8:  # a gVCF reference block
        return Site(p, seq[p], [gv], {"END": str(min(n, p + 1 + rng.randint(0, 20)))}, kind="gvcf")
    alts = [_other_base(rng, seq[p]), gv] if rng.random() < 0.7 else [seq[p] + rng.choice(BASES), gv]
    return Site(p, seq[p], alts, kind="gvcf")


def _breakend(rng: random.Random, seq: str, p: int, contigs: list[str], single: bool) -> Site:
    """A mated breakend, or (``single``) a single breakend ``T.``/``.T``, which bcftools norm takes for a
    non-ACGTN ALT: it stops under ``-c e``, so only profiles meant for ``-c w|x|s`` write those."""
    t = seq[p]
    mate = f"{rng.choice(contigs)}:{rng.randint(1, 100)}"
    forms = [f"{t}[{mate}[", f"{t}]{mate}]", f"]{mate}]{t}", f"[{mate}[{t}"] + ([f"{t}.", f".{t}"] if single else [])
    alt = rng.choice(forms)
    return Site(p, t, [alt], {"SVTYPE": "BND"}, kind="bnd")


def _ref_only(rng: random.Random, seq: str, p: int) -> Site:
    L = min(len(seq) - p, rng.randint(1, 3))
    return Site(p, seq[p:p + L], [], kind="ref")


def _draw_site(rng: random.Random, seq: str, p: int, prof: VcfGenProfile, contigs: list[str]) -> Site | None:
    r = rng.random()
    if r < prof.symbolic:
        return _symbolic(rng, seq, p)
    r -= prof.symbolic
    if r < prof.breakend:
        return _breakend(rng, seq, p, contigs, prof.messy > 0)
    r = rng.random()
    if r < 0.3:
        return _snv(rng, seq, p)
    if r < 0.6:
        return _indel(rng, seq, p)
    if r < 0.68:
        return _mnv(rng, seq, p)
    if r < 0.75:
        return _complex(rng, seq, p)
    if r < 0.95:
        return _multiallelic(rng, seq, p, prof.star * 4)
    return _ref_only(rng, seq, p)


def _same_site(rng: random.Random, seq: str, prev: Site) -> Site:
    """A record at an earlier record's site: an exact duplicate, another ALT, or another form of the indel."""
    r = rng.random()
    if r < 0.35 or prev.kind in ("bnd", "symbolic", "gvcf", "ref"):
        return replace(prev, alts=list(prev.alts), info=dict(prev.info))
    if r < 0.6 and prev.forms:
        q, ref, alt = rng.choice(prev.forms)
        return Site(q, ref, [alt], kind=prev.kind, forms=prev.forms)
    if r < 0.8 and len(prev.ref) == 1:
        return _snv(rng, seq, prev.pos0)
    return Site(prev.pos0, prev.ref, [_alt_on(rng, prev.ref)], kind="same")


def _messy(rng: random.Random, site: Site) -> Site:
    """One of the defects that ``-c w|x|s`` exist for (REF mismatch, IUPAC/N in alleles, '.' REF, swap)."""
    s = replace(site, alts=list(site.alts), info=dict(site.info))
    seq_alts = [i for i, a in enumerate(s.alts) if a and a[0] not in "<*." and "[" not in a and "]" not in a]
    r = rng.random()
    i = rng.randrange(len(s.ref))
    if r < 0.2:
        s.ref = s.ref[:i] + _other_base(rng, s.ref[i]) + s.ref[i + 1:]
    elif r < 0.35 and seq_alts:
        j = rng.choice(seq_alts)
        a = s.alts[j]
        k = rng.randrange(len(a))
        s.alts[j] = a[:k] + rng.choice(IUPAC) + a[k + 1:]
    elif r < 0.5:
        s.ref = s.ref[:i] + rng.choice(IUPAC + "N") + s.ref[i + 1:]
    elif r < 0.6 and len(s.ref) == 1:
        s.ref = "."
    elif r < 0.85 and seq_alts and len(s.alts[seq_alts[0]]) == len(s.ref):
        j = seq_alts[0]
        s.ref, s.alts[j] = s.alts[j], s.ref
    elif seq_alts:
        s.alts.append(s.ref)  # an ALT equal to REF
    return s


def _lower(rng: random.Random, site: Site) -> Site:
    s = replace(site, alts=list(site.alts))
    if rng.random() < 0.7:
        s.ref = s.ref.lower()
    s.alts = [a.lower() if a and a[0] not in "<*" and rng.random() < 0.7 else a for a in s.alts]
    return s


# --------------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------------
_FLOAT_FORMS = ("1.0", "1e-05", "0.10", "0.5", "2", "-0.25", "3.14159265", "12.50", "1E+3", "0.000",
                "100", "99.99", "1e-10", "0.333333333", "7.000", "2.5e-3", "-1", "1000000", "0.0001")
_WORDS = ("a", "b", "xy", "ID_1", "foo", "T", "bar-baz", "0", "A1", "yes")


def _value(rng: random.Random, typ: str) -> str:
    if typ == "Integer":
        r = rng.random()
        return str(rng.randint(0, 60)) if r < 0.8 else (str(rng.randint(-20, -1)) if r < 0.9 else str(rng.randint(100, 99999)))
    if typ == "Float":
        r = rng.random()
        if r < 0.5:
            return rng.choice(_FLOAT_FORMS)
        x = rng.uniform(-5, 200) if r < 0.8 else rng.uniform(0, 1) * 10 ** rng.randint(-7, 7)
        return rng.choice([f"{x:.1f}", f"{x:.2f}", f"{x:.3f}", f"{x:g}", f"{x:.6g}", f"{x:.3e}"])
    if typ == "Character":
        return rng.choice("ABCxyz")
    return rng.choice(_WORDS)


def _count(number: str, n_alt: int, ploidy: int, rng: random.Random) -> int:
    n_all = n_alt + 1
    if number == "A":
        return n_alt
    if number == "R":
        return n_all
    if number == "G":
        return n_all if ploidy == 1 else n_all * (n_all + 1) // 2
    if number == ".":
        return rng.randint(1, 3)
    return int(number)


def _vector(rng: random.Random, number: str, typ: str, n_alt: int, ploidy: int, prof: VcfGenProfile,
            whole_missing: bool = True) -> str:
    """A comma-separated value of a tag: whole missing, partly missing, or full (wrong length if malformed)."""
    r = rng.random()
    if r < prof.missing_values and whole_missing:
        return "."
    n = _count(number, n_alt, ploidy, rng)
    if number in "ARG" and rng.random() < prof.malformed:
        n = max(1, n + rng.choice([-1, 1]))
    if n == 0:
        return "."
    vals = [_value(rng, typ) for _ in range(n)]
    if r < prof.missing_values * 2:
        for i in rng.sample(range(n), rng.randint(1, n)):
            vals[i] = "."
    return ",".join(vals)


def _genotype(rng: random.Random, ploidy: int, n_alt: int, phased: bool) -> str:
    """GT of one sample: ``ploidy`` 0 is a missing call ``.``; alleles may be missing (``./1``)."""
    if ploidy == 0:
        return "."
    if rng.random() < 0.08:
        return "/".join(["."] * ploidy)
    top = max(0, n_alt)
    alleles = []
    for _ in range(ploidy):
        r = rng.random()
        alleles.append("." if r < 0.05 else str(0 if r < 0.45 or top == 0 else rng.randint(1, top)))
    sep = "|" if phased else "/"
    if rng.random() < 0.1:
        return alleles[0] + "".join(rng.choice("/|") + a for a in alleles[1:])
    return sep.join(alleles)


def _sample_column(rng: random.Random, keys: list[tuple], n_alt: int, ploidy: int, phased: bool,
                   prof: VcfGenProfile) -> str:
    if rng.random() < 0.03:
        return "."
    vals = []
    for key, number, typ in keys:
        if key == "GT":
            vals.append(_genotype(rng, ploidy, n_alt, phased))
        elif number == "G" and ploidy > 2:
            vals.append(".")
        else:
            # a numeric R/G field that is '.' in every sample cannot be joined (-m +) by bcftools: rarer
            # outside the malformed profile, so that few files stop
            whole = typ == "String" or number not in "RG" or prof.malformed > 0 or rng.random() < 0.3
            vals.append(_vector(rng, number, typ, n_alt, ploidy or 2, prof, whole))
    if len(vals) > 1 and rng.random() < 0.06:  # trailing fields left out
        vals = vals[: rng.randint(1, len(vals) - 1)]
    return ":".join(vals)


def _info_column(rng: random.Random, site: Site, info: list[tuple], prof: VcfGenProfile) -> str:
    n_alt = len(site.alts)
    items = []
    for key, number, typ in info:
        if key in ("END", "SVLEN", "SVTYPE"):
            if key in site.info:
                items.append(f"{key}={site.info[key]}")
            elif key == "SVLEN" and site.kind in ("del", "ins") and rng.random() < 0.1:
                items.append(f"SVLEN={len(site.alts[0]) - len(site.ref)}")
            continue
        if rng.random() > prof.info_keep:
            continue
        if typ == "Flag":
            items.append(key)
        elif n_alt == 0 and number == "A" and typ in ("Integer", "Float") and not prof.malformed:
            continue  # a REF-only record has no Number=A value; '.' counts one, which -m + refuses
        else:
            # bcftools cannot split (-m -) or join (-m +) a numeric Number=A/R/G INFO value written as one '.'
            # (it counts one value): only the malformed profile writes those where one value is not the count
            whole = (typ not in ("Integer", "Float") or number not in "ARG" or prof.malformed > 0
                     or (n_alt < 2 and number == "A"))
            items.append(f"{key}={_vector(rng, number, typ, n_alt, 2, prof, whole)}")
    if items and rng.random() < 0.3:
        rng.shuffle(items)
    return ";".join(items) or "."


def _fixed_columns(rng: random.Random, chrom: str, site: Site) -> list[str]:
    r = rng.random()
    ident = "." if r < 0.6 else (f"rs{rng.randint(1, 99999)}" if r < 0.9 else f"id{rng.randint(1, 9)};x{rng.randint(1, 9)}")
    r = rng.random()
    qual = "." if r < 0.3 else (str(rng.randint(0, 999)) if r < 0.6 else _value(rng, "Float").lstrip("-"))
    r = rng.random()
    filt = "." if r < 0.3 else ("PASS" if r < 0.7 else ";".join(rng.sample(FILTERS, rng.randint(1, 2))))
    alt = ",".join(site.alts) if site.alts else "."
    return [chrom, str(site.pos0 + 1), ident, site.ref, alt, qual, filt]


# --------------------------------------------------------------------------------------------------
# the whole file
# --------------------------------------------------------------------------------------------------
def _positions(rng: random.Random, n: int, k: int) -> list[int]:
    """``k`` 0-based positions, some at the contig's first and last bases."""
    ps = [rng.randrange(n) for _ in range(k)]
    if rng.random() < 0.3:
        ps.append(rng.randint(0, 2))
    if rng.random() < 0.3:
        ps.append(n - rng.randint(1, 3))
    return ps


def _contig_sites(rng: random.Random, clean: str, prof: VcfGenProfile, contigs: list[str], k: int) -> list[Site]:
    sites: list[Site] = []
    for p in _positions(rng, len(clean), k):
        site = _draw_site(rng, clean, p, prof, contigs)
        if site is None:
            continue
        sites.append(site)
        if rng.random() < prof.duplicate:
            sites.append(_same_site(rng, clean, site))
    out = []
    for s in sites:
        if rng.random() < prof.messy:
            s = _messy(rng, s)
        if rng.random() < prof.lower_case:
            s = _lower(rng, s)
        out.append(s)
    out.sort(key=lambda s: s.pos0)  # stable: duplicates keep their order
    return out


def generate_vcf(seed: int, profile: str | VcfGenProfile = "clean") -> GeneratedVcf:
    """A VCF and its reference drawn from ``seed`` (see the module docstring); same seed, same text."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    name = profile if isinstance(profile, str) else "custom"
    rng = random.Random(f"vcfgen:{name}:{seed}")
    names = [rng.choice(["chr", "", "ctg"]) + str(i + 1) for i in range(rng.randint(*prof.contigs))]
    names = list(dict.fromkeys(names))
    raw = {c: _decorate(rng, _sequence(rng, rng.randint(*prof.contig_len)), prof) for c in names}
    n_samples = rng.choice(prof.samples)
    samples = [f"S{i + 1}" for i in range(n_samples)]
    info, fmt = _pick_fields(rng, n_samples)
    ploidy = [rng.choice([2, 2, 2, 1, 0, 3]) if rng.random() < 0.4 else 2 for _ in samples]
    phased = rng.random() < 0.4
    n_records = rng.randint(*prof.records)
    records = []
    for c in names:
        clean = "".join(clean_base(x) for x in raw[c])
        for site in _contig_sites(rng, clean, prof, names, max(1, n_records // len(names))):
            cols = _fixed_columns(rng, c, site) + [_info_column(rng, site, info, prof)]
            if samples:
                keys = [fmt[0]] + rng.sample(fmt[1:], rng.randint(0, len(fmt) - 1)) if rng.random() < 0.97 else fmt[1:] or fmt
                if not site.alts and not prof.malformed:  # no Number=A value to write ('.' counts one: -m + stops)
                    keys = [k for k in keys if k[1] != "A" or k[2] == "String"] or [fmt[0]]
                cols.append(":".join(k[0] for k in keys))
                for si in range(n_samples):
                    pl = ploidy[si] if rng.random() < 0.9 else rng.choice([1, 2])
                    cols.append(_sample_column(rng, keys, len(site.alts), pl, phased, prof))
            records.append("\t".join(cols))
    symbolic = any("<" in r.split("\t")[4] for r in records)
    header = _header(raw, samples, info, fmt, symbolic)
    if "FORMAT" not in header[-1]:
        records = ["\t".join(r.split("\t")[:8]) for r in records]
    return GeneratedVcf(seed, name, raw, header, records, samples)


_GFF_BIOTYPES = ("protein_coding", "protein_coding", "lncRNA", "miRNA", "nonsense_mediated_decay", "misc_thing")


def generate_gff(gen: GeneratedVcf, seed: int) -> str:
    """A GFF3 over ``gen``'s contigs for ``-g``: genes with forward/reverse/unknown-strand transcripts (some
    overlapping each other), exons and CDS with consistent phases (some unknown, ``.``; about one CDS in 70 out
    of frame, which bcftools refuses), Ensembl-style ``ID=transcript:``/
    ``Parent=gene:`` prefixes or plain IDs, ``mRNA``/``transcript`` types, biotypes bcftools knows and one it
    ignores. 1-based closed coordinates, as GFF3 has them."""
    rng = random.Random(f"gffgen:{gen.profile}:{seed}")
    lines = ["##gff-version 3"]
    k = 0
    for chrom, seq in gen.reference.items():
        n = len(seq)
        for _ in range(rng.randint(1, 4)):
            k += 1
            beg = rng.randint(1, max(1, n - 20))
            end = min(n, beg + rng.randint(10, max(11, n // 2)))
            strand = rng.choice("++--.")
            ens = rng.random() < 0.6
            gid, tid = (f"gene:G{k}", f"transcript:T{k}") if ens else (f"G{k}", f"T{k}")
            lines.append(f"{chrom}\tgen\tgene\t{beg}\t{end}\t.\t{strand}\t.\tID={gid};Name=g{k}")
            ttype = rng.choice(["mRNA", "transcript", "lnc_RNA"])
            bt = rng.choice(_GFF_BIOTYPES)
            lines.append(f"{chrom}\tgen\t{ttype}\t{beg}\t{end}\t.\t{strand}\t.\tID={tid};Parent={gid};biotype={bt}")
            exons, pos = [], beg
            while pos < end:
                e = min(end, pos + rng.randint(5, 40))
                exons.append((pos, e, strand != "." and rng.random() < 0.7))
                pos = e + rng.randint(2, 30)
            # CDS phases counted from the transcript's 5' end (the last exon on the reverse strand)
            phases, done = {}, 0
            for a, e, cds in (exons if strand == "+" else exons[::-1]):
                if cds:
                    phases[a] = (3 - done % 3) % 3
                    done += e - a + 1
            # now and then a CDS without phase ('.'), rarely one out of frame (bcftools -g then stops)
            shown = {a: ("." if rng.random() < 0.1 else str((ph + 1) % 3) if rng.random() < 0.015 else str(ph))
                     for a, ph in phases.items()}
            for a, e, cds in exons:
                lines.append(f"{chrom}\tgen\texon\t{a}\t{e}\t.\t{strand}\t.\tParent={tid}")
                if cds:
                    lines.append(f"{chrom}\tgen\tCDS\t{a}\t{e}\t.\t{strand}\t{shown[a]}\tParent={tid}")
    return "\n".join(lines) + "\n"

"""Left-alignment and parsimony (Tan, Abecasis & Kang 2015) exactly as ``bcftools norm`` (1.24) does it.

Pure functions over strings. Positions at this API are 1-based (VCF POS); the reference is reached
through a ``fetch(start0, end0)`` callable for one contig (0-based half-open, upper-case, ``N``-padded
outside the contig), so callers may back it with a pysam FASTA or with one pre-fetched shard string.

bcftools behaviour reproduced here, including its corner cases:
- REF is compared with the reference case-insensitively; IUPAC codes in the reference read as their first
  base (``R`` -> ``A``, htslib's table), other non-ACGTN reference characters as ``N``. A REF holding
  anything but A/C/G/T/N is a mismatch (NON_ACGTN_REF), as is an ALT with such characters.
- Alleles that change are written upper case, bases padded in from the reference keep its case
  (soft-masked stretches stay lower case); records that need no change keep their text.
- Symbolic alleles (``<...>``) and breakends are left untouched, except a lone ``<DEL>`` (with
  INFO/END) or ``<DUP>`` (with INFO/SVLEN) which is shifted like the equivalent sequence-resolved indel.
- A ``*`` allele stops realignment of the whole record; a record without ALT keeps only REF's first base.
- Right-trimming pads from the left with up to 100 reference bases at a time and stops at the first
  base of the contig (the "telomere" case keeps one redundant base rather than moving before position 1).
- Left-trimming never trims an allele to nothing.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Sequence

from raygen.io.fasta import Reference, clean_keep_case
from raygen.normalize.bcfrec import VCF_BND, variant_type
from raygen.normalize.checkref import is_sequence_allele

#: bcftools' alignment window: reference bases fetched at once while padding a trimmed indel on the left.
ALN_WIN = 100

ACGTN = frozenset("ACGTNacgtn")

Fetch = Callable[[int, int], str]


class Status(enum.IntEnum):
    """Outcome of :func:`realign`; mirrors bcftools' ERR_* codes."""

    OK = 0
    REF_MISMATCH = 1  # REF differs from the reference (or a non-ACGTN ALT)
    SYMBOLIC = 2  # untouched: symbolic allele or breakend
    SPANNING_DELETION = 3  # untouched: '*' allele
    DUP_ALLELE = 4  # an ALT equals REF
    NON_ACGTN_ALT = 5  # untouched: ALT with characters other than ACGTN
    NON_ACGTN_REF = 6  # untouched: REF with characters other than ACGTN (a kind of mismatch)


def has_non_acgtn(allele: str) -> bool:
    return not set(allele) <= ACGTN


def trim_and_shift(pos0: int, alleles: list[str], fetch: Fetch | None, aln_win: int = ALN_WIN) -> tuple[int, list[str]]:
    """The realignment loop on sequence alleles: right-trim with left padding, then left-trim.

    ``pos0`` is 0-based; returns the new 0-based position and alleles. Alleles must be plain sequence.
    ``fetch`` None: no reference to pad from, so the alleles are only trimmed (right, then left, never to
    nothing) and do not move left.

    bcftools pads an allele that trimming would empty with up to ``aln_win`` reference bases at once; the
    result equals padding one base at a time (the pad is a prefix shared by every allele, so it changes
    neither the last-base comparisons nor where left-trimming stops, and position 0 stops both alike),
    which is what this does because it is cheaper for the short shifts that dominate.
    """
    als = list(alleles)
    n = len(als)
    while True:
        a0 = als[0]
        if not a0:
            break
        last = a0[-1]
        min_len = len(a0)
        for a in als[1:]:
            if not a or a[-1] != last and a[-1].upper() != last.upper():
                min_len = -1
                break
            if len(a) < min_len:
                min_len = len(a)
        if min_len < 0:
            break
        if min_len <= 1:
            if pos0 == 0 or fetch is None:
                break
            pad = clean_keep_case(fetch(pos0 - 1, pos0))
            als = [pad + a[:-1] for a in als]
            pos0 -= 1
        else:
            als = [a[:-1] for a in als]
    # left trim: keep at least one base in every allele
    min_len = min(len(a) for a in als)
    if min_len > 1:
        if n == 2:
            a, b = als
            ntrim = 0
            lim = min_len - 1
            while ntrim < lim and a[ntrim] == b[ntrim]:
                ntrim += 1
        else:
            ntrim = len(os.path.commonprefix(als))
            ntrim = min(ntrim, min_len - 1)
        if ntrim:
            als = [a[ntrim:] for a in als]
            pos0 += ntrim
    return pos0, als


def realign(pos: int, ref: str, alts: Sequence[str], fetch: Fetch, *, rlen: int | None = None,
            dup_svlen: int | None = None, has_end: bool = False, check_alt_bases: bool = True,
            right_align: bool = False, contig_len: int | None = None,
            aln_win: int = ALN_WIN) -> tuple[Status, int, str, list[str], int | None]:
    """Check REF against the reference and left-align/trim one record, as bcftools 1.24's ``realign()``.

    ``pos`` is 1-based. ``rlen`` is htslib's reference span of the record (REF, INFO/END, SVLEN of
    <DEL>/<DUP>; default ``len(ref)``), ``dup_svlen`` INFO/SVLEN when it holds exactly one value (a <DUP>
    shifts by it), ``has_end`` whether INFO/END holds one value (it is then moved with the record).
    Returns ``(status, pos, ref, alts, new_end)``; ``new_end`` is the INFO/END to write (None: leave it).
    When ``status`` is not OK the record is returned unchanged. ``check_alt_bases=False`` skips the
    non-ACGTN ALT check, as bcftools does (by accident of an unset length) for records it has just split.
    ``right_align`` shifts right instead (``-g``: HGVS 3' rule in forward-strand transcripts).
    """
    alts = list(alts)
    pos0 = pos - 1
    reflen = len(ref)
    rlen = reflen if rlen is None else rlen
    ref_seq = fetch(pos0, pos0 + reflen).upper()
    if has_non_acgtn(ref):
        return Status.NON_ACGTN_REF, pos, ref, alts, None
    if ref.upper() != ref_seq:
        return Status.REF_MISMATCH, pos, ref, alts, None
    if not alts:
        return Status.OK, pos, (ref[0] if rlen > 1 else ref), alts, None
    if all(_is_bnd(ref, a) for a in alts):
        return Status.SYMBOLIC, pos, ref, alts, None
    als = [ref.upper()]
    sym: dict[int, str] = {}
    symbolic_alts = True
    for i, a in enumerate([ref, *alts]):
        if a.startswith("<"):
            sv_len = -rlen if a.startswith("<DEL") else ((dup_svlen or 0) if a.startswith("<DUP") else 0)
            if not sv_len:
                return Status.SYMBOLIC, pos, ref, alts, None
            if sv_len < 0:
                if len(als[0]) < rlen:  # <DEL>: REF becomes the deleted sequence, the ALT its first base
                    reflen = rlen
                    als[0] = fetch(pos0, pos0 + rlen).upper()
                als.append(als[0][:1])
            else:  # <DUP>: the ALT becomes REF plus the duplicated sequence
                als.append(fetch(pos0, pos0 + sv_len + 1).upper())
            sym[i] = a
            continue
        if i > 0:
            symbolic_alts = False
        if a.startswith("*"):
            return Status.SPANNING_DELETION, pos, ref, alts, None
        if i == 0:
            continue
        if check_alt_bases and has_non_acgtn(a):
            return Status.NON_ACGTN_ALT, pos, ref, alts, None
        up = a.upper()
        if len(up) == len(als[0]) and up == als[0]:
            return Status.DUP_ALLELE, pos, ref, alts, None
        als.append(up)
    if right_align:
        new_pos0, als = realign_right(pos0, als, fetch, rlen, contig_len, aln_win)
    else:
        new_pos0, als = trim_and_shift(pos0, als, fetch, aln_win)
    new_reflen = len(als[0])
    if symbolic_alts:
        als[0] = als[0][:1]
        new_reflen = rlen
    if new_pos0 == pos0 and als[0].upper() == ref.upper():
        return Status.OK, pos, ref, alts, None
    out = [sym.get(i + 1, x) for i, x in enumerate(als[1:])]
    new_end = new_pos0 + new_reflen if has_end and (new_pos0 != pos0 or reflen != new_reflen) else None
    return Status.OK, new_pos0 + 1, als[0], out, new_end


def _is_bnd(ref: str, alt: str) -> bool:
    """htslib classes this ALT as a breakend (VCF_BND)."""
    return variant_type(ref, alt) == VCF_BND


def realign_right(pos0: int, als: list[str], fetch: Fetch, rlen: int, contig_len: int | None,
                  aln_win: int = ALN_WIN) -> tuple[int, list[str]]:
    """bcftools' ``realign_right``: trim from the left (padding from the right ``aln_win`` + 1 bases at a
    time, as its inclusive fetch does), keep one shared base for an indel, then trim from the right."""
    als = list(als)
    ntrim, npad, has_indel = 0, rlen, 0
    end = contig_len if contig_len is not None else 1 << 62
    while True:
        if any(ntrim >= len(a) for a in als):
            break
        c0 = als[0][ntrim].upper()
        min_len = len(als[0]) - ntrim
        same = True
        for a in als[1:]:
            if len(a) != len(als[0]):
                has_indel = 1
            if a[ntrim].upper() != c0:
                same = False
                break
            min_len = min(min_len, len(a) - ntrim)
        if not same:
            break
        ntrim += 1
        if min_len <= 1:
            lo, hi = pos0 + npad, min(end, pos0 + npad + aln_win + 1)
            pad = fetch(lo, hi) if hi > lo else ""
            npad += aln_win
            als = [a + pad for a in als]
    ntrim -= has_indel
    if ntrim > 0:
        als = [a[ntrim:] for a in als]
        pos0 += ntrim
    while min(len(a) for a in als) > 1 and len({a[-1].upper() for a in als}) == 1:
        als = [a[:-1] for a in als]
    return pos0, als


def normalize_variant(chrom: str, pos: int, ref: str, alts: Sequence[str], fasta) -> tuple[int, str, list[str]]:
    """Left-align and trim one variant exactly as ``bcftools norm -f FASTA`` does (no splitting).

    Args:
        chrom: contig name as in the FASTA.
        pos: 1-based position of the first base of ``ref`` (VCF POS).
        ref: REF allele.
        alts: ALT alleles (one or more; multi-allelic records are realigned jointly, like bcftools).
        fasta: a :class:`raygen.io.fasta.Reference`, a path to an indexed FASTA, or any object with
            ``fetch(chrom, start0, end0) -> str`` (0-based half-open).

    Returns:
        ``(pos, ref, alts)``: 1-based position and the normalized alleles. Records bcftools leaves
        alone (symbolic alleles, breakends, ``*`` alleles, ALT equal to REF) come back unchanged.

    Raises:
        ValueError: REF does not match the reference at ``chrom:pos`` (bcftools' ``-c e`` error), or an
            ALT holds characters other than ACGTN.
    """
    if isinstance(fasta, str):
        fasta = Reference(fasta)
    status, npos, nref, nalts, _ = realign(pos, ref, alts, _fetch_of(fasta, chrom))
    if status in (Status.REF_MISMATCH, Status.NON_ACGTN_REF):
        seq = fasta.fetch(chrom, pos - 1, pos - 1 + len(ref))
        raise ValueError(f"Reference allele mismatch at {chrom}:{pos} .. REF_SEQ:'{seq}' vs VCF:'{ref}'")
    if status == Status.NON_ACGTN_ALT:
        raise ValueError(f"Non-ACGTN alternate allele at {chrom}:{pos}: {','.join(alts)}")
    return npos, nref, nalts


def normalize_allele(chrom: str, pos: int, ref: str, alt: str, reference: Reference | None = None
                     ) -> tuple[int, str, str]:
    """One biallelic REF/ALT at 1-based ``pos`` as ``bcftools norm -f`` writes it, for matching call sets
    (``raygen evaluate``, ``raygen call``); returns the 1-based ``(pos, ref, alt)``.

    With ``reference`` (a :class:`raygen.io.fasta.Reference`) the pair is realigned exactly as
    :func:`realign` does. Where the reference cannot be used, namely no ``reference``, a contig it lacks, or a
    REF that disagrees with it or holds non-ACGTN characters (bcftools would warn and leave such a record
    alone), the pair is only trimmed, upper case: shared last bases, then shared first bases, one base
    kept in each allele; that needs no reference and never moves the variant left. Symbolic alleles,
    ``*`` and ``.`` come back as they are (upper case).
    """
    if reference is not None and chrom in reference and is_sequence_allele(alt):
        status, npos, nref, nalts, _ = realign(pos, ref, [alt], _fetch_of(reference, chrom))
        if status not in (Status.REF_MISMATCH, Status.NON_ACGTN_REF, Status.NON_ACGTN_ALT):
            return npos, nref, nalts[0]
    ref, alt = ref.upper(), alt.upper()
    if ref == alt or not ref or not is_sequence_allele(alt):
        return pos, ref, alt
    pos0, (ref, alt) = trim_and_shift(pos - 1, [ref, alt], None)
    return pos0 + 1, ref, alt


def _fetch_of(fasta, chrom: str) -> Fetch:
    """``fetch(start0, end0)`` of one contig as :func:`realign` reads it: IUPAC codes as their first base,
    case kept (bases padded in from a soft-masked reference stay lower case)."""
    if isinstance(fasta, Reference):
        return lambda a, b: clean_keep_case(fasta.fetch(chrom, a, b, keep_case=True))
    return lambda a, b: clean_keep_case(fasta.fetch(chrom, a, b))

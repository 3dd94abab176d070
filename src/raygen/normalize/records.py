"""Per-record normalization on VCF text columns: validate, split, set REF, realign (the slow path).

:class:`RecordNormalizer` turns one input record (list of column strings) into zero or more output records,
updating :class:`~raygen.normalize.options.Counts`. Vectorised code (``fast.py``) sends here only what it
cannot decide in bulk. Ordering, duplicate removal and joining happen afterwards on the sorted stream
(``postprocess.py``), as in bcftools' output buffer.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable

from raygen.errors import InputError
from raygen.expr import Expression
from raygen.io.fasta import Reference, iupac_to_n
from raygen.io.header import VcfHeader
from raygen.normalize import bcfrec
from raygen.normalize.atomize import Atomizer, atomize_record
from raygen.normalize.checkref import fix_dup_alt, fix_ref
from raygen.normalize.leftalign import Status, realign
from raygen.normalize.multiallelic import MalformedTag, info_get, info_set, split_record
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.transcripts import read_transcripts

log = logging.getLogger("raygen.normalize")

_ALLELE_OK = re.compile(r"^(?:[A-Za-z*.]+|<[^<>]+>|.*[\[\]].*|\.[A-Za-z]+|[A-Za-z]+\.)$")
_REF_OK = re.compile(r"^[A-Za-z.]+$")


class RecordRejected(Exception):
    """This record cannot be processed; it goes to the rejects file with ``reason``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class RefCheckError(InputError):
    """``-c e`` found a REF that differs from the reference: the job stops (exit 2), naming the record."""

    def at(self, source: str, line: int | None) -> "RefCheckError":
        """The same error naming the input file and line (the per-record loops know them, not the check)."""
        where = f"{source}: line {line}" if line is not None else source
        return RefCheckError(f"{where}: {self}")


def validate(f: list[str], n_columns: int) -> None:
    """Raise :class:`RecordRejected` for a record that is not valid VCF (column count, POS, alleles)."""
    if len(f) < 8:
        raise RecordRejected(f"expected at least 8 tab-separated columns, found {len(f)}")
    if n_columns > 8 and len(f) != n_columns:
        raise RecordRejected(f"expected {n_columns} columns (header has {n_columns - 9} samples), found {len(f)}")
    if not f[1].isdigit() or int(f[1]) < 1:
        raise RecordRejected(f"POS {f[1]!r} is not a positive integer")
    if not _REF_OK.match(f[3]):
        raise RecordRejected(f"illegal REF allele {f[3]!r}")
    if f[4] != ".":
        for a in f[4].split(","):
            if not a or not _ALLELE_OK.match(a):
                raise RecordRejected(f"illegal ALT allele {a!r}")


def htslib_type(ref: str, alt: str) -> str:
    """htslib's class of one ALT (``bcf_set_variant_type``): ``snp``, ``mnp``, ``indel``, ``other``, ``ref``,
    ``overlap`` (``*``) or ``bnd``. Bases compare case-insensitively, except two single bases (as htslib)."""
    if alt == "*":
        return "overlap"
    if len(ref) <= 1 and len(alt) <= 1:
        return "ref" if alt in (".", "X") or ref == alt else "snp"
    if alt.startswith("<"):
        return "ref" if alt in ("<X>", "<*>", "<NON_REF>") else "other"
    if alt.startswith(("[", "]")) or alt.endswith(("[", "]")):
        return "bnd"
    r, a = ref.upper(), alt.upper()
    i = 0
    while i < len(r) and i < len(a) and r[i] == a[i]:
        i += 1
    r, a = r[i:], a[i:]
    if a and not r:
        return "indel"
    if r and not a:
        return "indel"
    if not r and not a:
        return "ref"
    re_, ae = len(r) - 1, len(a) - 1
    while re_ > 0 and ae > 0 and r[re_] == a[ae]:
        re_ -= 1
        ae -= 1
    if ae == 0:
        if re_ == 0:
            return "snp"
        return "indel" if r[re_] == a[ae] else "other"
    if re_ == 0:
        return "indel" if r[re_] == a[ae] else "other"
    return "mnp" if re_ == ae else "other"


def should_split(ref: str, alts: list[str], kind: str) -> bool:
    """Whether ``-m -kind`` splits this record: any multi-allelic one for ``both``/``any``; for ``snps`` one
    with a SNV ALT (htslib's VCF_SNP: an MNV-only record is not split), for ``indels`` one with an indel."""
    if len(alts) < 2:
        return False
    if kind in ("both", "any"):
        return True
    types = {htslib_type(ref, a) for a in alts}
    return ("snp" in types) if kind == "snps" else ("indel" in types)


def add_old_rec_tag(f: list[str], tag: str, orig: tuple[str, str, str, str]) -> None:
    """INFO/TAG=CHR|POS|REF|ALT of the record before this step, unless an earlier step set it (bcftools
    writes no ALT, not '.', for a REF-only record)."""
    if info_get(f[7], tag) is None:
        chrom, pos, ref, alt = orig
        f[7] = info_set(f[7], tag, f"{chrom}|{pos}|{ref}|{'' if alt == '.' else alt}", overwrite=False)


class RecordNormalizer:
    """Applies split, REF check/fix and realignment to single records (no ordering, no cross-record work)."""

    def __init__(self, hdr: VcfHeader, opts: NormalizeOptions, counts: Counts, source: str = "-",
                 reference: Reference | None = None):
        self.hdr = hdr
        self.opts = opts
        self.counts = counts
        self.source = source
        self.n_columns = len(hdr.columns)
        #: the FASTA of ``opts.fasta``, read a whole contig at a time (None: no reference work)
        self.reference = reference if reference is not None else (Reference(opts.fasta) if opts.fasta else None)
        self.warn = lambda msg: print(msg, file=sys.stderr)
        #: -g: bcftools' transcript index (records in forward-strand transcripts are right-aligned)
        self.transcripts = None
        if opts.gff:
            self.transcripts = read_transcripts(opts.gff)
        #: -i/-e: the expression (raygen.expr.Expression) records must pass to be normalized, or None
        self.filter = None
        if opts.include is not None or opts.exclude is not None:
            text = opts.include if opts.include is not None else opts.exclude
            self.filter = Expression(text, hdr, exclude=opts.include is None)

        #: bcftools' atom buffer, kept from record to record as bcftools keeps it (see ``atomize``)
        self.atomizer = Atomizer()
        #: split records of which one ALT was rejected: ``(columns, reason)``; the caller drains it
        self.partial_rejects: list[tuple[list[str], str]] = []

    def fetcher(self, chrom: str) -> Callable[[int, int], str]:
        assert self.reference is not None
        try:
            return self.reference.fetcher(chrom)
        except KeyError:
            raise RecordRejected(f"contig {chrom!r} is not in the reference {self.opts.fasta}") from None

    def split_only(self, f: list[str]) -> list[list[str]]:
        """``-m -`` for one record (no reference work): its biallelic records, or itself."""
        alts = f[4].split(",") if f[4] != "." else []
        if not (self.opts.split and should_split(f[3], alts, self.opts.split)):
            return [f]
        try:
            lines = split_record(f, self.hdr, missing_overlaps=self.opts.multi_overlaps == ".",
                                 keep_sum=self.opts.keep_sum, old_rec_tag=self.opts.old_rec_tag, force=self.opts.force)
        except MalformedTag as exc:
            raise RecordRejected(f"{exc}; use --force to drop such tags") from None
        self.counts.split += 1
        return lines

    def process(self, f: list[str], validated: bool = False) -> list[list[str]]:
        """Normalize one record; returns its output records (0 when excluded by ``-c x``).

        Raises :class:`RecordRejected` (goes to the rejects file) or :class:`RefCheckError` (stops the job).
        """
        if not validated:
            validate(f, self.n_columns)
        opts = self.opts
        alts = f[4].split(",") if f[4] != "." else []
        lines = [f]
        split = bool(opts.split) and should_split(f[3], alts, opts.split)
        if split:
            try:
                lines = split_record(f, self.hdr, missing_overlaps=opts.multi_overlaps == ".",
                                     keep_sum=opts.keep_sum, old_rec_tag=opts.old_rec_tag, force=opts.force)
            except MalformedTag as exc:
                raise RecordRejected(f"{exc}; use --force to drop such tags") from None
            self.counts.split += 1
        if self.reference is None:
            out = lines
        elif len(lines) == 1:
            r = self.normalize_line(lines[0], from_split=split)
            out = [] if r is None else [r]
        else:
            out = []
            for line in lines:
                try:
                    r = self.normalize_line(line, from_split=split)
                except RecordRejected as exc:
                    # one ALT of a split record failed: the others still go out
                    self.partial_rejects.append((line, exc.reason))
                    continue
                if r is not None:
                    out.append(r)
        if opts.atomize:
            # bcftools atomizes what it has already checked, fixed (-c s) and realigned; atoms are not realigned.
            out = [a for line in out for a in atomize_record(line, self.hdr, opts.atom_overlaps, opts.old_rec_tag,
                                                             self.atomizer, just_split=split)]
        return out

    def normalize_line(self, f: list[str], from_split: bool = False) -> list[str] | None:
        """Check REF (``-c``), fix it (``-c s``) and left-align one record; None when excluded (``-c x``).

        ``from_split``: the record was just split from a multi-allelic one; bcftools then skips its
        non-ACGTN ALT check, and so does this.
        """
        opts = self.opts
        fetch = self.fetcher(f[0])
        self._check_inside(f)
        orig = (f[0], f[1], f[3], f[4])
        if "s" in opts.check_ref:
            f, action = fix_ref(f, fetch)
            if action and opts.old_rec_tag:
                f = list(f)
                add_old_rec_tag(f, opts.old_rec_tag, orig)
            if action == "set":
                self.counts.ref_set += 1
            elif action == "swap":
                self.counts.ref_swapped += 1
        if not opts.realign:
            return f
        pos = int(f[1])
        alts = f[4].split(",") if f[4] != "." else []
        items = bcfrec.parse_info(f[7], self.hdr.info_type) if ("END=" in f[7] or "SVLEN=" in f[7]) else []
        rlen = bcfrec.rlen(pos, [f[3], *alts], items)
        end = next((v for k, kind, v in items if k == "END" and kind == "int"), None)
        svlen = next((v for k, kind, v in items if k == "SVLEN" and kind == "int"), None)
        dup_svlen = int(svlen[0]) if svlen and len(svlen) == 1 and svlen[0] is not None else None
        if rlen >= opts.realign_below:  # -N / -NNUM: bcftools neither realigns nor checks REF here
            return f
        right = self.transcripts is not None and self.transcripts.right_align(f[0], pos - 1, rlen)
        status, npos, nref, nalts, new_end = realign(pos, f[3], alts, fetch, rlen=rlen, dup_svlen=dup_svlen,
                                                     has_end=end is not None and len(end) == 1,
                                                     check_alt_bases=not from_split, right_align=right,
                                                     contig_len=self.reference.lengths.get(f[0]) if right else None)
        if status in (Status.REF_MISMATCH, Status.NON_ACGTN_ALT, Status.NON_ACGTN_REF):
            return self._mismatch(f, fetch, status)
        if status == Status.DUP_ALLELE:
            if opts.check_ref == "e":
                raise RefCheckError(f"Duplicate alleles at {f[0]}:{f[1]}; run with -cw to turn the error into "
                                    "warning or with -cs to fix")
            if "s" in opts.check_ref:
                return fix_dup_alt(f)
            if "w" in opts.check_ref:
                self.warn(f"ALT_DUP\t{f[0]}\t{f[1]}")
            return f
        if status != Status.OK:
            self.counts.skipped += 0  # bcftools leaves these records as they are
            return f
        new_alt = ",".join(nalts) if nalts else f[4]
        if npos == pos and nref == f[3] and new_alt == f[4]:
            return f
        f = list(f)
        if alts:  # bcftools trims a REF-only record's REF without counting or tagging it
            if opts.old_rec_tag:
                add_old_rec_tag(f, opts.old_rec_tag, orig)
            self.counts.realigned += 1
        f[1], f[3], f[4] = str(npos), nref, new_alt
        if new_end is not None:
            f[7] = info_set(f[7], "END", str(new_end))
        return f

    def _check_inside(self, f: list[str]) -> None:
        """A record whose REF reaches past the end of its contig in the FASTA: the VCF and the FASTA do not
        match there. bcftools calls it a REF mismatch (REF_SEQ '') and would still realign it through the
        padding; here it is a reject (``-c e``: the error that stops the job)."""
        n = self.reference.length(f[0])
        end = int(f[1]) - 1 + max(len(f[3]), 1)  # 0-based exclusive end of REF
        if end > n:
            what = (f"{f[0]}:{f[1]} (REF {len(f[3])} bp) reaches past the end of contig {f[0]!r}, "
                    f"{n} bp in the reference {self.opts.fasta}")
            if self.opts.check_ref == "e":
                raise RefCheckError(what)
            raise RecordRejected(what)

    def _mismatch(self, f: list[str], fetch, status: Status) -> list[str] | None:
        opts = self.opts
        pos0 = int(f[1]) - 1
        seq = iupac_to_n(fetch(pos0, pos0 + len(f[3])))
        if status == Status.NON_ACGTN_ALT:
            what = f"Non-ACGTN alternate allele at {f[0]}:{f[1]} .. REF_SEQ:'{seq}' vs VCF:'{f[3]}'"
            warn = f"NON_ACGTN_ALT\t{f[0]}\t{f[1]}\t{f[4]}"
        elif status == Status.NON_ACGTN_REF:
            what = f"Non-ACGTN reference allele at {f[0]}:{f[1]} .. REF_SEQ:'{seq}' vs VCF:'{f[3]}'"
            warn = f"NON_ACGTN_REF\t{f[0]}\t{f[1]}\t{f[3]}"
        else:
            what = f"Reference allele mismatch at {f[0]}:{f[1]} .. REF_SEQ:'{seq}' vs VCF:'{f[3]}'"
            warn = f"REF_MISMATCH\t{f[0]}\t{f[1]}\t{f[3]}\t{seq}"
        if opts.check_ref == "e":
            raise RefCheckError(what)
        if "w" in opts.check_ref:
            self.warn(warn)
        if "x" in opts.check_ref:
            self.counts.mismatch_removed += 1
            raise RecordRejected(what + " (excluded by -c x)")
        return f

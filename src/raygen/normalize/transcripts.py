"""``-g/--gff-annot``: which records bcftools 1.24 right-aligns (HGVS 3' rule on the forward strand).

bcftools reads the GFF3 as its ``gff.c`` does (features from :func:`raygen.io.gff.read_features`): lines of
type ``gene``, or with ``ID=gene:...``, or without ``Parent``, are genes; ``exon``/``CDS``/``*_prime_UTR``
lines belong to the transcript named by ``Parent`` (``transcript:`` prefix dropped); any other line is a
transcript when its ``biotype``/``gene_biotype`` (else its type column, e.g. ``mRNA``) names a biotype
bcftools knows (prefix match: ``protein_coding``, ``lncRNA``, ``miRNA``, ...), otherwise it is ignored. A
transcript lies on its gene's contig and spans its own start-end, widened to cover its exons/CDS/UTRs.

A record is right-aligned when the transcripts overlapping ``[POS0, POS0 + rlen]`` (0-based, inclusive, as
bcftools queries them) include one on the forward strand and none on the reverse strand.
bcftools stops on a CDS whose phase does not continue the reading frame (``tscript_init_cds``); so does raygen.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from pathlib import Path

from raygen.errors import InputError
from raygen.io.gff import read_features

#: Biotype prefixes bcftools' ``gff_parse_biotype`` recognises (case-sensitive unless marked with ``~``).
_BIOTYPES = (
    "protein_coding", "pseudogene", "processed_transcript", "processed_pseudogene", "polymorphic_pseudogene",
    "artifact", "antisense", "ambiguous_orf", "IG_pseudogene", "IG_C_pseudogene", "IG_J_pseudogene",
    "IG_V_pseudogene", "IG_C", "IG_D", "IG_J", "IG_V", "IG_LV", "TR_V_pseudogene", "TR_J_pseudogene", "TR_C",
    "TR_D", "TR_J", "TR_V", "Mt_tRNA_pseudogene", "~Mt_tRNA", "~Mt_rRNA", "~MRNA", "lincRNA", "lncRNA",
    "macro_lncRNA", "misc_RNA_pseudogene", "miRNA_pseudogene", "miRNA", "misc_RNA", "~mRNA", "rRNA", "ribozyme",
    "retained_intron", "retrotransposed", "snRNA", "sRNA", "scRNA", "scaRNA", "snoRNA", "sense_intronic",
    "sense_overlapping", "tRNA_pseudogene", "transcribed_processed_pseudogene",
    "transcribed_unprocessed_pseudogene", "transcribed_unitary_pseudogene", "translated_unprocessed_pseudogene",
    "translated_processed_pseudogene", "nonsense_mediated_decay", "non_stop_decay", "NMD", "known_ncrna",
    "unitary_pseudogene", "unprocessed_pseudogene", "LRG_gene", "~3prime_overlapping_ncRNA",
    "~3_prime_overlapping_ncRNA", "disrupted_domain", "vaultRNA", "bidirectional_promoter_lncRNA",
)
_SUBFEATURES = ("exon", "CDS", "three_prime_UTR", "five_prime_UTR")


def known_biotype(text: str | None) -> bool:
    """Whether bcftools' ``gff_parse_biotype`` recognises ``text`` (it matches a known name as a prefix)."""
    if not text:
        return False
    for b in _BIOTYPES:  # bcftools switches on the exact first character, then compares the rest
        if b.startswith("~"):
            if text[0] == b[1] and text[: len(b) - 1].lower() == b[1:].lower():
                return True
        elif text.startswith(b):
            return True
    return False


def _attr(attrs: dict[str, list[str]], key: str) -> str | None:
    v = attrs.get(key)
    return ",".join(v) if v else None


def _strip(value: str | None, *prefixes: str) -> str | None:
    if value is None:
        return None
    for p in prefixes:
        if value.startswith(p):
            return value[len(p):]
    return value


@dataclass
class _Tx:
    gene: str
    strand: str
    beg: int
    end: int  # 0-based inclusive


@dataclass
class TranscriptIndex:
    """Transcript intervals per contig (0-based inclusive), for :meth:`right_align`."""

    by_chrom: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    _starts: dict[str, list[int]] = field(default_factory=dict)
    _max_len: dict[str, int] = field(default_factory=dict)

    def add(self, chrom: str, beg: int, end: int, strand: str) -> None:
        self.by_chrom.setdefault(chrom, []).append((beg, end, strand))

    def freeze(self) -> "TranscriptIndex":
        for c, lst in self.by_chrom.items():
            lst.sort()
            self._starts[c] = [b for b, _, _ in lst]
            self._max_len[c] = max((e - b for b, e, _ in lst), default=0)
        return self

    def right_align(self, chrom: str, pos0: int, rlen: int) -> bool:
        """bcftools' ``!is_left_align``: a forward-strand transcript overlaps ``[pos0, pos0 + rlen]`` and no
        reverse-strand one does."""
        lst = self.by_chrom.get(chrom)
        if not lst:
            return False
        q_end = pos0 + rlen
        hi = bisect.bisect_right(self._starts[chrom], q_end)
        lo = bisect.bisect_left(self._starts[chrom], pos0 - self._max_len[chrom])
        fwd = False
        for beg, end, strand in lst[lo:hi]:
            if end < pos0:
                continue
            if strand == "-":
                return False
            fwd |= strand == "+"
        return fwd


def _check_no_fasta_section(path: str | os.PathLike[str]) -> None:
    """bcftools' GFF reader has no ``##FASTA`` rule: the sequence lines after it are records it cannot parse,
    and it stops on the first (``raygen.io.gff`` ends the features there, as the GFF3 spec says)."""
    from raygen.io.gff import _open  # the same plain/gzip opener as the feature reader

    with _open(Path(path)) as fh:
        fasta = False
        for lineno, line in enumerate(fh, 1):
            if line.startswith("##FASTA"):
                fasta = True
            elif fasta and line.strip() and not line.startswith("#"):
                raise InputError(f"{path}:{lineno}: could not parse the line {line.rstrip()[:40]!r}: bcftools -g "
                                 "reads no ##FASTA section (remove it)")


def read_transcripts(path: str | os.PathLike[str]) -> TranscriptIndex:
    """The transcript index bcftools builds from a GFF3 (see the module docstring)."""
    if os.path.isfile(path):
        _check_no_fasta_section(path)
    gene_chrom: dict[str, str] = {}
    seqs: list[str] = []
    txs: dict[str, _Tx] = {}
    subs: list[tuple[str, int, int, str, str]] = []
    for f in read_features(path):
        if f.type == "biological_region":
            continue
        ident = _attr(f.attrs, "ID")
        parent = _strip(_attr(f.attrs, "Parent"), "gene:", "transcript:")
        is_gene = f.type == "gene" or (ident is not None and ident.startswith("gene:"))
        if is_gene or parent is None:
            if ident is not None:
                gid = _strip(ident, "gene:", "transcript:")
                if gid not in gene_chrom:
                    gene_chrom[gid] = f.seqid
                if f.seqid not in seqs:
                    seqs.append(f.seqid)
            continue
        if f.type in _SUBFEATURES:
            if f.seqid not in seqs:
                seqs.append(f.seqid)
            subs.append((parent, f.start, f.end - 1, f.strand, f.type, f.phase))
            continue
        biotype = _biotype(f.attrs)
        if not known_biotype(biotype) and not known_biotype(f.type):
            continue
        if ident is None:
            raise InputError(f"{path}:{f.line}: neither \"ID=transcript:\" nor \"ID=\" is present (bcftools stops)")
        txs[_strip(ident, "transcript:")] = _Tx(parent, f.strand, f.start, f.end - 1)
    return _index(txs, subs, gene_chrom, seqs, path)


_PHASES = {"0": 0, "1": 1, "2": 2}


def _check_phases(tid: str, strand: str, cds: list[list], path) -> None:
    """bcftools' reading-frame check of a transcript's CDS (``tscript_init_cds``; ``cds``: ``[beg0, len,
    phase or None]`` sorted by start): the phase of each CDS must continue the frame of the ones before it,
    counted from the 5' end (the first CDS's own phase trimmed off); bcftools norm stops otherwise."""
    if strand == "+":
        first = cds[0]
        if first[2] is not None:
            first[0] += first[2]
            first[1] -= first[2]
            first[2] = 0
        order = cds
    elif strand == "-":
        i = len(cds) - 1
        if cds[i][2] is not None:
            phase = cds[i][2]
            while i >= 0 and phase > cds[i][1]:
                phase -= cds[i][1]
                cds[i][2], cds[i][1] = 0, 0
                i -= 1
            if i >= 0:
                cds[i][1] -= cds[i][2] or 0
                cds[i][2] = 0
        order = cds[::-1]
    else:
        return
    done = 0
    for beg, length, phase in order:
        if phase is not None:
            want = 3 - phase if phase else 0
            if want != done % 3:
                raise InputError(f"{path}: GFF3 assumption failed for transcript {tid}, CDS={beg + 1}: phase!=len%3 "
                                 f"(phase={want}, len={done}) (bcftools stops)")
        done += length


def _biotype(attrs: dict[str, list[str]]) -> str | None:
    """The last of ``biotype``/``gene_biotype`` in attribute order (bcftools keeps the last one it sees)."""
    found = None
    for k in attrs:
        if k in ("biotype", "gene_biotype"):
            found = _attr(attrs, k)
    return found


def _index(txs: dict[str, _Tx], subs, gene_chrom: dict[str, str], seqs: list[str], path) -> TranscriptIndex:
    cds: dict[str, list[list]] = {}
    for parent, beg, end, strand, kind, phase in subs:
        tx = txs.get(parent)
        if tx is None:
            continue
        tx.beg, tx.end = min(tx.beg, beg), max(tx.end, end)
        if kind == "CDS":
            if strand != tx.strand:
                raise InputError(f"{path}: conflicting strand in transcript {parent} (bcftools stops)")
            cds.setdefault(parent, []).append([beg, end - beg + 1, _PHASES.get(phase[:1])])
    for tid, parts in cds.items():
        _check_phases(tid, txs[tid].strand, sorted(parts, key=lambda c: c[0]), path)
    idx = TranscriptIndex()
    for tx in txs.values():
        chrom = gene_chrom.get(tx.gene, seqs[0] if seqs else None)
        if chrom is not None:
            idx.add(chrom, tx.beg, tx.end, tx.strand)
    if not idx.by_chrom:
        raise InputError(f"{path}: no usable transcripts found (bcftools stops too); -g needs a GFF3 with "
                         "transcripts of a known biotype")
    return idx.freeze()

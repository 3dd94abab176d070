"""GFF3 and GTF gene annotations: one reader of features, and transcripts built from them.

:func:`read_features` reads either format (plain or gzip/bgzip; the format is told by the attribute column:
``key=value`` is GFF3, ``key "value"`` is GTF) into :class:`Feature` records with 0-based half-open
coordinates (the files are 1-based closed). :func:`transcripts` groups exons into :class:`TranscriptModel`
objects: GFF3 by ``Parent`` (exon -> transcript -> gene), GTF by ``transcript_id``/``gene_id``.

:func:`to_gene_table` picks one transcript per gene for SpliceAI's gene table
(:mod:`raygen.io.gene_table`), as the release's GENCODE "canonical" tables hold one:

- ``canonical`` (default): the transcript tagged ``MANE_Select`` (``MANE Select`` in RefSeq files), else
  the one tagged ``Ensembl_canonical``, else the one with the most exonic bases (then the longest span,
  then the first in the file);
- ``mane``: only MANE Select transcripts (genes without one are left out);
- ``all``: every transcript (a variant then gets one SpliceAI entry per transcript).

The gene symbol is ``gene_name`` (GTF, GENCODE/Ensembl GFF3), ``Name`` of the gene feature, or RefSeq's
``gene`` attribute, else the gene id.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from raygen.errors import InputError, UsageError
from raygen.io.gene_table import Transcript

TRANSCRIPT_TYPES = {"transcript", "mrna", "ncrna", "lnc_rna", "lncrna", "mirna", "snrna", "snorna", "rrna",
                    "trna", "primary_transcript", "pseudogenic_transcript", "unconfirmed_transcript",
                    "v_gene_segment", "d_gene_segment", "j_gene_segment", "c_gene_segment", "scrna",
                    "antisense_rna", "telomerase_rna", "vault_rna", "y_rna", "rnase_mrp_rna", "rnase_p_rna",
                    "srp_rna", "guide_rna", "misc_rna"}
SELECTIONS = ("canonical", "mane", "all")


@dataclass(frozen=True)
class Feature:
    """One GFF3/GTF line: ``start``/``end`` 0-based half-open; ``attrs`` values are lists of strings."""

    seqid: str
    type: str
    start: int
    end: int
    strand: str
    attrs: dict[str, list[str]]
    line: int
    phase: str = "."  # the 8th column (CDS codon phase: 0, 1, 2 or .)


def _open(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rt", encoding="utf-8") if magic == b"\x1f\x8b" else open(path, encoding="utf-8")


def _gff3_attrs(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in text.strip().strip(";").split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"attribute {item[:40]!r} is not key=value")
        out[unquote(key.strip())] = [unquote(v) for v in value.split(",")]
    return out


def _gtf_attrs(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in text.strip().split(";"):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition(" ")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out.setdefault(key, []).append(value)  # GTF repeats keys (tag "basic"; tag "MANE_Select")
    return out


def read_features(path: str | os.PathLike[str]) -> Iterator[Feature]:
    """Features of a GFF3 or GTF file in file order; a malformed line raises InputError with file:line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"annotation {str(p)!r} does not exist")
    gtf: bool | None = None
    with _open(p) as fh:
        try:
            for lineno, raw in enumerate(fh, 1):
                if raw.startswith("##FASTA"):
                    break
                if raw.startswith("#") or not raw.strip():
                    continue
                cols = raw.rstrip("\r\n").split("\t")
                if len(cols) != 9:
                    raise InputError(f"{p}:{lineno}: expected 9 tab-separated GFF/GTF columns, found {len(cols)}")
                if gtf is None:
                    gtf = '"' in cols[8] and "=" not in cols[8].split(";")[0]
                try:
                    start, end = int(cols[3]) - 1, int(cols[4])
                    attrs = _gtf_attrs(cols[8]) if gtf else _gff3_attrs(cols[8])
                except ValueError as exc:
                    raise InputError(f"{p}:{lineno}: {exc}" if "attribute" in str(exc)
                                     else f"{p}:{lineno}: start/end must be integers") from None
                if end <= start or cols[6] not in "+-.?":
                    raise InputError(f"{p}:{lineno}: bad interval {cols[3]}-{cols[4]} or strand {cols[6]!r}")
                yield Feature(cols[0], cols[2], start, end, cols[6], attrs, lineno, cols[7])
        except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as exc:
            raise InputError(f"{p}: not a readable GFF3/GTF text file ({exc})") from None


@dataclass
class TranscriptModel:
    """A transcript with its exons (0-based half-open), gene and tags."""

    id: str
    gene_id: str
    gene_name: str
    chrom: str
    strand: str
    start: int | None = None
    end: int | None = None
    exons: list[tuple[int, int]] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    order: int = 0

    def exonic_bases(self) -> int:
        return sum(e - s for s, e in self.exons)


def _first(attrs: dict[str, list[str]], *keys: str) -> str | None:
    for k in keys:
        if attrs.get(k):
            return attrs[k][0]
    return None


def _tags(attrs: dict[str, list[str]]) -> set[str]:
    tags = {t.strip() for t in attrs.get("tag", [])}
    return {t.replace(" ", "_") for t in tags}  # RefSeq writes "MANE Select"


def transcripts(path: str | os.PathLike[str]) -> list[TranscriptModel]:
    """Transcripts with exons from a GFF3/GTF file, in the order they first appear."""
    genes: dict[str, str] = {}  # GFF3 gene ID -> symbol
    models: dict[str, TranscriptModel] = {}
    exons: list[Feature] = []
    for f in read_features(path):
        t = f.type.lower()
        if t == "gene" or t.endswith("_gene") or t == "pseudogene":
            gid = _first(f.attrs, "ID", "gene_id")
            if gid:
                genes[gid] = _first(f.attrs, "gene_name", "Name", "gene") or gid
        elif t in TRANSCRIPT_TYPES:
            tid = _first(f.attrs, "ID", "transcript_id")  # exons name GFF3 IDs (transcript:ENST...) as Parent
            if tid is None:
                raise InputError(f"{path}:{f.line}: {f.type} without ID/transcript_id")
            gid = _first(f.attrs, "Parent", "gene_id") or tid
            name = _first(f.attrs, "gene_name", "gene") or genes.get(gid) or gid
            m = models.setdefault(tid, TranscriptModel(tid, gid, name, f.seqid, f.strand, order=len(models)))
            m.start, m.end, m.tags = f.start, f.end, m.tags | _tags(f.attrs)
        elif t == "exon":
            exons.append(f)
    for f in exons:
        parents = f.attrs.get("Parent") or f.attrs.get("transcript_id") or []
        for tid in parents:
            m = models.get(tid)
            if m is None:  # GTF without transcript lines: the exons define the transcript
                gid = _first(f.attrs, "gene_id") or tid
                m = models[tid] = TranscriptModel(tid, gid, _first(f.attrs, "gene_name", "gene") or genes.get(gid, gid),
                                                  f.seqid, f.strand, order=len(models))
                m.tags |= _tags(f.attrs)
            m.exons.append((f.start, f.end))
    for m in models.values():
        if m.gene_name == m.gene_id and m.gene_id in genes:
            m.gene_name = genes[m.gene_id]
    return [m for m in models.values() if m.exons]


def _pick(models: list[TranscriptModel], selection: str) -> list[TranscriptModel]:
    if selection == "all":
        return models
    by_gene: dict[str, list[TranscriptModel]] = {}
    for m in models:
        by_gene.setdefault(m.gene_id, []).append(m)
    out = []
    for group in by_gene.values():
        mane = [m for m in group if "MANE_Select" in m.tags]
        if selection == "mane":
            out += mane[:1]
            continue
        canon = [m for m in group if "Ensembl_canonical" in m.tags]
        best = mane or canon or sorted(group, key=lambda m: (-m.exonic_bases(), -(m.end or 0) + (m.start or 0),
                                                           m.order))
        out.append(best[0])
    return out


def to_gene_table(path: str | os.PathLike[str], selection: str = "canonical") -> list[Transcript]:
    """SpliceAI gene-table rows (one transcript per gene unless ``all``), sorted by contig (file order) and start."""
    if selection not in SELECTIONS:
        raise UsageError(f"--transcripts must be one of {', '.join(SELECTIONS)}, not {selection!r}")
    models = transcripts(path)
    if not models:
        raise InputError(f"{path}: no transcripts with exons found (is it a GFF3/GTF gene annotation?)")
    contig_order = {c: i for i, c in enumerate(dict.fromkeys(m.chrom for m in models))}
    rows = []
    for m in _pick(models, selection):
        if m.strand not in ("+", "-"):
            continue
        ex = sorted(set(m.exons))
        start = min(ex[0][0], m.start if m.start is not None else ex[0][0])
        end = max(max(e for _, e in ex), m.end if m.end is not None else 0)
        rows.append(Transcript(m.gene_name, m.chrom, m.strand, start, end, tuple(s for s, _ in ex),
                               tuple(e for _, e in ex)))
    rows.sort(key=lambda r: (contig_order[r.chrom], r.tx_start, r.tx_end, r.name))
    return rows

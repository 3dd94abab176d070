"""CAGI5 regulatory saturation mutagenesis (Kircher et al. 2019) as raygen inputs.

The shared data has GRCh37 coordinates but no GRCh37 genome; it does ship the 14 element sequences
(``cagi5_regsat_elements.fa``, one per locus, headers like ``>F9 GRCh37 X:138612621-138612924 ...``,
1-based inclusive). We write those into a small FASTA whose contigs are the element names and convert
each variant to element coordinates: ``pos_element = pos_grch37 - element_start + 1`` (both 1-based).
The variants table (``cagi5_regsat_variants.tsv.gz``) already uses 1-based GRCh37 positions and contigs
without ``chr`` (it was derived from the training txt, whose 0-based ``start`` / 1-based ``end`` columns
it resolved to ``end``). Binary task: label 1 = the variant changes expression (CAGI label +1 or -1,
confidence >= 0.1), 0 = no effect.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raygen.errors import InputError
from raygen.io.atomic import atomic_path
from raygen.io.fasta import ensure_fasta_index

ELEMENTS_FA = "cagi5_regsat_elements.fa"
VARIANTS_TSV = "cagi5_regsat_variants.tsv.gz"
_HEADER = re.compile(r"^>(\S+)\s+GRCh37\s+(\w+):(\d+)-(\d+)")


@dataclass(frozen=True)
class Element:
    name: str
    chrom: str  # GRCh37 contig, no "chr"
    start1: int  # 1-based inclusive
    end1: int
    seq: str


@dataclass
class Cagi5Variants:
    """Variants in element coordinates (``element`` is the contig, ``pos`` 1-based) with labels and splits."""

    element: np.ndarray  # contig of the element FASTA
    experiment: np.ndarray  # CAGI5 experiment name (e.g. TERT-GBM)
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    split: np.ndarray  # "training" or "challenge"
    value: np.ndarray  # log2 expression effect
    confidence: np.ndarray
    label3: np.ndarray  # -1, 0, +1 as published

    @property
    def effect(self) -> np.ndarray:
        """1 where the variant changes expression (label +1 or -1), else 0."""
        return (self.label3 != 0).astype(np.int64)

    def subset(self, mask: np.ndarray) -> "Cagi5Variants":
        return Cagi5Variants(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def read_elements(data_dir: str | Path) -> dict[str, Element]:
    """The element sequences with their GRCh37 spans."""
    path = Path(data_dir) / ELEMENTS_FA
    if not path.exists():
        raise InputError(f"{path} is missing (expected the CAGI5 regsat folder of ../shared/data)")
    out: dict[str, Element] = {}
    name, meta, chunks = None, None, []
    for line in path.read_text().splitlines() + [">"]:
        if line.startswith(">"):
            if name is not None:
                seq = "".join(chunks).upper()
                if len(seq) != meta[2] - meta[1] + 1:
                    raise InputError(f"{path}: element {name} has {len(seq)} bp but its header spans {meta[2] - meta[1] + 1}")
                out[name] = Element(name, meta[0], meta[1], meta[2], seq)
            if line == ">":
                break
            m = _HEADER.match(line)
            if not m:
                raise InputError(f"{path}: cannot parse header {line[:80]!r}")
            name, meta, chunks = m.group(1), (m.group(2), int(m.group(3)), int(m.group(4))), []
        else:
            chunks.append(line.strip())
    return out


def write_element_fasta(elements: dict[str, Element], out_dir: str | Path) -> Path:
    """Write the elements as a FASTA (contig = element name) in ``out_dir`` (a cache, never the repo)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "cagi5_elements.fa"
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f">{e.name}\n{e.seq}\n" for e in elements.values()))
    Path(str(path) + ".fai").unlink(missing_ok=True)
    ensure_fasta_index(path)
    return path


def read_variants(data_dir: str | Path, elements: dict[str, Element]) -> Cagi5Variants:
    """All CAGI5 SNVs converted to element coordinates; REF is checked against the element sequence."""
    path = Path(data_dir) / VARIANTS_TSV
    with gzip.open(path, "rt") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        rows = [line.rstrip("\n").split("\t") for line in fh if line.strip()]
    col = {name: i for i, name in enumerate(header)}
    need = ["chrom", "pos", "ref", "alt", "element", "split", "value", "confidence", "label"]
    missing = [c for c in need if c not in col]
    if missing:
        raise InputError(f"{path}: missing columns {missing}")
    el, exp, pos, ref, alt, split, value, conf, lab = ([] for _ in range(9))
    for i, r in enumerate(rows, 2):
        # 15 experiments on 14 loci: TERT-GBM and TERT-HEK293T share the TERT sequence.
        e = elements.get(r[col["element"]]) or elements.get(r[col["element"]].split("-")[0])
        if e is None or r[col["chrom"]] != e.chrom:
            raise InputError(f"{path}:{i}: element {r[col['element']]!r} on {r[col['chrom']]!r} is not among the element sequences")
        p = int(r[col["pos"]]) - e.start1 + 1
        if not 1 <= p <= len(e.seq) or e.seq[p - 1] != r[col["ref"]]:
            raise InputError(f"{path}:{i}: REF {r[col['ref']]} does not match element {e.name} at {p}")
        el.append(e.name)
        exp.append(r[col["element"]])
        pos.append(p)
        ref.append(r[col["ref"]])
        alt.append(r[col["alt"]])
        split.append(r[col["split"]])
        value.append(float(r[col["value"]]))
        conf.append(float(r[col["confidence"]]))
        lab.append(int(r[col["label"]]))
    return Cagi5Variants(np.array(el, dtype=object), np.array(exp, dtype=object), np.array(pos), np.array(ref, dtype=object),
                         np.array(alt, dtype=object), np.array(split, dtype=object), np.array(value),
                         np.array(conf), np.array(lab))


def write_labels_tsv(v: Cagi5Variants, path: str | Path) -> Path:
    """A ``raygen train finetune`` labels table: element, pos, ref, alt, effect (0/1), |log2 effect| as score."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("chrom\tpos\tref\talt\tlabel\tscore\n")
            for row in zip(v.element, v.pos, v.ref, v.alt, v.effect, np.abs(v.value)):
                fh.write("\t".join(str(x) for x in row) + "\n")
    return Path(path)

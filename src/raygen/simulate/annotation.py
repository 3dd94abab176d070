"""Synthetic annotation cases for ``raygen annotate``: a reference, a source VCF and a query VCF (seeded).

The source holds ``n_source`` records at distinct positions (SNVs, some of them multi-allelic, and
left-aligned indels) with INFO fields of every kind an annotation source has: ``AF`` (Number=A Float),
``AC`` (Number=A Integer), ``CLNSIG`` (Number=1 String) and ``DB`` (Flag). The query holds ``n_query``
biallelic records: about ``overlap`` of them copy a source allele exactly, the rest are new alleles.
Everything is written normalized (left-aligned, parsimonious), so a plain position + allele join
(``bcftools annotate``) and raygen's normalized-key join must agree on all of it.

``shifted`` more source records are deletions of one base inside a planted homopolymer, written at the
*right* end of the run in the source and left-aligned in the query: only a join on the normalized key
matches them (:attr:`AnnotationCase.shifted_keys` lists their left-aligned keys, 1-based POS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.io.header import VcfHeader
from raygen.io.vcf import write_vcf
from raygen.schema import TEXT_SCHEMA
from raygen.simulate.reference import BASES, Contig, write_fasta

CLNSIG = np.array(["Benign", "Likely_benign", "Uncertain_significance", "Likely_pathogenic", "Pathogenic"])
SOURCE_INFO = (("AF", "A", "Float", "Allele frequency"), ("AC", "A", "Integer", "Allele count"),
               ("CLNSIG", "1", "String", "Clinical significance"), ("DB", "0", "Flag", "In the database"))
HOMOPOLYMER = 6  # bp of each planted run


@dataclass
class AnnotationCase:
    """Paths of a generated case and the keys only a normalized join can match."""

    fasta: Path
    source: Path
    query: Path
    shifted_keys: list[tuple[str, int, str, str]] = field(default_factory=list)


def _other(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """A base different from each of ``base`` (uint8 ASCII)."""
    code = np.searchsorted(BASES, base)
    return BASES[(code + rng.integers(1, 4, len(base))) % 4]


def _header(contigs: list[Contig], info: tuple) -> VcfHeader:
    lines = ["##fileformat=VCFv4.2", "##fileDate=20260101"]
    lines += [f"##contig=<ID={c.name},length={c.length}>" for c in contigs]
    lines += [f'##INFO=<ID={i},Number={n},Type={t},Description="{d}">' for i, n, t, d in info]
    return VcfHeader.from_lines(lines + ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"])


def _table(chrom, pos, ref, alt, info) -> pa.Table:
    n = len(pos)
    order = np.lexsort((pos, chrom))
    cols = {"CHROM": pa.array(chrom[order]), "POS": pa.array(pos[order], pa.int64()), "ID": pa.nulls(n, pa.string()),
            "REF": pa.array(ref[order]), "ALT": pa.array(alt[order]), "QUAL": pa.nulls(n, pa.string()),
            "FILTER": pa.array(np.full(n, "PASS")), "INFO": pc.take(info, pa.array(order)),
            "FORMAT": pa.nulls(n, pa.string()), "SAMPLES": pa.nulls(n, pa.string()), "LINE": pa.nulls(n, pa.int64())}
    return pa.table(cols, schema=TEXT_SCHEMA)


def _alleles(rng: np.random.Generator, seq: np.ndarray, pos0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """REF/ALT of a normalized variant at each 0-based ``pos0``: 80% SNV, 10% 1-3 bp deletion, 10% insertion
    (indels anchored at ``pos0``, their last changed base differing from the anchor so none can shift left)."""
    kind = rng.random(len(pos0))
    anchor = seq[pos0]
    ref = anchor.tobytes().decode()
    alt = _other(rng, anchor).tobytes().decode()
    ref_out, alt_out = np.array(list(ref), dtype=object), np.array(list(alt), dtype=object)
    for i in np.flatnonzero(kind >= 0.8):
        p, L = int(pos0[i]), int(rng.integers(1, 4))
        a = ref[i]
        if kind[i] < 0.9 and seq[p + L] != seq[p]:  # deletion of seq[p+1 : p+1+L]
            ref_out[i], alt_out[i] = seq[p:p + L + 1].tobytes().decode(), a
        else:  # insertion after the anchor, ending in a base other than the anchor
            ins = bytes(rng.choice(BASES, L - 1)) + bytes([_other(rng, seq[p:p + 1])[0]])
            ref_out[i], alt_out[i] = a, a + ins.decode()
    return ref_out, alt_out


def _info(rng: np.random.Generator, n: int, n_alts: np.ndarray) -> pa.Array:
    af = [",".join(f"{x:.4g}" for x in rng.random(k) * 0.5) for k in n_alts]
    ac = [",".join(str(x) for x in rng.integers(1, 5000, k)) for k in n_alts]
    sig = CLNSIG[rng.integers(0, len(CLNSIG), n)]
    db = rng.random(n) < 0.3
    return pa.array([f"AF={a};AC={c};CLNSIG={s}" + (";DB" if d else "") for a, c, s, d in zip(af, ac, sig, db)])


def _grid(rng: np.random.Generator, n: int, contigs: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct sites (contig index, 0-based position) on a 4 bp grid: no two variants touch."""
    slots = (length - 20) // 4
    flat = np.sort(rng.choice(contigs * slots, n, replace=False))
    return flat // slots, 10 + 4 * (flat % slots)


def make_annotation_case(out_dir: str | os.PathLike[str], *, n_source: int, n_query: int, overlap: float = 0.5,
                         shifted: int = 0, contigs: int = 2, seed: int = 0) -> AnnotationCase:
    """Write ``ref.fa``, ``source.vcf.gz`` and ``query.vcf.gz`` (+ indexes) into ``out_dir`` (see module doc):
    ``n_query`` query records, ``round(overlap * n_query)`` of them (at most ``n_source``) copies of a source
    allele, plus the ``shifted`` deletions."""
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_copy = min(n_source, int(round(overlap * n_query)))
    n_new = n_query - n_copy
    length = max(10_000, (n_source + n_new) * 8 // contigs)
    runs_at = length  # the planted runs lie past the grid, on the first contig
    refs = [Contig(f"sim{i + 1}", BASES[rng.integers(0, 4, length + (10 * shifted + 20 if i == 0 else 0))],
                   np.zeros((0, 3), np.int64)) for i in range(contigs)]
    s_rows, q_rows, keys = _plant_runs(refs[0], runs_at, shifted)
    ci, pos0 = _grid(rng, n_source + n_new, contigs, length)
    names = np.array([c.name for c in refs], dtype=object)
    perm = rng.permutation(len(pos0))
    src_i, new_i = np.sort(perm[:n_source]), np.sort(perm[n_source:])
    chrom, alleles = names[ci], _variants(rng, refs, ci, pos0)
    s_ref, s_alt = alleles[0][src_i], alleles[1][src_i].copy()
    n_alts = np.ones(n_source, dtype=np.int64)
    snv = np.flatnonzero((rng.random(n_source) < 0.1) & np.array([len(r) == 1 and len(a) == 1 for r, a in zip(s_ref, s_alt)]))
    for i in snv:  # a second SNV allele on the same site: a multi-allelic source record
        s_alt[i] = f"{s_alt[i]},{sorted(set('ACGT') - {s_ref[i], s_alt[i]})[int(rng.integers(0, 2))]}"
        n_alts[i] = 2
    copy = np.sort(rng.choice(n_source, n_copy, replace=False)) if n_copy else np.zeros(0, np.int64)
    first_alt = np.array([a.split(",")[0] for a in s_alt[copy]], dtype=object)
    query = _table(np.concatenate([chrom[src_i][copy], chrom[new_i], q_rows[0]]),
                   np.concatenate([pos0[src_i][copy] + 1, pos0[new_i] + 1, q_rows[1]]),
                   np.concatenate([s_ref[copy], alleles[0][new_i], q_rows[2]]),
                   np.concatenate([first_alt, alleles[1][new_i], q_rows[3]]), pa.array(np.full(n_query + shifted, ".")))
    src = _table(np.concatenate([chrom[src_i], s_rows[0]]), np.concatenate([pos0[src_i] + 1, s_rows[1]]),
                 np.concatenate([s_ref, s_rows[2]]), np.concatenate([s_alt, s_rows[3]]),
                 _info(rng, n_source + shifted, np.concatenate([n_alts, np.ones(shifted, np.int64)])))
    write_fasta(out / "ref.fa", refs)
    write_vcf(_header(refs, SOURCE_INFO), src, out / "source.vcf.gz")
    write_vcf(_header(refs, ()), query, out / "query.vcf.gz")
    return AnnotationCase(out / "ref.fa", out / "source.vcf.gz", out / "query.vcf.gz", keys)


def _variants(rng: np.random.Generator, refs: list[Contig], ci: np.ndarray, pos0: np.ndarray):
    ref = np.empty(len(pos0), dtype=object)
    alt = np.empty(len(pos0), dtype=object)
    for k, c in enumerate(refs):
        m = np.flatnonzero(ci == k)
        ref[m], alt[m] = _alleles(rng, c.seq, pos0[m])
    return ref, alt


def _plant_runs(contig: Contig, start0: int, n: int):
    """Plant ``n`` homopolymer runs 10 bp apart from ``start0`` on ``contig``; return the source rows (1-bp
    deletions written at the right end of each run), the query rows (the same deletions left-aligned) and the
    left-aligned keys, as (CHROM, POS, REF, ALT) column arrays / tuples with 1-based POS."""
    seq = contig.seq
    src, qry, keys = [], [], []
    for j in range(n):
        p = start0 + 10 * j  # anchor (0-based); the run is seq[p+1 : p+1+HOMOPOLYMER]
        base = seq[p + 1]
        seq[p + 1:p + 1 + HOMOPOLYMER] = base
        for q in (p, p + 1 + HOMOPOLYMER):  # bounded by other bases on both sides
            if seq[q] == base:
                seq[q] = BASES[(np.searchsorted(BASES, base) + 1) % 4]
        b, a = chr(base), chr(seq[p])
        src.append((contig.name, p + HOMOPOLYMER, b + b, b))
        keys.append((contig.name, p + 1, a + b, a))
        qry.append(keys[-1])

    def cols(rows):
        c = list(zip(*rows)) if rows else [(), (), (), ()]
        return (np.array(c[0], dtype=object), np.array(c[1], dtype=np.int64), np.array(c[2], dtype=object),
                np.array(c[3], dtype=object))
    return cols(src), cols(qry), keys


__all__ = ["AnnotationCase", "make_annotation_case", "SOURCE_INFO"]

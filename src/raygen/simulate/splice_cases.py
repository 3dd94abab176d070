"""Generated SpliceAI cases for differential runs against the release (tests, benchmarks/spliceai.py).

:func:`make_site` writes a small plain FASTA (contig ``20`` = the first ``length`` bases of the shared
GRCh38 reference: the release's pyfaidx cannot read BGZF without Biopython) and a gene table: the
release's grch38 genes there, plus synthetic genes that put N padding, overlapping genes of both strands
and a contig end inside the 10 kb window. :func:`make_cases` draws seeded variants: SNVs, 1-4 bp deletions
and insertions, near exon boundaries and transcript ends, with D and the mask varied.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from raygen.io.fasta import Reference
from raygen.io.gene_table import Transcript, read_gene_table, write_gene_table
from raygen.models.spliceai_weights import annotation_path

BASES = "ACGT"


def make_site(shared_fasta: str | Path, out_dir: Path, length: int = 400_000) -> tuple[Path, Path, list[Transcript]]:
    """(plain FASTA, gene table, its rows) for generated cases."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with Reference(shared_fasta) as ref:
        seq = ref.fetch("20", 0, length)
    fa = out_dir / "ref.fa"
    with open(fa, "w") as fh:
        fh.write(">20\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))
    rows = [r for r in read_gene_table(annotation_path("grch38")) if r.chrom == "20" and r.tx_end < length - 20_000]
    rows += [
        # short genes: the whole transcript inside one window, N on both sides
        Transcript("SHORTP", "20", "+", 200_000, 203_000, (200_000, 201_200, 202_500), (200_400, 201_300, 203_000)),
        Transcript("SHORTM", "20", "-", 201_000, 202_800, (201_000, 202_100), (201_350, 202_800)),
        # runs into the contig end: variants there are skipped (near_contig_end)
        Transcript("ENDGENE", "20", "+", length - 9_000, length - 100, (length - 9_000, length - 3_000),
                   (length - 8_000, length - 100)),
    ]
    genes = write_gene_table(rows, out_dir / "genes.txt")
    return fa, genes, rows


def _variant(rng: random.Random, seq: str, pos0: int) -> tuple[int, str, str]:
    """(1-based pos, REF, ALT) of a random SNV / 1-4 bp deletion / 1-4 bp insertion at 0-based ``pos0``."""
    kind = rng.choice(["snv", "snv", "del", "ins"])
    ref = seq[pos0]
    if kind == "snv":
        return pos0 + 1, ref, rng.choice([b for b in BASES if b != ref] or ["A"])
    n = rng.randint(1, 4)
    if kind == "del":
        return pos0 + 1, seq[pos0:pos0 + n + 1], ref
    return pos0 + 1, ref, ref + "".join(rng.choice(BASES) for _ in range(n))


def make_cases(fa: Path, rows: list[Transcript], n: int, seed: int) -> list[dict]:
    """``n`` seeded cases ``{"chrom", "pos", "ref", "alts", "distance", "mask"}`` (see module docstring)."""
    rng = random.Random(seed)
    seq = "".join(line.strip() for line in open(fa) if not line.startswith(">"))
    cases = []
    while len(cases) < n:
        g = rng.choice(rows)
        where = rng.random()
        if where < 0.6:  # near an exon boundary (1-based first/last exon base)
            b = rng.choice([s + 1 for s in g.exon_starts] + list(g.exon_ends))
            pos0 = b - 1 + rng.randint(-12, 12)
        elif where < 0.85:  # near a transcript end: N padding inside the window
            pos0 = rng.choice([g.tx_start + rng.randint(0, 60), g.tx_end - 1 - rng.randint(0, 60)])
        else:
            pos0 = rng.randint(g.tx_start, g.tx_end - 1)
        if not g.tx_start <= pos0 < g.tx_end or seq[pos0] == "N":
            continue
        pos, ref, alt = _variant(rng, seq, pos0)
        if "N" in ref:
            continue
        cases.append({"chrom": "20", "pos": pos, "ref": ref, "alts": [alt], "distance": rng.choice([50, 50, 50, 10]),
                      "mask": rng.choice([0, 1])})
    return cases


def write_cases(cases: list[dict], path: Path) -> Path:
    path.write_text(json.dumps(cases))
    return path

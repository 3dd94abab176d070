"""Helpers for the training tests: write FASTA files, simulate genomes with learnable structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_fasta(path: Path, contigs: dict[str, str]) -> Path:
    with open(path, "w") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name}\n")
            fh.writelines(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
    return path


def simulated_genome(length: int, seed: int) -> str:
    """Random DNA with learnable structure: copies of one 40-bp motif and CpG depletion, plus one N run."""
    rng = np.random.default_rng(seed)
    bases = np.array(list("ACGT"))
    seq = bases[rng.choice(4, size=length, p=[0.3, 0.2, 0.2, 0.3])]
    motif = bases[np.random.default_rng(0).integers(0, 4, 40)]  # shared by every contig
    for start in rng.integers(0, length - 40, size=length // 400):
        seq[start:start + 40] = motif
    seq[length // 2:length // 2 + 300] = "N"
    return "".join(seq)

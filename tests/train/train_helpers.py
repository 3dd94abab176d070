"""Helpers for the training tests: write FASTA files, simulate genomes with learnable structure."""

from __future__ import annotations

import os
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


def kill_worker_once(step: int, marker: Path):
    """A training hook (:func:`raygen.train.trainer.hooks`): the last rank's worker process exits abruptly
    (``os._exit``, as a killed process would) before optimizer step ``step + 1``, the first time only; ``marker``
    records that it happened, so the restarted worker trains on."""

    def hook(point: str, info: dict) -> None:
        if point == "step" and info["step"] == step and info["rank"] == info["world_size"] - 1 and not marker.exists():
            marker.touch()
            os._exit(1)

    return hook

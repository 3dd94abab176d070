"""Synthetic reference contigs with the features that make real genomes hard: GC isochores,
homopolymers, short tandem repeats and N gaps. Pure numpy; coordinates are 0-based half-open.

Sequences are ``uint8`` arrays of upper-case ASCII (``b"ACGTN"``) so that slicing, gathering and
writing never go through per-base Python.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raygen.config import SimulateConfig
from raygen.io.atomic import atomic_paths

#: ASCII codes of A, C, G, T; index = 2-bit base code used throughout the simulator.
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
#: ASCII -> base code (A0 C1 G2 T3); everything else (N) -> 4.
CODE = np.full(256, 4, dtype=np.uint8)
CODE[BASES] = np.arange(4, dtype=np.uint8)
N_ASCII = ord("N")
FASTA_LINE = 60


@dataclass
class Contig:
    """One simulated contig: ``seq`` (uint8 ASCII) and the tandem repeats planted in it.

    ``tracts`` is an ``(n, 3)`` int64 array of ``start0, unit_len, copies``; later features may have
    overwritten parts of a tract, so consumers re-check the sequence rather than trust it blindly.
    """

    name: str
    seq: np.ndarray
    tracts: np.ndarray

    @property
    def length(self) -> int:
        return int(self.seq.shape[0])

    @property
    def n_bases(self) -> int:
        return int(np.count_nonzero(self.seq == N_ASCII))


def contig_names(k: int) -> list[str]:
    return [f"chr{i + 1}" for i in range(k)]


def contig_lengths(total: int, k: int) -> list[int]:
    """Split ``total`` bp over ``k`` contigs, decreasing in size (like chromosomes), summing exactly."""
    weights = np.arange(2 * k, k, -1, dtype=np.float64)  # 2k .. k+1: largest about twice the smallest
    lens = np.floor(total * weights / weights.sum()).astype(np.int64)
    lens[0] += total - int(lens.sum())
    return [int(x) for x in lens]


def _ragged_offsets(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of the given lengths: (run id, offset within run) of every element, concatenated."""
    total = int(lengths.sum())
    run = np.repeat(np.arange(lengths.shape[0]), lengths)
    starts = np.cumsum(lengths) - lengths
    return run, np.arange(total) - np.repeat(starts, lengths)


def simulate_contig(name: str, length: int, cfg: SimulateConfig, rng: np.random.Generator) -> Contig:
    """Draw one contig of ``length`` bp.

    Background bases follow a GC fraction that changes between isochore-like segments (exponential
    lengths, mean ``cfg.isochore_mean_bp``); homopolymers (unit 1) and tandem repeats (unit 2-6) are
    written over it at ``cfg.homopolymer_rate`` / ``cfg.str_rate`` per bp; ``cfg.n_gap_fraction`` of the
    contig becomes one to three runs of ``N`` away from its ends.
    """
    # Isochores: segment GC drawn around a human-like mean, so GC varies along the contig.
    n_seg = max(2, int(3 * length / cfg.isochore_mean_bp) + 2)
    seg_len = np.maximum(1, rng.exponential(cfg.isochore_mean_bp, n_seg)).astype(np.int64)
    while int(seg_len.sum()) < length:  # rare: draw was short; extend deterministically
        seg_len = np.concatenate([seg_len, seg_len])
    seg_gc = np.clip(rng.normal(0.42, 0.08, seg_len.shape[0]), 0.25, 0.65)
    gc = np.repeat(seg_gc, seg_len)[:length]
    u = rng.random(length)
    code = np.where(u < gc / 2, 2, np.where(u < gc, 1, np.where(u < gc + (1 - gc) / 2, 0, 3)))
    seq = BASES[code]

    # Tandem repeats: homopolymers (unit 1, 6-16 copies) and STRs (unit 2-6, 3-12 copies).
    n_hp = rng.poisson(cfg.homopolymer_rate * length)
    n_str = rng.poisson(cfg.str_rate * length)
    unit = np.concatenate([np.ones(n_hp, np.int64), rng.integers(2, 7, n_str)])
    copies = np.concatenate([rng.integers(6, 17, n_hp), rng.integers(3, 13, n_str)])
    starts = rng.integers(0, max(1, length - 100), unit.shape[0])
    motifs = rng.integers(0, 4, (unit.shape[0], 6))
    # A unit like "AA" is a homopolymer in disguise: make the second base differ from the first.
    motifs[:, 1] = np.where(unit >= 2, (motifs[:, 0] + rng.integers(1, 4, unit.shape[0])) % 4, motifs[:, 1])
    run, off = _ragged_offsets(unit * copies)
    pos = starts[run] + off
    keep = pos < length
    seq[pos[keep]] = BASES[motifs[run[keep], off[keep] % unit[run[keep]]]]
    order = np.argsort(starts, kind="stable")
    tracts = np.stack([starts, unit, copies], axis=1)[order]

    # N gaps: a few runs, never at the very ends (variants and reads need flanks).
    n_gap = int(round(cfg.n_gap_fraction * length))
    if n_gap > 0:
        k = int(rng.integers(1, 4))
        sizes = np.diff(np.concatenate([[0], np.sort(rng.integers(0, n_gap + 1, k - 1)), [n_gap]]))
        lo, hi = int(0.05 * length), max(int(0.05 * length) + 1, int(0.95 * length) - int(sizes.max()))
        for start, size in zip(rng.integers(lo, hi, k), sizes):
            seq[int(start): int(start) + int(size)] = N_ASCII
    return Contig(name=name, seq=seq, tracts=tracts)


def simulate_reference(cfg: SimulateConfig) -> list[Contig]:
    """All contigs of the genome; contig ``i`` draws from its own RNG stream (seed, 0, i)."""
    out = []
    for i, (name, length) in enumerate(zip(contig_names(cfg.contigs), contig_lengths(cfg.length, cfg.contigs))):
        rng = np.random.default_rng([cfg.seed, 0, i])
        out.append(simulate_contig(name, length, cfg, rng))
    return out


def fasta_bytes(seq: np.ndarray) -> bytes:
    """Body of one FASTA record: ``FASTA_LINE`` bases per line, each line ending in a newline."""
    n = seq.shape[0]
    full = n // FASTA_LINE
    body = np.empty((full, FASTA_LINE + 1), dtype=np.uint8)
    body[:, :FASTA_LINE] = seq[: full * FASTA_LINE].reshape(full, FASTA_LINE)
    body[:, FASTA_LINE] = ord("\n")
    tail = seq[full * FASTA_LINE:].tobytes()
    return body.tobytes() + (tail + b"\n" if tail else b"")


def write_fasta(path: str | os.PathLike[str], contigs: list[Contig]) -> Path:
    """Write ``contigs`` to ``path`` and its ``.fai`` atomically (data renamed first, index last)."""
    path = Path(path)
    with atomic_paths(path, str(path) + ".fai") as (tmp_fa, tmp_fai):
        offset = 0
        fai_lines = []
        with open(tmp_fa, "wb") as fh:
            for c in contigs:
                head = f">{c.name}\n".encode()
                body = fasta_bytes(c.seq)
                fh.write(head)
                fh.write(body)
                offset += len(head)
                fai_lines.append(f"{c.name}\t{c.length}\t{offset}\t{FASTA_LINE}\t{FASTA_LINE + 1}\n")
                offset += len(body)
        tmp_fai.write_text("".join(fai_lines))
    return path

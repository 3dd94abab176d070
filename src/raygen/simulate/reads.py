"""Paired-end reads from the two haplotypes of the first sample, placed exactly, one chunk at a time.

A contig is cut into chunks of ``cfg.chunk_bp``. Fragments are drawn per chunk from an RNG seeded by
(seed, contig, chunk), with their start uniform over the chunk's reference positions. The task for
chunk ``i`` regenerates the fragment geometry of chunks ``i-1, i, i+1`` (cheap) and emits exactly the
reads whose POS lies in chunk ``i``, sorted; so the per-chunk BAMs concatenate, in chunk order, into a
coordinate-sorted BAM, and the output does not depend on how many workers ran the chunks.

Base qualities decline along the read (in sequencing direction) with per-base jitter, and each base
is miscalled with exactly the probability its quality states (``10^(-Q/10)``), so qualities are
calibrated and the mean error rate is ``cfg.error_rate``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pysam

from raygen import __version__
from raygen.config import SimulateConfig
from raygen.simulate.haplotype import Haplotype, build_haplotype
from raygen.simulate.profiled import (ProfiledErrors, apply_indel_error, indel_errors, profiled_quality_and_errors,
                                      tract_table)
from raygen.simulate.reference import BASES, CODE

MAPQ = 60
MIN_Q, MAX_Q = 2, 41
#: Phred -> error probability, as float32 for a cheap per-base comparison.
ERROR_PROB = (10.0 ** (-np.arange(256) / 10.0)).astype(np.float32)
#: Extra reference beyond a fragment's nominal end that a haplotype region includes, so net deletions
#: inside the fragment never run it off the region.
REGION_SLACK = 2000
BATCH_READS = 50_000

# SAM flags
PAIRED, PROPER, REVERSE, MATE_REVERSE, READ1, READ2 = 0x1, 0x2, 0x10, 0x20, 0x40, 0x80


@dataclass(frozen=True)
class ChunkStats:
    reads: int
    bases: int
    errors: int  # simulated sequencing errors (miscalled bases)


def chunk_bounds(length: int, chunk_bp: int) -> list[tuple[int, int]]:
    """0-based half-open chunks ``[start, end)`` covering a contig of ``length`` bp."""
    return [(s, min(s + chunk_bp, length)) for s in range(0, length, chunk_bp)]


def fragment_max(cfg: SimulateConfig) -> int:
    return max(cfg.read_length, cfg.fragment_mean + 4 * cfg.fragment_sd)


def fragment_geometry(cfg: SimulateConfig, contig_index: int, chunk_index: int, start: int, end: int):
    """Fragments drawn for one chunk: reference start, length, haplotype (0/1), read1-is-left.

    Depends only on (seed, contig, chunk) so every task that needs a chunk's fragments agrees on them.
    """
    rng = np.random.default_rng([cfg.seed, 2, contig_index, chunk_index])
    n = int(round(cfg.coverage * (end - start) / (2 * cfg.read_length)))
    x = rng.integers(start, end, n)
    flen = np.clip(np.rint(rng.normal(cfg.fragment_mean, cfg.fragment_sd, n)), cfg.read_length,
                   fragment_max(cfg)).astype(np.int64)
    hap = rng.integers(0, 2, n)
    r1_left = rng.random(n) < 0.5
    return x, flen, hap, r1_left


def _region(alleles: list[tuple[int, str, str]], start: int, end: int) -> tuple[int, int, list]:
    """Widen ``[start, end)`` so no allele straddles an edge; return it with the alleles inside."""
    for pos0, ref, _ in alleles:
        if pos0 < start < pos0 + len(ref):
            start = pos0
        if pos0 < end < pos0 + len(ref):
            end = pos0 + len(ref)
    return start, end, [a for a in alleles if a[0] >= start and a[0] + len(a[1]) <= end]


def bam_header(contigs: list[tuple[str, int]], sample: str) -> dict:
    return {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": name, "LN": length} for name, length in contigs],
        "RG": [{"ID": sample, "SM": sample, "PL": "ILLUMINA", "LB": "sim"}],
        "PG": [{"ID": "raygen-simulate", "PN": "raygen", "VN": __version__}],
    }


def quality_and_errors(rng: np.random.Generator, n: int, length: int, reverse: np.ndarray, error_rate: float):
    """Phred qualities (stored in reference orientation) and a boolean error mask for ``n`` reads.

    The expected error rises linearly from 0.5x to 1.5x ``error_rate`` along the sequencing cycle, with
    log-normal jitter of mean 1 (added in the Phred domain, which is log-scale); each base then errs
    with exactly the probability its rounded quality states.
    """
    cycle = np.arange(length)
    q_fwd = -10.0 * np.log10(error_rate * (0.5 + cycle / max(1, length - 1)))
    q_mean = np.where(reverse[:, None], q_fwd[::-1][None, :], q_fwd[None, :]).astype(np.float32)
    sigma = 0.5
    jitter_db = np.float32(-10.0 / np.log(10.0)) * (
        np.float32(sigma) * rng.standard_normal((n, length), dtype=np.float32) - np.float32(sigma * sigma / 2))
    q = np.clip(np.rint(q_mean + jitter_db), MIN_Q, MAX_Q).astype(np.uint8)
    err = rng.random((n, length), dtype=np.float32) < ERROR_PROB[q]
    return q, err


def simulate_chunk(
    ref: np.ndarray,
    contig: str,
    contig_index: int,
    chunk_index: int,
    haplotype_alleles: tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]],
    cfg: SimulateConfig,
    header: dict,
) -> tuple[bytes, ChunkStats]:
    """Reads of one chunk as a complete, coordinate-sorted BAM (bytes) plus counts.

    ``ref`` is the whole contig (uint8 ASCII); ``haplotype_alleles`` the (pos0, REF, ALT) alleles of
    the first sample's two haplotypes, sorted and non-overlapping.
    """
    n_ref = int(ref.shape[0])
    bounds = chunk_bounds(n_ref, cfg.chunk_bp)
    neighbours = [j for j in (chunk_index - 1, chunk_index, chunk_index + 1) if 0 <= j < len(bounds)]
    region_start = bounds[neighbours[0]][0]
    region_end = min(n_ref, bounds[neighbours[-1]][1] + fragment_max(cfg) + REGION_SLACK)
    haps = [build_haplotype(ref, *_region(alleles, region_start, region_end)) for alleles in haplotype_alleles]
    c = _chunk_reads(haps, bounds, neighbours, chunk_index, contig_index, cfg)
    rng = np.random.default_rng([cfg.seed, 3, contig_index, chunk_index])
    data, errors = _bam_bytes(c, haps, contig, contig_index, cfg, header, rng)
    n = int(c["pos"].shape[0])
    return data, ChunkStats(reads=n, bases=n * cfg.read_length, errors=errors)


_READ_COLUMNS = ("hstart", "hap", "pos", "end", "impure", "flag", "mpos", "tlen", "chunk", "frag", "side")


def _chunk_reads(haps: list[Haplotype], bounds: list[tuple[int, int]], neighbours: list[int], chunk_index: int,
                 contig_index: int, cfg: SimulateConfig) -> dict[str, np.ndarray]:
    """Geometry of every read whose POS lies in the chunk (columns of :data:`_READ_COLUMNS`, sorted by POS,
    then chunk, fragment and side), from the fragments of the chunk and its neighbours."""
    L = cfg.read_length
    cs, ce = bounds[chunk_index]
    cols: dict[str, list[np.ndarray]] = {k: [] for k in _READ_COLUMNS}
    for j in neighbours:
        x, flen, hap, r1_left = fragment_geometry(cfg, contig_index, j, *bounds[j])
        frag_id = np.arange(x.shape[0])
        for h, H in enumerate(haps):
            sel = np.flatnonzero(hap == h)
            a = H.ref2hap(x[sel])
            f = flen[sel]
            b = a + f
            ok = b <= H.length
            ok[ok] = H.n_cum[b[ok]] - H.n_cum[a[ok]] == 0  # no fragment from (or across) an N gap
            sel, a, f = sel[ok], a[ok], f[ok]
            left, right = a, a + f - L
            pl, el, il = H.place(left, L)
            pr, er, ir = H.place(right, L)
            tlen = np.maximum(el, er) - pl
            r1 = r1_left[sel]
            flag_l = PAIRED | PROPER | MATE_REVERSE | np.where(r1, READ1, READ2)
            flag_r = PAIRED | PROPER | REVERSE | np.where(r1, READ2, READ1)
            for side, (hs, pos, end, imp, flag, mpos, tl) in enumerate(
                ((left, pl, el, il, flag_l, pr, tlen), (right, pr, er, ir, flag_r, pl, -tlen))
            ):
                keep = (pos >= cs) & (pos < ce)
                k = int(keep.sum())
                for name, values in (("hstart", hs[keep]), ("hap", np.full(k, h)), ("pos", pos[keep]),
                                     ("end", end[keep]), ("impure", imp[keep]), ("flag", flag[keep]),
                                     ("mpos", mpos[keep]), ("tlen", tl[keep]), ("chunk", np.full(k, j)),
                                     ("frag", frag_id[sel][keep]), ("side", np.full(k, side))):
                    cols[name].append(values)
    c = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in cols.items()}
    order = np.lexsort((c["side"], c["frag"], c["chunk"], c["pos"]))
    return {k: v[order] for k, v in c.items()}


def _bam_bytes(c: dict[str, np.ndarray], haps: list[Haplotype], contig: str, contig_index: int,
               cfg: SimulateConfig, header: dict, rng: np.random.Generator) -> tuple[bytes, int]:
    """The reads ``c`` with bases, qualities and sequencing errors drawn from ``rng``, as BAM bytes; and the
    number of errors."""
    L = cfg.read_length
    n = int(c["pos"].shape[0])
    offsets = np.arange(L)
    errors = 0
    pe = ProfiledErrors.load(cfg.error_profile) if cfg.error_profile else None
    tracts = [tract_table(H.seq, pe) for H in haps] if pe is not None else None
    fd, tmp = tempfile.mkstemp(prefix="raygen-sim-", suffix=".bam")
    os.close(fd)
    try:
        with pysam.AlignmentFile(tmp, "wb", header=header,
                                 format_options=[f"level={cfg.bam_compression_level}".encode()]) as out:
            hdr = out.header
            rg = header["RG"][0]["ID"]
            for b0 in range(0, n, BATCH_READS):
                sl = slice(b0, min(n, b0 + BATCH_READS))
                m = sl.stop - sl.start
                hstart, hap = c["hstart"][sl], c["hap"][sl]
                bases = np.empty((m, L), np.uint8)
                for h, H in enumerate(haps):
                    w = hap == h
                    bases[w] = H.seq[hstart[w, None] + offsets]
                reverse = (c["flag"][sl] & REVERSE) != 0
                indel_cigars = {}
                if pe is None:
                    q, err = quality_and_errors(rng, m, L, reverse, cfg.error_rate)
                else:
                    q, err = profiled_quality_and_errors(rng, m, L, reverse, pe)
                    indel_cigars = _profiled_indels(rng, haps, tracts, hstart, hap, c["impure"][sl], bases, L)
                shift = rng.integers(1, 4, (m, L))
                errors += int(err.sum())
                bases[err] = BASES[(CODE[bases[err]] + shift[err]) % 4]
                seq_txt = bases.tobytes().decode()
                qual_txt = (q + 33).tobytes().decode()
                cigars = [f"{L}M"] * m
                for r in np.flatnonzero(c["impure"][sl]).tolist():
                    cigars[r] = haps[int(hap[r])].cigar(int(hstart[r]), L)
                for r, cig in indel_cigars.items():
                    cigars[r] = cig
                for r, (flag, pos, mpos, tlen, j, k, h) in enumerate(zip(
                    c["flag"][sl].tolist(), c["pos"][sl].tolist(), c["mpos"][sl].tolist(), c["tlen"][sl].tolist(),
                    c["chunk"][sl].tolist(), c["frag"][sl].tolist(), hap.tolist(),
                )):
                    line = (f"r{contig_index}.{j}.{k}\t{flag}\t{contig}\t{pos + 1}\t{MAPQ}\t{cigars[r]}\t=\t{mpos + 1}\t"
                            f"{tlen}\t{seq_txt[r * L:(r + 1) * L]}\t{qual_txt[r * L:(r + 1) * L]}\tRG:Z:{rg}\tHP:i:{h + 1}")
                    out.write(pysam.AlignedSegment.fromstring(line, hdr))
        with open(tmp, "rb") as fh:
            return fh.read(), errors
    finally:
        os.unlink(tmp)


def _profiled_indels(rng: np.random.Generator, haps: list[Haplotype], tracts: list, hstart: np.ndarray,
                     hap: np.ndarray, impure: np.ndarray, bases: np.ndarray, L: int) -> dict[int, str]:
    """Repeat indel errors (:func:`raygen.simulate.profiled.indel_errors`) written into ``bases`` in place;
    returns the CIGAR of each read that got one (read index in the batch -> CIGAR)."""
    out = {}
    for h, H in enumerate(haps):
        idx = np.flatnonzero((hap == h) & ~impure.astype(bool))
        for r, off, k, dele in indel_errors(rng, H.seq, H.hap2ref, hstart[idx], L, tracts[h]):
            i = int(idx[r])
            b, out[i] = apply_indel_error(H.seq, int(hstart[i]), L, off, k, dele)
            bases[i] = np.frombuffer(b, np.uint8)
    return out

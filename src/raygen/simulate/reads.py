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
from raygen.calling.profile import LOWMQ_BIN_BP
from raygen.config import SimulateConfig
from raygen.simulate.artifacts import (clip_ends, end_realign, format_cigar, in_segments, paralog_segments,
                                       parse_cigar, psv_shift)
from raygen.simulate.haplotype import Haplotype, build_haplotype
from raygen.simulate.profiled import (ProfiledErrors, apply_indel_error, indel_errors, linked_alt_cum,
                                      profiled_quality_and_errors, tract_table)
from raygen.simulate.reference import BASES, CODE

MAPQ = 60
#: A read loses MAPQ with its haplotype's alleles (profile ``allele_linked``) when it carries this many ALT bases
#: in linked bins: NA12878's linked het sites are clusters whose ALT reads carry 2-5 differences; a read with one
#: ALT allele (tried: every ALT-carrying read) made the simulated true hets look like its artifacts.
LINKED_MIN_ALTS = 2
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


def fragment_geometry(cfg: SimulateConfig, contig_index: int, chunk_index: int, start: int, end: int,
                      oversample: float = 1.0):
    """Fragments drawn for one chunk: reference start, length, haplotype (0/1), read1-is-left.

    Depends only on (seed, contig, chunk) so every task that needs a chunk's fragments agrees on them.
    ``oversample``: fragments drawn per fragment kept (the GC thinning of a profile keeps fewer).
    """
    rng = np.random.default_rng([cfg.seed, 2, contig_index, chunk_index])
    n = int(round(cfg.coverage * (end - start) / (2 * cfg.read_length) * oversample))
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
    pe = ProfiledErrors.load(cfg.error_profile) if cfg.error_profile else None
    c = _chunk_reads(haps, bounds, neighbours, chunk_index, contig_index, cfg, pe)
    rng = np.random.default_rng([cfg.seed, 3, contig_index, chunk_index])
    art = _Artifacts.build(cfg, contig_index, ref, bounds[chunk_index], pe) if pe is not None else None
    data, errors = _bam_bytes(c, haps, contig, contig_index, cfg, header, rng, pe, art)
    n = int(c["pos"].shape[0])
    return data, ChunkStats(reads=n, bases=n * cfg.read_length, errors=errors)


_READ_COLUMNS = ("hstart", "hap", "pos", "end", "impure", "flag", "mpos", "tlen", "chunk", "frag", "side")


def _chunk_reads(haps: list[Haplotype], bounds: list[tuple[int, int]], neighbours: list[int], chunk_index: int,
                 contig_index: int, cfg: SimulateConfig, pe: ProfiledErrors | None = None) -> dict[str, np.ndarray]:
    """Geometry of every read whose POS lies in the chunk (columns of :data:`_READ_COLUMNS`, sorted by POS,
    then chunk, fragment and side), from the fragments of the chunk and its neighbours. With a profile
    ``pe``, fragments are thinned by their GC (:attr:`ProfiledErrors.gc_accept`), deterministically per
    (seed, contig, chunk), so every task agrees on which fragments exist."""
    L = cfg.read_length
    cs, ce = bounds[chunk_index]
    cols: dict[str, list[np.ndarray]] = {k: [] for k in _READ_COLUMNS}
    gc_cum = [np.concatenate([[0], np.cumsum((H.seq == ord("G")) | (H.seq == ord("C")))]) for H in haps]
    for j in neighbours:
        x, flen, hap, r1_left = fragment_geometry(cfg, contig_index, j, *bounds[j],
                                                  oversample=pe.gc_oversample if pe is not None else 1.0)
        frag_id = np.arange(x.shape[0])
        u_gc = np.random.default_rng([cfg.seed, 5, contig_index, j]).random(x.shape[0]) if pe is not None else None
        for h, H in enumerate(haps):
            sel = np.flatnonzero(hap == h)
            a = H.ref2hap(x[sel])
            f = flen[sel]
            b = a + f
            ok = b <= H.length
            ok[ok] = H.n_cum[b[ok]] - H.n_cum[a[ok]] == 0  # no fragment from (or across) an N gap
            if u_gc is not None:
                gcb = np.minimum(((gc_cum[h][np.minimum(b, H.length)] - gc_cum[h][a]) / f * len(pe.gc_accept)).astype(int),
                                 len(pe.gc_accept) - 1)
                ok &= u_gc[sel] < pe.gc_accept[gcb]
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


@dataclass(frozen=True)
class _Artifacts:
    """A contig's mis-mapping layout (segmental duplications, the paralogous copy's differences) and the
    chunk's reference bounds (a realigned or clipped read keeps its POS inside them, so chunks still
    concatenate in order). Seeded by (seed, contig): every chunk task draws the same layout."""

    ref: np.ndarray  # the contig, uint8 ASCII
    segments: np.ndarray  # [k, 2] 0-based half-open
    psv: np.ndarray  # uint8 per reference position: the copy's base shift (0 = same; 0 outside the segments)
    chunk: tuple[int, int]
    art_shift: np.ndarray  # uint8 per reference position: a systematic error's base shift (0 = none)
    art_reverse: np.ndarray  # bool per reference position: the strand that systematic error is on
    linked: np.ndarray | None = None  # bool per LOWMQ_BIN_BP bin: an ALT allele there costs its reads MAPQ

    @classmethod
    def build(cls, cfg: SimulateConfig, contig_index: int, ref: np.ndarray, chunk: tuple[int, int],
              pe: ProfiledErrors) -> "_Artifacts":
        n = int(ref.shape[0])
        segs = paralog_segments(np.random.default_rng([cfg.seed, 8, contig_index]), n, pe.segment_fraction,
                                pe.segment_bp)
        psv = psv_shift(np.random.default_rng([cfg.seed, 7, contig_index]), n, pe.divergence)
        psv[~in_segments(np.arange(n), segs)] = 0  # the copy is a copy of the segment only
        rng = np.random.default_rng([cfg.seed, 9, contig_index])
        art = psv_shift(rng, n, pe.artifact_weight)
        linked = None
        if pe.linked_share > 0 and pe.linked_cdf is not None:  # drawn only then: older profiles' reads unchanged
            bins = n // LOWMQ_BIN_BP + 1
            linked = np.random.default_rng([cfg.seed, 10, contig_index]).random(bins) < pe.linked_share
        return cls(ref, segs, psv, chunk, art, rng.random(n) < 0.5, linked)


def _bam_bytes(c: dict[str, np.ndarray], haps: list[Haplotype], contig: str, contig_index: int,
               cfg: SimulateConfig, header: dict, rng: np.random.Generator, pe: ProfiledErrors | None = None,
               art: _Artifacts | None = None) -> tuple[bytes, int]:
    """The reads ``c`` with bases, qualities and sequencing errors drawn from ``rng``, as BAM bytes; and the
    number of errors. With a profile ``pe`` (and the contig's ``art``), the artifacts of
    :mod:`raygen.simulate.profiled` too."""
    L = cfg.read_length
    n = int(c["pos"].shape[0])
    offsets = np.arange(L)
    errors = 0
    pending: list = []  # (POS, read index, SAM line) not yet written (profile path)
    tracts = [tract_table(H.seq, pe) for H in haps] if pe is not None else None
    alt_cum = None
    if art is not None and art.linked is not None:
        alt_cum = [linked_alt_cum(H, art.ref, art.linked) for H in haps]
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
                mapq = np.full(m, MAPQ, np.int64)
                positions = c["pos"][sl].copy()
                if pe is None:
                    q, err = quality_and_errors(rng, m, L, reverse, cfg.error_rate)
                else:
                    mapq, copy, low = _mis_mapping(rng, pe, art, positions, haps, hstart, hap, bases, alt_cum)
                    q, err = profiled_quality_and_errors(rng, m, L, reverse, pe, bases, low)
                    indel_cigars = _profiled_indels(rng, haps, tracts, hstart, hap, c["impure"][sl] | copy, bases, L)
                shift = rng.integers(1, 4, (m, L))
                errors += int(err.sum())
                bases[err] = BASES[(CODE[bases[err]] + shift[err]) % 4]
                if pe is not None:
                    errors += int(_systematic_errors(rng, pe, art, haps, hstart, hap, reverse, bases, L).sum())
                cigars = [f"{L}M"] * m
                for r in np.flatnonzero(c["impure"][sl]).tolist():
                    cigars[r] = haps[int(hap[r])].cigar(int(hstart[r]), L)
                for r, cig in indel_cigars.items():
                    cigars[r] = cig
                if pe is not None:
                    _aligner_view(rng, pe, art, bases, reverse, cigars, positions)
                seq_txt = bases.tobytes().decode()
                qual_txt = (q + 33).tobytes().decode()
                for r, (flag, pos, mq, mpos, tlen, j, k, h) in enumerate(zip(
                    c["flag"][sl].tolist(), positions.tolist(), mapq.tolist(), c["mpos"][sl].tolist(),
                    c["tlen"][sl].tolist(), c["chunk"][sl].tolist(), c["frag"][sl].tolist(), hap.tolist(),
                )):
                    line = (f"r{contig_index}.{j}.{k}\t{flag}\t{contig}\t{pos + 1}\t{mq}\t{cigars[r]}\t=\t{mpos + 1}\t"
                            f"{tlen}\t{seq_txt[r * L:(r + 1) * L]}\t{qual_txt[r * L:(r + 1) * L]}\tRG:Z:{rg}\tHP:i:{h + 1}")
                    if pe is None:
                        out.write(pysam.AlignedSegment.fromstring(line, hdr))
                    else:
                        pending.append((pos, b0 + r, line))
                if pe is not None:  # realigned / clipped left ends moved some POS: write in POS order
                    more = sl.stop < n
                    pending = _flush_sorted(out, hdr, pending, int(c["pos"][sl.stop]) - 2 * L - 100 if more else None)
        with open(tmp, "rb") as fh:
            return fh.read(), errors
    finally:
        os.unlink(tmp)


def _flush_sorted(out, hdr, pending: list, below: int | None) -> list:
    """Write the pending ``(POS, index, line)`` records in (POS, index) order: all of them (``below`` None)
    or those with POS below ``below`` (later reads start at or after their true POS, and realignment moves
    a POS left by at most an indel's length, so no later read can sort before those); returns the rest."""
    pending.sort(key=lambda t: (t[0], t[1]))
    k = len(pending) if below is None else next((i for i, t in enumerate(pending) if t[0] >= below), len(pending))
    for _, _, line in pending[:k]:
        out.write(pysam.AlignedSegment.fromstring(line, hdr))
    return pending[k:]


def _mis_mapping(rng: np.random.Generator, pe: ProfiledErrors, art: _Artifacts, pos: np.ndarray,
                 haps: list[Haplotype], hstart: np.ndarray, hap: np.ndarray,
                 bases: np.ndarray,
                 alt_cum: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MAPQ per read (low for reads starting in a segmental duplication and for the profile's scattered low-MAPQ
    reads, drawn from its low-MAPQ histogram) and which reads are a paralog's: their differences are written into
    ``bases`` in place. In a segment they are the one copy's (``art.psv``: the same sites in every such read, a
    paralogous sequence variant); a scattered read comes from one of many copies (a repeat family's), so its
    differences are its own (the real BAM's low-MAPQ mismatches seldom recur at a site: its artifact-site weight
    stays low). With ``alt_cum`` (per haplotype, :func:`linked_alt_cum`), a good read that carries
    :data:`LINKED_MIN_ALTS` or more ALT bases in linked bins loses MAPQ with the profile's ``linked_p`` (MAPQ from
    ``linked_cdf``); it stays a good read otherwise (not a copy's; a good read's qualities). Returns (mapq,
    is_copy, is_low), ``is_low`` the mis-mapped reads (not the allele-linked ones)."""
    m, L = bases.shape
    seg = in_segments(pos, art.segments)
    low = seg | (rng.random(m) < pe.background_lowmq)
    mapq = np.where(low, np.searchsorted(pe.lowmq_cdf, rng.random(m), side="right"), MAPQ).astype(np.int64)
    copy = low & (rng.random(m) < pe.copy_share)
    for h, H in enumerate(haps):
        idx = np.flatnonzero(copy & (hap == h))
        if not len(idx):
            continue
        rp = H.hap2ref[hstart[idx, None] + np.arange(L)]
        d = np.where(rp >= 0, art.psv[np.clip(rp, 0, len(art.psv) - 1)], 0)
        own = psv_shift(rng, len(idx) * L, pe.divergence).reshape(len(idx), L)
        d = np.where(seg[idx, None], d, own)
        b = bases[idx]
        b[d > 0] = BASES[(CODE[b[d > 0]] + d[d > 0]) % 4]
        bases[idx] = b
    if alt_cum is not None:
        carries = np.zeros(m, bool)
        for h in range(len(haps)):
            w = hap == h
            carries[w] = alt_cum[h][hstart[w] + L] - alt_cum[h][hstart[w]] >= LINKED_MIN_ALTS
        lose = carries & ~low & (rng.random(m) < pe.linked_p)
        mapq[lose] = np.minimum(np.searchsorted(pe.linked_cdf, rng.random(int(lose.sum())), side="right"), MAPQ - 1)
    return mapq, copy, low


def _aligner_view(rng: np.random.Generator, pe: ProfiledErrors, art: _Artifacts, bases: np.ndarray,
                  reverse: np.ndarray, cigars: list[str], positions: np.ndarray) -> None:
    """What an aligner writes instead of the truth: reads with an indel near an end realigned
    (:func:`raygen.simulate.artifacts.end_realign`), then soft-clipped ends drawn from the profile's per-end
    clip lengths, the clipped bases replaced by random ones. ``cigars`` and ``positions`` (0-based) are
    updated in place; a change that would move a POS out of the chunk is not made (chunks stay in order)."""
    m, L = bases.shape
    u = rng.random((m, 2))
    clip5 = np.searchsorted(pe.clip_cdf[0], u[:, 0], side="right")
    clip3 = np.searchsorted(pe.clip_cdf[1], u[:, 1], side="right")
    left = np.where(reverse, clip3, clip5)
    right = np.where(reverse, clip5, clip3)
    cs, ce = art.chunk
    for r in np.flatnonzero((left > 0) | (right > 0) | np.array(["I" in c or "D" in c for c in cigars])).tolist():
        ops, pos = parse_cigar(cigars[r]), int(positions[r])
        if any(op in "ID" for op, _ in ops):
            ops, pos = end_realign(bases[r], ops, pos, art.ref)
        lc, rc = int(left[r]), int(right[r])
        if lc or rc:
            ops, pos = clip_ends(ops, pos, lc, rc)
        if not cs <= pos < ce:
            continue
        if lc or rc:  # the clipped tail is adapter / noise, not the genome
            lead = min(lc, ops[0][1] if ops[0][0] == "S" else 0)
            trail = min(rc, ops[-1][1] if ops[-1][0] == "S" else 0)
            junk = BASES[rng.integers(0, 4, L)]
            bases[r, :lead] = junk[:lead]
            bases[r, L - trail:] = junk[L - trail:] if trail else bases[r, L:]
        cigars[r], positions[r] = format_cigar(ops), pos


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


def _systematic_errors(rng: np.random.Generator, pe: ProfiledErrors, art: _Artifacts, haps: list[Haplotype],
                       hstart: np.ndarray, hap: np.ndarray, reverse: np.ndarray, bases: np.ndarray,
                       L: int) -> np.ndarray:
    """Site-specific errors, the profile's allele-fraction mixture: at its ``artifact_weight`` of the
    positions one wrong base shows in its ``artifact_fraction`` of the reads, all on one strand (at twice the
    rate there: an allele only one strand supports). Written into ``bases``; returns the mask of those bases."""
    out = np.zeros(bases.shape, bool)
    if pe.artifact_weight <= 0:
        return out
    for h, H in enumerate(haps):
        idx = np.flatnonzero(hap == h)
        if not len(idx):
            continue
        rp = H.hap2ref[hstart[idx, None] + np.arange(L)]
        rpc = np.clip(rp, 0, len(art.art_shift) - 1)
        d = np.where(rp >= 0, art.art_shift[rpc], 0)
        hit = (d > 0) & (art.art_reverse[rpc] == reverse[idx, None])
        hit[hit] = rng.random(int(hit.sum())) < min(1.0, 2 * pe.artifact_fraction)
        b = bases[idx]
        b[hit] = BASES[(CODE[b[hit]] + d[hit]) % 4]
        bases[idx] = b
        out[idx] = hit
    return out

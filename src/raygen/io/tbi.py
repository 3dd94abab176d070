"""A tabix (.tbi) index built while a BGZF VCF is written, so the file is never read back to index it.

htslib's ``tbx_index_build`` decompresses and re-parses the whole file it just got; the writer already knows
every record's position, REF length and place in the stream, so the same index follows from numbers alone.
This builds what htslib 1.24 builds (``hts_idx_push`` / ``hts_idx_finish`` for TBI: 5 levels, 16 kb linear
windows; chunks of consecutive records of one bin; small bins merged into their parents; chunks starting
in one BGZF block merged) from plain arrays:

- ``pos``: 1-based POS of every record, in file order (sorted by POS within a contig; contigs contiguous);
- ``ref_len``: length of REF (the record spans ``[POS-1, POS-1+len(REF))``, 0-based half-open, as tabix's
  VCF preset without ``INFO/END``);
- ``start``: the byte offset of each record's line in the *uncompressed* stream, and ``data_end`` the
  uncompressed length; ``block_csize``: the compressed size of every data block (all but the last hold
  exactly ``block_size`` uncompressed bytes, as :class:`raygen.io.bgzf.BgzfWriter` writes them).

:func:`can_build` says when this applies (no record with ``END=`` in INFO, POS >= 1, REF not empty, every
contig below 2^29 bp); otherwise the writer lets htslib index the file as before. The bytes may differ from
htslib's (bins are listed in another order); the index content is the same (tested).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from raygen.io.bgzf import BLOCK_SIZE, compress_block, EOF_BLOCK

MIN_SHIFT = 14  # 16 kb linear-index windows (TBI)
N_LVLS = 5
N_BINS = ((1 << (3 * N_LVLS + 3)) - 1) // 7  # 37449
META_BIN = N_BINS + 1
MIN_MARKER_DIST = 0x10000  # htslib merges a bin spanning less than this many compressed bytes into its parent
MAX_POS = 1 << 29
_FIRST = [((1 << (3 * lvl)) - 1) // 7 for lvl in range(N_LVLS + 1)]  # first bin of each level


def can_build(pos: np.ndarray, ref_len: np.ndarray, has_end: np.ndarray) -> bool:
    """True when :func:`build_tbi` gives htslib's index for these records (else index with htslib)."""
    if len(pos) == 0:
        return False
    end = pos - 1 + ref_len
    return bool((pos >= 1).all() and (ref_len >= 1).all() and not has_end.any() and end.max() <= MAX_POS)


def reg2bin(beg: np.ndarray, end: np.ndarray) -> np.ndarray:
    """htslib's ``hts_reg2bin`` for 0-based half-open ``[beg, end)`` (TBI levels), vectorised."""
    last = end - 1
    # most records lie inside one 16 kb window (the last level): the other levels only for the rest
    out = _FIRST[N_LVLS] + (beg >> MIN_SHIFT)
    rest = np.flatnonzero((beg >> MIN_SHIFT) != (last >> MIN_SHIFT))
    if not len(rest):
        return out
    b, e = beg[rest], last[rest]
    sub = np.zeros(len(rest), dtype=np.int64)
    done = np.zeros(len(rest), dtype=bool)
    for lvl, shift in zip(range(N_LVLS - 1, 0, -1), range(MIN_SHIFT + 3, MIN_SHIFT + 3 * N_LVLS, 3)):
        hit = ~done & ((b >> shift) == (e >> shift))
        sub[hit] = _FIRST[lvl] + (b[hit] >> shift)
        done |= hit
    out[rest] = sub
    return out


def _voffsets(ustart: np.ndarray, block_coff: np.ndarray, block_size: int) -> np.ndarray:
    """Virtual offsets (compressed block start << 16 | offset inside the block) of uncompressed offsets."""
    blk = ustart // block_size
    return (block_coff[blk] << 16) | (ustart - blk * block_size)


def _compress_binning(bins: dict[int, list[tuple[int, int]]]) -> None:
    """htslib's ``compress_binning``: bins spanning < 64 KiB of compressed file join their parent (bottom up),
    then chunks that start in the block where the previous one ends are merged."""
    for lvl in range(N_LVLS, 0, -1):
        for b in [b for b in bins if _FIRST[lvl] <= b < N_BINS]:
            chunks = bins[b]
            if lvl < N_LVLS:
                chunks.sort()
            if (chunks[-1][1] >> 16) - (chunks[0][0] >> 16) < MIN_MARKER_DIST:
                parent = (b - 1) >> 3
                if parent in bins:
                    bins[parent].extend(chunks)
                    del bins[b]
    for b, chunks in bins.items():
        if b >= N_BINS:
            continue
        chunks.sort()
        merged = [list(chunks[0])]
        for u, v in chunks[1:]:
            if merged[-1][1] >> 16 >= u >> 16:
                merged[-1][1] = max(merged[-1][1], v)
            else:
                merged.append([u, v])
        bins[b] = [tuple(c) for c in merged]


def _contig_index(beg, end, voff_start, voff_next, final: int) -> tuple[dict, np.ndarray]:
    """(bins -> chunks, linear index) of one contig's records (arrays in file order)."""
    n = len(beg)
    binno = reg2bin(beg, end)
    run_first = np.flatnonzero(np.r_[True, binno[1:] != binno[:-1]])
    run_next = np.r_[run_first[1:], n]  # first record after the run
    bins: dict[int, list[tuple[int, int]]] = {}
    for b, i, j in zip(binno[run_first].tolist(), run_first.tolist(), run_next.tolist()):
        bins.setdefault(b, []).append((int(voff_start[i]), int(voff_next[j - 1])))
    bins[META_BIN] = [(int(voff_start[0]), int(voff_next[-1]) if final < 0 else final), (n, 0)]
    if final >= 0:  # the file's last run ends where htslib's reader stands after the last line: the EOF block
        last_b = int(binno[run_first[-1]])
        bins[last_b][-1] = (bins[last_b][-1][0], final)
    w0, w1 = beg >> MIN_SHIFT, (end - 1) >> MIN_SHIFT
    span = w1 - w0 + 1
    if (span == 1).all():  # each record in one window, windows in file order (beg is sorted): no sort needed
        first = np.flatnonzero(np.r_[True, w0[1:] != w0[:-1]])
        uw, rec = w0[first], np.arange(n)
    else:
        win = np.repeat(w0, span) + (np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span))
        rec = np.repeat(np.arange(n), span)
        uw, first = np.unique(win, return_index=True)
    lin = np.full(int(w1.max()) + 1, -1, dtype=np.int64)
    lin[uw] = voff_start[rec[first]]
    # a window no record covers takes the offset of the next covered one (htslib 1.24's update_loff)
    idx = np.where(lin >= 0, np.arange(len(lin)), len(lin))
    filled = np.minimum.accumulate(idx[::-1])[::-1]
    return bins, lin[filled]


def build_tbi(chrom_names: Sequence[str], chrom_first: np.ndarray, pos: np.ndarray, ref_len: np.ndarray,
              start: np.ndarray, data_end: int, block_csize: Sequence[int], block_size: int = BLOCK_SIZE) -> bytes:
    """The .tbi file (BGZF-compressed) of a VCF written as described in the module docstring.

    ``chrom_names``: the contigs in file order; ``chrom_first``: index of each one's first record (increasing).
    """
    coff = np.concatenate([[0], np.cumsum(np.asarray(block_csize, dtype=np.int64))])
    vstart = _voffsets(np.asarray(start, dtype=np.int64), coff, block_size)
    vnext = np.r_[vstart[1:], _voffsets(np.array([data_end], dtype=np.int64), coff, block_size)]
    final = int(coff[-1]) << 16  # htslib's offset after reading past the last data block (the EOF block)
    beg = np.asarray(pos, dtype=np.int64) - 1
    end = beg + np.asarray(ref_len, dtype=np.int64)
    names = b"".join(c.encode() + b"\0" for c in chrom_names)
    out = [b"TBI\1", struct.pack("<8i", len(chrom_names), 2, 1, 2, 0, ord("#"), 0, len(names)), names]
    bounds = list(np.asarray(chrom_first).tolist()) + [len(pos)]
    for k in range(len(chrom_names)):
        i, j = bounds[k], bounds[k + 1]
        bins, lin = _contig_index(beg[i:j], end[i:j], vstart[i:j], vnext[i:j], final if k == len(chrom_names) - 1 else -1)
        _compress_binning(bins)
        out.append(struct.pack("<i", len(bins)))
        for b, chunks in bins.items():
            out.append(struct.pack("<Ii", b, len(chunks)))
            out.append(np.asarray(chunks, dtype="<u8").tobytes())
        out.append(struct.pack("<i", len(lin)))
        out.append(lin.astype("<u8").tobytes())
    out.append(struct.pack("<Q", 0))  # records without coordinates
    raw = b"".join(out)
    return b"".join(compress_block(raw[o: o + block_size]) for o in range(0, len(raw), block_size)) + EOF_BLOCK

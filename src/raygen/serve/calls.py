"""Pure helpers behind ``POST /v1/call`` and the UI's calling tab: which BAM paths a request may read, and
the read pileup around a call as a picture-ready matrix. No Ray, no FastAPI.

Regions are ``chr:start-end``, 1-based inclusive (as ``samtools``); positions are 1-based (VCF POS);
``Pileup`` arrays underneath are 0-based.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pysam

from raygen.calling.candidates import load_pileup, open_bam
from raygen.config import CallConfig
from raygen.errors import RaygenError
from raygen.io.fasta import Reference
from raygen.regions import Shard, parse_region

log = logging.getLogger("raygen.serve.calls")

#: Suffixes the service reads as alignments.
ALIGNMENT_SUFFIXES = (".bam", ".cram")

#: Codes of :attr:`PileupView.codes`: 0 no read, 1 base equal to the reference, 2-5 mismatch A/C/G/T,
#: 6 N (no call), 7 deletion (the read spans the column without a base).
NO_READ, MATCH, MISMATCH_A, N_BASE, DELETION = 0, 1, 2, 6, 7


class PathRefused(Exception):
    """The request names a BAM the server must not read (HTTP 403)."""


class BamNotFound(Exception):
    """The request names a path inside the data directories that is not a file (HTTP 404)."""


class CallRequestInvalid(Exception):
    """A call request that cannot be served as sent: ``field`` names the bad part (``bam`` or ``region``),
    ``status`` is 422, or 413 for a region over the size limit."""

    def __init__(self, field: str, message: str, kind: str, status: int = 422):
        super().__init__(message)
        self.field, self.kind, self.status = field, kind, status


def check_call_request(bam: str, region: str, data_dirs: Sequence[str], lengths: dict[str, int],
                       max_bp: int) -> tuple[str, str]:
    """The real BAM path and the region as ``chr:start-end`` (1-based inclusive, clamped to the contig) of a
    call request, checked before any read is touched: the API route and the UI both go through here.

    Raises :class:`PathRefused` (403), :class:`BamNotFound` (404) or :class:`CallRequestInvalid` (422: no
    index, a malformed region, a contig the reference lacks; 413: a region longer than ``max_bp``).
    """
    path = resolve_bam(bam or "", data_dirs)
    if not has_index(path):
        raise CallRequestInvalid("bam", f"{bam!r} has no index (.bai/.csi): run `samtools index` on it", "no_index")
    try:
        r = parse_region(region or "", lengths)
        chrom, s0, e0 = r.chrom, r.start, r.end
    except RaygenError as exc:
        raise CallRequestInvalid("region", str(exc), "region") from None
    if chrom not in lengths:
        raise CallRequestInvalid("region", f"contig {chrom!r} is not in the reference (it has "
                                 f"{', '.join(list(lengths)[:5])})", "unknown_contig")
    if e0 - s0 > max_bp:
        raise CallRequestInvalid("region", f"region of {e0 - s0} bp; the limit is {max_bp} bp: split it, or run "
                                 "`raygen call` for whole genomes", "too_large", status=413)
    return str(path), f"{chrom}:{s0 + 1}-{e0}"


def client_message(exc: BaseException, real: str, given: str, data_dirs: Sequence[str]) -> str:
    """One line about a failed call for the client: the BAM named as the client named it (``given``, not its
    resolved path ``real``), no server directory in it."""
    lines = str(exc).strip().splitlines()
    msg = lines[0] if lines else type(exc).__name__
    msg = msg.replace(real, given)
    for d in sorted((os.path.realpath(x) for x in data_dirs), key=len, reverse=True):
        msg = msg.replace(d.rstrip("/") + "/", "").replace(d, "<data dir>")
    return msg


def resolve_bam(path: str, data_dirs: Sequence[str]) -> Path:
    """The real path of the BAM/CRAM ``path`` when it lies under one of ``data_dirs``.

    Relative paths are looked up under each data directory in turn. ``..`` components are refused
    outright, and symlinks are resolved before the check, so a link inside a data directory that points
    outside it is refused too. Raises :class:`PathRefused` (403: the answer never says whether a file
    outside exists) or :class:`BamNotFound` (404: inside, but no such file).
    """
    if not data_dirs:
        raise PathRefused("this server reads no BAMs: start it with --data-dir DIR to allow BAMs under DIR")
    if not path or "\x00" in path:
        raise PathRefused("empty or invalid BAM path")
    pure = PurePosixPath(path)
    if ".." in pure.parts:
        raise PathRefused(f"{path!r}: '..' is not allowed in a BAM path")
    if not path.endswith(ALIGNMENT_SUFFIXES):
        raise PathRefused(f"{path!r}: only {' and '.join(ALIGNMENT_SUFFIXES)} files are served")
    roots = [Path(os.path.realpath(d)) for d in data_dirs]
    tries = [Path(path)] if pure.is_absolute() else [r / path for r in roots]
    for candidate in tries:
        try:
            real = Path(os.path.realpath(candidate))
            if not any(real == r or real.is_relative_to(r) for r in roots):
                raise PathRefused(f"{path!r} is outside the directories this server may read")
            if real.is_file():
                return real
        except OSError as exc:  # a name the filesystem cannot hold (too long, ...): no such BAM here
            raise BamNotFound(f"no BAM {path[:80]!r}{'...' if len(path) > 80 else ''} under the server's data "
                              f"directories ({exc.strerror or type(exc).__name__})") from None
    raise BamNotFound(f"no BAM {path!r} under the server's data directories")


def list_bams(data_dirs: Sequence[str], limit: int = 200) -> list[str]:
    """Indexed BAM/CRAM files under ``data_dirs`` (recursively, sorted, at most ``limit``), each named as a
    request may name it: relative to its data directory (absolute only where an earlier data directory holds
    the same relative name). Only files that :func:`resolve_bam` accepts are listed (symlinks leading outside
    are left out)."""
    out: list[str] = []
    for d in data_dirs:
        root = Path(os.path.realpath(d))
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if len(out) >= limit:
                return out
            if p.name.endswith(ALIGNMENT_SUFFIXES) and has_index(p):
                try:
                    real = resolve_bam(str(p), data_dirs)
                    shown = str(real.relative_to(root))  # the server's directories stay out of the page
                    if resolve_bam(shown, data_dirs) != real:  # an earlier data directory has the same name
                        shown = str(real)
                except (PathRefused, BamNotFound, ValueError):
                    continue
                if shown not in out:
                    out.append(shown)
    return out


def has_index(path: str | Path) -> bool:
    """Whether an index (``.bai``, ``.csi``, ``.crai``) sits next to the alignment file."""
    p = str(path)
    stem = p.rsplit(".", 1)[0]
    return any(os.path.exists(x) for x in (p + ".bai", p + ".csi", p + ".crai", stem + ".bai", stem + ".csi"))


@dataclass(frozen=True)
class PileupView:
    """Reads around a position as a matrix, one read per row (in start order), one column per base.

    ``start`` is the 1-based position of column 0; ``ref`` holds the reference bases of the columns.
    ``codes`` [rows, cols] uses the module's codes (match, mismatch A/C/G/T, N, deletion, no read);
    ``low_quality`` marks bases under the caller's minimum base quality; ``insertion`` marks a column whose
    base is followed by inserted bases in that read (left-aligned, as the caller sees them);
    ``reverse`` [rows] is the strand. ``total_reads`` counts the usable reads before subsampling.
    """

    chrom: str
    start: int
    ref: str
    codes: np.ndarray
    low_quality: np.ndarray
    insertion: np.ndarray
    reverse: np.ndarray
    total_reads: int


def pileup_view(p, start0: int, end0: int, max_rows: int, min_base_quality: int) -> PileupView:
    """The reads of pileup ``p`` (:class:`raygen.calling.candidates.Pileup`) over ``[start0, end0)`` (0-based,
    half-open), at most ``max_rows`` of them, chosen evenly by start when there are more."""
    width = end0 - start0
    rids = np.nonzero((p.read_start < end0) & (p.read_end > start0))[0]
    total = len(rids)
    if total > max_rows:
        rids = rids[np.linspace(0, total - 1, max_rows).round().astype(np.int64)]
    rows = len(rids)
    codes = np.zeros((rows, width), dtype=np.uint8)
    low = np.zeros((rows, width), dtype=bool)
    ins = np.zeros((rows, width), dtype=bool)
    ref = p.ref_seq[start0 - p.ref_start0:end0 - p.ref_start0]
    if rows:
        cols = np.arange(width)
        # Every column a read spans starts as a deletion; its aligned bases overwrite that below.
        span = (p.read_start[rids, None] <= start0 + cols) & (p.read_end[rids, None] > start0 + cols)
        codes[span] = DELETION
        row_of = np.full(len(p.read_start), -1, dtype=np.int64)
        row_of[rids] = np.arange(rows)
        r = row_of[p.read.astype(np.int64)]
        m = (r >= 0) & (p.pos >= start0) & (p.pos < end0)
        rr, cc = r[m], p.pos[m] - start0
        base = p.base[m]
        ref_code = p.ref_codes[p.pos[m] - p.ref_start0]
        codes[rr, cc] = np.where(base > 3, N_BASE, np.where(base == ref_code, MATCH, MISMATCH_A + base))
        low[rr, cc] = p.qual[m] < min_base_quality
        for (a0, r_allele, alt), reads in p.indel_reads.items():
            if len(alt) > len(r_allele) and start0 <= a0 < end0:
                hit = row_of[np.asarray(reads, dtype=np.int64)]
                ins[hit[hit >= 0], a0 - start0] = True
    return PileupView(chrom=p.chrom, start=start0 + 1, ref=ref, codes=codes, low_quality=low, insertion=ins,
                      reverse=p.read_reverse[rids].copy(), total_reads=total)


def load_pileup_view(bam: str, reference: str, chrom: str, pos: int, flank: int, max_rows: int,
                     cfg: CallConfig | None = None) -> PileupView:
    """:func:`pileup_view` of ``bam`` over ``pos - flank .. pos + flank`` (1-based, clamped at the contig
    start), with the caller's read filters (duplicates, secondary, low MAPQ ... left out)."""
    cfg = cfg or CallConfig()
    start0 = max(0, pos - 1 - flank)
    with Reference(reference) as ref:
        end0 = min(pos + flank, ref.length(chrom))
        af = open_bam(bam, reference)
        try:
            p = load_pileup(af, ref, Shard(chrom, start0, end0, 0), cfg)
        finally:
            af.close()
    return pileup_view(p, start0, end0, max_rows, cfg.min_base_quality)


def default_region(bam: str, span: int) -> str | None:
    """A region of ``span`` bp starting at the BAM's first mapped read (the UI's suggestion), or None, also
    for a file htslib cannot read (a ``*.bam`` that is no BAM must not stop the service: calling it says why)."""
    try:
        with pysam.AlignmentFile(bam) as af:
            for r in af.fetch(until_eof=True):
                if not r.is_unmapped and r.reference_name:
                    return f"{r.reference_name}:{r.reference_start + 1}-{r.reference_start + span}"
    except (OSError, ValueError) as exc:
        log.warning({"event": "unreadable_bam", "bam": bam, "reason": str(exc) or type(exc).__name__})
    return None

"""Regions to call and their shards: parse ``chr:start-end`` / BED, cut into shards with read margins.

Coordinates are 0-based half-open inside (``start0``, ``end0``). A shard owns ``[start0, end0)``: a call
belongs to the shard whose owned interval holds its POS - 1, so overlapping margins never duplicate a
call. Reads are fetched over ``[start0 - margin, end0 + margin)`` so that pileups near the edge are
complete.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from raygen.errors import InputError, UsageError

_REGION = re.compile(r"^(?P<chrom>[^:\s]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?)?$")


@dataclass(frozen=True, slots=True)
class Shard:
    """One unit of work: call variants whose 0-based start lies in ``[start0, end0)`` on ``chrom``."""

    chrom: str
    start0: int
    end0: int
    margin: int = 0

    @property
    def fetch_start0(self) -> int:
        return max(0, self.start0 - self.margin)

    @property
    def fetch_end0(self) -> int:
        return self.end0 + self.margin

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start0 + 1}-{self.end0}"


def parse_region(text: str, lengths: dict[str, int] | None = None) -> tuple[str, int, int]:
    """``chr``, ``chr:start`` or ``chr:start-end`` (1-based inclusive, commas allowed) -> (chrom, start0, end0).

    Without an end the region runs to the contig end (needs ``lengths``).
    """
    m = _REGION.match(text.strip())
    if not m:
        raise UsageError(f"region {text!r} is not CHROM, CHROM:START or CHROM:START-END")
    chrom = m["chrom"]
    start = int(m["start"].replace(",", "")) if m["start"] else 1
    if m["end"]:
        end = int(m["end"].replace(",", ""))
    elif lengths is not None and chrom in lengths:
        end = lengths[chrom]
    elif lengths is None:
        raise UsageError(f"region {text!r} has no end and no contig length is known")
    else:
        raise UsageError(f"region {text!r}: contig {chrom!r} is not in the reference")
    if start < 1 or end < start:
        raise UsageError(f"region {text!r}: start must be >= 1 and end >= start")
    if lengths is not None and chrom in lengths:
        end = min(end, lengths[chrom])
    return chrom, start - 1, end


def read_regions(spec: str | None, lengths: dict[str, int]) -> list[tuple[str, int, int]]:
    """Regions to call: a BED file path, comma-separated ``chr:start-end`` strings, or every contig."""
    if not spec:
        return [(c, 0, n) for c, n in lengths.items()]
    if os.path.exists(spec):
        from raygen.eval.concordance import Regions

        regs = list(Regions.from_bed(spec).items())
    else:
        regs = [parse_region(s, lengths) for s in spec.split(",") if s.strip()]
    for chrom, _, _ in regs:
        if chrom not in lengths:
            raise InputError(f"region contig {chrom!r} is not in both the BAM and the reference")
    return [(c, s, min(e, lengths[c])) for c, s, e in regs if min(e, lengths[c]) > s]


def make_shards(regions: list[tuple[str, int, int]], shard_bp: int, margin: int) -> list[Shard]:
    """Cut each region into consecutive shards of at most ``shard_bp`` owned bases."""
    if shard_bp < 1:
        raise UsageError("shard size must be >= 1 bp")
    out = []
    for chrom, s, e in regions:
        for a in range(s, e, shard_bp):
            out.append(Shard(chrom, a, min(e, a + shard_bp), margin))
    return out


def check_contigs(bam_contigs: dict[str, int], ref_contigs: dict[str, int], rename: dict[str, str] | None = None) -> dict[str, int]:
    """Contigs usable for calling (BAM name -> length), after optional ``rename`` (BAM name -> FASTA name).

    Raises :class:`InputError` when no BAM contig is in the FASTA, explaining ``20`` vs ``chr20`` style
    mismatches and how to fix them with ``--rename-contigs``. Lengths must agree where names do.
    """
    rename = rename or {}
    shared = {}
    bad_len = []
    for name, n in bam_contigs.items():
        fname = rename.get(name, name)
        if fname in ref_contigs:
            if ref_contigs[fname] != n:
                bad_len.append(f"{name} (BAM {n} bp, FASTA {ref_contigs[fname]} bp)")
            else:
                shared[name] = n
    if bad_len:
        raise InputError("BAM and FASTA disagree on contig lengths: " + ", ".join(bad_len[:5]) + " (wrong reference build?)")
    if not shared:
        b = sorted(bam_contigs)[:4]
        r = sorted(ref_contigs)[:4]
        hint = ""
        if any(("chr" + x) in ref_contigs for x in bam_contigs):
            hint = " The BAM lacks the 'chr' prefix the FASTA uses: pass --rename-contigs add-chr."
        elif any(x.startswith("chr") and x[3:] in ref_contigs for x in bam_contigs):
            hint = " The BAM uses a 'chr' prefix the FASTA lacks: pass --rename-contigs strip-chr."
        raise InputError(
            f"no contig of the BAM ({', '.join(b)}...) is in the reference FASTA ({', '.join(r)}...): "
            f"different naming or a different build.{hint} A TSV file of 'bam_name<TAB>fasta_name' lines "
            "also works with --rename-contigs."
        )
    return shared


def rename_map(spec: str | None, bam_contigs: list[str]) -> dict[str, str]:
    """BAM name -> FASTA name from ``add-chr``, ``strip-chr`` or a two-column TSV file."""
    if not spec:
        return {}
    if spec == "add-chr":
        return {c: c if c.startswith("chr") else "chr" + c for c in bam_contigs}
    if spec == "strip-chr":
        return {c: c[3:] if c.startswith("chr") else c for c in bam_contigs}
    if not os.path.exists(spec):
        raise UsageError(f"--rename-contigs {spec!r}: expected add-chr, strip-chr or a TSV file")
    out = {}
    with open(spec) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                raise InputError(f"{spec}:{lineno}: expected 'bam_name<TAB>fasta_name'")
            out[parts[0]] = parts[1]
    return out

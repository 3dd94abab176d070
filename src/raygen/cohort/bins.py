"""Bins for copy-number coverage: BED intervals in, on-target and off-target ("antitarget") bins out, as
``cnvkit.py target`` and ``cnvkit.py antitarget`` make them. All intervals are 0-based half-open.

* target: the bait intervals in genome order, zero-width ones dropped; ``--split`` first merges
  overlapping or touching intervals (joining their names with commas) and then cuts each into
  ``round(length / avg_size)`` near-equal pieces; ``--short-names`` reduces accession lists to one label.
* antitarget: the accessible regions (an access BED, or each targeted chromosome from 150 kb to its last
  target), shrunk by 500 bp at each end, minus the targets widened by 500 bp, then cut into pieces of about
  ``avg_size`` (regions shorter than ``min_size`` dropped), each named ``Antitarget``.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from raygen.cohort import chromosomes
from raygen.cohort.bias import INSERT_SIZE
from raygen.cohort.cnvfiles import ANTITARGET_NAME, CopyNumTable
from raygen.cohort.ratios import MIN_REF_COVERAGE
from raygen.errors import InputError
from raygen.regions import read_bed

log = logging.getLogger(__name__)

#: CNVkit's defaults: split targets average 200/0.75 bp; antitargets 150 kb; skip 150 kb of telomere.
TARGET_AVG_SIZE = 200 / 0.75
ANTITARGET_AVG_SIZE = 150_000
TELOMERE_SIZE = 150_000


def table_from_bed(path: str | os.PathLike[str]) -> CopyNumTable:
    """The intervals of a BED file in file order as a bins table (chromosome, start, end, gene; gene ``-``
    where the BED has no name column)."""
    regions = read_bed(path)
    n = len(regions)
    return CopyNumTable({
        "chromosome": np.asarray([r.chrom for r in regions], dtype=object),
        "start": np.fromiter((r.start for r in regions), dtype=np.int64, count=n),
        "end": np.fromiter((r.end for r in regions), dtype=np.int64, count=n),
        "gene": np.asarray([(r.name or "-").rstrip() for r in regions], dtype=object),
    }, os.path.basename(os.fspath(path)), {"path": os.fspath(path)})


def order_report(bins: CopyNumTable) -> tuple[int, int]:
    """(bins out of genome order, bins overlapping their predecessor) of a table in its current order."""
    if len(bins) < 2:
        return 0, 0
    keys = np.asarray([chromosomes.sort_key(c) for c in bins.chrom.tolist()], dtype=object)
    same = bins.chrom[1:] == bins.chrom[:-1]
    back = np.fromiter((k1 > k2 for k1, k2 in zip(keys[:-1].tolist(), keys[1:].tolist())), dtype=bool, count=len(bins) - 1)
    unsorted = int((back | (same & (bins.start[1:] < bins.start[:-1]))).sum())
    reach = np.zeros(len(bins) - 1, dtype=np.int64)
    for c in dict.fromkeys(bins.chrom.tolist()):
        idx = np.flatnonzero(bins.chrom[:-1] == c)
        if len(idx):
            reach[idx] = np.maximum.accumulate(bins.end[:-1][idx])
    overlapping = int((same & (bins.start[1:] < reach)).sum())
    return unsorted, overlapping


def warn_order(bins: CopyNumTable, what: str) -> None:
    """Warn (with counts) about unsorted or overlapping bins; CNVkit accepts both, but they are rarely meant."""
    unsorted, overlapping = order_report(bins)
    if unsorted:
        log.warning("%s: %d bins are out of genome order (kept in file order; reference and fix sort them)",
                    what, unsorted)
    if overlapping:
        log.warning("%s: %d bins overlap the bin before them (each is counted on its own)", what, overlapping)


def merge_touching(bins: CopyNumTable) -> CopyNumTable:
    """Bins sorted, with overlapping or touching ones merged per chromosome (names joined by commas)."""
    bins = bins.sorted()
    out_c, out_s, out_e, out_g = [], [], [], []
    for c, s, e, g in zip(bins.chrom.tolist(), bins.start.tolist(), bins.end.tolist(), bins.gene.tolist()):
        if out_c and out_c[-1] == c and s <= out_e[-1]:
            out_e[-1] = max(out_e[-1], e)
            if g not in out_g[-1]:
                out_g[-1].append(g)
        else:
            out_c.append(c)
            out_s.append(s)
            out_e.append(e)
            out_g.append([g])
    return CopyNumTable({"chromosome": np.asarray(out_c, dtype=object), "start": np.asarray(out_s, dtype=np.int64),
                         "end": np.asarray(out_e, dtype=np.int64),
                         "gene": np.asarray([",".join(g) for g in out_g], dtype=object)}, bins.sample_id)


def subdivide(bins: CopyNumTable, avg_size: float, min_size: int = 0) -> CopyNumTable:
    """Merge touching bins, drop those shorter than ``min_size`` and cut each into ``round(len/avg_size)``
    (at least 1) pieces at ``start + int(i * len / n)``."""
    merged = merge_touching(bins)
    cols: dict[str, list] = {"chromosome": [], "start": [], "end": [], "gene": []}
    for c, s, e, g in zip(merged.chrom.tolist(), merged.start.tolist(), merged.end.tolist(), merged.gene.tolist()):
        span = e - s
        if span < min_size:
            continue
        n = round(span / avg_size) or 1
        cuts = [s] + [s + int(i * (span / n)) for i in range(1, n)] + [e]
        for a, b in zip(cuts[:-1], cuts[1:]):
            cols["chromosome"].append(c)
            cols["start"].append(a)
            cols["end"].append(b)
            cols["gene"].append(g)
    return CopyNumTable({"chromosome": np.asarray(cols["chromosome"], dtype=object),
                         "start": np.asarray(cols["start"], dtype=np.int64),
                         "end": np.asarray(cols["end"], dtype=np.int64),
                         "gene": np.asarray(cols["gene"], dtype=object)}, bins.sample_id)


def make_targets(baits: CopyNumTable, split: bool = False, avg_size: float = TARGET_AVG_SIZE,
                 short_names: bool = False) -> CopyNumTable:
    """``cnvkit.py target``: sorted baits without zero-width ones, optionally split and short-named."""
    out = baits.sorted()
    out = out.take(out.start != out.end)
    if split:
        out = subdivide(out, avg_size, 0)
    if short_names:
        out = out.with_columns(gene=np.asarray(list(shorten_labels(out.gene.tolist())), dtype=object))
    return out


def _filter_names(names: set[str], exclude: tuple[str, ...] = ("mRNA",)) -> set[str]:
    if len(names) > 1:
        ok = {n for n in names if not any(n.startswith(x) for x in exclude)}
        if ok:
            return ok
    return names


def _shortest_name(names: set[str]) -> str:
    name = min(sorted(_filter_names(names)), key=len)
    if len(name) > 2 and "|" in name[1:-1]:
        name = name.split("|")[-1]
    return name


def shorten_labels(labels: list[str]):
    """Reduce comma-separated accession lists to the one accession shared by the most consecutive bins."""
    current: set[str] = set()
    count = 0
    for label in labels:
        names = set(label.rstrip().split(","))
        overlap = current & names
        if overlap:
            current = _filter_names(overlap)
            count += 1
        else:
            for _ in range(count):
                yield _shortest_name(current)
            current, count = names, 1
    for _ in range(count):
        yield _shortest_name(current)


def guess_access(targets: CopyNumTable, telomere: int = TELOMERE_SIZE) -> CopyNumTable:
    """Without an access BED: each targeted chromosome from ``telomere`` bp to its last target's end."""
    chroms = list(dict.fromkeys(targets.chrom.tolist()))
    ends = [int(targets.end[targets.chrom == c][-1]) for c in chroms]
    return CopyNumTable({"chromosome": np.asarray(chroms, dtype=object),
                         "start": np.full(len(chroms), telomere, dtype=np.int64),
                         "end": np.asarray(ends, dtype=np.int64),
                         "gene": np.full(len(chroms), "-", dtype=object)}).sorted()


def drop_noncanonical(access: CopyNumTable, targets: CopyNumTable) -> CopyNumTable:
    """Access regions on untargeted alternative / mitochondrial contigs removed (or, when no target is on
    a canonical chromosome, on untargeted contigs with names longer than any targeted one)."""
    a_chroms, t_chroms = set(access.chrom.tolist()), set(targets.chrom.tolist())
    if a_chroms and a_chroms.isdisjoint(t_chroms):
        raise InputError(f"chromosome names of the access regions and the targets do not match: "
                         f"{', '.join(sorted(a_chroms)[:3])} vs {', '.join(sorted(t_chroms)[:3])}")
    untargeted = a_chroms - t_chroms
    if any(chromosomes.is_canonical(c) for c in t_chroms):
        skip = [c for c in untargeted if not chromosomes.is_canonical(c)]
    else:
        longest = max(map(len, t_chroms))
        skip = [c for c in untargeted if len(c) > longest]
    if skip:
        log.info("skipping untargeted chromosomes %s", " ".join(sorted(skip)))
        access = access.take(~np.isin(access.chrom, skip))
    return access


def _subtract(regions: CopyNumTable, holes: CopyNumTable) -> CopyNumTable:
    """Parts of ``regions`` outside every interval of ``holes`` (both sorted)."""
    out: dict[str, list] = {"chromosome": [], "start": [], "end": []}
    for c in dict.fromkeys(regions.chrom.tolist()):
        hm = holes.chrom == c
        hs, he = holes.start[hm], holes.end[hm]
        order = np.argsort(hs, kind="mergesort")
        hs, he = hs[order], he[order]
        reach = np.maximum.accumulate(he) if len(he) else he  # holes before the first reach > s end before s
        for s, e in zip(regions.start[regions.chrom == c].tolist(), regions.end[regions.chrom == c].tolist()):
            pos = s
            lo = int(np.searchsorted(reach, s, side="right"))
            for a, b in zip(hs[lo:].tolist(), he[lo:].tolist()):
                if a >= e:
                    break
                if a > pos:
                    out["chromosome"].append(c)
                    out["start"].append(pos)
                    out["end"].append(a)
                pos = max(pos, b)
            if pos < e:
                out["chromosome"].append(c)
                out["start"].append(pos)
                out["end"].append(e)
    n = len(out["start"])
    return CopyNumTable({"chromosome": np.asarray(out["chromosome"], dtype=object),
                         "start": np.asarray(out["start"], dtype=np.int64), "end": np.asarray(out["end"], dtype=np.int64),
                         "gene": np.full(n, "-", dtype=object)})


def _resize(table: CopyNumTable, bp: int) -> CopyNumTable:
    start = np.maximum(table.start - bp, 0)
    end = np.maximum(table.end + bp, 0)
    keep = end - start > 0 if bp < 0 else np.ones(len(table), dtype=bool)
    return table.with_columns(start=start, end=end).take(keep)


def make_antitargets(targets: CopyNumTable, access: CopyNumTable | None = None,
                     avg_size: int = ANTITARGET_AVG_SIZE, min_size: int | None = None) -> CopyNumTable:
    """``cnvkit.py antitarget`` (see the module docstring); ``min_size`` defaults to ``2 * int(avg / 32)``."""
    if not min_size:
        min_size = 2 * int(avg_size * 2 ** MIN_REF_COVERAGE)
    targets = targets.sorted()
    if not len(targets):
        raise InputError("no target regions: cannot place antitarget bins between them")
    access = drop_noncanonical(access.sorted(), targets) if access is not None and len(access) else guess_access(targets)
    pad = 2 * INSERT_SIZE
    free = _subtract(_resize(access, -pad), _resize(targets, pad))
    out = subdivide(free, avg_size, min_size)
    return out.with_columns(gene=np.full(len(out), ANTITARGET_NAME, dtype=object))

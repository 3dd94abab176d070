"""A pooled panel-of-normals reference (``cnvkit.py reference``), split into steps that scale:

1. :func:`block_bins`: the shared bin features of one block (targets, or antitargets) -- coordinates and
   gene labels of the first normal (by sample id), GC / RepeatMasker fractions, edge bias, the flat
   expected log2 of a male or female reference and the chrX / chrY masks;
2. :func:`correct_sample`: one normal's bias-corrected log2 per bin of a block (centred on the autosomes,
   sex chromosomes shifted to the reference sex, then GC, RepeatMasker and edge corrections with a rolling
   median over 10% of the bins) and its raw depths -- independent per sample, so it runs as a map;
3. :func:`pool_bins`: per bin, the biweight location of the corrected log2 over the normals plus one
   "flat" pseudo-sample, the biweight location of the depths and the biweight midvariance ("spread") --
   independent per bin, so it runs on bin chunks of a ``samples x bins`` matrix;
4. :func:`assemble`: both blocks in one table in CNVkit's column and row order.

:func:`build_reference` chains them in memory; ``raygen.cohort.pipeline`` runs steps 2 and 3 on Ray.
log2 values are log2 ratios; depths are mean read depths; bins 0-based half-open.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from raygen.cohort import bias, chromosomes, robust, sex
from raygen.cohort.cnvfiles import ANTITARGET_NAMES, CopyNumTable, concat
from raygen.cohort.ratios import LOW_COVERAGE_LOG2, MAX_REF_SPREAD, MIN_REF_COVERAGE, center_shift, low_coverage_mask
from raygen.errors import InputError, UsageError

log = logging.getLogger(__name__)

#: Rolling-median window of the bias corrections inside ``reference``, as a fraction of the bins.
REFERENCE_WINDOW_FRACTION = 0.1


@dataclass(frozen=True)
class ReferenceOptions:
    """What ``raygen cohort reference`` corrects and how it treats sex chromosomes."""

    haploid_x_reference: bool = False  # -y: a male reference (chrX expected at log2 -1)
    parx_build: str | None = None  # --diploid-parx-genome: treat chrX PARs as autosomal
    female_samples: bool | None = None  # -x: every normal's sex; None = guess from coverage
    do_gc: bool = True
    do_edge: bool = True
    do_rmask: bool = True
    smoother: str = "median"


@dataclass
class BlockBins:
    """Shared per-bin features of one block of the panel (see the module docstring)."""

    bins: CopyNumTable  # chromosome, start, end, gene (+ gc, rmask when known)
    flat_log2: np.ndarray
    edge: np.ndarray
    is_x: np.ndarray
    is_y: np.ndarray
    is_target: bool

    @property
    def gc(self) -> np.ndarray | None:
        return self.bins["gc"] if "gc" in self.bins else None

    @property
    def rmask(self) -> np.ndarray | None:
        return self.bins["rmask"] if "rmask" in self.bins else None


def block_bins(first: CopyNumTable, is_target: bool, opts: ReferenceOptions,
               fasta_stats: tuple[np.ndarray, np.ndarray] | None = None) -> BlockBins:
    """Features of a block from its first normal's bins; ``fasta_stats`` = (gc, rmask) from the FASTA.

    Targets get GC (from the FASTA, else the file's own ``gc`` column as Picard imports carry) and edge
    bias; antitargets get GC and RepeatMasker fractions and no edge correction.
    """
    check_bins(first)
    cols = {c: first[c] for c in ("chromosome", "start", "end")}
    cols["gene"] = first.gene
    do_rmask = opts.do_rmask and not is_target
    if fasta_stats is not None and (opts.do_gc or do_rmask):
        if opts.do_gc:
            cols["gc"] = fasta_stats[0]
        if do_rmask:
            cols["rmask"] = fasta_stats[1]
    elif "gc" in first and opts.do_gc:
        cols["gc"] = first["gc"]
    bins = CopyNumTable(cols, "reference")
    return BlockBins(
        bins=bins,
        flat_log2=sex.expect_flat_log2(first, opts.haploid_x_reference, opts.parx_build),
        edge=bias.edge_bias(first.chrom, first.start, first.end) if len(first) else np.zeros(0),
        is_x=chromosomes.x_mask(first.chrom, first.start, first.end, opts.parx_build),
        is_y=chromosomes.y_mask(first.chrom, first.start, first.end, opts.parx_build),
        is_target=is_target,
    )


def check_bins(table: CopyNumTable) -> None:
    """InputError for duplicated bins (the same chromosome, start and end twice): every bin of a panel
    must be a distinct interval for per-bin statistics to mean anything."""
    if len(table) < 2:
        return
    same = (table.chrom[1:] == table.chrom[:-1]) & (table.start[1:] == table.start[:-1]) & (table.end[1:] == table.end[:-1])
    if same.any():
        i = int(np.flatnonzero(same)[0])
        where = table.meta.get("path", table.sample_id)
        raise InputError(f"{where}: {int(same.sum())} duplicated bins (e.g. {table.chrom[i]}:{table.start[i] + 1}-"
                         f"{table.end[i]}); each bin must be listed once")


def infer_sexes(targets: Sequence[CopyNumTable], antitargets: Sequence[CopyNumTable],
                opts: ReferenceOptions) -> dict[str, bool | None]:
    """Sample id -> is_female (None: undetermined) from each normal's target and antitarget coverage,
    or ``opts.female_samples`` for all when given."""
    if opts.female_samples is not None:
        return {t.sample_id: opts.female_samples for t in targets}
    anti = {a.sample_id: a for a in antitargets}
    out: dict[str, bool | None] = {}
    for t in targets:
        tg = sex.sample_guess(t, opts.parx_build)
        a = anti.get(t.sample_id)
        ag = sex.sample_guess(a, opts.parx_build) if a is not None and len(a) else (None, float("nan"))
        out[t.sample_id] = sex.reconcile(tg, ag)
    return out


def correct_sample(sample: CopyNumTable, block: BlockBins, is_female: bool | None,
                   opts: ReferenceOptions) -> tuple[np.ndarray, np.ndarray]:
    """(bias-corrected log2, raw depth) of one normal over the bins of ``block`` (see the module doc).

    Raises :class:`InputError` when the sample's bins differ from the block's.
    """
    if not sample.coords_equal(block.bins):
        where = sample.meta.get("path", sample.sample_id)
        raise InputError(f"{where}: bins differ from those of the first normal ({len(sample)} vs "
                         f"{len(block.bins)} bins, or other coordinates / gene labels); use the same BED for every sample")
    depth = sample["depth"] if "depth" in sample else np.exp2(sample.log2)
    empty = int(low_coverage_mask(sample).sum())
    if empty == len(sample) and empty:
        log.warning("sample %s has no coverage in any of its %d %s bins (wrong BAM or BED?); it still enters the "
                    "pool, as in CNVkit", sample.sample_id, empty, "target" if block.is_target else "antitarget")
    log2 = sample.log2 + center_shift(sample, skip_low=block.is_target, parx_build=opts.parx_build)
    if is_female is None:
        log.warning("cannot determine the sex of sample %s; treating chrX as diploid (female)", sample.sample_id)
        is_female = True
    log2 = log2 + block.flat_log2
    if is_female:
        log2[block.is_y] = -1.0
    else:
        log2[block.is_x | block.is_y] += 1.0
    covered = int((log2 > LOW_COVERAGE_LOG2).sum())
    if covered <= len(log2) // 2:
        log.warning("sample %s: %d of %d %s bins have no or very low coverage (log2 <= %g); bias corrections "
                    "skipped -- check that the right BED file was used", sample.sample_id, len(log2) - covered,
                    len(log2), "target" if block.is_target else "antitarget", LOW_COVERAGE_LOG2)
        return log2, depth
    frac = REFERENCE_WINDOW_FRACTION
    if block.gc is not None and opts.do_gc:
        log2 = bias.center_by_window(log2, frac, block.gc, opts.smoother)
    if block.rmask is not None and opts.do_rmask:
        log2 = bias.center_by_window(log2, frac, block.rmask, opts.smoother)
    if block.is_target and opts.do_edge:
        log2 = bias.center_by_window(log2, frac, block.edge, opts.smoother)
    return log2, depth


def pool_bins(log2_rows: np.ndarray, depth_rows: np.ndarray, flat_log2: np.ndarray) -> dict[str, np.ndarray]:
    """Per bin (column): ``log2`` = biweight location of [flat, normals...], ``depth`` = biweight location
    of the normals' depths, ``spread`` = biweight midvariance of [flat, normals...] around ``log2``.

    ``log2_rows`` and ``depth_rows`` are ``normals x bins``; any column chunk gives the same answer as the
    whole matrix, so callers may reduce bin chunks independently.
    """
    all_log2 = np.vstack([flat_log2[np.newaxis, :], log2_rows])
    center = robust.biweight_location(all_log2)
    return {"log2": center, "depth": robust.biweight_location(depth_rows),
            "spread": robust.biweight_midvariance(all_log2, initial=center)}


def assemble(blocks: Sequence[tuple[BlockBins, dict[str, np.ndarray]]]) -> CopyNumTable:
    """One reference table from each block's bins and pooled statistics, in CNVkit's row and column order."""
    tables = []
    for block, stats in blocks:
        if len(block.bins):
            tables.append(block.bins.with_columns(**stats))
    names = [c for t in tables for c in t.columns]
    names = list(dict.fromkeys(names))
    filled = []
    for t in tables:
        missing = {c: np.full(len(t), np.nan) for c in names if c not in t}
        filled.append(t.with_columns(**missing).select(names))
    ref = concat(filled, "reference").sorted().ordered()
    ref.sample_id = "reference"
    return ref


def bad_bin_mask(ref: CopyNumTable) -> np.ndarray:
    """Reference bins unusable for fix: log2 outside [-5, 5] or NaN, spread > 1 or NaN, depth 0 or NaN,
    GC outside [0.3, 0.7] (where those columns exist)."""
    log2, spread = ref.log2, ref["spread"] if "spread" in ref else np.zeros(len(ref))
    with np.errstate(invalid="ignore"):
        bad = (log2 < MIN_REF_COVERAGE) | (log2 > -MIN_REF_COVERAGE) | (spread > MAX_REF_SPREAD)
        bad |= np.isnan(log2) | np.isnan(spread)
        if "depth" in ref:
            bad |= (ref["depth"] == 0) | np.isnan(ref["depth"])
        if "gc" in ref:
            bad |= (ref["gc"] > 0.7) | (ref["gc"] < 0.3)
    return bad


def report_bad_bins(ref: CopyNumTable) -> tuple[int, int]:
    """Log (and return) how many target and antitarget bins of a new reference fail :func:`bad_bin_mask`."""
    bad = bad_bin_mask(ref)
    anti = np.isin(ref.gene, ANTITARGET_NAMES)
    n_t, n_a = int((bad & ~anti).sum()), int((bad & anti).sum())
    if n_t:
        log.info("targets: %d of %d bins (%.4g%%) failed filters (log2 < %g, log2 > %g, spread > %g)", n_t,
                 int((~anti).sum()), 100 * n_t / max(1, int((~anti).sum())), MIN_REF_COVERAGE, -MIN_REF_COVERAGE,
                 MAX_REF_SPREAD)
    if n_a:
        log.info("antitargets: %d of %d bins (%.4g%%) failed filters", n_a, int(anti.sum()),
                 100 * n_a / max(1, int(anti.sum())))
    return n_t, n_a


def sort_by_sample(tables: Sequence[CopyNumTable]) -> list[CopyNumTable]:
    """Normals in sample-id order (CNVkit takes the first as the bin template)."""
    return sorted(tables, key=lambda t: t.sample_id)


def build_reference(targets: Sequence[CopyNumTable], antitargets: Sequence[CopyNumTable] = (),
                    fasta: str | None = None, opts: ReferenceOptions | None = None) -> CopyNumTable:
    """The pooled reference of the given normals' coverage tables, all in memory (small panels, tests)."""
    opts = opts or ReferenceOptions()
    if not targets:
        raise UsageError("no normal-sample coverage files given")
    if antitargets and len(antitargets) != len(targets):
        raise UsageError(f"unequal number of target ({len(targets)}) and antitarget ({len(antitargets)}) files")
    if len(targets) == 1:
        log.warning("building a reference from a single normal: its spread is not a panel estimate and each "
                    "bin's log2 is pulled half-way to the flat expectation")
    sexes = infer_sexes(targets, antitargets, opts)
    blocks = []
    for group, is_target in ((sort_by_sample(targets), True), (sort_by_sample(antitargets), False)):
        if not group:
            continue
        first = group[0]
        stats = bias.fasta_gc_rmask(fasta, first.chrom, first.start, first.end) if fasta and len(first) else None
        block = block_bins(first, is_target, opts, stats)
        rows = [correct_sample(s, block, sexes.get(s.sample_id), opts) for s in group]
        log2 = np.vstack([r[0] for r in rows]) if len(first) else np.zeros((len(group), 0))
        depth = np.vstack([r[1] for r in rows]) if len(first) else np.zeros((len(group), 0))
        blocks.append((block, pool_bins(log2, depth, block.flat_log2)))
    ref = assemble(blocks)
    report_bad_bins(ref)
    return ref


def flat_reference(targets: CopyNumTable, antitargets: CopyNumTable | None = None, fasta: str | None = None,
                   haploid_x_reference: bool = False) -> CopyNumTable:
    """A "flat" reference without normals (``reference -t/-a``): expected neutral log2 per bin (0, or -1 on
    chrY and, for a male reference, chrX), ``depth = 2**log2``, spread 0, GC / RepeatMasker from the FASTA."""
    parts = [t.select(("chromosome", "start", "end", "gene")) for t in (targets, antitargets) if t is not None]
    bins = concat([p.with_columns(gene=p.gene) for p in parts], "reference").sorted()
    log2 = sex.expect_flat_log2(bins, haploid_x_reference)
    cols = {"log2": log2, "spread": np.zeros(len(bins)), "depth": np.exp2(log2)}
    if fasta:
        cols["gc"], cols["rmask"] = bias.fasta_gc_rmask(fasta, bins.chrom, bins.start, bins.end)
    ref = bins.with_columns(**cols).ordered()
    ref.sample_id = "reference"
    return ref

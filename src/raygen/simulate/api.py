"""``simulate_genome``: reference, truth VCF and (optionally) a sorted, indexed BAM in one call.

Reference and truth are drawn in the driver (numpy, seconds for tens of Mbp). Reads are simulated as
one Ray task per chunk; each task returns a finished, sorted BAM chunk, and the driver concatenates
the chunks in coordinate order (``samtools cat``) and indexes the result. Every random stream is
seeded by (seed, purpose, contig, chunk), so outputs are identical whatever the number of workers.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam
from tqdm import tqdm

from raygen.config import RuntimeConfig, SimulateConfig
from raygen.errors import UsageError
from raygen.io.atomic import atomic_paths, ensure_writable_dir
from raygen.provenance import display_path
from raygen.simulate.reads import ChunkStats, bam_header, chunk_bounds, fragment_max, simulate_chunk
from raygen.simulate.reference import Contig, simulate_reference, write_fasta
from raygen.simulate.truthvcf import sample_names, write_truth_vcf
from raygen.simulate.variants import TruthVariant, simulate_variants

log = logging.getLogger("raygen.simulate")

MIN_CONTIG_BP = 1_000
MIN_READ_LENGTH = 50
MAX_READ_LENGTH = 1_000


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate_genome` wrote. Paths are absolute; ``reads_bam`` is None without coverage."""

    out_dir: Path
    reference: Path  # reference.fa (+ .fai beside it)
    truth_vcf: Path  # truth.vcf.gz (+ .tbi): normalized truth
    truth_denorm_vcf: Path | None  # truth.denorm.vcf.gz (+ .tbi) with --denormalize, else None
    reads_bam: Path | None  # reads.bam (+ .bai) when coverage > 0, else None
    contigs: dict[str, int]  # name -> length (bp), in reference order
    bp: int  # total reference length
    n_bp: int  # of which N (gaps)
    samples: list[str]
    variants: dict[str, int]  # records by class: SNV, MNP, INS, DEL (biallelic), MULTIALLELIC; and "total"
    repeat_indels: int  # indel records in repeats (more than one equivalent position)
    reads: int  # BAM records (2 per pair)
    read_bases: int
    sequencing_errors: int  # miscalled bases simulated in the reads
    seconds: float
    seed: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage: reference_s, truth_s, reads_s

    def lines(self) -> list[str]:
        v = self.variants
        out = [
            f"reference   {display_path(self.reference)}  ({len(self.contigs)} contigs, {self.bp:,} bp, {self.n_bp:,} N)",
            f"truth       {display_path(self.truth_vcf)}  ({v['total']:,} records: {v['SNV']:,} SNV, {v['MNP']:,} MNP, "
            f"{v['INS']:,} INS, {v['DEL']:,} DEL, {v['MULTIALLELIC']:,} multiallelic; "
            f"{self.repeat_indels:,} indels in repeats; samples {','.join(self.samples)})",
        ]
        if self.truth_denorm_vcf:
            out.append(f"denorm      {display_path(self.truth_denorm_vcf)}  (same records, indels right-shifted or padded)")
        if self.reads_bam:
            rate = self.sequencing_errors / max(1, self.read_bases)
            out.append(f"reads       {display_path(self.reads_bam)}  ({self.reads:,} reads, {self.read_bases:,} bases, "
                       f"error rate {rate:.4f})")
        mbp_min = self.bp / 1e6 / (self.seconds / 60) if self.seconds > 0 else float("inf")
        stages = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in self.timings.items())
        out.append(f"time        {self.seconds:.1f} s ({stages}; {mbp_min:.1f} Mbp/min)")
        return out


def validate(cfg: SimulateConfig) -> None:
    """Raise :class:`UsageError` (one line) for parameters that cannot describe a genome."""

    def need(ok: bool, msg: str) -> None:
        if not ok:
            raise UsageError(msg)

    need(cfg.contigs >= 1, f"--contigs must be at least 1 (got {cfg.contigs})")
    need(cfg.length > 0, f"--length must be a positive number of bp (got {cfg.length})")
    need(cfg.length >= MIN_CONTIG_BP * cfg.contigs,
         f"--length {cfg.length} is too short for {cfg.contigs} contig(s): need at least {MIN_CONTIG_BP} bp each")
    for name in ("snv_rate", "indel_rate", "mnp_rate", "multiallelic_fraction", "error_rate", "n_gap_fraction",
                 "repeat_indel_fraction"):
        val = getattr(cfg, name)
        need(0.0 <= val <= 1.0, f"--{name.replace('_', '-')} must be within [0, 1] (got {val:g})")
    need(cfg.n_gap_fraction <= 0.5, f"--n-gap-fraction must be at most 0.5 (got {cfg.n_gap_fraction:g})")
    need(cfg.coverage >= 0, f"--coverage must be >= 0 (got {cfg.coverage:g})")
    need(cfg.coverage <= 1000, f"--coverage must be <= 1000 (got {cfg.coverage:g})")
    need(MIN_READ_LENGTH <= cfg.read_length <= MAX_READ_LENGTH,
         f"--read-length must be within [{MIN_READ_LENGTH}, {MAX_READ_LENGTH}] bp (got {cfg.read_length})")
    need(cfg.fragment_mean > 0 and cfg.fragment_sd >= 0,
         f"--fragment-mean must be > 0 and --fragment-sd >= 0 (got {cfg.fragment_mean}, {cfg.fragment_sd})")
    need(cfg.samples >= 1, f"--samples must be at least 1 (got {cfg.samples})")
    need(1 <= cfg.max_indel_len <= 50, f"max_indel_len must be within [1, 50] (got {cfg.max_indel_len})")
    min_chunk = 4 * (fragment_max(cfg) + 2_000)
    need(cfg.chunk_bp >= min_chunk,
         f"--chunk-bp must be at least {min_chunk} bp (4x the longest fragment plus slack; got {cfg.chunk_bp})")
    need(cfg.isochore_mean_bp > 0, f"isochore_mean_bp must be > 0 (got {cfg.isochore_mean_bp})")


def _count(variants: list[TruthVariant]) -> tuple[dict[str, int], int]:
    counts = Counter({"SNV": 0, "MNP": 0, "INS": 0, "DEL": 0, "MULTIALLELIC": 0})
    for v in variants:
        counts["MULTIALLELIC" if len(v.alts) > 1 else v.kinds[0]] += 1
    counts["total"] = len(variants)
    return dict(counts), sum(1 for v in variants if v.repeat)


def haplotype_alleles(variants: list[TruthVariant], sample: int = 0) -> tuple[list, list]:
    """(pos0, REF, ALT) alleles carried by each haplotype of ``sample`` (GT order), sorted."""
    haps: tuple[list, list] = ([], [])
    for v in variants:
        for h in (0, 1):
            allele = int(v.gt[sample, h])
            if allele > 0:
                haps[h].append((v.pos0, v.ref, v.alts[allele - 1]))
    return haps


def simulate_genome(
    cfg: SimulateConfig,
    out_dir: str | os.PathLike[str],
    *,
    runtime: RuntimeConfig | None = None,
    progress: bool = False,
    max_in_flight: int | None = None,
) -> SimulationSummary:
    """Simulate a genome into ``out_dir`` per ``cfg``; return what was written.

    Writes ``reference.fa`` (+ ``.fai``), ``truth.vcf.gz`` (+ ``.tbi``), with ``cfg.denormalize`` also
    ``truth.denorm.vcf.gz`` (+ ``.tbi``), and when ``cfg.coverage > 0`` ``reads.bam`` (+ ``.bai``); every
    file atomically. Read simulation runs on Ray (``raygen.runtime.init_ray(runtime)``: the current
    session if one is up, else ``runtime`` decides); without coverage Ray is not started at all.
    ``max_in_flight`` caps the read-chunk tasks running at once (None: as many as Ray schedules);
    it changes speed and memory, never the output. ``progress`` shows a tqdm bar over chunks.
    Raises :class:`UsageError` for impossible parameters or an unwritable ``out_dir``.
    """
    validate(cfg)
    if max_in_flight is not None and max_in_flight < 1:
        raise UsageError(f"max_in_flight must be at least 1 (got {max_in_flight})")
    out = ensure_writable_dir(out_dir).resolve()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    contigs = simulate_reference(cfg)
    fasta = write_fasta(out / "reference.fa", contigs)
    timings["reference_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    per_contig: list[list[TruthVariant]] = [
        simulate_variants(c, cfg, np.random.default_rng([cfg.seed, 1, i])) for i, c in enumerate(contigs)
    ]
    variants = [v for vs in per_contig for v in vs]
    lengths = [(c.name, c.length) for c in contigs]
    truth = write_truth_vcf(out / "truth.vcf.gz", variants, lengths, cfg)
    denorm = write_truth_vcf(out / "truth.denorm.vcf.gz", variants, lengths, cfg, denormalized=True) if cfg.denormalize else None
    timings["truth_s"] = time.perf_counter() - t1
    _remove_stale(out, cfg)

    bam = None
    stats = ChunkStats(0, 0, 0)
    if cfg.coverage > 0:
        t2 = time.perf_counter()
        bam, stats = _simulate_reads(cfg, contigs, per_contig, out, runtime, progress, max_in_flight)
        timings["reads_s"] = time.perf_counter() - t2

    counts, repeat = _count(variants)
    summary = SimulationSummary(
        out_dir=out,
        reference=fasta.resolve(),
        truth_vcf=truth.resolve(),
        truth_denorm_vcf=denorm.resolve() if denorm else None,
        reads_bam=bam.resolve() if bam else None,
        contigs=dict(lengths),
        bp=sum(c.length for c in contigs),
        n_bp=sum(c.n_bases for c in contigs),
        samples=sample_names(cfg.samples),
        variants=counts,
        repeat_indels=repeat,
        reads=stats.reads,
        read_bases=stats.bases,
        sequencing_errors=stats.errors,
        seconds=time.perf_counter() - t0,
        seed=cfg.seed,
        timings=timings,
    )
    log.info("simulated %s bp, %d variants, %d reads in %.1f s", f"{summary.bp:,}", counts["total"], stats.reads,
             summary.seconds)
    return summary


def _remove_stale(out: Path, cfg: SimulateConfig) -> None:
    """Outputs of an earlier run into the same directory that this run does not rewrite would no longer match
    the new reference and truth: remove them rather than leave a mismatched set behind."""
    stale = ([] if cfg.denormalize else ["truth.denorm.vcf.gz", "truth.denorm.vcf.gz.tbi"]) + (
        [] if cfg.coverage > 0 else ["reads.bam", "reads.bam.bai"])
    for name in stale:
        if (out / name).exists():
            log.warning("removing %s from an earlier run (it would not match the new genome)", out / name)
            (out / name).unlink()


def _simulate_reads(
    cfg: SimulateConfig,
    contigs: list[Contig],
    per_contig: list[list[TruthVariant]],
    out: Path,
    runtime: RuntimeConfig | None,
    progress: bool,
    max_in_flight: int | None,
) -> tuple[Path, ChunkStats]:
    # Ray only when there are reads to simulate: importing it costs about 2 s that a truth-only run never needs.
    import ray

    from raygen.runtime import init_ray  # imports Ray (as above)

    init_ray(runtime)
    header = bam_header([(c.name, c.length) for c in contigs], sample_names(1)[0])
    remote = ray.remote(num_cpus=1, max_retries=2)(simulate_chunk)
    tasks, keys = [], []
    for ci, (c, vs) in enumerate(zip(contigs, per_contig)):
        seq_ref = ray.put(c.seq)
        haps_ref = ray.put(haplotype_alleles(vs, 0))
        for k in range(len(chunk_bounds(c.length, cfg.chunk_bp))):
            tasks.append((seq_ref, c.name, ci, k, haps_ref, cfg, header))
            keys.append((ci, k))

    final = out / "reads.bam"
    chunk_dir = out / f".reads.bam.chunks-{os.getpid()}"
    chunk_dir.mkdir(exist_ok=True)
    paths = {key: chunk_dir / f"chunk-{key[0]:05d}-{key[1]:06d}.bam" for key in keys}
    total = ChunkStats(0, 0, 0)
    bar = None
    if progress:
        bar = tqdm(total=len(tasks), desc="simulate reads", unit="chunk")
    try:
        queue = list(zip(keys, tasks))
        in_flight: dict = {}
        while queue or in_flight:
            while queue and (max_in_flight is None or len(in_flight) < max_in_flight):
                key, task = queue.pop(0)
                in_flight[remote.remote(*task)] = key
            done, _ = ray.wait(list(in_flight), num_returns=1)
            key = in_flight.pop(done[0])
            data, st = ray.get(done[0])
            paths[key].write_bytes(data)  # written as they finish: the driver holds one chunk at a time
            total = ChunkStats(total.reads + st.reads, total.bases + st.bases, total.errors + st.errors)
            if bar is not None:
                bar.update(1)
        ordered = [str(paths[key]) for key in keys]  # keys are in contig, then chunk order
        with atomic_paths(final, str(final) + ".bai") as (tmp_bam, tmp_bai):
            if len(ordered) == 1:
                shutil.copyfile(ordered[0], tmp_bam)
            else:
                pysam.cat("--no-PG", "-o", str(tmp_bam), *ordered, catch_stdout=False)
            pysam.index(str(tmp_bam), str(tmp_bai))
    finally:
        if bar is not None:
            bar.close()
        shutil.rmtree(chunk_dir, ignore_errors=True)
    return final, total

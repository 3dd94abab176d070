"""Calling end to end: one shard as a plain function, many shards as Ray tasks, and the VCF writer.

The per-shard work is :mod:`raygen.calling.shard` (no Ray; ``call_region`` there serves the HTTP service).
``call_bam`` cuts regions into shards with read
margins, runs one Ray task per shard, keeps finished shards when another fails (failed shards are
reported and written to ``OUT.failed_shards.bed``), and writes a bgzipped, tabix-indexed VCF atomically.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import ray
from tqdm import tqdm

from raygen import __version__
from raygen.calling.candidates import ReadStats, contigs_with_reads, open_bam
from raygen.calling.profile import ErrorProfile
from raygen.calling.records import CallRecord, calls_text_table
from raygen.calling.shard import ShardResult, bam_profile, call_shard, contig_map, sort_records
from raygen.calling.sitemodel import FILTER_DESCRIPTIONS, LOW_DEPTH, load_site_model
from raygen.config import CallConfig
from raygen.errors import InputError, RaygenError
from raygen.io.atomic import atomic_path
from raygen.io.fasta import Reference
from raygen.io.header import FIXED_COLUMNS, PASS_LINE, VcfHeader
from raygen.io.vcf import format_lines, write_vcf
from raygen.provenance import Provenance, model_record
from raygen.regions import Region, Shard, make_shards, read_regions

log = logging.getLogger("raygen.calling")


def call_bam(
    bam: str,
    reference: str,
    out_vcf: str,
    *,
    regions: str | None = None,
    model: str = "classical",
    sample: str | None = None,
    cfg: CallConfig | None = None,
    rename_contigs: str | None = None,
    progress: bool = True,
) -> dict:
    """Call ``bam`` over ``regions`` (all contigs by default) on Ray and write ``out_vcf`` (+ .tbi).

    Returns a summary: shards, failed shards, reads, candidates, records per FILTER, core-seconds.
    Finished shards are always written; if any shard failed, the summary lists it and
    ``OUT.failed_shards.bed`` names its region so it can be re-run with ``--regions``.
    """
    cfg = cfg or CallConfig()
    with Reference(reference) as ref:
        contigs, alias = contig_map(bam, ref, rename_contigs)
        ref_lengths = ref.lengths
    if model != "classical" and not Path(model, "caller.json").exists():
        raise InputError(f"--model {model!r}: not 'classical' and not a model directory from `raygen train caller` "
                         "(no caller.json inside)")
    af = open_bam(bam, reference)
    sample = sample or _bam_sample(af) or "SAMPLE"
    regs = read_regions(regions, contigs if regions else _contigs_with_reads(af, contigs))
    af.close()
    if not regs:
        raise InputError(f"no region to call: {regions!r} is empty or outside the BAM's contigs")
    shards = make_shards(regs, cfg.shard_bp, cfg.margin_bp)
    prof = bam_profile(bam, reference, regs, cfg, alias)
    results = _run_shards(bam, reference, shards, model, cfg, alias, progress, prof)
    results.sort(key=lambda r: (list(contigs).index(r.shard.chrom), r.shard.start0))
    records = [rec for r in results if r.error is None for rec in r.records]
    write_calls(out_vcf, records, {c: ref_lengths[alias[c]] for c in contigs}, sample, reference, model, cfg)
    failed = [r for r in results if r.error is not None]
    if failed:
        _write_failed_bed(out_vcf + ".failed_shards.bed", failed)
    summary = _call_summary(out_vcf, sample, model, shards, regs, results, records)
    summary["bam"] = bam
    return summary


def _contigs_with_reads(af, contigs: dict[str, int]) -> dict[str, int]:
    """The default regions' contigs: those the BAM index holds mapped reads on (a BAM sliced from a whole genome
    keeps every @SQ line: 12k shards of empty contigs cost minutes and call nothing); all where the index has no
    counts, or none has reads (the shards then say so)."""
    have = contigs_with_reads(af)
    if not have or not have & set(contigs):
        return contigs
    kept = {c: f for c, f in contigs.items() if c in have}
    if len(kept) < len(contigs):
        log.info("calling %d of %d contigs: the BAM index has no mapped read on the others", len(kept), len(contigs))
    return kept


def _run_shards(bam: str, reference: str, shards: list[Shard], model: str, cfg: CallConfig,
                alias: dict[str, str], progress: bool, profile: ErrorProfile | None) -> list[ShardResult]:
    """One Ray task per shard (``cfg.cpus_per_shard`` CPUs each); a failed shard becomes a result with its error."""
    task = ray.remote(num_cpus=cfg.cpus_per_shard)(_shard_task)
    prof_ref = ray.put(profile)
    refs = {task.remote(bam, reference, s, model, cfg, alias[s.chrom], prof_ref): s for s in shards}
    results: list[ShardResult] = []
    pending = list(refs)
    bar = _progress(len(pending), progress)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for r in done:
            try:
                results.append(ray.get(r))
            except Exception as exc:  # noqa: BLE001 - one bad shard must not lose the others
                results.append(ShardResult(refs[r], error=_one_line(exc)))
            bar.update(1)
    bar.close()
    return results


def _write_failed_bed(path: str, failed: list[ShardResult]) -> None:
    """The regions of failed shards as BED (0-based half-open) with the error, so they can be re-run."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for r in failed:
            fh.write(f"{r.shard.chrom}\t{r.shard.start0}\t{r.shard.end0}\t{r.error[:200]}\n")


def _call_summary(out_vcf: str, sample: str, model: str, shards: list[Shard], regs: list[Region],
                  results: list[ShardResult], records: list[CallRecord]) -> dict:
    stats = ReadStats()
    for r in results:
        stats.add(r.stats)
    by_filter: dict[str, int] = {}  # per filter name: a "LowQual;StrandBias" record counts under both
    for rec in records:
        for f in rec.filter.split(";"):
            by_filter[f] = by_filter.get(f, 0) + 1
    failed = [r for r in results if r.error is not None]
    return {
        "out": out_vcf, "sample": sample, "model": model, "shards": len(shards), "failed_shards": len(failed),
        "failures": [f"{r.shard}: {r.error}" for r in failed], "bp": sum(r.length for r in regs),
        "reads": stats.__dict__, "candidates": sum(r.candidates for r in results), "records": len(records),
        "by_filter": by_filter, "core_seconds": round(sum(r.seconds for r in results), 3),
    }


def _shard_task(bam, reference, shard, model, cfg, alias, profile):
    import torch  # only to pin one intra-op thread per task; importing it at module top slows every import of this module

    torch.set_num_threads(1)
    return call_shard(bam, reference, shard, model, cfg, alias, profile=profile)


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()[-1] if str(cause).strip() else ""
    if isinstance(cause, OSError):
        # htslib's read errors arrive as OSError with errno noise ("Closing failed: No such file")
        # (its errno text is noise: "Closing failed: No such file or directory" for a truncated block)
        return "htslib could not read the reads there (BAM truncated or corrupt, or its index stale?)"
    return f"{type(cause).__name__}: {text}"


def _bam_sample(af) -> str | None:
    rg = af.header.to_dict().get("RG") or []
    names = {g.get("SM") for g in rg if g.get("SM")}
    return names.pop() if len(names) == 1 else None


class _NoBar:
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def _progress(total: int, show: bool):
    if not show or total < 2:
        return _NoBar()
    return tqdm(total=total, unit="shard", desc="call", leave=False)


VCF_HEADER = [
    PASS_LINE,
    '##FILTER=<ID=RefCall,Description="Genotyping model thinks this site is reference (candidate kept for review)">',
    *(f'##FILTER=<ID={k},Description="{v}{{qual_note}}">' for k, v in FILTER_DESCRIPTIONS.items()),
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Conditional genotype quality (Phred)">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Informative read depth at the site">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Read depth for each allele">',
    '##FORMAT=<ID=VAF,Number=A,Type=Float,Description="Variant allele fraction (ALT / (REF + ALT) reads)">',
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled genotype likelihoods rounded to the closest integer">',
]


def vcf_header(contigs: dict[str, int], sample: str, reference: str, model: str, cfg: CallConfig) -> VcfHeader:
    """The VCF 4.2 header of a call set: date, source, reference, contigs, FILTER/FORMAT lines, one sample."""
    meta = ["##fileformat=VCFv4.2", VCF_HEADER[0], f"##fileDate={time.strftime('%Y%m%d')}",
            f"##source=raygen-{__version__} call --model {model}", f"##reference=file://{os.path.abspath(reference)}"]
    meta += [f"##contig=<ID={c},length={n}>" for c, n in contigs.items()]
    site = load_site_model(cfg.site_model) if model == "classical" else None
    if site is None:
        note = f" ({cfg.min_qual:g}; no site model)"
    elif cfg.site_min_qual is None:  # the veto reads the model's own P(real); QUAL is the calibrated one
        def th(m):
            rescue = f"{m.rescue_threshold:g} for a rescue" if m.rescue_threshold < float("inf") else "no rescue"
            return f"{m.threshold:g} for a classical call, {rescue}"

        low = f"; BAMs below {LOW_DEPTH:g}x median depth: {th(site.low)}" if site.low else ""
        note = f" (site model {cfg.site_model}: P(real) below {th(site)}{low}; QUAL is the calibrated P(real))"
    else:
        note = f" ({cfg.site_min_qual:.2f}; site model {cfg.site_model})"
    meta += [line.format(qual_note=note if "ID=LowQual" in line else "") for line in VCF_HEADER[1:]]
    return VcfHeader.from_lines([*meta, "#" + "\t".join([*FIXED_COLUMNS, "FORMAT", sample])])


def write_calls(path: str, records: list[CallRecord], contigs: dict[str, int], sample: str, reference: str,
                model: str, cfg: CallConfig) -> None:
    """Write ``records`` (sorted here: contig order of ``contigs``, then POS) as bgzipped VCF 4.2 + tabix index,
    atomically, through :func:`raygen.io.vcf.write_vcf`."""
    if not path.endswith(".vcf.gz"):
        raise InputError(f"output {path!r} must end in .vcf.gz (bgzipped + tabix-indexed)")
    header = vcf_header(contigs, sample, reference, model, cfg)
    models = [] if model == "classical" else [model_record(model)]
    write_vcf(header, calls_text_table(sort_records(records, contigs)), path,
              provenance=Provenance.for_run(models=models, reference=reference))


def vcf_text(records: list[CallRecord], contigs: dict[str, int], sample: str, reference: str, model: str,
             cfg: CallConfig) -> str:
    """``records`` as uncompressed VCF 4.2 text with the same header as :func:`write_calls` (for HTTP answers)."""
    header = vcf_header(contigs, sample, reference, model, cfg)
    table = calls_text_table(sort_records(records, contigs))
    return header.to_text() + format_lines(table, header).to_pybytes().decode("utf-8")


def shard_error_summary(summary: dict) -> None:
    """Raise :class:`RaygenError` listing failed shards (after the VCF of the finished ones was written)."""
    if summary["failed_shards"]:
        raise RaygenError(
            f"{summary['failed_shards']} of {summary['shards']} shards of {summary.get('bam', 'the BAM')} failed and "
            "were skipped (calls of the other "
            f"shards are in {summary['out']}; failed regions in {summary['out']}.failed_shards.bed): "
            + "; ".join(summary["failures"][:3])
        )

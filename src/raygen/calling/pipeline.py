"""Calling end to end: one shard as a plain function, many shards as Ray tasks, and the VCF writer.

``call_region`` is the pure entry point (used by ``raygen call`` per shard and by the HTTP service):
BAM + FASTA + region -> list of :class:`CallRecord`. ``call_bam`` cuts regions into shards with read
margins, runs one Ray task per shard, keeps finished shards when another fails (failed shards are
reported and written to ``OUT.failed_shards.bed``), and writes a bgzipped, tabix-indexed VCF atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import ray
from tqdm import tqdm

from raygen import __version__
from raygen.calling.candidates import ReadStats, find_candidates, load_pileup, open_bam, site_tables
from raygen.calling.errormodel import ErrorModel
from raygen.calling.profile import ErrorProfile, estimate_profile
from raygen.calling.records import CallRecord, calls_text_table
from raygen.calling.sitemodel import FILTER_DESCRIPTIONS, genotype_sites, load_site_model
from raygen.config import CallConfig
from raygen.errors import InputError, RaygenError
from raygen.io.atomic import atomic_path
from raygen.io.fasta import Reference
from raygen.io.header import FIXED_COLUMNS, VcfHeader
from raygen.io.vcf import format_lines, write_vcf
from raygen.normalize import normalize_allele
from raygen.regions import Region, Shard, check_contigs, make_shards, parse_region, read_regions, rename_map

log = logging.getLogger("raygen.calling")


@dataclass
class ShardResult:
    """What one shard produced."""

    shard: Shard
    records: list[CallRecord] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)
    candidates: int = 0
    seconds: float = 0.0
    error: str | None = None


def contig_map(bam_path: str, ref, rename: str | None) -> tuple[dict[str, int], dict[str, str]]:
    """Callable BAM contigs with lengths, and BAM name -> FASTA name (raises on a naming mismatch)."""
    af = open_bam(bam_path)
    try:
        bam_contigs = dict(zip(af.references, af.lengths))
    finally:
        af.close()
    ren = rename_map(rename, list(bam_contigs))
    shared = check_contigs(bam_contigs, ref.lengths, ren)
    return shared, {c: ren.get(c, c) for c in shared}


def call_shard(bam_path: str, ref_path: str, shard: Shard, model: str = "classical", cfg: CallConfig | None = None,
               contig_alias: str | None = None, _cache: dict | None = None,
               profile: ErrorProfile | None = None) -> ShardResult:
    """Call one shard: pileup -> candidates -> genotypes. Records carry the BAM's contig name.

    ``profile`` is the BAM's error profile (:func:`bam_profile`; None: the config's fixed error rates)."""
    cfg = cfg or CallConfig()
    t0 = time.perf_counter()
    res = ShardResult(shard)
    em = ErrorModel.build(cfg, profile)
    af = open_bam(bam_path)
    ref = Reference(ref_path)
    try:
        p = load_pileup(af, ref, shard, cfg, contig_alias)
        res.stats = p.stats
        t = shard_tables(p, shard, cfg, em)
        cands = find_candidates(p, t, shard, cfg)
        res.candidates = len(cands)
        if model == "classical":
            res.records = genotype_sites(p, t, cands, cfg, shard.chrom, em, load_site_model(cfg.site_model))
        else:
            from raygen.calling.cnn import genotype_cnn, load_caller  # imports torch: only for a trained model

            net = (_cache or {}).get(model) or load_caller(model)
            res.records = genotype_cnn(p, t, cands, cfg, shard.chrom, net, em)
        res.records = _normalized(res.records, ref, contig_alias or shard.chrom)
    finally:
        af.close()
        ref.close()
    res.seconds = time.perf_counter() - t0
    return res


def shard_tables(p, shard: Shard, cfg: CallConfig, em: ErrorModel):
    """Site tables over the shard's whole fetched span (``margin_bp`` each side): every read that covers a
    candidate of the shard (reads up to ``margin_bp`` long) lies inside, with complete counts at each of its
    positions, so the evidence features (per-read mismatch rates, nearby noisy sites, GC) do not depend on
    where the shard boundaries fall."""
    return site_tables(p, shard.fetch_start0, shard.fetch_end0, cfg, em.bq_error)


def bam_profile(bam: str, reference: str, regions: list[Region], cfg: CallConfig,
                alias: dict[str, str] | None = None) -> ErrorProfile | None:
    """The error profile a call uses: measured on ``bam`` over (up to ``cfg.profile_max_bp`` of) ``regions``,
    or None when ``cfg.self_profile`` is off or the regions hold too few reads to measure anything."""
    if not cfg.self_profile:
        return None
    try:
        return estimate_profile(bam, reference, regions, cfg=cfg, alias=alias)
    except (InputError, OSError):  # unreadable parts: the shards that read them report it, with their region
        return None


def _normalized(records: list[CallRecord], ref, fasta_chrom: str) -> list[CallRecord]:
    """Indel records through the shared normalizer (bcftools-norm exact; they are left-aligned already,
    so this is a guard that keeps `call` and `normalize` in agreement)."""
    out = []
    for r in records:
        if len(r.ref) != len(r.alt):
            pos, a, b = normalize_allele(fasta_chrom, r.pos, r.ref, r.alt, ref)
            if (pos, a, b) != (r.pos, r.ref, r.alt):
                r = dataclasses.replace(r, pos=pos, ref=a, alt=b)
        out.append(r)
    return out


def call_region(bam: str, reference: str, region: str, model: str = "classical", cfg: CallConfig | None = None,
                rename_contigs: str | None = None, models: dict | None = None) -> list[CallRecord]:
    """Calls in one region (``chr:start-end``, 1-based inclusive), no Ray: the function behind POST /v1/call.

    ``model`` is ``"classical"`` or a model directory from ``raygen train caller``; ``models`` maps such a
    directory to its loaded network (a long-lived caller loads it once). Records are in POS order and
    include RefCall/LowQual candidates; keep ``filter == "PASS"`` for the call set.
    """
    cfg = cfg or CallConfig()
    with Reference(reference) as ref:
        contigs, alias = contig_map(bam, ref, rename_contigs)
        r = parse_region(region, contigs)
    if r.chrom not in contigs:
        raise InputError(f"contig {r.chrom!r} is not in both the BAM and the reference")
    shard = Shard(r.chrom, r.start, r.end, cfg.margin_bp)
    prof = bam_profile(bam, reference, [r], cfg, alias)
    recs = call_shard(bam, reference, shard, model, cfg, alias[r.chrom], models, prof).records
    return sort_records(recs, {r.chrom: 0})


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
    regs = read_regions(regions, contigs)
    if not regs:
        raise InputError(f"no region to call: {regions!r} is empty or outside the BAM's contigs")
    shards = make_shards(regs, cfg.shard_bp, cfg.margin_bp)
    if model != "classical" and not Path(model, "caller.json").exists():
        raise InputError(f"--model {model!r}: not 'classical' and not a model directory from `raygen train caller` "
                         "(no caller.json inside)")
    af = open_bam(bam)
    sample = sample or _bam_sample(af) or "SAMPLE"
    af.close()
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
    '##FILTER=<ID=PASS,Description="All filters passed">',
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
    note = f" ({cfg.min_qual:g}; no site model)" if site is None else \
        f" ({site.min_qual if cfg.site_min_qual is None else cfg.site_min_qual:.2f}; site model {cfg.site_model})"
    meta += [line.format(qual_note=note if "ID=LowQual" in line else "") for line in VCF_HEADER[1:]]
    return VcfHeader.from_lines([*meta, "#" + "\t".join([*FIXED_COLUMNS, "FORMAT", sample])])


def sort_records(records: list[CallRecord], contigs: dict[str, int]) -> list[CallRecord]:
    """Records in VCF order: contig order of ``contigs``, then POS, then alleles."""
    order = {c: i for i, c in enumerate(contigs)}
    return sorted(records, key=lambda r: (order[r.chrom], r.pos, len(r.ref), r.ref, r.alt))


def write_calls(path: str, records: list[CallRecord], contigs: dict[str, int], sample: str, reference: str,
                model: str, cfg: CallConfig) -> None:
    """Write ``records`` (sorted here: contig order of ``contigs``, then POS) as bgzipped VCF 4.2 + tabix index,
    atomically, through :func:`raygen.io.vcf.write_vcf`."""
    if not path.endswith(".vcf.gz"):
        raise InputError(f"output {path!r} must end in .vcf.gz (bgzipped + tabix-indexed)")
    header = vcf_header(contigs, sample, reference, model, cfg)
    write_vcf(header, calls_text_table(sort_records(records, contigs)), path)


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

"""One shard of a call, no Ray: pileup -> candidates -> genotypes -> normalized records.

The function behind each Ray task of :func:`raygen.calling.pipeline.call_bam`, behind ``POST /v1/call``
(:func:`call_region`) and behind the site-model fit (``raygen.calling.sitefit``). Positions are 1-based
(VCF POS); shards are 0-based half-open (:class:`raygen.regions.Shard`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

from raygen.calling.candidates import ReadStats, find_candidates, load_pileup, open_bam, site_tables
from raygen.calling.errormodel import ErrorModel
from raygen.calling.memory import reuse_freed_memory
from raygen.calling.profile import ErrorProfile, estimate_profile
from raygen.calling.records import CallRecord
from raygen.calling.sitemodel import genotype_sites, load_site_model
from raygen.config import CallConfig
from raygen.errors import InputError
from raygen.io.fasta import Reference
from raygen.normalize import normalize_allele
from raygen.regions import Region, Shard, check_contigs, parse_region, rename_map

log = logging.getLogger(__name__)


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
    af = open_bam(bam_path, ref.path)
    try:
        bam_contigs = dict(zip(af.references, af.lengths))
    finally:
        af.close()
    ren = rename_map(rename, list(bam_contigs))
    try:
        shared = check_contigs(bam_contigs, ref.lengths, ren)
    except InputError as exc:  # name the BAM: a wrong reference is the user's to find
        raise InputError(f"{bam_path}: {exc}") from None
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
    with reuse_freed_memory():  # the shard's big arrays reuse each other's pages (raygen.calling.memory)
        af = open_bam(bam_path, ref_path)
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
            res.records = normalized_calls(res.records, ref, contig_alias or shard.chrom)
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
        with reuse_freed_memory():
            return estimate_profile(bam, reference, regions, cfg=cfg, alias=alias)
    except (InputError, OSError) as exc:  # unreadable parts: the shards that read them report it, with their region
        log.warning("no error profile measured (%s): calling with the fixed default error rates", exc)
        return None


def normalized_calls(records: list[CallRecord], ref, fasta_chrom: str) -> list[CallRecord]:
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


def sort_records(records: list[CallRecord], contigs: dict[str, int]) -> list[CallRecord]:
    """Records in VCF order: contig order of ``contigs``, then POS, then alleles."""
    order = {c: i for i, c in enumerate(contigs)}
    return sorted(records, key=lambda r: (order[r.chrom], r.pos, len(r.ref), r.ref, r.alt))

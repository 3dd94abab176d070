"""Classical Bayesian genotyper: diploid genotype likelihoods from a base-quality error model.

SNVs: each read's base has error probability e = 1 - (1 - 10^(-BQ/10))(1 - 10^(-MAPQ/10)); an error
turns into each other base with probability e/3. P(base | a1/a2) = (P(base | a1) + P(base | a2)) / 2, and
the per-position sums of log(1 - e), log(e/3) and log((1 - e)/2 + e/6) computed once per shard
(:func:`raygen.calling.candidates.site_tables`) give every genotype's log-likelihood without per-read
Python. Indels: each informative read supports REF or ALT with error rate eps that grows with the length
of the repeat tract the indel lies in (polymerase slippage). The error rates come from an
:class:`raygen.calling.errormodel.ErrorModel`: the BAM's own profile (calibrated base errors per read cycle and
reported quality, indel errors per homopolymer length and STR span, the artifact-site prior, the het
allele-count dispersion) or the config's fixed defaults. Priors are heterozygosity rates; QUAL here is the
posterior of hom-ref in Phred, which :mod:`raygen.calling.sitemodel` then recalibrates with the evidence
features.
"""

from __future__ import annotations

import bisect
import dataclasses

import numpy as np

from raygen.calling import realign
from raygen.calling.candidates import Candidate, Pileup, SiteTables
from raygen.calling.errormodel import ErrorModel
from raygen.calling.realign import assign_site, recount_snv, snv_loglik
from raygen.calling.records import CallRecord, phred_from_log_post, pl_from_loglik, ref_phred
from raygen.calling.repeats import repeat_span
from raygen.calling.vafmix import het_dispersion_penalty
from raygen.config import CallConfig


#: A neighbouring indel shortens a re-scoring window's flank (:func:`raygen.calling.realign.assign_site`) only
#: when the aligner put it in this fraction of the reads or more (a het's half, less sampling): in a messy
#: STR an aligner splits one insertion into several minority fragments, and trusting those as neighbours
#: shrinks every fragment's window until each looks supported.
NEIGHBOUR_MIN_VAF = 0.3


def indel_tract(p: Pileup, c: Candidate) -> tuple[int, int]:
    """(homopolymer length, STR span; 0: none) of the tract indel ``c`` lies in."""
    unit = c.ref[1:] if len(c.ref) > len(c.alt) else c.alt[1:]
    i = c.pos0 + 1 - p.ref_start0
    span = repeat_span(p.ref_seq, i, unit)
    hp = repeat_span(p.ref_seq, i, p.ref_seq[i]) if i < len(p.ref_seq) else 0
    if len(unit) > 1 and len(set(unit)) == 1:
        hp = max(hp, span)  # a multi-base unit of one base ("TT") is a homopolymer
    str_span = span if len(set(unit)) > 1 and span >= 2 * len(unit) else 0
    return max(hp, 1), str_span


def indel_error(p: Pileup, c: Candidate, cfg: CallConfig, em: ErrorModel) -> float:
    """Per-read indel error rate at ``c`` from the homopolymer / tandem-repeat tract it lies in."""
    return em.indel_error(*indel_tract(p, c), cfg)


def candidate_loglik(p: Pileup, t: SiteTables, c: Candidate, cfg: CallConfig, em: ErrorModel) -> np.ndarray:
    """Natural-log likelihoods of the reads under 0/0, 0/1, 1/1 for one candidate."""
    if c.is_indel:
        eps = indel_error(p, c, cfg, em)
        r, a = c.ref_count, c.alt_count
        return np.array([
            a * np.log(eps) + r * np.log1p(-eps),
            (r + a) * np.log(0.5),
            r * np.log(eps) + a * np.log1p(-eps),
        ])
    i = c.pos0 - t.start0
    ri, ai = "ACGT".index(c.ref), "ACGT".index(c.alt)
    mis = t.log_mis[i, :4]
    tot_mis = mis.sum()
    ll00 = t.log_match[i, ri] + tot_mis - mis[ri]
    ll11 = t.log_match[i, ai] + tot_mis - mis[ai]
    ll01 = t.log_half[i, ri] + t.log_half[i, ai] + tot_mis - mis[ri] - mis[ai]
    return np.array([ll00, ll01, ll11])


def with_artifacts(ll: np.ndarray, c: Candidate, em: ErrorModel) -> np.ndarray:
    """Mix a systematic-artifact model into the homozygous likelihoods, and over-dispersion into the het one.

    Base qualities do not describe systematic errors (paralogous reads, sequence-specific errors): a
    hom-ref site can show a few alt reads at once. With weight ``artifact_weight`` the alt reads of a
    hom-ref site (or the ref reads of a hom-alt site) are drawn at rate ``artifact_fraction`` instead,
    so a 4-in-32 allele is not a confident het while a 13-in-44 allele still is. Both numbers, and the het
    allele-count concentration, are the BAM's own (:mod:`raygen.calling.vafmix`) when it was profiled.
    """
    w, f = em.artifact_weight, em.artifact_fraction
    r, a = c.ref_count, c.alt_count
    # Reads showing neither allele cost the same under every model: carry their term over.
    other = ll[1] - (r + a) * np.log(0.5) if not c.is_indel else 0.0
    other = min(other, 0.0)
    sys00 = np.log(w) + a * np.log(f) + r * np.log1p(-f) + other
    sys11 = np.log(w) + r * np.log(f) + a * np.log1p(-f) + other
    out = ll.copy()
    out[0] = np.logaddexp(np.log1p(-w) + ll[0], sys00)
    out[2] = np.logaddexp(np.log1p(-w) + ll[2], sys11)
    out[1] += het_dispersion_penalty(r, a, em.het_concentration)
    return out


def log_prior(c: Candidate, cfg: CallConfig, p: Pileup | None = None, em: ErrorModel | None = None) -> np.ndarray:
    """Natural-log genotype priors (0/0, 0/1, 1/1): SNVs the config's; indels the BAM's repeat-dependent rate
    for the tract (:meth:`ErrorModel.indel_prior`; with ``p`` and ``em``), else the config's."""
    if not c.is_indel:
        het, hom = cfg.snv_het_prior, cfg.snv_hom_prior
    elif p is not None and em is not None:
        het, hom = em.indel_prior(*indel_tract(p, c), cfg)
    else:
        het, hom = cfg.indel_het_prior, cfg.indel_hom_prior
    return np.log([1.0 - het - hom, het, hom])


def make_record(chrom: str, c: Candidate, loglik: np.ndarray, log_post: np.ndarray, cfg: CallConfig) -> CallRecord:
    """A :class:`CallRecord` from per-genotype log-likelihoods and log-posteriors (both natural log)."""
    best, qual, gq = phred_from_log_post(log_post, cfg.max_gq)
    gt = ((0, 0), (0, 1), (1, 1))[best]
    filt = "RefCall" if best == 0 else ("LowQual" if qual < cfg.min_qual else "PASS")
    inf = c.ref_count + c.alt_count
    vaf = round(c.alt_count / inf, 4) if inf else 0.0
    return CallRecord(chrom, c.pos0 + 1, c.ref, c.alt, gt, gq, pl_from_loglik(loglik), c.depth,
                      (c.ref_count, c.alt_count), vaf, qual, filt)


def refine(p: Pileup, t: SiteTables, cands: list[Candidate], cfg: CallConfig, em: ErrorModel
           ) -> tuple[list[Candidate], list[np.ndarray], list]:
    """Candidates with read support re-counted by haplotype re-scoring near indels, their log-likelihoods, and
    per candidate the (ALT reads, REF reads) index arrays of an indel's re-scoring (None for SNVs).

    Indel alleles sharing an anchor are scored together (:func:`raygen.calling.realign.assign_site`); SNVs
    inside the window of an indel that passes its own test (its re-scored genotype is not hom-ref,
    :func:`_indel_called`) are re-counted through the reads' haplotypes. An indel *error* candidate (2 ALT
    reads of 28 in a homopolymer) does not: its haplotypes leave most reads uninformative (AD 10/2 for an SNV
    2 bp away, 20/8 in the pileup), and the reads' alignment is the better evidence there.
    """
    by_anchor: dict[int, list[Candidate]] = {}
    for c in cands:
        if c.is_indel:
            by_anchor.setdefault(c.pos0, []).append(c)
    sites = []
    new: dict[int, tuple[Candidate, np.ndarray, object]] = {}
    anchors = sorted(by_anchor)
    for a0, group in by_anchor.items():
        near = anchors[max(0, bisect.bisect_left(anchors, a0 - 2 * realign.FLANK)):
                       bisect.bisect_right(anchors, a0 + 2 * realign.FLANK + 100)]
        neighbours = [(c.pos0, c.ref, c.alt) for b in near if b != a0 for c in by_anchor[b]
                      if c.alt_count >= max(cfg.min_alt_count, NEIGHBOUR_MIN_VAF * c.depth)]
        a = assign_site(p, a0, [(c.ref, c.alt) for c in group], neighbours)
        n_ref = int((a.hap == 0).sum())
        informative = int((a.hap >= 0).sum())
        ref_reads = a.reads[a.hap == 0]
        best_alt = 0
        for j, c in enumerate(group, start=1):
            n_alt = int((a.hap == j).sum())
            c2 = Candidate(c.pos0, c.ref, c.alt, max(informative, c.depth), n_ref, n_alt, c.alt_reverse)
            ll = candidate_loglik(p, t, c2, cfg, em)
            new[id(c)] = (c2, ll, (a.reads[a.hap == j], ref_reads))
            if n_alt >= cfg.min_alt_count and _indel_called(p, c2, ll, cfg, em):
                best_alt = max(best_alt, n_alt)
        if best_alt:
            sites.append((a, best_alt))
    site_lo = np.array([a.start0 for a, _ in sites], np.int64)
    site_hi = site_lo + np.array([len(a.haps[0]) for a, _ in sites], np.int64)
    for c in cands:
        if c.is_indel or not sites:
            continue
        hit = np.flatnonzero((site_lo <= c.pos0) & (c.pos0 < site_hi))  # the indel windows holding the SNV
        if not len(hit):
            continue
        inside = [(sites[j][1], sites[j][0]) for j in hit.tolist()]
        _, a = max(inside, key=lambda x: x[0])
        c2, bs, es = recount_snv(p, a, c)
        new[id(c)] = (c2, snv_loglik(bs, es, "ACGT".index(c.ref), "ACGT".index(c.alt)), None)
    out_c, out_ll, out_s = [], [], []
    for c in cands:
        c2, ll, sup = new[id(c)] if id(c) in new else (c, candidate_loglik(p, t, c, cfg, em), None)
        out_c.append(c2)
        out_ll.append(ll)
        out_s.append(sup)
    return out_c, out_ll, out_s


def _indel_called(p: Pileup, c: Candidate, ll: np.ndarray, cfg: CallConfig, em: ErrorModel) -> bool:
    """Whether re-scored indel ``c`` (log-likelihoods ``ll``) is called: its posterior genotype, artifact
    model and tract prior included, is not hom-ref."""
    return int(np.argmax(with_artifacts(ll, c, em) + log_prior(c, cfg, p, em))) != 0


def _genotype(p: Pileup, t: SiteTables, cands: list[Candidate], cfg: CallConfig, chrom: str, em: ErrorModel,
              plain: bool = False):
    """:func:`genotype_classical`'s outputs plus the log-posteriors with (``post``) and, if ``plain``, without
    the artifact model (else None)."""
    cands, raw, sups = refine(p, t, cands, cfg, em)
    lls = [with_artifacts(ll, c, em) for c, ll in zip(cands, raw)]
    prior = [log_prior(c, cfg, p, em) for c in cands]
    post = [ll + lp for ll, lp in zip(lls, prior)]
    out = fix_multiallelic(p, t, cands, [make_record(chrom, c, ll, lp, cfg) for c, ll, lp in zip(cands, lls, post)],
                           cfg, em)
    return cands, out, sups, lls, post, [ll + lp for ll, lp in zip(raw, prior)] if plain else None


def genotype_classical(p: Pileup, t: SiteTables, cands: list[Candidate], cfg: CallConfig, chrom: str,
                       em: ErrorModel | None = None) -> tuple[list[Candidate], list[CallRecord], list, list]:
    """Genotype every candidate with the Bayesian model: the re-scored candidates, one record per candidate
    (incl. RefCall; QUAL is the model's own, before :mod:`raygen.calling.sitemodel`), the read supports and the
    genotype log-likelihoods (natural log, 0/0 0/1 1/1, artifact model included)."""
    cands, out, sups, lls, _, _ = _genotype(p, t, cands, cfg, chrom, em or ErrorModel.build(cfg))
    return cands, out, sups, lls


def genotype_open(p: Pileup, t: SiteTables, cands: list[Candidate], cfg: CallConfig, chrom: str, em: ErrorModel
                  ) -> tuple[list[Candidate], list[CallRecord], list, list, np.ndarray]:
    """:func:`genotype_classical` with the records a site model judges (:func:`open_records`), plus per record
    the plain model's QUAL (-10 log10 P(0/0) without the artifact model: the site model's ``lod_plain``)."""
    cands, out, sups, lls, post, plain = _genotype(p, t, cands, cfg, chrom, em, plain=True)
    return cands, open_records(out, post, plain, cfg), sups, lls, np.array([ref_phred(x) for x in plain])


#: FILTER of an opened record the classical model did not call (:func:`open_records`); never written out.
RESCUE = "Rescue"


def open_records(recs: list[CallRecord], log_post: list[np.ndarray], plain_post: list[np.ndarray],
                 cfg: CallConfig) -> list[CallRecord]:
    """The classical records as a site model's candidates: the classical PASS calls stay PASS (the site model
    may veto them); a record the classical model did not call (RefCall, or LowQual below ``cfg.min_qual``)
    whose genotype is non-ref under the plain posterior (``plain_post``: base and indel errors alone, bcftools'
    view) or the classical one (``log_post``) becomes :data:`RESCUE` (the site model may call it, at its own
    rescue threshold). QUAL is the classical -10 log10 P(0/0) for every record, RefCall or not (the site
    model's ``lod``).

    Why: at 2-4 ALT reads (10x) or 25-30% allele fractions the artifact model, whose prior is about a het's,
    calls some true hets hom-ref that bcftools calls; every one is recall below bcftools'. The site model sees
    strand, MAPQ, mismatch and context evidence the artifact model does not."""
    out = []
    for r, lp, pp in zip(recs, log_post, plain_post):
        gt, gq, filt = r.gt, r.gq, r.filter
        if gt == (0, 0):
            best, _, gq = phred_from_log_post(pp, cfg.max_gq)
            gt = ((0, 0), (0, 1), (1, 1))[best]
        if filt != "PASS":
            filt = "RefCall" if gt == (0, 0) else RESCUE
        out.append(dataclasses.replace(r, gt=gt, gq=gq, qual=ref_phred(lp), filter=filt))
    return out


def _pairs(k: int) -> list[tuple[int, int]]:
    return [(x, y) for x in range(k) for y in range(x, k)]


def fix_multiallelic(p: Pileup, t: SiteTables, cands: list[Candidate], recs: list[CallRecord], cfg: CallConfig,
                     em: ErrorModel) -> list[CallRecord]:
    """Genotype sites with two ALT candidates jointly; where ALT1/ALT2 wins, both records become het.

    Biallelic genotyping of each ALT alone reads a 1/2 site as two hom-alts (no REF reads). The joint
    model scores all diploid genotypes over {REF, ALT1, ALT2} (the two best-supported ALTs).
    """
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, (c, r) in enumerate(zip(cands, recs)):
        if r.gt != (0, 0):
            groups.setdefault((c.pos0, c.is_indel), []).append(i)
    for (pos0, is_indel), idx in groups.items():
        if len(idx) < 2:
            continue
        idx = sorted(idx, key=lambda i: -cands[i].alt_count)[:2]
        pairs = _pairs(3)
        if is_indel:
            eps = max(indel_error(p, cands[i], cfg, em) for i in idx)
            n = np.array([cands[idx[0]].ref_count, cands[idx[0]].alt_count, cands[idx[1]].alt_count], dtype=np.float64)
            ll = []
            for x, y in pairs:
                ph = [0.5 * ((1 - eps) if h == x else eps / 2) + 0.5 * ((1 - eps) if h == y else eps / 2) for h in range(3)]
                ll.append(float((n * np.log(ph)).sum()))
        else:
            i0 = pos0 - t.start0
            codes = ["ACGT".index(cands[idx[0]].ref)] + ["ACGT".index(cands[i].alt) for i in idx]
            ll = []
            for x, y in pairs:
                tot = 0.0
                for b in range(4):
                    if x == y:
                        tot += t.log_match[i0, b] if b == codes[x] else t.log_mis[i0, b]
                    else:
                        tot += t.log_half[i0, b] if b in (codes[x], codes[y]) else t.log_mis[i0, b]
                ll.append(tot)
        best = pairs[int(np.argmax(ll))]
        if best == (1, 2):
            for i in idx:
                recs[i] = dataclasses.replace(recs[i], gt=(0, 1))
    return recs


def low_vaf_sites(t: SiteTables, cfg: CallConfig) -> np.ndarray:
    """Positions (0-based) whose best non-reference base sits at a het-implausible fraction (paralog signal)."""
    c = t.counts[:, :4]
    depth = c.sum(axis=1)
    top2 = np.sort(c, axis=1)[:, -2]  # second most frequent base: the alt at a ref-majority site
    frac = np.divide(top2, depth, out=np.zeros(len(c)), where=depth > 0)
    hit = (depth >= 10) & (top2 >= 3) & (frac >= 0.1) & (frac < cfg.cluster_max_vaf)
    return np.nonzero(hit)[0] + t.start0


def cluster_filter(t: SiteTables, cands: list[Candidate], recs: list[CallRecord], cfg: CallConfig) -> list[CallRecord]:
    """LowQual for low-VAF het SNVs in a cluster of low-VAF sites (mis-mapped reads from a paralog): the
    classical path's stand-in for the site model's Paralog evidence.

    Like GATK's SnpCluster: ``cluster_min_sites`` or more such sites within ``cluster_window`` bp. The
    site tables span the shard plus margins, so the verdict does not depend on shard boundaries.
    """
    eligible = [not c.is_indel and r.vaf < cfg.cluster_max_vaf for c, r in zip(cands, recs)]
    return _relabel_in_clusters(cands, recs, eligible, low_vaf_sites(t, cfg), cfg.cluster_window,
                                cfg.cluster_min_sites, "LowQual")


def _relabel_in_clusters(cands: list[Candidate], recs: list[CallRecord], eligible: list[bool], sites: np.ndarray,
                         window: int, min_sites: int, label: str) -> list[CallRecord]:
    """PASS het calls of ``eligible`` candidates with at least ``min_sites`` of the sorted 0-based ``sites``
    within ``window`` bp each side (their own included) get FILTER ``label``; the others are kept as they are."""
    if len(sites) < min_sites:
        return recs
    out = []
    for c, r, ok in zip(cands, recs, eligible):
        if ok and r.filter == "PASS" and r.gt == (0, 1):
            lo = np.searchsorted(sites, c.pos0 - window)
            hi = np.searchsorted(sites, c.pos0 + window, side="right")
            if hi - lo >= min_sites:
                r = dataclasses.replace(r, filter=label)
        out.append(r)
    return out


def _near_clusters(pos0: np.ndarray, window: int, min_sites: int) -> np.ndarray:
    """Which of the sorted-or-not SNV positions ``pos0`` lie within ``window`` bp of a position that has at
    least ``min_sites`` of them (itself included) within ``window`` bp each side: the only SNVs that can count
    towards, or be, a cluster of :func:`paralog_filter`."""
    s = np.sort(pos0)
    counts = np.searchsorted(s, s + window, side="right") - np.searchsorted(s, s - window)
    centres = s[counts >= min_sites]
    if len(centres) == 0:
        return np.zeros(len(pos0), dtype=bool)
    return (np.searchsorted(centres, pos0 + window, side="right") - np.searchsorted(centres, pos0 - window)) > 0


def snv_alt_mapq(p: Pileup, cands: list[Candidate], clusters: tuple[int, int] | None = None,
                 allele: str = "alt") -> np.ndarray:
    """Per candidate, the mean MAPQ of the reads whose base at an SNV's position is its ALT base (``allele``
    ``"ref"``: its REF base; NaN for indels and for SNVs without such a read). Vectorized over the pileup's
    entries: no per-read Python.

    ``clusters`` ``(window, min_sites)``: only the SNVs :func:`_near_clusters` keeps get a value (the others
    NaN). Why: one pass over every entry of a 30x shard cost the caller ~25% more CPU, and at ~1 SNV
    candidate per kb almost none is near a cluster."""
    out = np.full(len(cands), np.nan)
    idx = [i for i, c in enumerate(cands) if not c.is_indel and len(c.alt) == 1 and c.alt in "ACGT"]
    if clusters is not None and idx:
        near = _near_clusters(np.array([cands[i].pos0 for i in idx], dtype=np.int64), *clusters)
        idx = [i for i, k in zip(idx, near) if k]
    if not idx or len(p.pos) == 0:
        return out
    base = [(cands[i].alt if allele == "alt" else cands[i].ref[0]) for i in idx]
    keep = [k for k, b in enumerate(base) if b in "ACGT"]
    idx, base = [idx[k] for k in keep], [base[k] for k in keep]
    if not idx:
        return out
    keys = np.array([cands[i].pos0 * 4 + "ACGT".index(b) for i, b in zip(idx, base)], dtype=np.int64)
    sk, inverse = np.unique(keys, return_inverse=True)  # REF keys repeat: several ALTs at one position
    lo, hi = int(sk[0] // 4), int(sk[-1] // 4)
    wanted = np.zeros(hi - lo + 1, dtype=bool)
    wanted[sk // 4 - lo] = True
    # Positions outside [lo, hi] are clipped onto a False pad each side: one pass, no compaction.
    at = p.pos - (lo - 1)
    np.clip(at, 0, hi - lo + 2, out=at)
    ok = np.concatenate(([False], wanted, [False]))[at]
    del at
    ok &= p.base < 4
    ek = p.pos[ok].astype(np.int64) * 4 + p.base[ok].astype(np.int64)
    j = np.searchsorted(sk, ek).clip(0, len(sk) - 1)
    hit = sk[j] == ek
    mq = p.read_mapq[p.read[ok][hit]].astype(np.float64)
    n = np.bincount(j[hit], minlength=len(sk))
    tot = np.bincount(j[hit], weights=mq, minlength=len(sk))
    mean = np.where(n > 0, tot / np.maximum(n, 1), np.nan)
    out[np.asarray(idx)] = mean[inverse]
    return out


def paralog_filter(cands: list[Candidate], recs: list[CallRecord], alt_mq: np.ndarray, ref_mq: np.ndarray,
                   cfg: CallConfig) -> list[CallRecord]:
    """``LowQual;LowMQ;Paralog`` for het SNV calls in a cluster of low-MAPQ SNV sites (a segmental
    duplication's paralogous sequence variants: every read there mapped below ``paralog_max_mapq``, at any
    allele fraction, so :func:`cluster_filter`'s low-VAF test misses them).

    A call is filtered when its ALT reads' mean MAPQ (``alt_mq``, per candidate) and its REF reads' (``ref_mq``;
    NaN, no REF read: counts as low) are below ``cfg.paralog_max_mapq`` and at least ``cfg.paralog_min_sites``
    SNV candidates (itself included) within ``cfg.cluster_window`` bp each side are such sites too. True hets are
    ~1 per kb, so 3 within 61 bp with low-MAPQ reads are mostly PSVs. Why the REF reads: in a duplication both
    copies' reads map ambiguously, while a true haplotype that resembles a paralog lowers its ALT reads' MAPQ
    alone (NA12878 chr20:10,099,044-079, four true hets with ALT reads at MAPQ 29 and REF reads at 60, which a
    mean ALT MAPQ just below 30 filtered at 13-30x). Candidates come from the shard plus margins, so the verdict
    does not depend on shard boundaries. Thresholds: set from the simulator's low-MAPQ mode (29) and
    SnpCluster's window, checked on simulated development seeds 171, 161 only (docs/call.md)."""
    if cfg.paralog_min_sites <= 0:
        return recs
    low = [not c.is_indel and a < cfg.paralog_max_mapq and b < cfg.paralog_max_mapq
           for c, a, b in zip(cands, np.nan_to_num(alt_mq, nan=99.0), np.nan_to_num(ref_mq, nan=0.0))]
    sites = np.sort(np.array([c.pos0 for c, lo in zip(cands, low) if lo], dtype=np.int64))
    return _relabel_in_clusters(cands, recs, low, sites, cfg.cluster_window, cfg.paralog_min_sites,
                                "LowQual;LowMQ;Paralog")

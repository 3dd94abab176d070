"""Per-candidate evidence features: what tells a real allele from the ways short reads lie.

Computed once per shard from the flat pileup arrays (no per-base Python), one row per candidate, columns in
:data:`FEATURES` order. Real data make false calls where reads are mis-mapped (a paralog's reads carry the
allele plus other mismatches, lower MAPQ, soft clips, extra depth), where one strand or the read ends carry the
allele alone, and in low-complexity sequence. Those are the columns:

- ``lod``: the classical genotyper's -log10 P(0/0) / 2 (QUAL / 20, capped at 10; a RefCall's too, see
  :func:`raygen.calling.classical.open_records`); ``lod_plain``: the same without the artifact model (base and
  indel errors alone, bcftools' view, which calls a het on 2 ALT reads of 10); ``het``: 1 for a het
  genotype; ``vaf`` and ``vaf_dev`` (distance from 0.5 for a het, from 1 for a hom-alt); ``log_depth``;
- ``depth_ratio``: log2 of the site depth (all MAPQs) over the BAM's median depth; ``lowmq_frac``: share of the
  reads below the MAPQ threshold; ``mq_alt``: mean MAPQ / 60 of ALT reads; ``mq_diff``: REF minus ALT mean;
- ``strand_alt``: minor-strand share of the ALT reads (0 = one strand only); ``sor``: |log odds ratio| of
  strand vs allele (GATK's StrandOddsRatio idea, with pseudo-counts);
- ``strand_p``: the Phred of the two-sided binomial P of an ALT strand split this uneven were the ALT reads'
  strands fair coins, / 10 (8 ALT reads on one strand: 2.1; 2 ALT reads on one strand: 0.3, no power);
- ``noise_alt`` / ``noise_diff``: low-fraction mismatches per 100 aligned bases of ALT reads (this site
  excluded), and ALT minus REF: clustered mismatches of a paralog; ``clip_alt`` / ``clip_diff``: share of
  soft-clipped ALT reads, and ALT minus REF; ``readpos_alt``: mean distance of the allele from the nearer read
  end / read length;
- ``density``: other noisy sites within 50 bp; ``hp_len``: homopolymer length at the site; ``str_span``: the
  STR span over it (bp / 10); ``complexity``: distinct 3-mers in the 21 bp around it / 19; ``gc``: GC of 101 bp;
  ``indel_dist``: distance to the nearest indel candidate (bp / 50, capped at 1);
- ``is_indel``, ``indel_len`` (|length change| / 10).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from raygen.calling.candidates import Candidate, Pileup, SiteTables
from raygen.calling.records import CallRecord
from raygen.calling.repeats import repeat_context
from raygen.config import CallConfig

FEATURES = ("lod", "lod_plain", "het", "vaf", "vaf_dev", "log_depth", "depth_ratio", "lowmq_frac", "mq_alt",
            "mq_diff", "strand_alt", "sor", "strand_p", "noise_alt", "noise_diff", "clip_alt", "clip_diff",
            "readpos_alt", "density",
            "hp_len", "str_span", "complexity", "gc", "indel_dist", "is_indel", "indel_len")
N_EVIDENCE = len(FEATURES)
NOISE_FRACTION = 0.25  # a mismatch whose base is below this share of the site's reads is noise, not an allele
DENSITY_BP = 50


def read_entries(p: Pileup, reads: np.ndarray) -> np.ndarray:
    """Pileup entry indices of ``reads`` (sorted read indices), in entry order: entries are grouped by read."""
    cnt = np.diff(p.read_offset)[reads]
    first = np.cumsum(cnt) - cnt
    return np.repeat(p.read_offset[reads] - first, cnt) + np.arange(int(cnt.sum()), dtype=np.int64)


def reads_near(p: Pileup, cands: list[Candidate], supports: list, flank: int) -> np.ndarray:
    """Sorted indices of the reads that overlap a candidate (its REF span widened by ``flank`` bp each side),
    plus every read of ``supports`` (per candidate: read-index arrays, or None) and of each indel candidate
    without supports: the only reads whose statistics the features read."""
    lo = np.array([c.pos0 - flank for c in cands], np.int64)
    hi = np.array([c.pos0 + len(c.ref) + flank for c in cands], np.int64)
    order = np.argsort(lo)
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    k = np.searchsorted(lo, p.read_end, side="left") - 1  # the last candidate starting before the read ends
    near = (k >= 0) & (hi[np.maximum(k, 0)] > p.read_start)
    for c, sup in zip(cands, supports):
        if sup is None and c.is_indel:
            # A left-aligned indel's anchor can lie before its reads' starts: name its CIGAR reads explicitly.
            sup = (p.indel_reads.get((c.pos0, c.ref, c.alt), ()),)
        for part in sup or ():
            near[np.asarray(part, np.int64)] = True
    return np.flatnonzero(near)


def read_noise(p: Pileup, t: SiteTables, cfg: CallConfig, reads: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per read: noise mismatches and aligned bases counted inside the site tables' span. ``reads``: only
    these (sorted indices) are counted, the others get zeros (None: all reads)."""
    R = len(p.read_start)
    lo, n = t.start0, len(t.counts)
    ent = read_entries(p, reads) if reads is not None else np.arange(len(p.pos), dtype=np.int64)
    pos, base = p.pos[ent], p.base[ent]  # gathered once: ``ent`` is most of a shard's entries
    keep = (pos >= lo) & (pos < lo + n) & (base < 4) & (p.qual[ent] >= cfg.min_base_quality)
    sel, i, b = ent[keep], pos[keep] - lo, base[keep].astype(np.int64)
    del pos, base
    depth = np.maximum(t.counts[:, :4].sum(axis=1), 1)
    noise = (b != p.ref_codes[i + (lo - p.ref_start0)]) & (t.counts[i, b] < NOISE_FRACTION * depth[i])
    rd = p.read[sel]
    return np.bincount(rd, weights=noise, minlength=R), np.bincount(rd, minlength=R).astype(np.float64)


def _group_means(keys: np.ndarray, n: int, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    cnt = np.bincount(keys, minlength=n).astype(np.float64)
    out = {"n": cnt}
    for k, v in values.items():
        out[k] = np.bincount(keys, weights=v, minlength=n) / np.maximum(cnt, 1.0)
    return out


def _read_stats(p: Pileup, reads: np.ndarray, noise_rate: np.ndarray) -> dict[str, float]:
    """Means over ``reads`` of MAPQ, reverse strand, noise rate, soft-clip presence (empty: zeros)."""
    if len(reads) == 0:
        return {"n": 0.0, "mq": 0.0, "rev": 0.0, "noise": 0.0, "clip": 0.0}
    return {"n": float(len(reads)), "mq": float(p.read_mapq[reads].mean()), "rev": float(p.read_reverse[reads].mean()),
            "noise": float(noise_rate[reads].mean()), "clip": float((p.read_clip[reads].sum(axis=1) > 0).mean())}


def allele_read_stats(p: Pileup, t: SiteTables, cands: list[Candidate], supports: list, cfg: CallConfig
                      ) -> dict[str, np.ndarray]:
    """Per candidate, ALT- and REF-read means: ``{alt_n, alt_mq, alt_rev, alt_noise, alt_clip, alt_pos, ref_...}``.

    SNVs read the entries at their position; indels the read sets of ``supports[i]`` = (alt, ref) read
    indices from haplotype re-scoring (None: the CIGAR's reads)."""
    nm, aligned = read_noise(p, t, cfg, reads_near(p, cands, supports, 1))
    noise_rate = 100.0 * nm / np.maximum(aligned, 1.0)
    N = len(cands)
    out = {f"{s}_{k}": np.zeros(N) for s in ("alt", "ref") for k in ("n", "mq", "rev", "noise", "clip", "pos")}
    snv = [i for i, c in enumerate(cands) if not c.is_indel]
    if snv:
        _snv_read_stats(p, t, cands, snv, noise_rate, 100.0 / np.maximum(aligned, 1.0), cfg, out)
    for i, c in enumerate(cands):
        if c.is_indel:
            alt, ref = supports[i] if supports[i] is not None else (np.asarray(p.indel_reads.get((c.pos0, c.ref, c.alt), []), np.int64), np.zeros(0, np.int64))
            for side, reads in (("alt", alt), ("ref", ref)):
                st = _read_stats(p, np.asarray(reads, np.int64), noise_rate)
                for k, v in st.items():
                    out[f"{side}_{k}"][i] = v
                if len(reads):
                    f = (c.pos0 - p.read_start[reads]) / np.maximum(p.read_end[reads] - p.read_start[reads], 1)
                    out[f"{side}_pos"][i] = float(np.minimum(f, 1 - f).clip(0, 0.5).mean())
    return out


def _snv_read_stats(p: Pileup, t: SiteTables, cands: list[Candidate], snv: list[int], noise_rate: np.ndarray,
                    per_base: np.ndarray, cfg: CallConfig, out: dict[str, np.ndarray]) -> None:
    """Vectorized ALT/REF read means of SNV candidates from the entries at their positions. ``per_base``: the
    noise rate one mismatch adds to a read (100 / its counted bases)."""
    pos = np.unique([cands[i].pos0 for i in snv])
    lo, hi = int(pos[0]), int(pos[-1]) + 1
    mark = np.full(hi - lo, -1, dtype=np.int64)
    mark[pos - lo] = np.arange(len(pos))
    ent = read_entries(p, reads_near(p, [cands[i] for i in snv], [None] * len(snv), 0))
    epos, base = p.pos[ent], p.base[ent]  # gathered once
    keep = (epos >= lo) & (epos < hi) & (base < 4) & (p.qual[ent] >= cfg.min_base_quality)
    pid = mark[epos[keep] - lo]
    at = pid >= 0
    e, pid = ent[keep][at], pid[at]
    key = pid * 4 + base[keep][at].astype(np.int64)
    del epos, base
    rd = p.read[e]
    qlen = (p.read_qoff[rd + 1] - p.read_qoff[rd]).astype(np.float64)
    d = (p.qpos[e] - p.read_qoff[rd]) / np.maximum(qlen, 1.0)
    m = _group_means(key, len(pos) * 4, {
        "mq": p.read_mapq[rd].astype(np.float64), "rev": p.read_reverse[rd].astype(np.float64),
        "noise": noise_rate[rd], "clip": (p.read_clip[rd].sum(axis=1) > 0).astype(np.float64),
        "pos": np.minimum(d, 1.0 - d), "per_base": per_base[rd],
    })
    depth = np.maximum(t.counts[:, :4].sum(axis=1), 1)
    for i in snv:
        c = cands[i]
        j = int(np.searchsorted(pos, c.pos0))
        for side, b in (("alt", "ACGT".index(c.alt)), ("ref", "ACGT".index(c.ref))):
            k = j * 4 + b
            for name in ("n", "mq", "rev", "noise", "clip", "pos"):
                out[f"{side}_{name}"][i] = m[name][k]
        # The candidate's own mismatch counted as noise in its ALT reads (a low-fraction allele) is not
        # evidence of other mismatches: take it out.
        ti = c.pos0 - t.start0
        if 0 <= ti < len(depth) and t.counts[ti, "ACGT".index(c.alt)] < NOISE_FRACTION * depth[ti]:
            out["alt_noise"][i] = max(0.0, out["alt_noise"][i] - m["per_base"][j * 4 + "ACGT".index(c.alt)])


def _context_arrays(p: Pileup, t: SiteTables, cands: list[Candidate]) -> dict[str, np.ndarray]:
    """Homopolymer length, STR span, complexity, GC and noisy-site density at each candidate."""
    lo, n = t.start0, len(t.counts)
    codes = p.ref_codes[lo - p.ref_start0: lo - p.ref_start0 + n]
    hp, tr = repeat_context(codes)
    c = t.counts[:, :4]
    depth = np.maximum(c.sum(axis=1), 1)
    refc = codes.astype(np.int64)
    nonref = c.copy()
    ok = refc < 4
    nonref[np.arange(n)[ok], refc[ok]] = 0
    noisy = (nonref.max(axis=1) >= 2) & (nonref.max(axis=1) >= 0.05 * depth)
    cum = np.concatenate([[0], np.cumsum(noisy)])
    gcum = np.concatenate([[0], np.cumsum((codes == 1) | (codes == 2))])
    tri = codes[:-2].astype(np.int64) * 16 + codes[1:-1] * 4 + codes[2:]
    out = {k: np.zeros(len(cands)) for k in ("hp", "str", "density", "complexity", "gc")}
    for k, cd in enumerate(cands):
        i = cd.pos0 - lo + (1 if cd.is_indel else 0)
        i = min(max(i, 0), n - 1)
        out["hp"][k] = hp[max(i - 1, 0): i + 2].max()
        out["str"][k] = tr[i]
        a, b = max(0, i - DENSITY_BP), min(n, i + DENSITY_BP + 1)
        out["density"][k] = cum[b] - cum[a] - noisy[i]
        g0, g1 = max(0, i - 50), min(n, i + 51)
        out["gc"][k] = (gcum[g1] - gcum[g0]) / max(g1 - g0, 1)
        w = tri[max(0, i - 10): min(len(tri), i + 9)]
        out["complexity"][k] = len(np.unique(w)) / 19.0
    return out


def indel_anchors(p: Pileup, t: SiteTables, cfg: CallConfig) -> np.ndarray:
    """Sorted anchors (0-based) of CIGAR indels anywhere in the tables' span that pass the candidate thresholds
    (reads >= ``min_alt_count`` and >= ``min_alt_fraction`` of the anchor's depth): the indel candidates of
    every shard alike, so a feature measured from them does not depend on shard boundaries."""
    depth = t.counts[:, :4].sum(axis=1)
    out = []
    for (a0, _, _), reads in p.indel_reads.items():
        i = a0 - t.start0
        n = len(set(reads))
        if 0 <= i < len(depth) and n >= cfg.min_alt_count and n >= cfg.min_alt_fraction * depth[i]:
            out.append(a0)
    return np.unique(np.asarray(out, dtype=np.int64))


def one_strand_phred(n: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """Per candidate: -10 log10 P(a minor-strand count <= ``minor`` among ``n`` ALT reads, two-sided, strands
    fair coins), capped at 100 (read counts; no ALT reads: 0)."""
    n, k = np.rint(n), np.rint(minor)
    p = np.minimum(1.0, 2.0 * binom.cdf(k, np.maximum(n, 1), 0.5))
    return np.where(n > 0, np.minimum(-10.0 * np.log10(np.maximum(p, 1e-10)), 100.0), 0.0)


def evidence_features(p: Pileup, t: SiteTables, cands: list[Candidate], recs: list[CallRecord], supports: list,
                      cfg: CallConfig, depth_median: float | None, plain_qual: np.ndarray | None = None) -> np.ndarray:
    """``[N, N_EVIDENCE]`` float32 features (see the module doc) of candidates and their classical records;
    ``plain_qual``: per record the QUAL without the artifact model (None: the records' own QUAL)."""
    N = len(cands)
    out = np.zeros((N, N_EVIDENCE), dtype=np.float32)
    if N == 0:
        return out
    s = allele_read_stats(p, t, cands, supports, cfg)
    ctx = _context_arrays(p, t, cands)
    ind = indel_anchors(p, t, cfg)
    low_s, low_e = np.sort(p.lowmq_start), np.sort(p.lowmq_end)
    plain = np.array([r.qual for r in recs]) if plain_qual is None else plain_qual
    alt_rev = s["alt_n"] * s["alt_rev"]
    strand_p = one_strand_phred(s["alt_n"], np.minimum(alt_rev, s["alt_n"] - alt_rev)) / 10.0
    for i, (c, r) in enumerate(zip(cands, recs)):
        inf = c.ref_count + c.alt_count
        vaf = c.alt_count / inf if inf else 0.0
        het = r.gt == (0, 1) or (r.gt == (0, 0) and vaf < 0.75)
        lowmq = float(np.searchsorted(low_s, c.pos0, side="right") - np.searchsorted(low_e, c.pos0, side="right"))
        total = c.depth + lowmq
        ar, af_ = s["alt_n"][i] * s["alt_rev"][i], s["alt_n"][i] * (1 - s["alt_rev"][i])
        rr, rf = s["ref_n"][i] * s["ref_rev"][i], s["ref_n"][i] * (1 - s["ref_rev"][i])
        sor = abs(np.log((af_ + 1) * (rr + 1) / ((ar + 1) * (rf + 1))))
        dist = np.abs(ind - c.pos0)
        dist = dist[dist > 0] if c.is_indel else dist
        out[i] = [
            min(r.qual, 200.0) / 20.0, min(plain[i], 200.0) / 20.0, float(het), vaf,
            abs(vaf - (0.5 if het else 1.0)), np.log1p(c.depth) / 5.0,
            np.log2((total + 1) / (depth_median + 1)) if depth_median else 0.0, lowmq / max(total, 1.0),
            s["alt_mq"][i] / 60.0, (s["ref_mq"][i] - s["alt_mq"][i]) / 60.0 if s["ref_n"][i] else 0.0,
            min(s["alt_rev"][i], 1 - s["alt_rev"][i]) if s["alt_n"][i] else 0.0, min(sor, 5.0),
            strand_p[i],
            min(s["alt_noise"][i], 20.0), min(s["alt_noise"][i] - s["ref_noise"][i], 20.0) if s["ref_n"][i] else 0.0,
            s["alt_clip"][i], s["alt_clip"][i] - s["ref_clip"][i] if s["ref_n"][i] else 0.0, s["alt_pos"][i],
            min(ctx["density"][i], 20.0) / 5.0, min(ctx["hp"][i], 20.0) / 10.0, min(ctx["str"][i], 60.0) / 10.0,
            ctx["complexity"][i], ctx["gc"][i], min(dist.min() if len(dist) else 50.0, 50.0) / 50.0,
            float(c.is_indel), min(abs(len(c.alt) - len(c.ref)), 20) / 10.0,
        ]
    return out

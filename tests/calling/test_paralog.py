"""The PSV-cluster rule (classical.paralog_filter) and its ALT/REF-MAPQ input (classical.snv_alt_mapq)."""

from __future__ import annotations

import numpy as np

from raygen.calling.candidates import Candidate, Pileup
from raygen.calling.classical import paralog_filter, snv_alt_mapq
from raygen.calling.records import CallRecord
from raygen.config import CallConfig


def _pileup(pos, base, read, mapq) -> Pileup:
    z = np.zeros(0, np.int64)
    n = len(mapq)
    return Pileup(chrom="c", ref_start0=0, ref_seq="A" * 200, ref_codes=np.zeros(200, np.uint8), read_start=np.zeros(n, np.int64),
                  read_end=np.full(n, 200, np.int64), read_mapq=np.asarray(mapq, np.uint8), read_reverse=np.zeros(n, bool),
                  read_clip=np.zeros((n, 2), np.int32), read_tlen=np.zeros(n, np.int64), read_offset=np.zeros(n + 1, np.int64),
                  read_qoff=np.zeros(n + 1, np.int64), query_base=np.zeros(0, np.uint8), query_qual=np.zeros(0, np.uint8),
                  pos=np.asarray(pos, np.int64), qpos=np.asarray(pos, np.int64), base=np.asarray(base, np.uint8),
                  qual=np.full(len(pos), 30, np.uint8), read=np.asarray(read, np.int32))


def test_snv_alt_mapq_matches_a_loop():
    rng = np.random.default_rng(3)
    E, R = 400, 40
    pos, base, read = rng.integers(0, 20, E), rng.integers(0, 5, E), rng.integers(0, R, E)
    mapq = rng.integers(0, 61, R)
    p = _pileup(pos, base, read, mapq)
    cands = [Candidate(q, "A", a, 10, 5, 5, 2) for q in range(0, 22, 3) for a in "CGT"] + [Candidate(4, "A", "AC", 9, 5, 4, 2)]
    got = snv_alt_mapq(p, cands)
    for i, c in enumerate(cands):
        m = [mapq[read[e]] for e in range(E) if not c.is_indel and pos[e] == c.pos0 and base[e] == "ACGT".index(c.alt)]
        assert (np.isnan(got[i]) and not m) or np.isclose(got[i], np.mean(m)), (c, got[i], m)
    # Restricted to clusters, the SNVs that can be or join one keep their value; the others are NaN, and the
    # filter's verdicts are the same either way.
    some = [Candidate(q, "A", "C", 10, 5, 5, 2) for q in (0, 1, 2, 15)]
    full, near = snv_alt_mapq(p, some), snv_alt_mapq(p, some, (3, 3))
    assert not np.isnan(full).any()  # every site has ALT reads
    assert np.allclose(full[:3], near[:3]) and np.isnan(near[3])  # 15 is 13 bp from the cluster 0-2
    assert np.isnan(snv_alt_mapq(p, cands, (1, 5))).all()  # no cluster anywhere: no pass over the entries
    # allele="ref": the reads carrying each SNV's REF base (here A, code 0)
    ref = snv_alt_mapq(p, cands, allele="ref")
    for i, c in enumerate(cands):
        m = [mapq[read[e]] for e in range(E) if not c.is_indel and pos[e] == c.pos0 and base[e] == 0]
        assert (np.isnan(ref[i]) and not m) or np.isclose(ref[i], np.mean(m)), (c, ref[i], m)


def _rec(pos0: int, gt=(0, 1)) -> CallRecord:
    return CallRecord("c", pos0 + 1, "A", "C", gt, 20, (20, 0, 30), 17, (11, 6), 0.35, 5.0, "PASS")


def test_paralog_filter_needs_a_low_mapq_cluster():
    cfg = CallConfig()
    pos = [100, 110, 125, 400, 600, 620]
    cands = [Candidate(q, "A", "C", 17, 11, 6, 3) for q in pos]
    recs = [_rec(q) for q in pos]
    mq = np.array([29, 29, 29, 29, 60, 29.0])  # a 3-site low-MAPQ cluster, a lone one, a pair with one high
    low_ref = np.array([25, 29, np.nan, 29, 29, 29.0])  # REF reads mapped low too (NaN: no REF read)
    out = paralog_filter(cands, recs, mq, low_ref, cfg)
    assert [r.filter for r in out] == ["LowQual;LowMQ;Paralog"] * 3 + ["PASS"] * 3
    # the same ALT reads beside REF reads mapped uniquely: a true haplotype that resembles a paralog, kept
    high_ref = low_ref.copy()
    high_ref[1] = 60.0
    assert all(r.filter == "PASS" for r in paralog_filter(cands, recs, mq, high_ref, cfg))
    # hom-alt calls and the rule switched off stay as they were
    hom = paralog_filter(cands, [_rec(q, (1, 1)) for q in pos], mq, low_ref, cfg)
    assert all(r.filter == "PASS" for r in hom)
    off = paralog_filter(cands, recs, mq, low_ref, CallConfig(paralog_min_sites=0))
    assert all(r.filter == "PASS" for r in off)


def test_strand_features_muted_below_min_alt():
    from raygen.calling.features import FEATURES
    from raygen.calling.sitemodel import MUTED_STRAND, load_site_model, mute_strand

    m = load_site_model("default")
    n = len(FEATURES)
    X = np.tile(m.mean[:n] + m.scale[:n] * m.typical[:n], (3, 1))  # a typical true SNV of the model's ...
    X[:, [FEATURES.index(f) for f in MUTED_STRAND]] = [0.0, 4.0, 0.3]  # ... its ALT reads on one strand
    X[:, FEATURES.index("is_indel")] = [0.0, 0.0, 1.0]
    X0 = X.copy()
    out = mute_strand(X, np.array([2, 3, 2]), 3)
    j = [FEATURES.index(f) for f in MUTED_STRAND]
    assert np.allclose(out[0, j], list(MUTED_STRAND.values()))  # SNV, 2 ALT reads: muted
    assert np.array_equal(out[1:], X0[1:]) and np.array_equal(X, X0)  # 3 ALT reads, an indel: as they were
    assert "StrandBias" in m.reasons(X[0]) and "StrandBias" not in m.reasons(out[0])

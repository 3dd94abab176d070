"""Reads drawn with a measured error profile: qualities from its histogram, errors at its empirical rate,
repeat indel errors with the CIGAR that places them (pure functions, no BAM)."""

from __future__ import annotations

import numpy as np

from raygen.calling.profile import CYCLE_BINS, MAX_HP, ErrorProfile
from raygen.simulate.profiled import ProfiledErrors, apply_indel_error, indel_errors, profiled_quality_and_errors, tract_table


def _profile(q: int, mis_rate: float, hp_rate: float) -> ErrorProfile:
    prof = ErrorProfile()
    prof.q_hist[:, q] = 1e6
    prof.q_obs[:, q] = 1e7
    prof.q_err[:, q] = 1e7 * mis_rate  # miscalibrated: Q30 stated, mis_rate measured
    prof.hp_obs[:] = 1e7
    prof.hp_err[:] = 1e7 * 1e-5
    prof.hp_err[6:] = 1e7 * hp_rate
    return prof


def test_qualities_and_miscalls_follow_the_profile():
    pe = ProfiledErrors.from_profile(_profile(30, 0.01, 0.0))
    rng = np.random.default_rng(1)
    q, err = profiled_quality_and_errors(rng, 400, 100, np.arange(400) % 2 == 0, pe)
    assert q.shape == (400, 100) and np.all(q == 30)
    assert 0.008 < err.mean() < 0.012  # the measured rate, not Q30's 0.001
    assert pe.q_cdf.shape[0] == CYCLE_BINS and pe.hp_rate.shape == (MAX_HP + 1,)


def test_homopolymer_indel_errors_at_the_profile_rate_with_left_aligned_cigars():
    pe = ProfiledErrors.from_profile(_profile(30, 0.001, 0.2))
    seq = np.frombuffer(b"ACGTTGCA" * 5 + b"GGGGGGGG" + b"CATGACGT" * 5, np.uint8).copy()  # G8 at 40..48
    tracts = tract_table(seq, pe)
    hstart = np.zeros(2000, np.int64) + 10
    ev = indel_errors(np.random.default_rng(2), seq, np.arange(len(seq)), hstart, 60, tracts)
    at_run = [e for e in ev if e[1] == 30]
    assert 0.16 < len(at_run) / 2000 < 0.24 and all(k == 1 for _, _, k, _ in at_run)
    dele = next(e for e in at_run if e[3])
    ins = next(e for e in at_run if not e[3])
    b, cig = apply_indel_error(seq, 10, 60, 30, 1, True)
    assert cig == "30M1D30M" and b == seq[10:40].tobytes() + b"G" * 7 + seq[48:71].tobytes()
    b, cig = apply_indel_error(seq, 10, 60, 30, 1, False)
    assert cig == "30M1I29M" and b == seq[10:40].tobytes() + b"G" * 9 + seq[48:69].tobytes()
    assert dele and ins


def _artifact_profile() -> ErrorProfile:
    """A profile with every artifact strong: one context x4 on the forward strand, 3' clips on 10% of reads,
    12% low-MAPQ reads (5% of the genome in 400 bp segments), 40% of them from a 5%-diverged copy, and
    fragments above 55% GC at 40% coverage."""
    prof = _profile(30, 0.002, 0.0)
    prof.ctx_obs[:] = 1e6
    prof.ctx_err[:] = 2e3
    prof.ctx_err[0, 10] = 8e3
    prof.clip_end[0, 0], prof.clip_end[0, 5] = 990, 10
    prof.clip_end[1, 0], prof.clip_end[1, 20] = 900, 100
    prof.mapq_hist[60], prof.mapq_hist[20], prof.mapq_hist[0] = 880, 100, 20
    prof.read_length = 100
    prof.read_mis[0, 0], prof.read_mis[0, 5] = 600, 400  # low MAPQ: 40% carry 5 mismatches (5% of 100 bp)
    prof.read_mis[1, 0] = 1000
    prof.lowmq_bins[:] = [50, 1000, 25]
    prof.gc_exp[:] = 1e6
    prof.gc_obs[:] = 1e6
    prof.gc_obs[11:] = 4e5
    return prof


def test_round_trip_profile_of_a_simulated_bam_recovers_its_source(tmp_path):
    """Reads simulated from a profile and profiled again (``raygen profile``'s estimator) give back the
    source's artifacts: per-end clip rates, low-MAPQ fraction, paralog share and divergence, the strand /
    context error multiplier and the GC dip."""
    import dataclasses

    import pysam

    from raygen.calling.profile import estimate_profile
    from raygen.config import SimulateConfig
    from raygen.regions import Region
    from raygen.simulate.reads import bam_header, simulate_chunk
    from raygen.simulate.reference import simulate_reference, write_fasta

    src = _artifact_profile()
    src.save(tmp_path / "src.json")
    cfg = SimulateConfig(length=40_000, contigs=1, seed=3, coverage=20, read_length=100, chunk_bp=60_000,
                         n_gap_fraction=0.0, isochore_mean_bp=8_000, error_profile=str(tmp_path / "src.json"))
    c = simulate_reference(cfg)[0]
    write_fasta(tmp_path / "ref.fa", [c])
    data, _ = simulate_chunk(c.seq, c.name, 0, 0, ([], []), cfg, bam_header([(c.name, c.length)], "S"))
    (tmp_path / "r.bam").write_bytes(data)
    pysam.index(str(tmp_path / "r.bam"))
    got = estimate_profile(str(tmp_path / "r.bam"), str(tmp_path / "ref.fa"), [Region(c.name, 0, c.length)])

    clip = 1 - got.clip_lengths()[:, 0]
    assert 0.005 < clip[0] < 0.02 and 0.08 < clip[1] < 0.12  # source: 1% 5', 10% 3'
    low = got.mapq_hist[:30].sum() / got.mapq_hist.sum()
    assert 0.10 < low < 0.14  # source 12%
    par = got.paralog()
    assert 0.3 < par["share"] < 0.5 and 0.04 < par["divergence"] < 0.06
    assert 0.025 < par["fraction"] < 0.08 and 300 < par["segment_bp"] < 500  # 5%, 400 bp segments
    cm = got.context_multiplier(prior=0)
    assert cm[0, 10] > 2.5 and cm[1, 10] < 1.6  # x4 on the forward strand only
    gc = got.gc_coverage()
    hi = got.gc_exp[11:] >= 500
    assert hi.any() and np.all(gc[11:][hi] < 0.65) and 0.85 < gc[8] < 1.2  # the dip above 55% GC


def test_old_profiles_without_artifact_tables_still_simulate():
    """A profile written before the per-end clip, read-mismatch and segment tables: clips from the pooled
    histogram on both ends, no paralog, no GC thinning beyond what it measured."""
    d = _profile(30, 0.001, 0.0).to_dict()
    for k in ("clip_end", "read_mis", "lowmq_bins"):
        d.pop(k)
    d["clip_hist"] = [90.0, 10.0] + [0.0] * 299
    prof = ErrorProfile.from_dict(d)
    pe = ProfiledErrors.from_profile(prof)
    assert np.allclose(pe.clip_cdf[:, 0], 0.9) and pe.copy_share == 0 and pe.segment_fraction == 0
    assert pe.background_lowmq == 0 and np.all(pe.gc_accept == 1) and pe.gc_oversample == 1


def test_reads_ending_in_the_homopolymer_of_a_deletion_are_aligned_gap_free(tmp_path):
    """A hom-alt 1 bp deletion in an A12 run: reads spanning the run keep the D, reads that end inside the
    run are written as an aligner writes them (no D: their shifted tail matches the run), and no read keeps
    an indel with fewer than 2 aligned bases beyond it."""
    import pysam

    from raygen.config import SimulateConfig
    from raygen.simulate.artifacts import parse_cigar
    from raygen.simulate.reads import bam_header, simulate_chunk

    _profile(30, 0.001, 0.0).save(tmp_path / "p.json")
    rng = np.random.default_rng(5)
    ref = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 12_000)].copy()
    ref[6000:6012] = ord("A")
    ref[5999], ref[6012] = ord("C"), ord("G")
    allele = (5999, "CA", "C")  # left-aligned: anchored on the base before the run
    cfg = SimulateConfig(length=12_000, contigs=1, seed=4, coverage=30, read_length=100, chunk_bp=12_000,
                         error_profile=str(tmp_path / "p.json"))
    data, _ = simulate_chunk(ref, "chr1", 0, 0, ([allele], [allele]), cfg, bam_header([("chr1", 12_000)], "S"))
    (tmp_path / "r.bam").write_bytes(data)
    spanning_d = inside_m = inside_d = 0
    with pysam.AlignmentFile(str(tmp_path / "r.bam")) as bam:
        for r in bam.fetch(until_eof=True):
            ops = parse_cigar(r.cigarstring)
            for i, (op, _) in enumerate(ops):
                if op in "ID":
                    assert sum(n for o, n in ops[i + 1:] if o == "M") >= 2, r.cigarstring
                    assert sum(n for o, n in ops[:i] if o == "M") >= 2, r.cigarstring
            has_d = "D" in r.cigarstring
            if r.reference_start < 6000 and r.reference_end > 6013:
                spanning_d += has_d
            elif r.reference_start < 6000 and 6000 < r.reference_end <= 6012:  # ends inside the run
                inside_m += not has_d
                inside_d += has_d
    assert spanning_d > 20 and inside_m >= 3 and inside_d == 0


def test_mapq_lost_with_the_alt_allele_round_trips(tmp_path):
    """A profile whose het sites lose MAPQ with their ALT allele (half the sites; 80% of those ALT reads, at
    MAPQ 29 or 37): the simulator gives low MAPQ only to reads carrying the ALT haplotype's clustered SNVs in
    linked bins, and ``raygen profile``'s estimator measures about the source's share on the BAM. A profile
    that measured nothing (older files) leaves every read at MAPQ 60."""
    import pysam

    from raygen.calling.profile import estimate_profile
    from raygen.config import SimulateConfig
    from raygen.regions import Region
    from raygen.simulate.reads import bam_header, simulate_chunk

    n = 60_000
    ref = np.frombuffer(b"ACGT", np.uint8)[np.random.default_rng(6).integers(0, 4, n)].copy()
    (tmp_path / "ref.fa").write_text(">chr1\n" + ref.tobytes().decode() + "\n")
    alt = {"A": "C", "C": "G", "G": "T", "T": "A"}
    # a pair of het SNVs 30 bp apart every 400 bp: a 100 bp read carrying one ALT mostly carries both
    hets = [(p, chr(ref[p]), alt[chr(ref[p])]) for s in range(1000, n - 1000, 400) for p in (s, s + 30)]
    cfg = SimulateConfig(length=n, contigs=1, seed=8, coverage=30, read_length=100, chunk_bp=n)
    header = bam_header([("chr1", n)], "S")

    def simulate(prof: ErrorProfile, name: str) -> list:
        prof.save(tmp_path / f"{name}.json")
        c = SimulateConfig(**{**cfg.__dict__, "error_profile": str(tmp_path / f"{name}.json")})
        data, _ = simulate_chunk(ref, "chr1", 0, 0, ([], hets), c, header)
        (tmp_path / f"{name}.bam").write_bytes(data)
        pysam.index(str(tmp_path / f"{name}.bam"))
        with pysam.AlignmentFile(str(tmp_path / f"{name}.bam")) as bam:
            return [(r.mapping_quality, r.get_tag("HP")) for r in bam.fetch(until_eof=True)]

    plain = _profile(30, 0.001, 0.0)
    assert {mq for mq, _ in simulate(plain, "plain")} == {60}
    src = _profile(30, 0.001, 0.0)
    src.allele_mapq[:] = [100, 50, 40]  # half the het sites linked, 80% of their ALT reads below the top
    src.allele_mapq_hist[29], src.allele_mapq_hist[37] = 800, 200
    reads = simulate(src, "linked")
    low = [(mq, hp) for mq, hp in reads if mq < 60]
    assert {mq for mq, _ in low} == {29, 37} and {hp for _, hp in low} == {2}  # only the ALT haplotype's reads
    alt_reads = sum(hp == 2 for _, hp in reads)
    # a read carries both SNVs of a pair when it starts in the 70 bp before it: 70/400 of the ALT haplotype's
    # reads, in half the bins, 80% of them: 7%
    assert 0.04 < len(low) / alt_reads < 0.11
    got = estimate_profile(str(tmp_path / "linked.bam"), str(tmp_path / "ref.fa"), [Region("chr1", 0, n)])
    link = got.allele_linked()
    assert 0.3 < link["share"] < 0.7 and 0.4 < link["p"] < 0.95
    assert link["mapq_cdf"][28] < 0.05 and 0.7 < link["mapq_cdf"][29] < 0.9  # the source's MAPQ: 80% 29, 20% 37

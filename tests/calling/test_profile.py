"""The error profile measured on the real GIAB slice: sane rates, a JSON round trip, and the caller's error model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raygen.calling.errormodel import ErrorModel
from raygen.calling.profile import ErrorProfile, _indel_errors, estimate_profile, profile_windows
from raygen.config import CallConfig
from raygen.errors import InputError
from raygen.regions import Region

FA = "ucsc.hg19.chr20.unittest.fasta.gz"
BAM = "NA12878_S1.chr20.10_10p1mb.first_half.bam"


@pytest.fixture(scope="module")
def profile(shared_data: Path) -> ErrorProfile:
    g = shared_data / "giab_chr20"
    return estimate_profile(str(g / BAM), str(g / FA), [Region("chr20", 10_000_000, 10_040_000)], window_bp=20_000)


def test_profile_rates_are_sane(profile: ErrorProfile):
    assert profile.bp == 40_000 and profile.reads > 1000
    assert 20 < profile.depth_median < 200
    assert 90 <= profile.read_length <= 250 and 100 < profile.fragment_mean < 1000
    table = profile.error_table()
    q = profile.q_obs.sum(axis=0)
    lo, hi = int(np.argmax(q[:20])), 20 + int(np.argmax(q[20:]))  # most used low and high quality
    assert table[:, hi].mean() < table[:, lo].mean()  # higher reported quality, fewer errors measured
    hp = profile.hp_indel_rate()
    assert np.all(np.diff(hp[1:]) >= 0) and hp[12] > hp[2]  # long homopolymers slip more
    assert profile.mixture and 0 < profile.mixture["artifact_weight"] < 0.05
    germ = profile.germline_indel_rate("hp", 1e-4)  # the sample's own repeat-dependent indel prior
    assert germ is not None and np.all(np.diff(germ[1:]) >= 0) and germ[12] > 10 * germ[1]
    clip5, clip3 = 1 - profile.clip_lengths()[:, 0]
    assert 0 < clip5 < clip3 < 0.2  # adapters and low-quality tails are at the 3' end
    par = profile.paralog()  # low-MAPQ reads carry a diverged copy's mismatches; high-MAPQ reads rarely 3+
    assert 0.05 < par["share"] < 0.8 and 0.01 < par["divergence"] < 0.2 and 0 <= par["fraction"] < 0.05
    assert profile.read_mis[1, 3:].sum() < 0.05 * profile.read_mis[1].sum()
    # some true hets lose MAPQ with their ALT allele (ALT reads at ~29-47, REF reads at 60): measured, not zero
    link = profile.allele_linked()
    assert profile.allele_mapq[0] >= 20 and 0.02 < link["share"] < 0.5 and 0.3 < link["p"] <= 1
    assert 0 < link["low_read_fraction"] < 0.02 and link["mapq_cdf"][-1] == pytest.approx(1.0)


def test_low_fraction_germline_indel_is_not_counted_as_error():
    """A het indel seen by 2 of 16 reads in a 7 bp homopolymer (below the 20% cut) is germline, not slippage:
    left out of the error rate (which would then make the caller miss such hets) and counted as a germline
    tract; single indel reads stay errors."""
    n = 2000
    idx = np.r_[np.full(n, 7), [7]]
    span = np.r_[np.full(n, 16.0), [16.0]]
    n_ind = np.r_[(np.arange(n) % 200 == 0).astype(float), [2.0]]  # 10 single-read errors, then the het
    sites = np.stack([np.zeros(n + 1), idx, span, n_ind])
    sites = np.concatenate([sites, np.stack([np.zeros(20000), np.ones(20000), np.full(20000, 16.0),
                                             np.zeros(20000)])], axis=1)  # background: plain bases
    prof = ErrorProfile()
    _indel_errors(prof, sites)
    assert prof.hp_err[7] == 10 and prof.hp_obs[7] == 16.0 * n
    assert prof.hp_germ[7] == 1 and prof.hp_sites[7] == n + 1 and prof.hp_sites[1] == 20000


def test_profile_json_round_trip_and_error_model(profile: ErrorProfile, tmp_path: Path):
    path = tmp_path / "p.json"
    profile.save(path)
    back = ErrorProfile.load(path)
    assert np.array_equal(back.q_err, profile.q_err) and back.mixture == profile.mixture
    em = ErrorModel.build(CallConfig(), back)
    assert em.profiled and em.bq_error.shape == profile.error_table().shape
    het, hom = em.indel_prior(12, 0, CallConfig())
    assert het > em.indel_prior(1, 0, CallConfig())[0] and het == pytest.approx(2 * hom)
    assert not ErrorModel.build(CallConfig()).profiled  # no profile: the config's fixed rates
    (tmp_path / "bad.json").write_text('{"format": "x"}')
    with pytest.raises(InputError, match="not a raygen error profile"):
        ErrorProfile.load(tmp_path / "bad.json")


def test_profile_windows_are_the_middles_of_equal_strata():
    """A whole-genome BAM's window list starts at a telomere and ends in the last contig (a decoy, chrM): the
    default two windows must come from inside, not from those two ends."""
    regs = [Region(f"chr{i}", 0, 2_000_000) for i in range(1, 4)] + [Region("chrM", 0, 16_569)]
    got = [(w.chrom, w.start0) for w in profile_windows(regs, 100_000, 200_000)]
    assert got == [("chr1", 1_500_000), ("chr3", 500_000)]  # windows 15 and 45 of 61 (not 0 and 60: chrM)
    assert [(w.start0, w.end0) for w in profile_windows([Region("c", 0, 1_000_000)], 100_000, 50_000)] == \
        [(500_000, 550_000)]  # --max-bp below the window size: one window of --max-bp, from the middle
    small = [Region("c", 0, 150_000)]  # everything fits: every window
    assert [(w.start0, w.end0) for w in profile_windows(small, 100_000, 200_000)] == [(0, 100_000), (100_000, 150_000)]


def test_a_stratum_steps_off_a_window_it_cannot_use():
    """The middle window of a stratum can be an assembly gap or hold no reads: the stratum takes the nearest
    usable window instead (ties to the left), and keeps its middle when none of its probes is usable."""
    regs = [Region(f"chr{i}", 0, 2_000_000) for i in range(1, 4)] + [Region("chrM", 0, 16_569)]
    gap = lambda w: not (w.chrom == "chr1" and 1_000_000 <= w.start0 < 1_800_000)  # windows 10-17 of chr1
    got = [(w.chrom, w.start0) for w in profile_windows(regs, 100_000, 200_000, gap)]
    assert got == [("chr1", 1_800_000), ("chr3", 500_000)]  # 15 and 12 are in the gap; 18 is the nearest
    none = [(w.chrom, w.start0) for w in profile_windows(regs, 100_000, 200_000, lambda w: False)]
    assert none == [("chr1", 1_500_000), ("chr3", 500_000)]


def test_profile_skips_a_window_without_reads(shared_data: Path):
    """Regions whose middle window has no reads in the BAM (the first half's reads end at 10,049,345): the
    profile reads the nearest window that has reads instead of failing on an empty one."""
    g = shared_data / "giab_chr20"
    prof = estimate_profile(str(g / BAM), str(g / FA), [Region("chr20", 9_950_000, 10_150_000)], window_bp=20_000,
                            max_bp=20_000)  # ten windows, one picked: the middle (10.05-10.07 Mb) is empty
    assert prof.reads > 1000 and 20 < prof.depth_median < 200


def test_a_sliced_bam_is_profiled_where_its_reads_are(shared_data: Path):
    """The GIAB slice keeps chr20's whole length (63 Mbp) in its header but holds reads in 10.0-10.1 Mb only:
    without --regions the profile's strata must find that stretch (before, both windows were empty and the
    call fell back to the fixed default error rates without a word), and calling skips the @SQ contigs the
    index holds no read on."""
    from raygen.calling.candidates import open_bam
    from raygen.calling.pipeline import _contigs_with_reads
    from raygen.calling.shard import bam_profile

    g = shared_data / "giab_chr20"
    whole = str(g / "NA12878_S1.chr20.10_10p1mb.bam")
    prof = bam_profile(whole, str(g / FA), [Region("chr20", 0, 63_025_520)], CallConfig())
    assert prof is not None and prof.reads > 20_000 and 30 < prof.depth_median < 100
    af = open_bam(whole)
    every = dict(zip(af.references, af.lengths))  # 25 @SQ lines
    assert len(every) == 25 and _contigs_with_reads(af, every) == {"chr20": every["chr20"]}
    af.close()

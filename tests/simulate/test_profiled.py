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

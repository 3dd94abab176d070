"""The error profile measured on the real GIAB slice: sane rates, a JSON round trip, and the caller's error model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raygen.calling.errormodel import ErrorModel
from raygen.calling.profile import ErrorProfile, estimate_profile
from raygen.config import CallConfig
from raygen.errors import InputError
from raygen.regions import Region

FA = "ucsc.hg19.chr20.unittest.fasta.gz"
BAM = "NA12878_S1.chr20.10_10p1mb.first_half.bam"


@pytest.fixture(scope="module")
def profile(shared_data: Path) -> ErrorProfile:
    g = shared_data / "giab_chr20"
    return estimate_profile(str(g / BAM), str(g / FA), [Region("chr20", 10_000_000, 10_050_000)], window_bp=25_000)


def test_profile_rates_are_sane(profile: ErrorProfile):
    assert profile.bp == 50_000 and profile.reads > 1000
    assert 20 < profile.depth_median < 200
    assert 90 <= profile.read_length <= 250 and 100 < profile.fragment_mean < 1000
    table = profile.error_table()
    q = profile.q_obs.sum(axis=0)
    lo, hi = int(np.argmax(q[:20])), 20 + int(np.argmax(q[20:]))  # most used low and high quality
    assert table[:, hi].mean() < table[:, lo].mean()  # higher reported quality, fewer errors measured
    hp = profile.hp_indel_rate()
    assert np.all(np.diff(hp[1:]) >= 0) and hp[12] > hp[2]  # long homopolymers slip more
    assert profile.mixture and 0 < profile.mixture["artifact_weight"] < 0.05


def test_profile_json_round_trip_and_error_model(profile: ErrorProfile, tmp_path: Path):
    path = tmp_path / "p.json"
    profile.save(path)
    back = ErrorProfile.load(path)
    assert np.array_equal(back.q_err, profile.q_err) and back.mixture == profile.mixture
    em = ErrorModel.build(CallConfig(), back)
    assert em.profiled and em.bq_error.shape == profile.error_table().shape
    assert not ErrorModel.build(CallConfig()).profiled  # no profile: the config's fixed rates
    (tmp_path / "bad.json").write_text('{"format": "x"}')
    with pytest.raises(InputError, match="not a raygen error profile"):
        ErrorProfile.load(tmp_path / "bad.json")

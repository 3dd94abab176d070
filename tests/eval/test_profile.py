"""Drift profiles: quiet on a resample of the baseline, firing on a shifted input; another model refused."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from raygen.config import DEFAULTS
from raygen.errors import InputError, UsageError
from raygen.eval.profile import build_profile, check_profile, compare, feature_values, format_table


def _alleles(rng, n, *, shift=0.0, indel_share=0.1):
    kinds = rng.uniform(size=n) < indel_share
    ref = np.where(kinds, "AT", "A")
    alt = np.where(kinds, "A", "G")
    llr = rng.normal(-1.0 + shift, 1.0, n)
    return pa.table({"chrom": ["c"] * n, "pos": np.arange(1, n + 1), "ref": ref.tolist(), "alt": alt.tolist(),
                     "RAYGEN_LLR": llr})


def _profile(rng):
    feats = feature_values(_alleles(rng, 5000), ["RAYGEN_LLR"])
    return build_profile(feats, ["tiny"], {"file": "baseline"})


def test_resample_of_the_baseline_is_quiet():
    rng = np.random.default_rng(0)
    base = _alleles(rng, 5000)
    prof = build_profile(feature_values(base, ["RAYGEN_LLR"]), ["tiny"], {"file": "b"})
    for seed in range(5):
        idx = np.random.default_rng(100 + seed).integers(0, 5000, 2000)  # bootstrap resample
        res = compare(prof, feature_values(base.take(pa.array(idx)), ["RAYGEN_LLR"]))
        assert res["drifted"] == [], format_table(res)


def test_shifted_scores_and_class_mix_fire():
    rng = np.random.default_rng(1)
    prof = _profile(rng)
    res = compare(prof, feature_values(_alleles(rng, 2000, shift=0.8), ["RAYGEN_LLR"]))
    assert "RAYGEN_LLR | all" in res["drifted"] and "RAYGEN_LLR | SNV" in res["drifted"]
    assert "variant class" not in res["drifted"]
    res = compare(prof, feature_values(_alleles(rng, 2000, indel_share=0.5), ["RAYGEN_LLR"]))
    assert "variant class" in res["drifted"]
    assert "DRIFT" in format_table(res)


def test_small_samples_are_not_judged():
    rng = np.random.default_rng(2)
    prof = _profile(rng)
    res = compare(prof, feature_values(_alleles(rng, 20, shift=3.0), ["RAYGEN_LLR"]))
    assert res["features"]["RAYGEN_LLR | all"]["status"].startswith("not judged")
    assert res["drifted"] == []


def test_profile_of_another_model_is_refused():
    prof = _profile(np.random.default_rng(3))
    check_profile(prof, ["tiny"], "cur.vcf", "p.json")
    with pytest.raises(UsageError, match="made for model\\(s\\) tiny but cur.vcf was scored by other"):
        check_profile(prof, ["other"], "cur.vcf", "p.json")
    with pytest.raises(InputError, match="not a raygen drift profile"):
        check_profile({"format": "x"}, ["tiny"], "cur.vcf", "p.json")


def test_thresholds_come_from_config():
    prof = _profile(np.random.default_rng(4))
    assert prof["thresholds"] == {"psi": DEFAULTS.assess.psi_threshold, "ks": DEFAULTS.assess.ks_threshold}

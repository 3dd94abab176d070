"""Site model: fit, calibration, save/load, the veto's FILTER; and its training data labelled on real reads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from raygen.calling.features import FEATURES
from raygen.calling.records import CallRecord
from raygen.calling.classical import RESCUE
from raygen.calling.sitefit import (HARD_VETOES, PROTECT_QUALS, RECALL_SLACK, RESCUE_THRESHOLDS, THRESHOLDS, Labelled,
                                     collect, cross_fit, cross_fit_by_depth, out_of_fold, recall_floor, veto_counts)
from raygen.calling.sitemodel import LOW_DEPTH, SiteModel, fit_site_model, recalibrate
from raygen.errors import InputError
from raygen.regions import Region

G = "giab_chr20"
FA = "ucsc.hg19.chr20.unittest.fasta.gz"
TRUTH = "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"


def _data(seed: int, n: int = 3000):
    """Features where a one-strand ALT (strand_alt 0) makes a false call (logit -4 vs +2)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.3, 0.1, (n, len(FEATURES))).astype(np.float32)
    bad = rng.random(n) < 0.3
    X[:, FEATURES.index("strand_alt")] = np.where(bad, 0.0, 0.4)
    p = 1 / (1 + np.exp(-np.where(bad, -4.0, 2.0)))
    return X, (rng.random(n) < p).astype(np.int8), p


def test_fit_is_calibrated_on_fresh_data_and_round_trips(tmp_path: Path):
    X, y, _ = _data(1)
    m = fit_site_model(X, y, card={"fitted_on": ["generated"]})
    X2, y2, p_true = _data(2)
    p = m.predict(X2)
    assert np.abs(p - p_true).mean() < 0.03
    for lo in (0.0, 0.5):  # calibration: predicted vs observed rate of real per bin
        sel = (p >= lo) & (p < lo + 0.5)
        assert abs(p[sel].mean() - y2[sel].mean()) < 0.04
    m.save(tmp_path / "m.json")
    back = SiteModel.load(tmp_path / "m.json")
    assert np.allclose(back.predict(X2), p) and back.card["fitted_on"] == ["generated"]
    (tmp_path / "old.json").write_text('{"format": "raygen-site-model/1", "features": ["lod"]}')
    with pytest.raises(InputError, match="refit"):
        SiteModel.load(tmp_path / "old.json")


def test_low_mapq_can_veto_hets_and_keep_hom_alts(tmp_path: Path):
    """The ``mq_alt*hom`` column lets one model read low ALT MAPQ as a paralog's het but a real hom-alt (a
    segmental duplication's own variant); a model file from before the column is refused with a refit hint."""
    rng = np.random.default_rng(5)
    n = 4000
    X = rng.normal(0.3, 0.05, (n, len(FEATURES))).astype(np.float32)
    het = rng.random(n) < 0.5
    low = rng.random(n) < 0.4
    X[:, FEATURES.index("het")] = het
    X[:, FEATURES.index("mq_alt")] = np.where(low, 0.5, 1.0)
    y = (rng.random(n) < np.where(het & low, 0.05, 0.95)).astype(np.int8)
    m = fit_site_model(X, y, l2=0.1)
    rows = X[:4].copy()
    rows[:, FEATURES.index("het")] = [1, 1, 0, 0]
    rows[:, FEATURES.index("mq_alt")] = [0.5, 1.0, 0.5, 1.0]
    p = m.predict(rows)
    # without the column (one MAPQ slope) the fit gives 0.11, 0.92, 0.77, 1.0: the hom-alt falls with the het
    assert p[0] < 0.07 and p[2] > 0.83 and min(p[1], p[3]) > 0.9, p
    m.save(tmp_path / "m.json")
    d = json.loads((tmp_path / "m.json").read_text())
    assert d["hom_interactions"] == ["mq_alt"]
    del d["hom_interactions"]
    (tmp_path / "before.json").write_text(json.dumps(d))
    with pytest.raises(InputError, match="refit"):
        SiteModel.load(tmp_path / "before.json")


def test_veto_keeps_refcalls_and_names_the_reason():
    X, y, _ = _data(3)
    m = fit_site_model(X, y, card={"threshold": 0.5})
    rec = CallRecord("chr1", 100, "A", "G", (0, 1), 50, (50, 0, 90), 30, (15, 15), 0.5, 80.0, "PASS")
    ll = np.log([1e-6, 0.9, 0.1])
    good, bad = X[0].copy(), X[0].copy()
    good[FEATURES.index("strand_alt")], bad[FEATURES.index("strand_alt")] = 0.4, 0.0
    ref = dataclasses.replace(rec, gt=(0, 0), filter="RefCall")
    out = recalibrate([rec, rec, ref], [ll, ll, ll], np.stack([good, bad, good]), m)
    assert out[0].filter == "PASS" and out[0].qual >= m.min_qual
    assert out[1].filter.startswith("LowQual") and "StrandBias" in out[1].filter.split(";")
    assert out[2].filter == "RefCall" and out[2].gt == (0, 0)  # the veto never makes a call
    assert out[0].gq <= rec.gq
    # A Platt calibration in the card moves QUAL (what a QUAL threshold reads), not the veto's decision.
    cal = fit_site_model(X, y, card={"threshold": 0.5, "calibration": {"kind": "platt", "a": 0.5, "b": -1.0,
                                                                       "n": 1, "source": "test"}})
    out2 = recalibrate([rec, rec], [ll, ll], np.stack([good, bad]), cal)
    assert [r.filter.split(";")[0] for r in out2] == ["PASS", "LowQual"]
    assert out2[0].qual < out[0].qual  # a = 0.5, b = -1 shrinks the confident logit


def test_rescue_calls_only_above_its_own_threshold():
    X, y, _ = _data(3)
    good = X[0].copy()
    good[FEATURES.index("strand_alt")] = 0.4
    rec = CallRecord("chr1", 100, "A", "G", (0, 1), 20, (20, 0, 90), 30, (22, 8), 0.27, 4.0, RESCUE)
    ll = np.log([0.6, 0.4, 1e-6])
    never = fit_site_model(X, y, card={"threshold": 0.5})  # no rescue threshold in the card: never
    assert never.rescue_threshold == float("inf")
    assert recalibrate([rec], [ll], good[None, :], never)[0].filter.startswith("LowQual")
    p = float(never.predict(good[None, :])[0])
    for th, want in ((p - 0.01, "PASS"), (p + 0.01, "LowQual")):
        m = fit_site_model(X, y, card={"threshold": 0.5, "rescue_threshold": th})
        out = recalibrate([rec], [ll], good[None, :], m)[0]
        assert out.filter.split(";")[0] == want and out.gt == (0, 1)


def test_depth_strata_round_trip_and_choose_by_median_depth(tmp_path: Path):
    X, y, _ = _data(4)
    main = fit_site_model(X, y, card={"threshold": 0.3})
    main.low = fit_site_model(X[:1000], y[:1000], card={"threshold": 0.1})
    main.save(tmp_path / "m.json")
    back = SiteModel.load(tmp_path / "m.json")
    assert back.for_depth(LOW_DEPTH - 1).threshold == 0.1 and back.for_depth(LOW_DEPTH).threshold == 0.3
    assert back.for_depth(None) is back and back.low.low is None
    assert np.allclose(back.for_depth(5.0).predict(X), main.low.predict(X))
    d = json.loads((tmp_path / "m.json").read_text())
    del d["low_depth"]["coef"]
    (tmp_path / "cut.json").write_text(json.dumps(d))
    with pytest.raises(InputError, match="not a complete"):
        SiteModel.load(tmp_path / "cut.json")


def test_recall_floor_keeps_the_peer_and_half_the_gap():
    assert recall_floor(0.99, 0.97) == pytest.approx(0.98)
    assert recall_floor(0.95, 0.97) == 0.95  # the candidates cannot reach the peer: keep every true call
    assert recall_floor(0.95, None) == 0.95



def test_veto_does_not_reach_calls_above_the_protect_bound():
    X, y, _ = _data(3)
    bad = X[0].copy()
    bad[FEATURES.index("strand_alt")] = 0.0
    rec = CallRecord("chr1", 100, "A", "G", (0, 1), 50, (50, 0, 90), 30, (15, 15), 0.5, 80.0, "PASS")
    ll = np.log([1e-6, 0.9, 0.1])
    strong = dataclasses.replace(rec, qual=400.0)
    m = fit_site_model(X, y, card={"threshold": 0.5, "protect_qual": 160.0})
    out = recalibrate([rec, strong], [ll, ll], np.stack([bad, bad]), m)
    assert out[0].filter.startswith("LowQual") and out[1].filter == "PASS"  # QUAL 80 < 160 <= 400
    assert out[1].qual == out[0].qual < m.min_qual  # QUAL stays the site model's P(real)
    # The bound is stated at 30x: at a BAM median depth of 10x, QUAL 80 weighs as QUAL 240 would at 30x.
    low, high = recalibrate([rec], [ll], bad[None, :], m, depth_median=10.0), \
        recalibrate([rec], [ll], bad[None, :], m, depth_median=60.0)
    assert low[0].filter == "PASS" and high[0].filter.startswith("LowQual")
    p_bad = float(m.predict(bad[None, :])[0])
    hard = fit_site_model(X, y, card={"threshold": 0.5, "protect_qual": 160.0, "hard_veto": p_bad + 0.01})
    assert recalibrate([strong], [ll], bad[None, :], hard)[0].filter.startswith("LowQual")  # nearly certain: vetoed
    assert m.hard_veto == 0.0  # absent from the card: the bound always protects
    unbounded = fit_site_model(X, y, card={"threshold": 0.5})  # no bound in the card: the veto reaches all
    assert unbounded.protect_qual == float("inf")
    assert recalibrate([strong], [ll], bad[None, :], unbounded)[0].filter.startswith("LowQual")

@pytest.mark.shared
def test_labelled_candidates_and_cross_fit_on_real_reads(shared_data: Path):
    g = shared_data / G
    region = Region("chr20", 10_000_000, 10_010_000)  # holds the confident BED: 63 truth alleles
    d = collect(str(g / "NA12878_S1.chr20.10_10p1mb.first_half.bam"), str(g / FA), [region],
                truth_vcf=str(g / TRUTH), name="first10k")
    assert d.truth_total == 63 and len(d.y) == len(d.records) == len(d.X)
    assert 60 <= d.y.sum() <= 63  # the classical candidates find (nearly) every truth allele
    called = [r for r, y in zip(d.records, d.y) if y]
    assert all(10_000_000 < r.pos <= 10_010_000 for r in called)
    m = cross_fit(d, targets={"first10k": 0.95}, k=3)
    cv = m.card["cross_validation"]
    assert cv["threshold"] in THRESHOLDS and m.card["fitted_on"] == ["first10k"]
    assert cv["rescue_threshold"] in RESCUE_THRESHOLDS and cv["protect_qual"] in PROTECT_QUALS
    assert cv["hard_veto"] in HARD_VETOES
    p = out_of_fold(d, cv["l2"], 3, 0)
    tp, fp, fn = veto_counts(d, p, cv["threshold"], cv["protect_qual"], None, cv["rescue_threshold"], cv["hard_veto"])
    all_tp, all_fp, _ = veto_counts(d, p, 0.0, None, None, 0.0)  # every opened record called
    floor = recall_floor(all_tp / d.truth_total, 0.95) - RECALL_SLACK / d.truth_total
    assert tp / (tp + fn) >= floor - 1e-9 and cv["recall_floor"]["first10k"] == round(floor, 4)
    assert tp + fp <= all_tp + all_fp and m.protect_qual == (cv["protect_qual"] or float("inf"))
    # one BAM below LOW_DEPTH: its own stratum, fitted on its rows alone
    low = Labelled(d.records, d.lls, d.X, d.y, ["low10k"] * len(d.y), {"low10k": d.truth_total},
                   np.full(len(d.y), 10.0), ["low10k"] * len(d.y))
    both = cross_fit_by_depth(d + low, targets={"first10k": 0.95}, k=3)
    assert both.card["fitted_on"] == ["first10k"] and both.low.card["fitted_on"] == ["low10k"]
    assert both.for_depth(10.0) is both.low and both.for_depth(d.depth[0]) is both

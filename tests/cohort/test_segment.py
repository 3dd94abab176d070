"""Segmentation: HaarSeg pieces, CBS's tail approximation against simulation, native CBS against R DNAcopy
(through ``cnvkit.py segment -m cbs``) on generated step signals, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.cohort import cbs, haar
from raygen.cohort.cnvfiles import write_cnvkit
from raygen.cohort.segment import SegmentOptions, segment_sample
from tests.cohort.helpers import read, run_cnvkit, synthetic_cnr
from tests.oracles import require_r


def test_tail_probability_matches_simulation():
    """P(max arc statistic > b) from the approximation vs 400 null simulations of 150 bins (p ~ 0.1)."""
    rng = np.random.default_rng(0)
    n = 150
    maxima = np.asarray([cbs.best_arc(rng.normal(size=n), np.ones(n), 1.0)[0] for _ in range(400)])
    b = float(np.quantile(maxima, 0.9))
    assert 0.06 < cbs.tail_probability(b, n) < 0.16
    assert cbs.tail_probability(6.0, n) < 1e-5 < cbs.tail_probability(4.5, n)


def test_best_arc_grid_search_finds_the_exact_arc():
    rng = np.random.default_rng(1)
    n = cbs.EXACT_MAX_BINS + 500
    y = rng.normal(0, 0.2, n)
    y[700:1200] += 1.0
    z, i, j = cbs.best_arc(y, np.ones(n), 1.0)
    assert abs(i - 700) <= 1 and abs(j - 1200) <= 1


def test_cbs_finds_steps_and_nothing_in_noise():
    rng = np.random.default_rng(2)
    y = np.concatenate([rng.normal(0, 0.2, 300), rng.normal(0.8, 0.2, 200), rng.normal(-0.5, 0.2, 300)])
    assert cbs.cbs_breakpoints(y, None, 1e-4).tolist() == [300, 500]
    assert cbs.cbs_breakpoints(rng.normal(0, 0.2, 800), None, 1e-4).tolist() == []


def test_haar_pieces():
    assert haar.unify_levels(np.asarray([10, 50]), np.asarray([12, 30, 49, 80]), 2).tolist() == [10, 30, 50, 80]
    sig = np.asarray([0.0, 1.0, 3.0, 3.0, 1.0, -2.0, -2.0, 0.0])
    assert haar.local_peaks(sig).tolist() == [2, 5]
    assert haar.segment_means(np.asarray([1.0, 3.0, 5.0]), np.asarray([1]), np.asarray([1.0, 1.0, 3.0])).tolist() == [1.0, 4.5]


def test_cbs_agrees_with_dnacopy_on_generated_steps(tmp_path):
    require_r("DNAcopy")
    seeds = [1, 2, 3, 4, 5, 6]
    for s in seeds:
        write_cnvkit(synthetic_cnr(np.random.default_rng(s))[0], tmp_path / f"g{s}.cnr")
    run_cnvkit(tmp_path, *[["segment", f"g{s}.cnr", "-m", "cbs", "-o", f"g{s}.cns"] for s in seeds])
    found = missed = extra = identical = 0
    for s in seeds:
        cnr = read(tmp_path / f"g{s}.cnr")
        ours = segment_sample(cnr, SegmentOptions(method="cbs"))
        theirs = read(tmp_path / f"g{s}.cns")
        mine, dna = set(zip(ours.chrom, ours.start)), set(zip(theirs.chrom, theirs.start))
        found += len(mine & dna)
        missed += len(dna - mine)
        extra += len(mine - dna)
        identical += len(ours) == len(theirs) and np.array_equal(ours.start, theirs.start)
    # every DNAcopy segment start is found; at most 1 extra segment per 6 of DNAcopy's; most samples identical
    print(f"CBS vs DNAcopy: {found} shared segment starts, {missed} only DNAcopy, {extra} only raygen, "
          f"{identical}/{len(seeds)} samples identical")
    assert missed <= 1 and extra <= found / 6 and identical >= len(seeds) // 2


def test_segment_skips_nonfinite_bins_and_keeps_every_chromosome():
    cnr, truth = synthetic_cnr(np.random.default_rng(9))
    log2 = cnr.log2.astype(float).copy()
    log2[[3, 10]] = [np.inf, -np.inf]
    out = segment_sample(cnr.with_columns(log2=log2), SegmentOptions(method="haar"))
    assert set(out.chrom.tolist()) == set(cnr.chrom.tolist())
    assert np.isfinite(out.log2).all()
    assert out.columns == ["chromosome", "start", "end", "gene", "log2", "depth", "probes", "weight"]


@pytest.mark.parametrize("method", ["cbs", "haar"])
def test_segments_recover_true_steps(method):
    """Every real step (|change| >= 0.4 log2, noise SD 0.1) is found within 2 bins; CBS adds none."""
    for seed in (4, 8):
        cnr, truth = synthetic_cnr(np.random.default_rng(seed), noise=0.1)
        out = segment_sample(cnr, SegmentOptions(method=method))
        for c, steps in truth.items():
            starts = cnr.start[cnr.chrom == c]
            found = np.searchsorted(starts, out.start[out.chrom == c][1:])
            real = [b for b, d in steps if abs(d) >= 0.4]
            assert all(np.min(np.abs(found - b), initial=99) <= 2 for b in real), (c, real, found)
            if method == "cbs":
                assert len(found) == len(real), (c, real, found)

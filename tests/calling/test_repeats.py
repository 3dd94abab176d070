"""Homopolymer runs, tandem-repeat tracts and per-position repeat context (0-based, half-open)."""

from __future__ import annotations

import numpy as np

from raygen.calling.repeats import homopolymer_runs, paint_max, repeat_context, repeat_span, tandem_tracts
from raygen.calling.candidates import encode


def _codes(s: str) -> np.ndarray:
    return encode(s)


def test_homopolymer_runs_cover_every_base_except_n():
    s, n = homopolymer_runs(_codes("AAACGGNNT"))
    assert list(zip(s.tolist(), n.tolist())) == [(0, 3), (3, 1), (4, 2), (8, 1)]


def test_tandem_tracts_find_units_and_skip_periodic_units():
    seq = "GC" + "CA" * 5 + "G" + "AAAA" * 3 + "T"
    s, e, u = tandem_tracts(_codes(seq))
    tracts = set(zip(s.tolist(), e.tolist(), u.tolist()))
    assert (1, 12, 2) in tracts or (2, 12, 2) in tracts  # the CA repeat
    assert all(unit != 4 for _, _, unit in tracts)  # AAAA is a homopolymer, not a 4-bp unit


def test_repeat_context_matches_repeat_span_on_random_sequence():
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 400, p=[0.4, 0.1, 0.1, 0.4]))
    hp, _ = repeat_context(_codes(seq))
    for i in range(len(seq)):
        j = i
        while j > 0 and seq[j - 1] == seq[i]:
            j -= 1
        assert hp[i] == repeat_span(seq, j, seq[i])


def test_paint_max_takes_the_largest_covering_interval():
    out = paint_max(6, np.array([0, 2]), np.array([4, 6]), np.array([3, 5]))
    assert out.tolist() == [3, 3, 5, 5, 5, 5]

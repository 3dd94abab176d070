"""Which variants are scored and on which windows (pure; no model, no Ray)."""

from __future__ import annotations

import pytest

from raygen.io.fasta import Reference
from raygen.scoring.windows import plan_variant, ref_mismatch, revcomp
from raygen.variant import Variant

from .conftest import N_RUN, WINDOW, edge_case_records, other, ref_base


def test_skip_reasons_for_bad_records(reference):
    ref = Reference(reference)
    for chrom, pos, r, alts, reason in edge_case_records(reference):
        plan = plan_variant(Variant(chrom, pos, r, alts.split(",")[0]), ref, WINDOW)
        assert plan.skip == (reason or None), (chrom, pos, r, alts)


def test_snv_window_coordinates_and_edge_padding(reference):
    ref = Reference(reference)
    seq = ref.fetch("chr1", 0, 1200)
    pos = 100  # 1-based
    p = plan_variant(Variant("chr1", pos, seq[pos - 1], other(seq[pos - 1])), ref, WINDOW)
    assert p.kind == "snv" and p.center == WINDOW // 2
    start = pos - 1 - WINDOW // 2
    assert p.ref_window == seq[start:start + WINDOW] and p.ref_window[WINDOW // 2] == seq[pos - 1]
    assert p.alt_window == p.ref_window[:16] + other(seq[pos - 1]) + p.ref_window[17:]
    # Variant at base 2 of the contig: the window starts 15 bases before the contig, padded with N.
    p2 = plan_variant(Variant("chr1", 2, seq[1], other(seq[1])), ref, WINDOW)
    assert p2.ref_window == "N" * 15 + seq[: WINDOW - 15]


def test_indel_windows_share_flanks(reference):
    ref = Reference(reference)
    seq = ref.fetch("chr1", 0, 1200)
    pos, r = 80, seq[79:82]
    p = plan_variant(Variant("chr1", pos, r, r[0]), ref, WINDOW)
    h = WINDOW // 2
    assert p.kind == "pair" and len(p.ref_window) == WINDOW
    assert p.ref_window == seq[79 - h: 79 - h + WINDOW]
    left, right = seq[79 - h:79], seq[82:82 + WINDOW - h - 3]
    assert p.alt_window == left + r[0] + right


def test_snv_in_context_becomes_the_snv(reference):
    ref = Reference(reference)
    r = ref_base(reference, "chr1", 200, 3)
    p = plan_variant(Variant("chr1", 200, r, r[0] + other(r[1]) + r[2]), ref, WINDOW)
    assert p.kind == "snv" and (p.ref_base, p.alt_base) == (r[1], other(r[1]))
    assert p.ref_window == ref.fetch("chr1", 200 - WINDOW // 2, 200 - WINDOW // 2 + WINDOW)


def test_n_in_allele_and_lowercase(reference):
    ref = Reference(reference)
    c, a, _ = N_RUN
    assert plan_variant(Variant(c, a + 1, "N", "A"), ref, WINDOW).skip == "n_allele"
    b = ref_base(reference, "chr1", 10)
    assert plan_variant(Variant("chr1", 10, b.lower(), other(b).lower()), ref, WINDOW).kind == "snv"


def test_ref_facing_n_is_a_mismatch(reference):
    """The one REF rule (shared with the HTTP gate): case-insensitive, an N in the reference matches only N."""
    assert not ref_mismatch("acg", "ACG") and ref_mismatch("A", "N") and not ref_mismatch("N", "N")
    assert ref_mismatch("AA", "AN")  # a REF running past the contig end faces Reference.fetch's N padding
    c, a, _ = N_RUN
    plan = plan_variant(Variant(c, a + 1, "A", "C"), Reference(reference), WINDOW)
    assert plan.skip == "ref_mismatch"


@pytest.mark.parametrize("seq,rc", [("ACGTN", "NACGT"), ("AACC", "GGTT"), ("", "")])
def test_revcomp(seq, rc):
    assert revcomp(seq) == rc

"""Slice labels: variant class, GC, repeats, splice distance, AF bins, consequences, level order."""

from __future__ import annotations

import numpy as np

from raygen.eval.slices import (
    af_bins,
    consequence_field_index,
    consequences,
    gc_bins,
    gc_fraction,
    in_repeat,
    level_key,
    repeat_labels,
    splice_distance_bins,
    splice_sites,
    variant_class,
)
from raygen.io.fasta import Reference


def test_variant_class():
    assert [variant_class(r, a) for r, a in [("A", "G"), ("AC", "GT"), ("A", "AT"), ("AT", "A"), ("ACG", "TA"),
                                             ("A", "<DEL>")]] == ["SNV", "MNV", "insertion", "deletion", "complex",
                                                                  "other"]


def test_gc_and_repeats(tmp_path):
    fa = tmp_path / "r.fa"
    seq = "GCGCGCGCGC" + "ATATATATAT" + "ACGTTGCAAC" + "aaaaaaccgt" + "A" * 20
    fa.write_text(">c\n" + seq + "\n")
    with Reference(str(fa)) as ref:
        assert gc_fraction(ref, "c", 3, 1, 10) == 1.0  # window [0, 10): all G/C
        assert gc_bins(ref, ["c", "zz"], [3, 1], ["G", "A"], 10) == ["GC >= 0.55", "unknown"]
        # pos 13 (ATAT...: a 2-bp repeat), 25 (ACGTTGCAAC: none), 32 (soft-masked), 45 (poly-A)
        assert repeat_labels(ref, ["c"] * 4, [13, 25, 32, 45], flank=8) == ["repeat", "non-repeat", "repeat", "repeat"]
    assert not in_repeat("ACGTACGA", 3) and in_repeat("CAGCAGCAGT", 4)


def test_splice_distance(tmp_path):
    bed = tmp_path / "exons.bed"
    bed.write_text("c\t100\t200\n")  # splice sites at 0-based 100 and 200
    sites = splice_sites(str(bed))
    assert splice_distance_bins(sites, ["c", "c", "c", "c", "d"], [101, 108, 150, 1000, 5]) == [
        "<= 2 bp", "3-10 bp", "11-50 bp", "> 200 bp", "no exon on contig"]


def test_af_bins_and_consequences():
    assert af_bins(np.array([np.nan, 0.0001, 0.005, 0.02, 0.3])) == [
        "novel", "AF < 0.001", "AF 0.001-0.01", "AF 0.01-0.05", "AF >= 0.05"]
    desc = "Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL"
    i = consequence_field_index(desc)
    assert i == 1
    vals = ["T|missense_variant&splice_region_variant|MODERATE|X,G|synonymous_variant|LOW|X", None, "intron"]
    assert consequences(vals, ["G", "T", "A"], i) == ["synonymous_variant", "unannotated", "intron"]


def test_level_order():
    levels = ["GC >= 0.55", "GC 0.45-0.55", "GC < 0.35", "GC 0.35-0.45", "unknown"]
    assert sorted(levels, key=level_key) == ["GC < 0.35", "GC 0.35-0.45", "GC 0.45-0.55", "GC >= 0.55", "unknown"]
    assert sorted(["> 200 bp", "3-10 bp", "<= 2 bp"], key=level_key) == ["<= 2 bp", "3-10 bp", "> 200 bp"]

"""raygen evaluate's strata: indel length bins and repeat context on a hand-made reference."""

from __future__ import annotations

from pathlib import Path

import pysam

from raygen.config import DEFAULTS
from raygen.eval.concordance import Allele, tally
from raygen.eval.haplotype import exact_pass
from raygen.eval.strata import format_strata, indel_length_labels, repeat_context_labeller, report_strata
from raygen.io.fasta import Reference

# 1-based: a run of 7 T's at 12-18, a CA repeat (4 copies) at 21-28, the rest without repeats
REF = "ACGTACGTAC" + "GTTTTTTTAG" + "CACACACAGT" + "ACGGATCCAGTCAGGATCGA"


def test_indel_length_bins():
    al = [Allele("c", 5, "A", "G", 1), Allele("c", 5, "AC", "A", 1), Allele("c", 5, "A", "ACGTAC", 1),
          Allele("c", 5, "A" * 7, "A", 1), Allele("c", 5, "A", "A" * 17, 1), Allele("c", 5, "ACG", "T", 1)]
    assert indel_length_labels(al) == [None, "deletion 1", "insertion 2-5", "deletion 6-15", "insertion 16+",
                                       "complex 2-5"]


def test_repeat_context_and_report_strata(tmp_path: Path):
    fa = tmp_path / "r.fa"
    fa.write_text(">c\n" + REF + "\n")
    pysam.faidx(str(fa))
    truth = [Allele("c", 11, "GT", "G", 1), Allele("c", 22, "A", "G", 1), Allele("c", 35, "A", "C", 1),
             Allele("c", 47, "T", "A", 1)]
    query = [Allele("c", 11, "GT", "G", 1, 20.0), Allele("c", 35, "A", "C", 1, 20.0), Allele("c", 42, "C", "G", 1, 9.0)]
    with Reference(fa) as ref:
        labels = repeat_context_labeller(ref, 20)(truth + query)
        assert labels == ["homopolymer", "tandem repeat", "non-repeat", "non-repeat", "homopolymer", "non-repeat",
                          "non-repeat"]
        # 16 bp blocks: the homopolymer and the CA repeat cross block edges, the 30 bp deletion its block's margin
        long_del = Allele("c", 10, REF[9:40], REF[9], 1)
        small = repeat_context_labeller(ref, 20, block=16)(truth + query + [long_del])
        assert small == labels + ["homopolymer"]
        rep = tally(truth, query, exact_pass(truth, query))
    strata = report_strata(rep, str(fa), DEFAULTS.evaluate)
    rc = strata["repeat context"]
    assert list(rc) == ["homopolymer INDEL", "tandem repeat SNP", "non-repeat SNP"]
    assert (rc["non-repeat SNP"].tp, rc["non-repeat SNP"].fn, rc["non-repeat SNP"].fp) == (1, 1, 1)
    assert (rc["tandem repeat SNP"].fn, rc["homopolymer INDEL"].tp) == (1, 1)
    assert list(strata["indel length"]) == ["deletion 1"]
    assert sum(c.truth_total for c in strata["GC"].values()) == 4
    assert "repeat context: homopolymer INDEL" in format_strata(strata)

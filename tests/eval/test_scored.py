"""Scored files -> one row per ALT: Number=A values per allele, SpliceAI's largest delta score per ALT."""

from __future__ import annotations

import numpy as np

from raygen.eval.scored import read_alleles, spliceai_max

HEADER = """##fileformat=VCFv4.2
##contig=<ID=c,length=1000>
##INFO=<ID=RAYGEN_LLR,Number=A,Type=Float,Description="score">
##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">
##INFO=<ID=TAG,Number=1,Type=String,Description="tag">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""


def test_number_a_values_per_allele(tmp_path):
    vcf = tmp_path / "s.vcf"
    vcf.write_text(HEADER + "c\t10\t.\tA\tG,T\t.\t.\tRAYGEN_LLR=-1.5,0.25;DP=7;TAG=x\n"
                   "c\t20\t.\tC\tCA\t.\t.\tRAYGEN_LLR=.\n")
    header, t = read_alleles(vcf, ["RAYGEN_LLR", "DP", "TAG", "ABSENT"])
    assert t["alt"].to_pylist() == ["G", "T", "CA"] and t["alt_index"].to_pylist() == [0, 1, 0]
    llr = t["RAYGEN_LLR"].to_numpy(zero_copy_only=False)
    assert llr[:2].tolist() == [-1.5, 0.25] and np.isnan(llr[2])
    assert t["DP"].to_numpy(zero_copy_only=False)[:2].tolist() == [7.0, 7.0]
    assert t["TAG"].to_pylist() == ["x", "x", None]
    assert np.isnan(t["ABSENT"].to_numpy(zero_copy_only=False)).all()


def test_spliceai_max_of_the_release_output(shared_data):
    header, t = read_alleles(shared_data / "spliceai" / "expected.D50.vcf", ["SpliceAI"])
    rows = {(p, r, a): (s, g) for p, r, a, s, g in zip(t["pos"].to_pylist(), t["ref"].to_pylist(), t["alt"].to_pylist(),
                                                     t["SpliceAI"].to_pylist(), t["SpliceAI_SYMBOL"].to_pylist())}
    assert rows[(87763, "CAAAG", "C")] == (0.93, "DEFB125")  # DS_AG|DS_AL|DS_DG|DS_DL = 0|0|0.10|0.93
    assert rows[(87770, "A", "C")] == (0.58, "DEFB125")
    assert sum(np.isnan(s) for s, _ in rows.values()) == 8  # the 8 intergenic SNVs the release leaves unscored
    # an entry for another ALT or gene never counts for this one
    assert spliceai_max("SpliceAI=G|X|0.1|0.2|0.3|0.4|0|0|0|0,T|Y|0.9|0|0|0|0|0|0|0", "G") == (0.4, "X")
    assert np.isnan(spliceai_max("DP=3", "G")[0])

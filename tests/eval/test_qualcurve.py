"""The QUAL curve of a constructed matching: counts at each threshold worked out by hand."""

from __future__ import annotations

from raygen.eval.concordance import Allele, tally
from raygen.eval.haplotype import exact_pass
from raygen.eval.qualcurve import format_curve, qual_curve, thresholds


def test_counts_at_each_threshold():
    truth = [Allele("c", 10, "A", "G", 1), Allele("c", 20, "C", "T", 1), Allele("c", 30, "AC", "A", 1)]
    query = [Allele("c", 10, "A", "G", 1, 50.0), Allele("c", 20, "C", "T", 1, 10.0),
             Allele("c", 40, "G", "C", 1, 5.0), Allele("c", 30, "AC", "A", 1, None)]
    rep = tally(truth, query, exact_pass(truth, query))
    curve = qual_curve(rep)
    rows = {r["qual"]: r for r in curve["ALL"]}
    assert list(rows) == [None, 5.0, 10.0, 50.0]
    assert (rows[None]["tp"], rows[None]["fp"], rows[None]["fn"]) == (3, 1, 0)
    # QUAL '.' is below every threshold: the matched deletion drops out at the first one
    assert (rows[5.0]["tp"], rows[5.0]["tp_query"], rows[5.0]["fp"], rows[5.0]["fn"]) == (2, 2, 1, 1)
    assert (rows[10.0]["tp"], rows[10.0]["fp"], rows[10.0]["precision"]) == (2, 0, 1.0)
    assert (rows[50.0]["tp"], rows[50.0]["fn"]) == (1, 2)
    assert curve["best_f1"]["ALL"]["qual"] is None  # 3 TP / 1 FP beats 2 TP / 0 FP: F1 0.857 vs 0.8
    assert curve["best_f1"]["SNP"]["qual"] == 10.0
    assert [r["qual"] for r in curve["INDEL"]] == [None, 5.0, 10.0, 50.0] and curve["INDEL"][1]["tp"] == 0
    assert "best F1 0.8571" in format_curve(curve)


def test_thresholds_are_capped_in_rank():
    import numpy as np

    t = thresholds(np.array([*range(1000), np.inf * -1]), 11)
    assert len(t) == 11 and t[0] == 0 and t[-1] == 999

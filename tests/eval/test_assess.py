"""Label matching on the normalized allele, orientation of scores, SpliceAI's published thresholds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from raygen.config import DEFAULTS
from raygen.errors import InputError, UsageError
from raygen.eval.assess import ScoreSpec, assess_score, check_disjoint, match_labels
from raygen.io.fasta import Reference
from raygen.train.labels import LabelTable


def _labels(rows):
    c = list(zip(*rows))
    return LabelTable(chrom=np.array(c[0], dtype=object), pos=np.array(c[1]), ref=np.array(c[2], dtype=object),
                      alt=np.array(c[3], dtype=object), label=np.array(c[4]), score=None,
                      lines=np.arange(2, 2 + len(rows)), rejects=[])


def test_differently_written_indels_meet(tmp_path):
    fa = tmp_path / "r.fa"
    fa.write_text(">c\nGGGCACACACAGGG\n")  # CA repeat at 1-based 4..11
    scored = pa.table({"chrom": ["c", "c"], "pos": [3, 1], "ref": ["GCA", "G"], "alt": ["G", "T"]})  # left-aligned
    with Reference(str(fa)) as ref:
        m = match_labels(scored, _labels([("c", 9, "ACA", "A", 1), ("c", 1, "G", "T", 0), ("c", 2, "G", "A", 1),
                                          ("c", 3, "GCA", "G", 0)]), ref)
    assert m["index"].tolist() == [0, 1]  # the deletion written at pos 9 is the one scored at pos 3
    assert m["missing"] == ["c:2:G>A"] and m["duplicates"] == 1  # (c,3,GCA,G) is the same allele again
    assert m["conflicting_duplicates"] == 1 and m["y"].tolist() == [1, 0]  # ... labelled 0 after 1: the first counts


def test_score_spec():
    assert ScoreSpec.parse("RAYGEN_LLR") == ScoreSpec("RAYGEN_LLR", "neg")
    assert ScoreSpec.parse("RAYGEN_PROB").orient == "prob" and ScoreSpec.parse("X:abs").label == "|X|"
    assert ScoreSpec.parse("X:abs").oriented(np.array([-2.0, 1.0])).tolist() == [2.0, 1.0]
    with pytest.raises(UsageError, match="KEY:pos"):
        ScoreSpec.parse("X:sideways")


def test_spliceai_published_thresholds_are_applied_not_fitted():
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=400) < 0.3).astype(int)
    ds = np.where(y == 1, rng.uniform(0.15, 1.0, 400), rng.uniform(0.0, 0.15, 400)).round(2)
    out = assess_score(ScoreSpec("SpliceAI", "pos"), ds, y, {}, None, DEFAULTS.assess)
    p = out["published_thresholds"]
    assert p["pp3"]["supporting"] == 0.2 and p["bp4"]["supporting"] == 0.1 and "Walker et al. 2023" in p["source"]
    ev = out["evidence_published_on_assessed"]
    assert ev["PP3_supporting"]["n"] == int((ds >= 0.2).sum()) and ev["BP4_supporting"]["n"] == int((ds <= 0.1).sum())
    assert "thresholds" not in out  # nothing fitted without calibration labels


def test_overlapping_label_sets_stop():
    with pytest.raises(InputError, match="1 variant\\(s\\) are in both a.tsv and the calibration labels b.tsv"):
        check_disjoint({("c", 1, "A", "G"), ("c", 2, "A", "G")}, {("c", 2, "A", "G")}, "a.tsv", "b.tsv")

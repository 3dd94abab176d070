"""The report's filter and evidence codes (pure)."""

from __future__ import annotations

import pytest

from raygen.errors import UsageError
from raygen.report.evidence import evidence_for, parse_include, passes, threshold_sets


def test_include_expressions():
    conds = parse_include("RAYGEN_PROB>=0.3 && SpliceAI < 0.5")
    assert conds == [("RAYGEN_PROB", ">=", 0.3), ("SpliceAI", "<", 0.5)]
    assert passes({"RAYGEN_PROB": 0.3, "SpliceAI": 0.1}, conds)
    assert not passes({"RAYGEN_PROB": 0.29, "SpliceAI": 0.1}, conds)
    assert not passes({"RAYGEN_PROB": float("nan"), "SpliceAI": 0.1}, conds)  # missing never passes
    assert not passes({"SpliceAI": 0.1}, conds)
    assert parse_include(None) == [] and passes({}, [])
    with pytest.raises(UsageError, match="KEY OP NUMBER"):
        parse_include("RAYGEN_PROB ~ 3")


def test_spliceai_codes_by_published_thresholds():
    sets = threshold_sets(None, ["SpliceAI"])
    ev = [evidence_for({"SpliceAI": v}, sets)["SpliceAI"] for v in (0.2, 0.19, 0.1, 0.0, float("nan"))]
    assert [(e["code"], e["strength"]) for e in ev] == [("PP3", "supporting"), (None, None), ("BP4", "supporting"),
                                                        ("BP4", "supporting"), (None, None)]


def test_fitted_thresholds_through_a_mapping():
    assessment = {"scores": [
        {"key": "RAYGEN_LLR", "orientation": "neg", "mapping": {"a": 1.0, "b": 0.0, "n": 10, "source": "c.tsv"},
         "thresholds": {"method": "local LR", "source": "c.tsv", "pp3": {"supporting": 0.8, "moderate": None,
                                                                          "strong": None},
                        "bp4": {"supporting": 0.2, "moderate": None, "strong": None}}},
        {"key": "RAYGEN_PROB", "orientation": "prob", "thresholds": None}]}
    sets = threshold_sets(assessment, ["RAYGEN_LLR", "RAYGEN_PROB"])
    assert list(sets) == ["RAYGEN_LLR"]  # RAYGEN_PROB had no thresholds chosen: no code, not a guess
    e = evidence_for({"RAYGEN_LLR": -2.0}, sets)["RAYGEN_LLR"]  # p = sigmoid(2) = 0.88
    assert e["code"] == "PP3" and abs(e["prob"] - 0.8808) < 1e-3
    assert evidence_for({"RAYGEN_LLR": 2.0}, sets)["RAYGEN_LLR"]["code"] == "BP4"

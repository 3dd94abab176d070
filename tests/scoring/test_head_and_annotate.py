"""Scorer with a fine-tuned head (RAYGEN_PROB) and INFO annotation of text tables (no Ray)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from raygen.models.head import VariantHead, head_features
from raygen.models.tiny import build_tiny_model
from raygen.scoring import Scorer, masked_site_outputs
from raygen.scoring.annotate import count_outcomes
from raygen.scoring.windows import BASE_INDEX, plan_variant
from raygen.variant import Variant

from .conftest import WINDOW, other, ref_base


@pytest.fixture(scope="module")
def model_with_head(tmp_path_factory):
    d = build_tiny_model(tmp_path_factory.mktemp("head") / "m", scheme="char", kind="mlm", seed=3)
    head = VariantHead(32 + 15, hidden_units=8)
    head.set_standardization(np.random.default_rng(0).normal(size=(50, 47)))
    head.save(d, {"note": "random test head"})
    return d


def test_head_probability_for_snvs_only(model_with_head, reference):
    scorer = Scorer(str(model_with_head), str(reference), window=WINDOW)
    assert scorer.info["head"] is True
    b = ref_base(reference, "chr1", 90)
    snvs = [Variant("chr1", 90, b, other(b, k)) for k in (1, 2)]
    dele = Variant("chr1", 80, ref_base(reference, "chr1", 80, 2), ref_base(reference, "chr1", 80))
    res = scorer.score_variants(snvs + [dele])
    assert res[2].prob is None and res[2].llr is not None
    plans = [plan_variant(v, scorer.reference, WINDOW) for v in snvs]
    logp, hidden = masked_site_outputs(scorer.loaded, [p.ref_window for p in plans], WINDOW // 2)
    feats = head_features(logp, hidden, np.array([BASE_INDEX[p.ref_base] for p in plans]),
                          np.array([BASE_INDEX[p.alt_base] for p in plans]))
    want = VariantHead.load(model_with_head).predict_proba(feats)
    np.testing.assert_allclose([r.prob for r in res[:2]], want, atol=1e-6)
    assert all(0 < r.prob < 1 for r in res[:2]) and res[0].prob != res[1].prob


def test_format_1_heads_still_score(tmp_path, reference):
    """A head saved before the REF/ALT one-hot features (format 1, H + 7 features) keeps working."""
    import json

    d = build_tiny_model(tmp_path / "m1", scheme="char", kind="mlm", seed=3)
    head = VariantHead(32 + 7, hidden_units=8)
    head.save(d, {"note": "format-1 head"})
    meta = json.loads((d / "variant_head.json").read_text())
    (d / "variant_head.json").write_text(json.dumps(dict(meta, format="raygen-variant-head/1")))
    scorer = Scorer(str(d), str(reference), window=WINDOW)
    b = ref_base(reference, "chr1", 90)
    res = scorer.score_variants([Variant("chr1", 90, b, other(b, 1))])
    assert res[0].prob is not None and 0 < res[0].prob < 1
    assert scorer.loaded.head.allele_onehot is False


def test_annotate_table_rewrites_info_only(model_with_head, reference):
    scorer = Scorer(str(model_with_head), str(reference), window=WINDOW)
    b = ref_base(reference, "chr1", 90)
    table = pa.table({
        "CHROM": ["chr1", "chr1", "chr1", None], "POS": [90, 100, 110, 0], "ID": [".", "x", ".", None],
        "REF": [b, ref_base(reference, "chr1", 100), ref_base(reference, "chr1", 110), None],
        "ALT": [f"{other(b)},<*>", ".", ref_base(reference, "chr1", 110), None],
        "INFO": ["DP=3;RAYGEN_LLR=9.9", ".", None, None],
        "REJECT_REASON": [None, None, None, "bad line"],
    })
    out = scorer(table)
    info = out["INFO"].to_pylist()
    assert info[0].startswith("DP=3;RAYGEN_LLR=") and "9.9" not in info[0]  # old score replaced
    assert info[0].endswith(",.;RAYGEN_SKIP=.,symbolic_allele;RAYGEN_PROB=" + info[0].split("RAYGEN_PROB=")[1])
    assert info[1] == "RAYGEN_SKIP=no_alt"
    assert info[2] == "RAYGEN_LLR=.;RAYGEN_SKIP=no_change"
    assert info[3] is None  # an in-band reject passes through untouched
    assert out.drop_columns(["INFO"]).equals(table.drop_columns(["INFO"]))
    c = count_outcomes(out.slice(0, 3))
    assert (c["records_scored"], c["records_skipped"], c["alleles_scored"], c["alleles_skipped"]) == (1, 2, 1, 3)


@pytest.mark.parametrize("combo", [("char", "mlm"), ("bpe", "clm")])
def test_reverse_complement_is_the_mean_of_both_strands(combo, tiny_models, reference):
    from raygen.scoring import causal
    from raygen.scoring.windows import revcomp

    fwd = Scorer(str(tiny_models[combo]), str(reference), window=WINDOW)
    both = Scorer(fwd.loaded, str(reference), window=WINDOW, reverse_complement=True)
    b = ref_base(reference, "chr2", 300)
    v = Variant("chr2", 300, b, other(b))
    p = plan_variant(v, fwd.reference, WINDOW)
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    if combo[1] == "mlm":
        logp, _ = masked_site_outputs(fwd.loaded, [revcomp(p.ref_window)], WINDOW - 1 - WINDOW // 2)
        rc = logp[0, BASE_INDEX[comp[v.alt]]] - logp[0, BASE_INDEX[comp[v.ref]]]
    else:
        ll = causal.sequence_loglik(fwd.loaded, [revcomp(p.ref_window), revcomp(p.alt_window)])
        rc = ll[1] - ll[0]
    f = fwd.score_variants([v])[0].llr
    assert both.score_variants([v])[0].llr == pytest.approx(0.5 * (f + rc), abs=1e-9)
    assert abs(rc - f) > 1e-6  # the two strands really differ for a random-weight model

"""Gradient x input attributions (raygen.scoring.attributions) checked against the scorer's own score: scaling
one base's input embedding by (1 +- eps) and rescoring through ``Scorer.score_variants`` must move the score by
the attribution (the directional derivative grad . emb), so the attributions are of the score raygen reports."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.scoring.forward import encode
from raygen.scoring.scorer import Scorer
from raygen.variant import Variant

from .conftest import WINDOW, other, ref_base

EPS = 0.05  # central difference: float32 scores resolve ~1e-7, so a small eps drowns in rounding


def scaled_score(scorer: Scorer, v: Variant, token: int, factor: float) -> float:
    """The scorer's LLR of ``v`` with token ``token``'s input embedding multiplied by ``factor`` in every window."""
    def scale(_m, _i, out):
        out = out.clone()
        out[:, token] *= factor
        return out

    hook = scorer.loaded.model.get_input_embeddings().register_forward_hook(scale)
    try:
        return scorer.score_variants([v])[0].llr
    finally:
        hook.remove()


@pytest.mark.parametrize("kind", ["mlm", "clm"])
def test_attributions_are_the_derivative_of_the_reported_score(tiny_models, reference, kind):
    scorer = Scorer(str(tiny_models[("char", kind)]), str(reference), window=WINDOW)
    pos = 300
    v = Variant("chr1", pos, ref_base(reference, "chr1", pos), other(ref_base(reference, "chr1", pos)))
    out = scorer.attributions(v)
    vals = np.array(out["attributions"])
    assert vals.shape == (WINDOW,) and np.isfinite(vals).all() and np.abs(vals).max() > 1e-6
    assert out["attributions_first_pos"] == pos - WINDOW // 2 and out["attributions_note"] is None
    enc = encode(scorer.loaded, ["A" * WINDOW])[0]
    for i in (0, 9, WINDOW // 2 - 1, WINDOW // 2, WINDOW - 1):
        t = enc.token_at(i)
        slope = (scaled_score(scorer, v, t, 1 + EPS) - scaled_score(scorer, v, t, 1 - EPS)) / (2 * EPS)
        assert vals[i] == pytest.approx(slope, rel=2e-2, abs=2e-5), i
    other_alt = Variant("chr1", pos, v.ref, other(v.ref, 2))
    assert not np.allclose(scorer.attributions(other_alt)["attributions"], vals)  # another input, other values


def test_indel_and_skip_say_why(tiny_models, reference):
    scorer = Scorer(str(tiny_models[("char", "mlm")]), str(reference), window=WINDOW)
    b = ref_base(reference, "chr1", 300, 2)
    indel = scorer.attributions(Variant("chr1", 300, b, b[0]))
    assert indel["attributions"] is None and "indel" in indel["attributions_note"]
    wrong = scorer.attributions(Variant("chr1", 300, other(b[0]), other(b[0], 2)))
    assert wrong["attributions"] is None and "ref_mismatch" in wrong["attributions_note"]


def test_a_kmer_token_shares_its_value_among_its_bases(tiny_models, reference):
    scorer = Scorer(str(tiny_models[("kmer", "mlm")]), str(reference), window=WINDOW)
    v = Variant("chr1", 300, ref_base(reference, "chr1", 300), other(ref_base(reference, "chr1", 300)))
    vals = np.array(scorer.attributions(v)["attributions"])
    enc = encode(scorer.loaded, [scorer.reference.fetch("chr1", 299 - WINDOW // 2, 299 - WINDOW // 2 + WINDOW)])[0]
    assert vals.shape == (WINDOW,) and np.abs(vals).max() > 0
    for a, b in enc.spans[enc.spans[:, 0] >= 0]:
        assert np.allclose(vals[a:b], vals[a])  # one 6-mer token: one value per base
    assert any(b - a > 1 for a, b in enc.spans)

"""Reference check: a plain, unbatched, one-variant-at-a-time implementation of the score definitions
(written from the README text, sharing no code with raygen.scoring) agrees with the Scorer within 1e-4."""

from __future__ import annotations

import math

import numpy as np
import pysam
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

from raygen.scoring import Scorer
from raygen.variant import Variant

from .conftest import COMBOS, WINDOW, edge_case_records


def fetch(fa: pysam.FastaFile, chrom: str, start0: int, end0: int) -> str:
    """Bases [start0, end0) with N beyond the contig, one base at a time (obviously right, slow)."""
    n = fa.get_reference_length(chrom)
    return "".join(fa.fetch(chrom, i, i + 1).upper() if 0 <= i < n else "N" for i in range(start0, end0))


class Plain:
    """The score definitions, implemented directly on one variant and one sequence per forward pass."""

    def __init__(self, model_dir, fasta, window):
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        cfg_arch = AutoModelForMaskedLM if "mlm" in str(model_dir) else AutoModelForCausalLM
        self.model = cfg_arch.from_pretrained(model_dir).eval()
        self.mlm = cfg_arch is AutoModelForMaskedLM
        self.fa = pysam.FastaFile(str(fasta))
        self.w = window

    def tokens(self, seq):
        """Token ids and, per token, the base span it covers (None for special tokens)."""
        ids = self.tok(seq)["input_ids"]
        spans, pos = [], 0
        for tid, t in zip(ids, self.tok.convert_ids_to_tokens(ids)):
            if tid in self.tok.all_special_ids:
                spans.append(None)
            else:
                spans.append((pos, pos + len(t)))
                pos += len(t)
        assert pos == len(seq)
        return ids, spans

    def logits(self, ids):
        with torch.no_grad():
            return self.model(input_ids=torch.tensor([ids])).logits[0].double()

    def masked_snv(self, chrom, pos, ref, alt):
        start = pos - 1 - self.w // 2
        win = fetch(self.fa, chrom, start, start + self.w)
        ids, spans = self.tokens(win)
        c = self.w // 2
        t = next(i for i, s in enumerate(spans) if s and s[0] <= c < s[1])
        length, off = spans[t][1] - spans[t][0], c - spans[t][0]
        masked = list(ids)
        masked[t] = self.tok.mask_token_id
        logp = torch.log_softmax(self.logits(masked)[t], dim=-1)
        p = {b: 0.0 for b in "ACGT"}
        for tokstr, tid in self.tok.get_vocab().items():
            if tid in self.tok.all_special_ids or len(tokstr) != length or not set(tokstr) <= set("ACGTN"):
                continue
            if tokstr[off] in p:
                p[tokstr[off]] += math.exp(float(logp[tid]))
        total = sum(p.values())
        return math.log(p[alt] / total) - math.log(p[ref] / total)

    def loglik(self, seq):
        ids, spans = self.tokens(seq)
        total = 0.0
        if self.mlm:  # pseudo-log-likelihood: mask each sequence token in turn
            for i, s in enumerate(spans):
                if s is None:
                    continue
                masked = list(ids)
                masked[i] = self.tok.mask_token_id
                total += float(torch.log_softmax(self.logits(masked)[i], -1)[ids[i]])
        else:
            lp = torch.log_softmax(self.logits(ids), -1)
            for i in range(1, len(ids)):
                if spans[i] is not None:
                    total += float(lp[i - 1, ids[i]])
        return total

    def delta(self, chrom, pos, ref, alt):
        s, h = pos - 1, self.w // 2
        left = fetch(self.fa, chrom, s - h, s)
        right = fetch(self.fa, chrom, s + len(ref), s + len(ref) + self.w - h - len(ref))
        return self.loglik(left + alt + right) - self.loglik(left + ref + right)

    def score(self, chrom, pos, ref, alt):
        if len(ref) == len(alt):  # an SNV written with context is scored as that SNV
            diff = [i for i in range(len(ref)) if ref[i] != alt[i]]
            if len(diff) == 1:
                pos, ref, alt = pos + diff[0], ref[diff[0]], alt[diff[0]]
        if self.mlm and len(ref) == 1 and len(alt) == 1:
            return self.masked_snv(chrom, pos, ref, alt)
        return self.delta(chrom, pos, ref, alt)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("combo", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_scorer_matches_plain_implementation(combo, tiny_models, reference):
    plain = Plain(tiny_models[combo], reference, WINDOW)
    scorer = Scorer(str(tiny_models[combo]), str(reference), window=WINDOW, batch_size=5)
    variants = []
    for chrom, pos, ref, alts, reason in edge_case_records(reference):
        if reason:
            continue
        for alt in alts.split(","):
            if not alt.startswith("<"):
                variants.append(Variant(chrom, pos, ref, alt))
    results = scorer.score_variants(variants)
    got = np.array([r.llr for r in results], dtype=float)
    want = np.array([plain.score(v.chrom, v.pos, v.ref, v.alt) for v in variants])
    assert all(r.skip_reason is None for r in results)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    # Not a trivially-zero score: random weights still give distinct, non-zero values.
    assert np.std(got) > 1e-3

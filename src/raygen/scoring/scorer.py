"""``Scorer``: one loaded model + reference, scoring variants; used by Ray Data actors and Serve replicas.

Score definitions (also in docs/score.md):

- **Masked LM, SNV**: window = W reference bases starting at 0-based ``pos - 1 - W // 2`` (variant at
  window index ``W // 2``); the token covering the variant base is masked; ``LLR = log P(alt) - log P(ref)``
  from the log-softmax at that token, k-mer/BPE tokens marginalised per base
  (:func:`raygen.scoring.masked.masked_site_outputs`). All ALTs of a site share one forward pass.
- **Causal LM (every variant), and masked LM for indels/MNVs**: ``delta = loglik(alt window) -
  loglik(ref window)`` with equal flanks (:mod:`raygen.scoring.windows`); loglik is the causal
  log-likelihood (:mod:`raygen.scoring.causal`) or, for masked LMs, the pseudo-log-likelihood
  (:func:`raygen.scoring.masked.pseudo_loglik`).
- ``reverse_complement=True``: the score is the mean of the score on the forward strand and the score of
  the reverse-complemented windows and alleles.

Natural log units throughout. Negative = the model finds ALT less likely than REF.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from raygen.config import ScoreConfig
from raygen.errors import UsageError
import raygen.scoring.causal as causal
import raygen.scoring.masked as masked
from raygen.scoring.attributions import gradient_x_input
from raygen.scoring.windows import BASE_INDEX, Plan, plan_variant, revcomp
from raygen.variant import Variant

if TYPE_CHECKING:
    from raygen.models.load import LoadedModel

_DEFAULT = ScoreConfig()

SCORE_DEFINITION = (
    "masked LM SNV: LLR = log P(alt) - log P(ref) at the masked token covering the variant in the W-base "
    "reference window starting at pos-1-W//2 (k-mer/BPE tokens marginalised per base); causal LM, and "
    "indels/MNVs: loglik(alt window) - loglik(ref window) with equal flanks (masked LM: pseudo-log-likelihood); "
    "natural log"
)


@dataclass(frozen=True)
class ScoreResult:
    """Score of one REF/ALT pair. ``llr`` in natural-log units; None (with ``skip_reason``) when skipped."""

    llr: float | None
    prob: float | None  # calibrated P(effect) from a fine-tuned head; None if no head / not a masked SNV
    skip_reason: str | None  # one of raygen.scoring.windows.SKIP_REASONS

    def as_dict(self) -> dict:
        return {"llr": self.llr, "prob": self.prob, "skip_reason": self.skip_reason}


class Scorer:
    """Load a model and a reference once; score variants in batches.

    ``model``: hub id or local model dir (see :func:`raygen.models.load.load_model`), or a LoadedModel. ``reference``:
    indexed FASTA path. ``window``: bases of context (>= 8). ``batch_size``: sequences per forward pass.
    ``threads``: torch CPU threads for this process (None: leave torch's setting).
    Ray Data calls :meth:`__call__` on VCF text tables; Serve and Python call :meth:`score_variants`.
    """

    def __init__(self, model: "str | LoadedModel", reference: str, *, window: int = _DEFAULT.window, revision: str | None = None,
                 trust_remote_code: bool = False, device: str = "auto", batch_size: int = _DEFAULT.batch_size,
                 reverse_complement: bool = _DEFAULT.reverse_complement, threads: int | None = None):
        from raygen.io.fasta import Reference
        from raygen.models.load import LoadedModel, load_model

        if threads:  # torch CPU threads of this process (a Ray actor: its own)
            import torch

            torch.set_num_threads(threads)

        if window < 8:
            raise UsageError(f"--window must be at least 8 bases, not {window}")
        if batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
        self.window = window
        self.batch_size = batch_size
        self.reverse_complement = reverse_complement
        self.reference = Reference(reference)
        if isinstance(model, LoadedModel):  # already loaded (benchmarks, notebooks): share it
            self.loaded = model
        else:
            self.loaded = load_model(model, revision=revision, trust_remote_code=trust_remote_code, device=device)

    @property
    def info(self) -> dict:
        """What produced the scores: model name, revision, kind, scheme, window, score definition."""
        lm = self.loaded
        return {
            "model": lm.name, "revision": lm.revision or "", "kind": lm.kind, "scheme": lm.scheme,
            "k": lm.k, "window": self.window, "reverse_complement": self.reverse_complement,
            "head": lm.head is not None, "device": lm.device, "definition": SCORE_DEFINITION,
        }

    # -- scoring ---------------------------------------------------------------------------------------
    def _window_loglik(self, seqs: list[str]) -> np.ndarray:
        if self.loaded.kind == "clm":
            return causal.sequence_loglik(self.loaded, seqs, self.batch_size)
        return masked.pseudo_loglik(self.loaded, seqs, self.batch_size)

    def _masked_snvs(self, plans: list[Plan]) -> tuple[np.ndarray, np.ndarray | None]:
        """LLR per SNV plan, and the head's probability (or None) — one forward per distinct window."""
        windows = [p.ref_window for p in plans]
        ref_i = np.array([BASE_INDEX[p.ref_base] for p in plans])
        alt_i = np.array([BASE_INDEX[p.alt_base] for p in plans])
        rows = np.arange(len(plans))
        logp, hidden = masked.masked_site_outputs(self.loaded, windows, self.window // 2, self.batch_size)
        llr = logp[rows, alt_i] - logp[rows, ref_i]
        if self.reverse_complement:
            rc_center = self.window - 1 - self.window // 2
            logp_rc, _ = masked.masked_site_outputs(self.loaded, [revcomp(w) for w in windows], rc_center,
                                                    self.batch_size)
            llr = 0.5 * (llr + logp_rc[rows, 3 - alt_i] - logp_rc[rows, 3 - ref_i])  # A<->T, C<->G
        prob = None
        if self.loaded.head is not None:
            prob = self.loaded.head.predict_proba(self.loaded.head.features(logp, hidden, ref_i, alt_i))
        return llr, prob

    def _pairs(self, plans: list[Plan]) -> np.ndarray:
        seqs = [p.ref_window for p in plans] + [p.alt_window for p in plans]
        ll = self._window_loglik(seqs)
        n = len(plans)
        delta = ll[n:] - ll[:n]
        if self.reverse_complement:
            ll_rc = self._window_loglik([revcomp(s) for s in seqs])
            delta = 0.5 * (delta + ll_rc[n:] - ll_rc[:n])
        return delta

    def score_variants(self, variants: Sequence[Variant]) -> list[ScoreResult]:
        """One :class:`ScoreResult` per input variant, in input order (see module docstring)."""
        plans = [plan_variant(v, self.reference, self.window) for v in variants]
        llr: list[float | None] = [None] * len(plans)
        prob: list[float | None] = [None] * len(plans)
        skip: list[str | None] = [p.skip for p in plans]
        use_masked = self.loaded.kind == "mlm"
        snv = [i for i, p in enumerate(plans) if p.kind == "snv" and use_masked]
        pair = [i for i, p in enumerate(plans) if p.kind == "pair" or (p.kind == "snv" and not use_masked)]
        if snv:
            vals, probs = self._masked_snvs([plans[i] for i in snv])
            for j, i in enumerate(snv):
                llr[i] = float(vals[j])
                if probs is not None:
                    prob[i] = float(probs[j])
        if pair:
            vals = self._pairs([plans[i] for i in pair])
            for j, i in enumerate(pair):
                llr[i] = float(vals[j])
        for i, x in enumerate(llr):
            if x is not None and not np.isfinite(x):
                llr[i], prob[i], skip[i] = None, None, "allele_not_in_vocab"
        return [ScoreResult(a, b, c) for a, b, c in zip(llr, prob, skip)]

    def attributions(self, variant: Variant) -> dict:
        """Per-base gradient x input of ``variant``'s score over its window (JSON-ready; see
        :func:`raygen.scoring.attributions.gradient_x_input` for the definition and coordinates)."""
        plan = plan_variant(variant, self.reference, self.window)
        return gradient_x_input(self.loaded, plan, self.reverse_complement).as_dict()

    def detail(self, variant: Variant) -> None:
        """Nothing beyond the score (see :class:`raygen.scoring.base.VariantScorer`): the UI's in-silico
        mutagenesis map comes from :meth:`score_variants` of every substitution around the variant."""
        return None

    def annotate(self, batch: pa.Table, score_fn=None) -> pa.Table:
        """Score a VCF text table, return it with INFO annotated (``score_fn``: default
        :meth:`score_variants`). See :func:`raygen.scoring.annotate.annotate_table` for the fields written.
        """
        from raygen.scoring.annotate import annotate_table

        return annotate_table(batch, score_fn or self.score_variants)

    __call__ = annotate  # Ray Data ``map_batches`` entry

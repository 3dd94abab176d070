"""Per-position attributions of a language model's variant score: gradient x input on the input embeddings.

For a variant planned by :func:`raygen.scoring.windows.plan_variant` (window of W bases starting at 0-based
reference coordinate ``plan.start``), the attribution of window index ``i`` (0-based; genomic 1-based
position ``plan.start + i + 1``) is ``sum_d grad_d * emb_d`` over the embedding dimension of the input
token embedding (the model's ``get_input_embeddings()`` output, before position embeddings or token
dropout, which the model then applies as in scoring) of the token covering base ``i``, of the **score the
scorer reports** (:mod:`raygen.scoring.scorer`, natural log):

- **masked LM, SNV**: ``LLR = log P(alt) - log P(ref)`` at the masked token of the REF window (the token
  covering the variant base is the mask token, so the centre's attribution is the mask embedding's: how
  much the context-free mask input contributes, not the REF base);
- **causal LM, SNV or MNV** (equal-length windows): ``loglik(ALT window) - loglik(REF window)``; each
  window's log-likelihood is differentiated on its own embeddings and the REF window's per-base values are
  subtracted from the ALT window's.

A multi-base token (k-mer, BPE) shares its value equally among its bases; special tokens (CLS, EOS) get
none. With ``reverse_complement`` the reverse-complemented windows' attributions are reversed back onto
forward-strand indices and averaged with the forward ones, as the score is. Indels (windows of different
lengths) and masked-LM MNVs (scored by pseudo-log-likelihood, one masked copy per token) get no
attributions: ``values`` is None with a ``note``. Plain torch autograd, float32, no autocast; the model's
weights are not changed and their gradients are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygen.scoring.causal import token_logliks
from raygen.scoring.forward import Encoded, encode
from raygen.scoring.masked import _marginalizer
from raygen.scoring.windows import BASE_INDEX, Plan, revcomp

METHOD = "gradient x input on the input token embeddings, summed over the embedding dimension"


@dataclass(frozen=True)
class Attributions:
    """``values[i]``: attribution of window index ``i`` (0-based), reference position ``first_pos + i``
    (1-based); None with ``note`` saying why when not computed. ``target``: the differentiated score."""

    values: np.ndarray | None
    first_pos: int
    target: str
    note: str = ""

    def as_dict(self) -> dict:
        vals = None if self.values is None else [float(x) for x in self.values]
        return {"attributions": vals, "attributions_first_pos": self.first_pos if vals is not None else None,
                "attributions_target": self.target, "attributions_method": METHOD,
                "attributions_note": self.note or None}


def _embedding_gxi(loaded, enc: Encoded, n_bases: int, objective) -> np.ndarray:
    """[n_bases] float64 per-base gradient x input of ``objective(logits [T, V])`` for one sequence."""
    import torch

    captured = []

    def swap(_module, _inputs, output):  # the embedding output becomes a leaf we can differentiate on
        leaf = output.detach().float().requires_grad_(True)
        captured.append(leaf)
        return leaf.to(output.dtype)

    ids = torch.as_tensor(enc.ids[None], device=loaded.device)
    hook = loaded.model.get_input_embeddings().register_forward_hook(swap)
    try:
        with torch.enable_grad():
            logits = loaded.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].float()
            (grad,) = torch.autograd.grad(objective(logits), captured[0])
    finally:
        hook.remove()
    per_token = (grad * captured[0]).sum(-1)[0].detach().double().cpu().numpy()
    out = np.zeros(n_bases, dtype=np.float64)
    for (a, b), val in zip(enc.spans, per_token):
        if a >= 0:
            out[a:b] += val / (b - a)
    return out


def _masked_llr_gxi(loaded, window: str, center: int, ref_i: int, alt_i: int) -> np.ndarray:
    import torch

    enc = encode(loaded, [window])[0]
    t = enc.token_at(center)
    ids = enc.ids.copy()
    ids[t] = loaded.tokenizer.mask_token_id
    a, b = enc.spans[t]
    idx = _marginalizer(loaded).indices(int(b - a), int(center - a))
    if idx[ref_i].size == 0 or idx[alt_i].size == 0:
        raise ValueError("allele_not_in_vocab")

    alt_ids, ref_ids = (torch.as_tensor(idx[k], device=loaded.device) for k in (alt_i, ref_i))

    def llr(logits):  # the softmax normaliser cancels in the difference
        return torch.logsumexp(logits[t, alt_ids], 0) - torch.logsumexp(logits[t, ref_ids], 0)

    return _embedding_gxi(loaded, Encoded(ids, enc.spans), len(window), llr)


def _causal_loglik_gxi(loaded, seq: str) -> np.ndarray:
    import torch

    enc = encode(loaded, [seq])[0]
    return _embedding_gxi(loaded, enc, len(seq),
                          lambda logits: token_logliks(torch.log_softmax(logits[:-1], dim=-1), enc).sum())


def gradient_x_input(loaded, plan: Plan, reverse_complement: bool = False) -> Attributions:
    """The :class:`Attributions` of ``plan``'s score under ``loaded`` (a LoadedModel; module docstring)."""
    first = plan.start + 1
    if plan.kind is None:
        return Attributions(None, first, "", f"not scored: {plan.skip}")
    w = len(plan.ref_window)
    if loaded.kind == "mlm" and plan.kind == "snv":
        ref_i, alt_i = BASE_INDEX[plan.ref_base], BASE_INDEX[plan.alt_base]
        target = "LLR = log P(alt) - log P(ref) at the masked variant token of the REF window"
        try:
            vals = _masked_llr_gxi(loaded, plan.ref_window, plan.center, ref_i, alt_i)
            if reverse_complement:
                rc = _masked_llr_gxi(loaded, revcomp(plan.ref_window), w - 1 - plan.center, 3 - ref_i, 3 - alt_i)
                vals = 0.5 * (vals + rc[::-1])
        except ValueError:
            return Attributions(None, first, target, "allele_not_in_vocab: no token carries the allele there")
        return Attributions(vals, first, target)
    if loaded.kind == "clm" and len(plan.alt_window) == w:
        def delta(ref_seq: str, alt_seq: str) -> np.ndarray:
            return _causal_loglik_gxi(loaded, alt_seq) - _causal_loglik_gxi(loaded, ref_seq)

        vals = delta(plan.ref_window, plan.alt_window)
        if reverse_complement:
            vals = 0.5 * (vals + delta(revcomp(plan.ref_window), revcomp(plan.alt_window))[::-1])
        return Attributions(vals, first, "loglik(ALT window) - loglik(REF window), per base: ALT minus REF")
    why = ("windows of different lengths (indel): no base-to-base correspondence" if len(plan.alt_window) != w
           else "a masked-LM MNV is scored by pseudo-log-likelihood; its gradient is not computed")
    return Attributions(None, first, "", f"attributions are computed for SNVs (and causal-LM MNVs); {why}")

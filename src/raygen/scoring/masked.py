"""Masked-LM scores: the masked-centre base distribution (SNVs) and pseudo-log-likelihood (indels, MNVs).

**SNV score (masked LM).** For a W-base reference window with the variant base at index ``center`` the
token covering that base is replaced by the mask token and the model's log-softmax at that position gives
log P(A, C, G, T) of the base: directly for single-base tokens, and for multi-base tokens (NT 6-mers,
BPE) by marginalising over the vocabulary tokens of the masked token's length that carry each base at the
variant's offset (:class:`raygen.models.kmer.BaseMarginalizer`), renormalised over the four bases.
``LLR = log P(alt) - log P(ref)``; every ALT of a site reads the same forward pass.

**Window log-likelihood (masked LM).** For indels and MNVs a masked LM has no sequence likelihood, so
raygen uses the pseudo-log-likelihood: ``PLL(s) = sum_i log P(token_i | s with token i masked)`` over every
non-special token ``i``, one masked copy of the window per token, batched.
"""

from __future__ import annotations

import numpy as np

from raygen.models.kmer import BaseMarginalizer
from raygen.scoring.forward import encode, iter_forward

DEFAULT_BATCH = 64


def _marginalizer(loaded) -> BaseMarginalizer:
    # Built once per loaded model (vocabulary scan) and kept on it.
    m = getattr(loaded, "_raygen_marginalizer", None)
    if m is None:
        m = BaseMarginalizer(loaded.tokenizer)
        loaded._raygen_marginalizer = m
    return m


def masked_site_outputs(loaded, windows: list[str], center: int, batch_size: int = DEFAULT_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """(logp [B, 4], hidden [B, H]) at the masked centre base of each window (see module docstring).

    ``windows``: upper-case reference windows, all with the variant base at 0-based index ``center``.
    ``logp`` holds float64 log P(A, C, G, T) renormalised over the four bases (``-inf`` for a base no
    vocabulary token can carry there); ``hidden`` the float32 last-layer hidden state of the masked token.
    Identical windows are run once.
    """
    uniq: dict[str, int] = {}
    inverse = np.array([uniq.setdefault(w, len(uniq)) for w in windows], dtype=np.int64)
    seqs = list(uniq)
    encs = encode(loaded, seqs)
    mask_id = loaded.tokenizer.mask_token_id
    inputs, tok_pos, lengths, offsets = [], [], [], []
    for e in encs:
        t = e.token_at(center)
        ids = e.ids.copy()
        ids[t] = mask_id
        inputs.append(ids)
        tok_pos.append(t)
        lengths.append(e.spans[t, 1] - e.spans[t, 0])
        offsets.append(center - e.spans[t, 0])
    tok_pos = np.array(tok_pos, dtype=np.int64)
    n = len(seqs)
    vocab_logp = None
    hidden = None
    for rows, logits, last in iter_forward(loaded, inputs, batch_size, hidden=True):
        import torch

        at = torch.as_tensor(tok_pos[rows], device=logits.device)
        sel = torch.arange(len(rows), device=logits.device)
        lv = torch.log_softmax(logits[sel, at], dim=-1).cpu().numpy()
        hv = last[sel, at].cpu().numpy()
        if vocab_logp is None:
            vocab_logp = np.empty((n, lv.shape[1]), dtype=np.float32)
            hidden = np.empty((n, hv.shape[1]), dtype=np.float32)
        vocab_logp[rows] = lv
        hidden[rows] = hv
    if n == 0:
        h = getattr(loaded.model.config, "hidden_size", 0)
        return np.zeros((len(windows), 4)), np.zeros((len(windows), h), dtype=np.float32)
    logp = _marginalizer(loaded).base_logp(vocab_logp, np.array(lengths), np.array(offsets))
    return logp[inverse], hidden[inverse]


def pseudo_loglik(loaded, seqs: list[str], batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """[B] float64 pseudo-log-likelihood of each sequence under a masked LM (module docstring)."""
    uniq: dict[str, int] = {}
    inverse = np.array([uniq.setdefault(s, len(uniq)) for s in seqs], dtype=np.int64)
    encs = encode(loaded, list(uniq))
    mask_id = loaded.tokenizer.mask_token_id
    inputs, owner, pos, target = [], [], [], []
    for k, e in enumerate(encs):
        for t in np.nonzero(e.spans[:, 0] >= 0)[0]:
            ids = e.ids.copy()
            ids[t] = mask_id
            inputs.append(ids)
            owner.append(k)
            pos.append(t)
            target.append(e.ids[t])
    owner, pos, target = np.array(owner), np.array(pos, dtype=np.int64), np.array(target, dtype=np.int64)
    per_token = np.zeros(len(inputs), dtype=np.float64)
    for rows, logits, _ in iter_forward(loaded, inputs, batch_size):
        import torch

        sel = torch.arange(len(rows), device=logits.device)
        lp = torch.log_softmax(logits[sel, torch.as_tensor(pos[rows], device=logits.device)], dim=-1)
        per_token[rows] = lp[sel, torch.as_tensor(target[rows], device=logits.device)].double().cpu().numpy()
    totals = np.zeros(len(encs), dtype=np.float64)
    if len(owner):
        np.add.at(totals, owner, per_token)
    return totals[inverse]

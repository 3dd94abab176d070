"""Causal-LM window log-likelihood: ``loglik(s) = sum_i log P(token_i | tokens before i)``.

The sum runs over every non-special token that has a predecessor (the first token after a BOS/CLS
token included; a leading special token itself is never scored, nor a trailing EOS/SEP, so the
tokenizer's template does not enter the score). Used for every variant of a causal LM:
``delta = loglik(alt window) - loglik(ref window)`` (windows in :mod:`raygen.scoring.windows`).
"""

from __future__ import annotations

import numpy as np

from raygen.scoring.forward import encode, iter_forward

DEFAULT_BATCH = 64


def sequence_loglik(loaded, seqs: list[str], batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """[B] float64 log-likelihood of each upper-case DNA sequence under a causal LM (module docstring)."""
    uniq: dict[str, int] = {}
    inverse = np.array([uniq.setdefault(s, len(uniq)) for s in seqs], dtype=np.int64)
    encs = encode(loaded, list(uniq))
    totals = np.zeros(len(encs), dtype=np.float64)
    for rows, logits, _ in iter_forward(loaded, [e.ids for e in encs], batch_size):
        import torch

        lp = torch.log_softmax(logits[:, :-1], dim=-1)  # position i predicts token i + 1
        for j, r in enumerate(rows):
            totals[r] = float(token_logliks(lp[j], encs[r]).double().sum().cpu())
    return totals[inverse]


def token_logliks(lp, e):
    """The scored terms ``log P(token_i | tokens before i)`` of one encoded sequence ``e`` (module docstring),
    from its next-token log-softmax ``lp`` [T - 1, V] (a torch tensor; row i predicts token i + 1)."""
    import torch

    scored = np.nonzero(e.spans[1:, 0] >= 0)[0]  # targets that are sequence tokens
    tgt = torch.as_tensor(e.ids[1:][scored], device=lp.device)
    return lp[torch.as_tensor(scored, device=lp.device), tgt]

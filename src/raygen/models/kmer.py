"""Multi-base tokens (NT 6-mers, BPE pieces): where each token sits in the sequence, and base marginals.

A masked LM whose tokens span several bases predicts a distribution over TOKENS at a masked position, not
over bases. To score one base, :class:`BaseMarginalizer` sums the probability of every vocabulary token
of the masked token's length whose letter at the variant's offset is that base:

    log P(b) = logsumexp_{t in V, len(t) = L, t[o] = b} log p(t),  then renormalised over b in {A, C, G, T}

where ``L`` is the length (in bases) of the masked token and ``o`` the variant's offset inside it. For a
single-base token (``L = 1``) this is the plain log-softmax restricted to A C G T and renormalised.
A base with no consistent token gets ``-inf``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BASES4 = "ACGT"


def detect_scheme(tokenizer) -> tuple[str, int | None]:
    """("char", None) | ("kmer", k) | ("bpe", None) from the tokenizer's vocabulary.

    "char": every DNA token is one base. "kmer": the multi-base tokens all have one length k and cover
    most of the 4**k k-mers (NT v2). "bpe": anything else with multi-base tokens (DNABERT-2).
    """
    dna = [t for t in tokenizer.get_vocab() if t and set(t.upper()) <= set("ACGTN")]
    multi = {len(t) for t in dna if len(t) > 1}
    if not multi:
        return "char", None
    if len(multi) == 1:
        k = multi.pop()
        n_k = sum(1 for t in dna if len(t) == k)
        if n_k >= 0.9 * 4**k:
            return "kmer", k
    return "bpe", None


def token_spans(tokenizer, ids: list[int], offsets: list[tuple[int, int]] | None, seq_len: int) -> np.ndarray:
    """[T, 2] 0-based half-open base span of each token of one encoded sequence; (-1, -1) for specials.

    Uses the fast tokenizer's offsets when given; otherwise (slow tokenizers such as NT's EsmTokenizer)
    accumulates the token strings' lengths, which is exact for DNA vocabularies whose tokens are literal
    substrings. Raises ValueError when the tokens do not cover the ``seq_len`` bases exactly once.
    """
    special = set(tokenizer.all_special_ids)
    spans = np.full((len(ids), 2), -1, dtype=np.int64)
    if offsets is not None:
        for i, (tid, (a, b)) in enumerate(zip(ids, offsets)):
            if tid not in special and b > a:
                spans[i] = (a, b)
    else:
        toks = tokenizer.convert_ids_to_tokens(ids)
        pos = 0
        for i, (tid, tok) in enumerate(zip(ids, toks)):
            if tid in special:
                continue
            n = len(tok.lstrip("#").lstrip("\u0120"))
            spans[i] = (pos, pos + n)
            pos += n
    covered = spans[spans[:, 0] >= 0]
    if covered.size == 0 or covered[0, 0] != 0 or covered[-1, 1] != seq_len or np.any(covered[1:, 0] != covered[:-1, 1]):
        raise ValueError(f"tokenizer did not map a {seq_len}-base sequence onto contiguous tokens")
    return spans


class BaseMarginalizer:
    """Turn vocabulary log-probabilities at a masked token into log P(A, C, G, T) of one base in it."""

    def __init__(self, tokenizer):
        vocab = tokenizer.get_vocab()
        self.vocab_size = max(len(tokenizer), max(vocab.values()) + 1)
        special = set(tokenizer.all_special_ids)
        self._tokens: dict[int, list[tuple[int, str]]] = {}
        for tok, tid in vocab.items():
            if tid in special or not tok or not set(tok.upper()) <= set("ACGTN"):
                continue
            self._tokens.setdefault(len(tok), []).append((tid, tok.upper()))

    @lru_cache(maxsize=None)  # noqa: B019 - one marginalizer per loaded model; (L, o) pairs are few
    def indices(self, length: int, offset: int) -> tuple[np.ndarray, ...]:
        """Token ids of length ``length`` with A, C, G, T at ``offset``: a tuple of 4 int arrays."""
        toks = self._tokens.get(length, [])
        return tuple(np.array([tid for tid, t in toks if t[offset] == b], dtype=np.int64) for b in BASES4)

    def base_logp(self, logp_vocab: np.ndarray, lengths: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """[B, 4] renormalised log P(A, C, G, T) from [B, V] vocabulary log-probs (float64 math).

        ``lengths[i]`` is the masked token's length in bases, ``offsets[i]`` the variant's offset in it.
        Rows are grouped by (length, offset) so each group is one vectorised logsumexp per base.
        """
        lv = np.asarray(logp_vocab, dtype=np.float64)
        out = np.full((lv.shape[0], 4), -np.inf)
        keys = np.stack([lengths, offsets], axis=1)
        for length, offset in {tuple(k) for k in keys.tolist()}:
            rows = np.nonzero((keys[:, 0] == length) & (keys[:, 1] == offset))[0]
            for b, idx in enumerate(self.indices(int(length), int(offset))):
                if idx.size:
                    sub = lv[np.ix_(rows, idx)]
                    m = sub.max(axis=1, keepdims=True)
                    out[rows, b] = (m + np.log(np.exp(sub - m).sum(axis=1, keepdims=True)))[:, 0]
        m = out.max(axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        norm = m + np.log(np.exp(out - m).sum(axis=1, keepdims=True))
        return out - norm

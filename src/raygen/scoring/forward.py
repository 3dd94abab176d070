"""Tokenize DNA windows and run them through a model in length-bucketed, padded batches.

Shared by the masked-LM and causal-LM score functions. Everything runs under ``torch.inference_mode``;
on CUDA the forward pass runs under bf16 autocast (fp16 where the GPU lacks bf16) while log-softmax and
all sums stay in float32/float64. On CPU the model runs in its own dtype (float32 for raygen models), so
CPU scores are reproducible to the last digit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from raygen.errors import RaygenError
from raygen.models.kmer import token_spans


@dataclass(frozen=True)
class Encoded:
    """One tokenized sequence: token ids [T] and each token's 0-based half-open base span [T, 2]."""

    ids: np.ndarray
    spans: np.ndarray

    def token_at(self, base: int) -> int:
        """Index of the token covering 0-based ``base`` of the sequence."""
        hit = np.nonzero((self.spans[:, 0] <= base) & (base < self.spans[:, 1]))[0]
        return int(hit[0])


def encode(loaded, seqs: list[str]) -> list[Encoded]:
    """Tokenize upper-case DNA strings with the model's tokenizer, special tokens included."""
    tok = loaded.tokenizer
    if not seqs:
        return []
    fast = bool(getattr(tok, "is_fast", False))
    enc = tok(list(seqs), add_special_tokens=True, return_offsets_mapping=fast, return_attention_mask=False)
    out = []
    for i, seq in enumerate(seqs):
        ids = list(enc["input_ids"][i])
        offs = [tuple(o) for o in enc["offset_mapping"][i]] if fast else None
        try:
            spans = token_spans(tok, ids, offs, len(seq))
        except ValueError as exc:
            raise RaygenError(f"model {loaded.name!r}: {exc}; its tokenizer does not fit DNA scoring") from None
        out.append(Encoded(np.asarray(ids, dtype=np.int64), spans))
    return out


def _autocast(device: str):
    import torch

    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def iter_forward(loaded, inputs: list[np.ndarray], batch_size: int, hidden: bool = False) -> Iterator[tuple[np.ndarray, object, object]]:
    """Run ``inputs`` (token-id arrays) through the model, ``batch_size`` sequences per forward pass.

    Length bucketing without padding: a batch only holds sequences of one token length, so no compute is
    spent on padding and a sequence's outputs never depend on which others shared its batch (the same
    scores whatever the batch size or actor count; padding alone shifts logits by ~1e-7). Yields ``(rows, logits, last_hidden)``: ``rows`` indexes ``inputs``;
    ``logits`` is a float32 torch tensor [b, T, V] on the model's device, ``last_hidden`` [b, T, H] or
    None. The caller gathers what it needs before the next batch.
    """
    import torch

    if not inputs:
        return
    lengths = np.array([len(x) for x in inputs])
    dev = loaded.device
    with torch.inference_mode(), _autocast(dev):
        for length in np.unique(lengths):
            group = np.nonzero(lengths == length)[0]
            for lo in range(0, len(group), batch_size):
                rows = group[lo:lo + batch_size]
                ids = torch.from_numpy(np.stack([inputs[r] for r in rows])).to(dev)
                out = loaded.model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=hidden)
                last = out.hidden_states[-1].float() if hidden else None
                yield rows, out.logits.float(), last

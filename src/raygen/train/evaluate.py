"""Masked-base bits per base on held-out sequence, for a model and for k-mer count baselines.

The comparison is paired: the same held-out positions are scored by every predictor. Positions are every
``stride``-th base of non-overlapping ``context``-bp windows (random phase per window), so a masked base
sees its whole neighbourhood unmasked, just as a k-mer model sees its flanks. Only A/C/G/T targets whose
``max_flank`` bases either side are A/C/G/T are scored. Model probabilities are renormalised over A, C, G,
T. Bits per base = mean of ``-log2 P(true base)``; 2.0 is a uniform guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import AutoModelForMaskedLM

from raygen.io.fasta import Reference
from raygen.models.tokenizer import BASE_OFFSET, MASK_ID
from raygen.train.windows import load_sequences, reverse_complement, to_token_ids, whole_genome

#: ASCII byte -> 0..3 for A/C/G/T, 4 for anything else.
_IDX = np.full(256, 4, dtype=np.int64)
for _i, _b in enumerate(b"ACGT"):
    _IDX[_b] = _i


@dataclass(frozen=True)
class EvalSet:
    """Held-out windows (uint8 ASCII [W, L]) and the scored positions: window row, column, true base 0..3."""

    windows: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    truth: np.ndarray


def make_eval_set(seqs: list[np.ndarray], context: int, *, stride: int = 16, max_flank: int = 4,
                  max_windows: int = 4000, seed: int = 0) -> EvalSet:
    """Tile ``seqs`` into ``context``-bp windows (N-free ones only) and pick every ``stride``-th position."""
    rng = np.random.default_rng(seed)
    tiles = [s[: len(s) // context * context].reshape(-1, context) for s in seqs if len(s) >= context]
    wins = np.concatenate(tiles) if tiles else np.empty((0, context), np.uint8)
    wins = wins[(_IDX[wins] < 4).all(axis=1)]
    if len(wins) > max_windows:
        wins = wins[np.sort(rng.choice(len(wins), max_windows, replace=False))]
    phase = rng.integers(0, stride, size=len(wins))
    rows, cols = [], []
    for p in range(stride):
        sel = np.flatnonzero(phase == p)
        c = np.arange(p, context, stride)
        c = c[(c >= max_flank) & (c < context - max_flank)]
        rows.append(np.repeat(sel, len(c)))
        cols.append(np.tile(c, len(sel)))
    rows_a, cols_a = np.concatenate(rows), np.concatenate(cols)
    return EvalSet(wins, rows_a, cols_a, _IDX[wins[rows_a, cols_a]])


def _context_codes(seq_idx: np.ndarray, pos: np.ndarray, k_left: int, k_right: int) -> np.ndarray:
    """Integer code of the k_left + k_right flanking bases of each position (base-4 digits)."""
    code = np.zeros(len(pos), dtype=np.int64)
    for off in list(range(-k_left, 0)) + list(range(1, k_right + 1)):
        code = code * 4 + seq_idx[pos + off]
    return code


def fit_kmer_counts(seqs: list[np.ndarray], k_left: int, k_right: int) -> np.ndarray:
    """Counts [4**(k_left+k_right), 4] of centre base given flanks, over A/C/G/T-only k-mers of ``seqs``.

    Both strands are counted (each sequence and its reverse complement), matching RC-augmented training.
    """
    counts = np.zeros((4 ** (k_left + k_right), 4), dtype=np.int64)
    for s in seqs:
        for strand in (s, reverse_complement(s)):
            idx = _IDX[strand]
            if len(idx) <= k_left + k_right:
                continue
            pos = np.arange(k_left, len(idx) - k_right)
            # A k-mer with any non-ACGT base is dropped: its window sum of "bad" flags is > 0.
            bad = np.concatenate([[0], np.cumsum(idx == 4)])
            ok = bad[pos + k_right + 1] - bad[pos - k_left] == 0
            pos = pos[ok]
            code = _context_codes(np.minimum(idx, 3), pos, k_left, k_right)
            np.add.at(counts, (code, idx[pos]), 1)
    return counts


def kmer_bits(counts: np.ndarray, ev: EvalSet, k_left: int, k_right: int, pseudocount: float = 1.0) -> float:
    """Bits per base of the smoothed k-mer model ``counts`` on ``ev``'s positions."""
    flat = ev.windows[ev.rows]  # [P, L]
    idx = _IDX[flat]
    code = np.zeros(len(ev.rows), dtype=np.int64)
    for off in list(range(-k_left, 0)) + list(range(1, k_right + 1)):
        code = code * 4 + idx[np.arange(len(ev.rows)), ev.cols + off]
    c = counts[code].astype(np.float64) + pseudocount
    p = c[np.arange(len(code)), ev.truth] / c.sum(axis=1)
    return float(-np.log2(p).mean())


def model_bits(model, ev: EvalSet, *, batch_size: int = 128, device: str = "cpu") -> float:
    """Bits per base of a single-nucleotide masked LM on ``ev`` (all of a window's positions masked at once)."""
    model.eval()
    ids = to_token_ids(ev.windows)
    masked = ids.copy()
    masked[ev.rows, ev.cols + 1] = MASK_ID  # +1: the [CLS] token
    total = 0.0
    order = np.argsort(ev.rows, kind="stable")
    rows, cols, truth = ev.rows[order], ev.cols[order], ev.truth[order]
    bounds = np.searchsorted(rows, np.arange(0, len(ids) + batch_size, batch_size))
    with torch.inference_mode():
        for b0, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            if hi <= lo:
                continue
            start = b0 * batch_size
            x = torch.from_numpy(masked[start:start + batch_size]).to(device)
            logits = model(input_ids=x, attention_mask=torch.ones_like(x)).logits
            sel = logits[torch.from_numpy(rows[lo:hi] - start), torch.from_numpy(cols[lo:hi] + 1)]
            logp = torch.log_softmax(sel[:, BASE_OFFSET:BASE_OFFSET + 4].float(), dim=-1)
            total += float(-logp[torch.arange(hi - lo), torch.from_numpy(truth[lo:hi])].sum())
    return total / len(truth) / np.log(2)


def kmer_table(train_seqs: list[np.ndarray], ev: EvalSet, ks: tuple[int, ...] = (2, 3, 4)) -> dict[str, float]:
    """Bits per base of bidirectional k+k count models fitted on ``train_seqs``, on ``ev``."""
    return {f"{k}+{k}-mer": kmer_bits(fit_kmer_counts(train_seqs, k, k), ev, k, k) for k in ks}


def clm_bits(model, windows: np.ndarray, *, batch_size: int = 128, device: str = "cpu") -> float:
    """Bits per base of a causal LM predicting each base of ``windows`` (uint8 ASCII [W, L]) from its prefix."""
    model.eval()
    ids = to_token_ids(windows)
    total, count = 0.0, 0
    with torch.inference_mode():
        for s in range(0, len(ids), batch_size):
            x = torch.from_numpy(ids[s:s + batch_size]).to(device)
            logits = model(input_ids=x, attention_mask=torch.ones_like(x)).logits[:, :-2]  # predict bases 1..L
            target = x[:, 1:-1] - BASE_OFFSET
            ok = (target >= 0) & (target < 4)
            logp = torch.log_softmax(logits[..., BASE_OFFSET:BASE_OFFSET + 4].float(), dim=-1)
            nll = -logp.gather(-1, target.clamp(0, 3).unsqueeze(-1)).squeeze(-1)
            total += float(nll[ok].sum())
            count += int(ok.sum())
    return total / max(count, 1) / np.log(2)


def evaluate_model_vs_kmers(model_dir: str | None, reference: str, train_contigs: list[str], eval_contigs: list[str],
                            *, context: int = 128, windows: int = 4000, ks: tuple[int, ...] = (2, 3, 4),
                            seed: int = 0) -> dict:
    """Bits/base of a masked LM (if ``model_dir``) and of k+k-mer models fitted on ``train_contigs``.

    Returns ``{"positions": P, "bits_per_base": {predictor: bits}}`` over the same held-out positions.
    """
    with Reference(reference) as ref:
        train_r, eval_r = whole_genome(ref, train_contigs), whole_genome(ref, eval_contigs)
    ev = make_eval_set(load_sequences(reference, eval_r), context, max_windows=windows, seed=seed)
    table: dict[str, float] = {"uniform": 2.0}
    if model_dir:
        table["model"] = model_bits(AutoModelForMaskedLM.from_pretrained(model_dir), ev)
    table.update(kmer_table(load_sequences(reference, train_r), ev, ks))
    return {"positions": int(len(ev.rows)), "windows": int(len(ev.windows)), "context": context,
            "train_contigs": train_contigs, "eval_contigs": eval_contigs, "bits_per_base": table}


def format_table(result: dict) -> str:
    """Plain-text table of :func:`evaluate_model_vs_kmers` output, best first."""
    rows = sorted(result["bits_per_base"].items(), key=lambda kv: kv[1])
    head = (f"masked-base bits/base on {result['positions']:,} positions of {','.join(result['eval_contigs'])} "
            f"(k-mer models fitted on {','.join(result['train_contigs'])})")
    return "\n".join([head, f"{'predictor':<12} {'bits/base':>9}"] + [f"{k:<12} {v:9.4f}" for k, v in rows])

"""Tiny random-weight DNA language models of each tokenization scheme, saved with ``save_pretrained``.

They stand in for hub models (Nucleotide Transformer v2, DNABERT-2, HyenaDNA-style character models) in
tests, benchmarks and the notebook, where no weights can be downloaded. Every one is a STOCK transformers
architecture, so ``AutoModelForMaskedLM`` / ``AutoModelForCausalLM`` and ``AutoTokenizer`` load it back
from the directory exactly as they would load the real thing. Scores from them are real computations on
random weights: meaningful for checking plumbing and numerics, not biology.

Schemes:
- ``char``: one token per base (A C G T N) plus specials.
- ``kmer``: Nucleotide Transformer v2 style: ``EsmTokenizer`` over a vocabulary of the 4096 6-mers plus the
  single bases; ESM's longest-match splitting turns a sequence into 6-mers from the left, and bases that
  cannot form a 6-mer (near an N, or at the end) become single-base tokens, as in NT.
- ``bpe``: DNABERT-2 style byte-pair encoding trained with the ``tokenizers`` library on a few kb of
  random DNA (seeded), single bases always in the vocabulary.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np

#: Special tokens of the BPE tiny tokenizer (the same as raygen.models.tokenizer's).
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BASES = "ACGTN"
#: Nucleotide Transformer v2's special tokens, in its vocabulary order.
NT_SPECIALS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
KMER_K = 6
#: Width of the tiny transformers; small enough that building + saving one takes well under a second.
TINY_DIMS = {"hidden": 32, "layers": 2, "heads": 2, "intermediate": 64, "max_positions": 1024}


def _wrap_fast(tok_obj, model_max_length: int):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok_obj,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        bos_token="[CLS]",
        eos_token="[SEP]",
        model_max_length=model_max_length,
    )


def _post_processor(vocab: dict[str, int]):
    from tokenizers.processors import TemplateProcessing

    return TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )


def build_char_tokenizer():
    """Single-nucleotide tokenizer (fast, with offsets): the training area's, ``[CLS] b1 b2 ... [SEP]``."""
    from raygen.models.tokenizer import build_nucleotide_tokenizer

    return build_nucleotide_tokenizer()


def build_kmer_tokenizer(out_dir: str | os.PathLike[str], k: int = KMER_K):
    """NT v2-style tokenizer: ``EsmTokenizer`` over NT's vocabulary layout (specials, 4**k k-mers, bases).

    Written to ``out_dir/vocab.txt`` (EsmTokenizer reads its vocabulary from a file) and returned.
    """
    from transformers import EsmTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=k)]
    vocab = NT_SPECIALS + kmers + list("ATCGN")  # NT puts the single bases last, in this order
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(vocab))
    return EsmTokenizer(str(vocab_file), model_max_length=1024)


def build_bpe_tokenizer(seed: int = 0, vocab_size: int = 64, train_bp: int = 4000, model_max_length: int = 1024):
    """DNABERT-2-style BPE tokenizer trained on ``train_bp`` seeded random bases (fast, with offsets)."""
    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer

    rng = np.random.default_rng(seed)
    chunks = ["".join(rng.choice(list("ACGT"), size=200)) for _ in range(max(1, train_bp // 200))]
    tok = Tokenizer(BPE(unk_token="[UNK]"))
    trainer = BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=list(BASES),
                         show_progress=False)
    tok.train_from_iterator(chunks, trainer=trainer)
    tok.post_processor = _post_processor(tok.get_vocab())
    return _wrap_fast(tok, model_max_length)


def _tiny_model(kind: str, scheme: str, tokenizer, seed: int):
    import torch
    from transformers import EsmConfig, EsmForMaskedLM, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    d = TINY_DIMS
    vocab_size = len(tokenizer)
    if kind == "mlm":
        cfg = EsmConfig(
            vocab_size=vocab_size, hidden_size=d["hidden"], num_hidden_layers=d["layers"],
            num_attention_heads=d["heads"], intermediate_size=d["intermediate"],
            max_position_embeddings=d["max_positions"] + 2, position_embedding_type="rotary",
            pad_token_id=tokenizer.pad_token_id, mask_token_id=tokenizer.mask_token_id,
            token_dropout=False, emb_layer_norm_before=False, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        return EsmForMaskedLM(cfg)
    if kind == "clm":
        cfg = GPT2Config(
            vocab_size=vocab_size, n_embd=d["hidden"], n_layer=d["layers"], n_head=d["heads"],
            n_inner=d["intermediate"], n_positions=d["max_positions"], resid_pdrop=0.0, embd_pdrop=0.0,
            attn_pdrop=0.0, bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id or
            tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        )
        return GPT2LMHeadModel(cfg)
    raise ValueError(f"kind must be 'mlm' or 'clm', not {kind!r}")


def build_tiny_model(out_dir: str | os.PathLike[str], scheme: str = "char", kind: str = "mlm", seed: int = 0) -> Path:
    """Build a random-weight tiny DNA LM and its tokenizer, ``save_pretrained`` both into ``out_dir``.

    ``scheme``: "char" | "kmer" (NT v2 6-mers, ESM masked LM only, as NT) | "bpe". ``kind``: "mlm"
    (ESM masked LM) | "clm" (GPT-2 causal LM). Deterministic for a given ``seed``. Returns ``out_dir``.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-shard bars are noise for a model of a few kB
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if scheme == "char":
        tokenizer = build_char_tokenizer()
    elif scheme == "kmer":
        tokenizer = build_kmer_tokenizer(out)
    elif scheme == "bpe":
        tokenizer = build_bpe_tokenizer(seed=seed)
    else:
        raise ValueError(f"scheme must be 'char', 'kmer' or 'bpe', not {scheme!r}")
    model = _tiny_model(kind, scheme, tokenizer, seed)
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out

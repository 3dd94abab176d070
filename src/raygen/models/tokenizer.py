"""Single-nucleotide DNA tokenizer (contract item 1): one token per base, offsets map tokens to bases.

Vocabulary (ids fixed, so numpy-side encoders and the saved tokenizer always agree):
``[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 A=5 C=6 G=7 T=8 N=9``. Lower-case bases are upper-cased by the
normalizer; anything else (IUPAC codes such as R or Y) becomes ``[UNK]``. Encoded sequences are
``[CLS] bases... [SEP]``, so base ``i`` of the input is token ``i + 1``.
"""

from __future__ import annotations

import numpy as np

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BASES: tuple[str, ...] = ("A", "C", "G", "T", "N")
VOCAB: dict[str, int] = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + BASES)}
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = (VOCAB[t] for t in SPECIAL_TOKENS)
#: Token id of base A; A C G T are consecutive, so ``id - BASE_OFFSET`` is the 0..3 base index.
BASE_OFFSET: int = VOCAB["A"]
N_ID: int = VOCAB["N"]

# Byte -> token id lookup for the vectorised encoder used in training (anything unknown -> [UNK]).
_LUT = np.full(256, UNK_ID, dtype=np.int64)
for _b in BASES:
    _LUT[ord(_b)] = VOCAB[_b]
    _LUT[ord(_b.lower())] = VOCAB[_b]


def encode_bases(seqs: np.ndarray) -> np.ndarray:
    """Token ids for a uint8 array of ASCII bases (any shape), without [CLS]/[SEP]."""
    return _LUT[seqs]


def build_nucleotide_tokenizer(model_max_length: int = 1_000_000):
    """A fast tokenizer with one token per nucleotide, special tokens and offset mappings.

    ``save_pretrained(DIR)`` writes it and ``AutoTokenizer.from_pretrained(DIR)`` loads it back with plain
    transformers (no custom code). ``model_max_length`` is in tokens, [CLS] and [SEP] included.
    """
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(WordLevel(vocab=dict(VOCAB), unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Replace(b.lower(), b) for b in BASES] + [normalizers.Strip()]
    )
    # Each character is its own word; whitespace is dropped rather than turned into [UNK].
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
        padding_side="right",
    )

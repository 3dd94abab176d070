"""Model recipes for pretraining: stock ``transformers`` architectures, so plain Auto* classes load them.

A recipe names an architecture family and its size. ``raygen-small`` is the default: small enough to
learn useful masked-base statistics in minutes on two CPU cores, and a sound starting point on a GPU.
Every recipe builds both objectives from one config class: ``mlm`` (bidirectional, masked) and ``clm``
(causal, next base). Sizes: hidden width in units, ``layers`` transformer blocks, ``heads`` attention
heads; positions are rotary, so windows longer than the training context still run.
"""

from __future__ import annotations

from dataclasses import dataclass

from raygen.errors import UsageError


@dataclass(frozen=True)
class Recipe:
    """One named model size. ``family`` is the transformers model type both objectives use."""

    family: str  # "roformer" (MLM + causal LM), "esm" (MLM only), "bert" (MLM + causal LM)
    hidden: int
    layers: int
    heads: int
    ffn: int  # feed-forward inner width
    max_positions: int = 2048  # tokens; rotary families only use it as a documented limit
    description: str = ""


RECIPES: dict[str, Recipe] = {
    "raygen-tiny": Recipe("roformer", 64, 2, 4, 256, description="2 x 64: for tests and smoke runs"),
    "raygen-small": Recipe("roformer", 128, 4, 4, 512, description="4 x 128 rotary encoder: the default"),
    "raygen-base": Recipe("roformer", 256, 8, 8, 1024, description="8 x 256: for GPUs or long CPU runs"),
    "esm-small": Recipe("esm", 128, 4, 4, 512, description="ESM (rotary) 4 x 128: MLM only"),
    "bert-small": Recipe("bert", 128, 4, 4, 512, description="BERT (learned positions) 4 x 128"),
}

OBJECTIVES: tuple[str, ...] = ("mlm", "clm")


def get_recipe(arch: str) -> Recipe:
    """The recipe named ``arch``; UsageError listing the known names otherwise."""
    try:
        return RECIPES[arch]
    except KeyError:
        raise UsageError(f"unknown --arch {arch!r}; known: {', '.join(RECIPES)}") from None


def _config(recipe: Recipe, objective: str, tokenizer):
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden,
        num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads,
        intermediate_size=recipe.ffn,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=recipe.max_positions,
        pad_token_id=tokenizer.pad_token_id,
    )
    decoder = objective == "clm"
    if recipe.family == "roformer":
        from transformers import RoFormerConfig

        return RoFormerConfig(embedding_size=recipe.hidden, is_decoder=decoder, **common)
    if recipe.family == "bert":
        from transformers import BertConfig

        return BertConfig(is_decoder=decoder, **common)
    if recipe.family == "esm":
        from transformers import EsmConfig

        if decoder:
            raise UsageError(f"{recipe.family!r} recipes are masked-LM only; use --objective mlm")
        return EsmConfig(position_embedding_type="rotary", mask_token_id=tokenizer.mask_token_id,
                         token_dropout=False, emb_layer_norm_before=False, **common)
    raise UsageError(f"unknown model family {recipe.family!r}")


def build_model(arch: str = "raygen-small", objective: str = "mlm", tokenizer=None):
    """A freshly initialised ``PreTrainedModel`` for ``arch`` and ``objective`` ("mlm" or "clm").

    ``tokenizer`` defaults to :func:`raygen.models.tokenizer.build_nucleotide_tokenizer`. The result loads
    back with ``AutoModelForMaskedLM`` (mlm) or ``AutoModelForCausalLM`` (clm) after ``save_pretrained``.
    """
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    if objective not in OBJECTIVES:
        raise UsageError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    if tokenizer is None:
        from raygen.models.tokenizer import build_nucleotide_tokenizer

        tokenizer = build_nucleotide_tokenizer()
    config = _config(get_recipe(arch), objective, tokenizer)
    config.bos_token_id, config.eos_token_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    auto = AutoModelForMaskedLM if objective == "mlm" else AutoModelForCausalLM
    return auto.from_config(config)

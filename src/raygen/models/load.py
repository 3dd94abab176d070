"""Load a DNA language model by hub id or local directory, and say what kind of model it is.

``load_model`` works for hub ids (``InstaDeepAI/nucleotide-transformer-v2-50m-multi-species``,
``zhihan1996/DNABERT-2-117M``, ...) for users with network access, and for local directories written by
``save_pretrained`` (raygen's trained and tiny models). It decides:

- ``kind``: "mlm" (masked LM, loaded with ``AutoModelForMaskedLM``) or "clm" (causal LM,
  ``AutoModelForCausalLM``), from ``config.architectures`` (``*ForMaskedLM`` / ``*ForCausalLM`` /
  ``*LMHeadModel``), else ``config.is_decoder``, else the model type's registered Auto mappings.
- ``scheme``: "char" | "kmer" (with ``k``) | "bpe", from the tokenizer's vocabulary
  (:func:`raygen.models.kmer.detect_scheme`).

Failures that the user can fix (missing or corrupt directory, hub id while offline, remote code without
``--trust-remote-code``) raise :class:`raygen.errors.InputError` saying what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygen.errors import InputError, UsageError

_MLM_SUFFIXES = ("ForMaskedLM",)
_CLM_SUFFIXES = ("ForCausalLM", "LMHeadModel")


@dataclass
class LoadedModel:
    """A model ready for inference (eval mode, on ``device``) with its tokenizer and what it is."""

    model: Any  # transformers.PreTrainedModel
    tokenizer: Any  # transformers tokenizer (fast or slow)
    kind: str  # "mlm" | "clm"
    scheme: str  # "char" | "kmer" | "bpe"
    k: int | None  # k of a k-mer tokenizer, else None
    name: str  # hub id or local directory as given
    revision: str | None  # the pinned revision (hub), or None
    device: str  # "cpu", "cuda", "cuda:1", ...
    head: Any = None  # raygen.models.head.VariantHead when the model dir carries a fine-tuned head

    @property
    def n_params(self) -> int:
        """Number of model parameters (for FLOP estimates: a forward pass costs ~2 * n_params per token)."""
        return sum(p.numel() for p in self.model.parameters())


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when torch sees a GPU, else "cpu"; an explicit CUDA device without CUDA fails."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {device!r} requested but torch sees no CUDA GPU here; use device 'cpu' or 'auto'")
    return device


def model_kind(config) -> str:
    """"mlm" or "clm" for a transformers config (see module docstring for the rules)."""
    for arch in getattr(config, "architectures", None) or []:
        if arch.endswith(_MLM_SUFFIXES):
            return "mlm"
        if arch.endswith(_CLM_SUFFIXES):
            return "clm"
    if getattr(config, "is_decoder", False):
        return "clm"
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    mtype = getattr(config, "model_type", None)
    if mtype in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "mlm"
    if mtype in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "clm"
    raise InputError(
        f"cannot tell whether model type {mtype!r} is a masked or a causal LM (config.architectures="
        f"{getattr(config, 'architectures', None)}); raygen scores with *ForMaskedLM or *ForCausalLM models"
    )


def _is_local(name: str) -> bool:
    p = Path(name).expanduser()
    return p.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1


def _hub_error(name: str, exc: Exception) -> InputError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "trust_remote_code" in str(exc):
        return InputError(f"model {name!r} ships its own code; pass --trust-remote-code if you trust it ({msg})")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        return InputError(
            f"model {name!r} is not a local directory and the Hugging Face hub is offline (HF_HUB_OFFLINE=1): "
            "unset HF_HUB_OFFLINE on a machine with network access, or download the model once "
            f"(`hf download {name} --local-dir DIR`) and pass --model DIR"
        )
    return InputError(
        f"cannot load model {name!r} from the Hugging Face hub ({msg}); check the id and --revision, "
        "your network, or pass a local directory written by save_pretrained"
    )


_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def _model_source(name_or_dir: str) -> tuple[str, bool]:
    """(what to hand to from_pretrained, whether it is a local directory); InputError for a local path that is
    not a complete save_pretrained directory (missing, no config.json, no weights file)."""
    if not _is_local(name_or_dir):
        return name_or_dir, False
    src = str(Path(name_or_dir).expanduser())
    p = Path(src)
    if not p.is_dir():
        raise InputError(
            f"model directory {src!r} does not exist; train one with `raygen train pretrain`, build a "
            "tiny test model with raygen.models.tiny.build_tiny_model, or pass a hub id"
        )
    if not (p / "config.json").is_file():
        raise InputError(f"{src!r} is not a model directory (no config.json); point --model at a directory "
                         "written by save_pretrained (e.g. the output of `raygen train pretrain`)")
    if not any((p / f).is_file() for f in _WEIGHT_FILES):
        raise InputError(f"model directory {src!r} has no weights ({' / '.join(_WEIGHT_FILES[::2])}); "
                         "re-save the model with save_pretrained")
    return src, True


def load_model(name_or_dir: str, *, revision: str | None = None, trust_remote_code: bool = False,
               device: str = "auto", dtype: Any = None) -> LoadedModel:
    """Load a masked or causal DNA LM and its tokenizer for inference.

    ``name_or_dir``: a local ``save_pretrained`` directory, or a hub id (needs network; ``revision`` pins a
    branch, tag or commit). ``trust_remote_code`` allows models that ship their own modelling code
    (HyenaDNA, Caduceus, DNABERT-2, NT v2): off by default. ``device``: "auto" | "cpu" | "cuda[:i]".
    ``dtype``: torch dtype of the weights (default: as saved, float32 for raygen models).
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    dev = resolve_device(device)
    src, local = _model_source(name_or_dir)
    kw = dict(revision=revision, trust_remote_code=trust_remote_code)
    try:
        config = AutoConfig.from_pretrained(src, **kw)
    except Exception as exc:  # noqa: BLE001 - every failure here is a user-fixable input problem
        if local:
            raise InputError(f"model directory {src!r} has an unreadable config.json ({exc}); re-save the model") from None
        raise _hub_error(name_or_dir, exc) from None
    kind = model_kind(config)
    auto = AutoModelForMaskedLM if kind == "mlm" else AutoModelForCausalLM
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, **kw)
        model = auto.from_pretrained(src, dtype=dtype, **kw) if dtype is not None else auto.from_pretrained(src, **kw)
    except Exception as exc:  # noqa: BLE001
        if local:
            raise InputError(
                f"model directory {src!r} is incomplete or corrupt ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); re-save it with save_pretrained "
                "(weights and tokenizer files must both be there)"
            ) from None
        raise _hub_error(name_or_dir, exc) from None
    from raygen.models.kmer import detect_scheme

    scheme, k = detect_scheme(tokenizer)
    if kind == "mlm" and tokenizer.mask_token_id is None:
        raise InputError(f"masked LM {name_or_dir!r} has a tokenizer without a mask token; cannot score it")
    model.eval()
    model.to(dev)
    head = None
    if local:
        from raygen.models.head import VariantHead  # imports torch: only once a model is really loaded

        head = VariantHead.load(src)
    return LoadedModel(model=model, tokenizer=tokenizer, kind=kind, scheme=scheme, k=k, name=name_or_dir,
                       revision=revision, device=dev, head=head)


def describe_model(name_or_dir: str, *, revision: str | None = None, trust_remote_code: bool = False) -> dict:
    """Check a model without loading its weights: {"kind", "scheme", "k", "head"}; InputError as load_model would.

    The driver of a Ray job calls this so a wrong --model fails in a second, before any actor starts.
    """
    from transformers import AutoConfig, AutoTokenizer

    from raygen.models.kmer import detect_scheme

    src, local = _model_source(name_or_dir)
    kw = dict(revision=revision, trust_remote_code=trust_remote_code)
    try:
        config = AutoConfig.from_pretrained(src, **kw)
        tokenizer = AutoTokenizer.from_pretrained(src, **kw)
    except Exception as exc:  # noqa: BLE001
        if local:
            raise InputError(f"model directory {src!r} is incomplete or corrupt ({type(exc).__name__}: "
                             f"{str(exc).strip()[:200]}); re-save it with save_pretrained") from None
        raise _hub_error(name_or_dir, exc) from None
    scheme, k = detect_scheme(tokenizer)
    head = local and (Path(src) / "variant_head.safetensors").is_file()
    return {"kind": model_kind(config), "scheme": scheme, "k": k, "head": head}

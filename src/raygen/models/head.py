"""Fine-tuned variant-effect head (contract item 6), stored inside a model dir beside the base model.

Files: ``variant_head.safetensors`` (weights plus the feature standardisation) and ``variant_head.json``
(format, feature spec, temperature, training metrics). The head reads features that the frozen base model
gives for an SNV (:func:`head_features`) and returns a temperature-scaled probability that the variant
has an effect (label 1). ``raygen score --model DIR`` reports it as ``RAYGEN_PROB``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from raygen.errors import InputError

HEAD_WEIGHTS = "variant_head.safetensors"
HEAD_META = "variant_head.json"
FORMAT = "raygen-variant-head/2"
#: Head formats this code reads, and whether their features end with the REF/ALT one-hot (format 1 did not).
FORMATS = {"raygen-variant-head/1": False, FORMAT: True}
#: Feature layout, in order: last-layer hidden state at the masked base (H values), log P(A,C,G,T) at
#: the masked base (4), LLR = log P(alt) - log P(ref) (1), |LLR| (1), log P(ref) (1), then REF and ALT
#: one-hot over A,C,G,T (4 + 4: the substitution type, which the model's outputs alone do not name).
FEATURE_SPEC = "hidden[H],logp[4],llr,abs_llr,logp_ref,ref_onehot[4],alt_onehot[4]"


def head_features(logp: np.ndarray, hidden: np.ndarray, ref_idx: np.ndarray, alt_idx: np.ndarray,
                  allele_onehot: bool = True) -> np.ndarray:
    """Features [B, H + 15] (float32; H + 7 without ``allele_onehot``) for SNVs from the masked-site outputs
    of the base model.

    ``logp`` [B, 4]: log P(A,C,G,T) at the masked variant base; ``hidden`` [B, H]; ``ref_idx``/``alt_idx``
    [B]: base indices 0..3 (A, C, G, T). Layout: :data:`FEATURE_SPEC`.
    """
    rows = np.arange(len(logp))
    lp = np.maximum(np.asarray(logp, dtype=np.float64), -30.0)  # -inf (base not in vocab) -> finite
    llr = lp[rows, alt_idx] - lp[rows, ref_idx]
    extra = np.stack([llr, np.abs(llr), lp[rows, ref_idx]], axis=1)
    parts = [np.asarray(hidden, dtype=np.float32), lp.astype(np.float32), extra.astype(np.float32)]
    if allele_onehot:
        onehot = np.zeros((len(rows), 8), dtype=np.float32)
        onehot[rows, np.asarray(ref_idx)] = 1.0
        onehot[rows, 4 + np.asarray(alt_idx)] = 1.0
        parts.append(onehot)
    return np.concatenate(parts, axis=1)


class VariantHead(torch.nn.Module):
    """Standardise features, then an MLP (``hidden_units`` > 0) or a linear layer to one logit.

    ``temperature`` divides the logit before the sigmoid; it is fitted on validation data after training
    (temperature scaling), so probabilities are calibrated without changing the ranking.
    """

    def __init__(self, n_features: int, hidden_units: int = 32, dropout: float = 0.1):
        super().__init__()
        self.n_features = n_features
        self.hidden_units = hidden_units
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("temperature", torch.ones(()))
        if hidden_units > 0:
            self.net = torch.nn.Sequential(torch.nn.Linear(n_features, hidden_units), torch.nn.GELU(),
                                           torch.nn.Dropout(dropout), torch.nn.Linear(hidden_units, 1))
        else:
            self.net = torch.nn.Linear(n_features, 1)
        self.meta: dict = {}
        self.allele_onehot = True  # feature layout of FORMAT; False for heads saved in format 1

    def features(self, logp: np.ndarray, hidden: np.ndarray, ref_idx: np.ndarray, alt_idx: np.ndarray) -> np.ndarray:
        """:func:`head_features` in the layout this head was trained on."""
        return head_features(logp, hidden, ref_idx, alt_idx, allele_onehot=self.allele_onehot)

    def set_standardization(self, features: np.ndarray) -> None:
        """Centre and scale features with the training set's mean and standard deviation."""
        x = torch.as_tensor(features, dtype=torch.float32)
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits [B] for features [B, F]."""
        return self.net((x - self.mean) / self.std).squeeze(-1)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Calibrated P(effect) [B] (float64) for features [B, F] from :func:`head_features`."""
        f = np.asarray(features, dtype=np.float32)
        if f.ndim != 2 or f.shape[1] != self.n_features:
            raise InputError(f"variant head expects {self.n_features} features per variant, got shape {f.shape}")
        self.eval()
        with torch.inference_mode():
            logits = self(torch.from_numpy(f)) / self.temperature
        return torch.sigmoid(logits).double().numpy()

    def save(self, model_dir: str | Path, meta: dict) -> None:
        """Write the two head files into ``model_dir`` (atomically, JSON last so it marks completeness)."""
        from safetensors.torch import save_file

        from raygen.io.atomic import atomic_path

        d = Path(model_dir)
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(d / HEAD_WEIGHTS) as tmp:
            save_file(state, str(tmp))
        full = {"format": FORMAT, "feature_spec": FEATURE_SPEC, "n_features": self.n_features,
                "hidden_units": self.hidden_units, "temperature": float(self.temperature), **meta}
        with atomic_path(d / HEAD_META) as tmp:
            tmp.write_text(json.dumps(full, indent=2))
        self.meta = full

    @classmethod
    def load(cls, model_dir: str | Path) -> "VariantHead | None":
        """The head saved in ``model_dir``, or None when it has none. A damaged head raises InputError."""
        d = Path(model_dir)
        if not (d / HEAD_META).exists():
            return None
        from safetensors.torch import load_file

        try:
            meta = json.loads((d / HEAD_META).read_text())
            if meta.get("format") not in FORMATS:
                raise ValueError(f"unknown format {meta.get('format')!r}")
            head = cls(int(meta["n_features"]), int(meta["hidden_units"]))
            head.allele_onehot = FORMATS[meta["format"]]
            head.load_state_dict(load_file(str(d / HEAD_WEIGHTS)))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise InputError(f"variant head in {str(d)!r} is unreadable ({exc}); retrain it with `raygen train finetune`") from None
        head.meta = meta
        head.eval()
        return head

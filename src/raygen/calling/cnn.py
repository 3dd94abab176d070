"""The neural genotyper: a small CNN over pileup tensors plus site features -> P(0/0, 0/1, 1/1).

Per-read convolutions along the window, mean and max pooling over reads (so read order matters little),
a 1-D convolution along the window, the centre columns and the site features into two dense layers. A
model directory holds ``caller.safetensors`` (weights), ``caller.json`` (shape, training metrics) and
``MODEL_CARD.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from raygen.calling.candidates import Candidate, Pileup, SiteTables
from raygen.calling.classical import genotype_classical, log_prior, make_record
from raygen.calling.errormodel import ErrorModel
from raygen.calling.features import evidence_features
from raygen.calling.records import CallRecord
from raygen.calling.tensors import N_FEATURES, pileup_tensors, site_features
from raygen.config import CallConfig
from raygen.errors import InputError

WEIGHTS = "caller.safetensors"
META = "caller.json"


class PileupCNN(nn.Module):
    """CNN genotyper. Input ``x [B, C, H, W]``, ``f [B, F]``; output logits ``[B, 3]``."""

    def __init__(self, channels: int = 8, width: int = 33, n_features: int = N_FEATURES, hidden: int = 16):
        super().__init__()
        self.shape = {"channels": channels, "width": width, "n_features": n_features, "hidden": hidden}
        self.read_conv = nn.Sequential(
            nn.Conv2d(channels, hidden, (1, 5), padding=(0, 2)), nn.ReLU(),
            nn.Conv2d(hidden, hidden, (1, 5), padding=(0, 2)), nn.ReLU(),
        )
        self.site_conv = nn.Sequential(nn.Conv1d(2 * hidden, hidden, 5, padding=2), nn.ReLU())
        self.head = nn.Sequential(
            nn.Linear(hidden * 5 + hidden + n_features, 64), nn.ReLU(), nn.Linear(64, 3),
        )

    def forward(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        h = self.read_conv(x)  # [B, hid, H, W]
        covered = (x[:, 1:2] > 0).float()  # rows/cols with a read base
        n = covered.sum(dim=2).clamp(min=1.0)
        mean = (h * covered).sum(dim=2) / n
        mx = h.max(dim=2).values
        s = self.site_conv(torch.cat([mean, mx], dim=1))  # [B, hid, W]
        c = s.shape[-1] // 2
        centre = s[:, :, c - 2:c + 3].flatten(1)
        return self.head(torch.cat([centre, s.mean(dim=-1), f], dim=1))


def save_caller(net: PileupCNN, out_dir: str | Path, meta: dict) -> None:
    """Write weights and metadata into ``out_dir`` (the caller writes the card)."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / WEIGHTS))
    (out / META).write_text(json.dumps({"shape": net.shape, **meta}, indent=2))


def load_caller(model_dir: str | Path) -> PileupCNN:
    """Load a model dir written by ``raygen train caller`` (InputError if missing or corrupt)."""
    from safetensors.torch import load_file

    d = Path(model_dir)
    if not (d / META).exists() or not (d / WEIGHTS).exists():
        raise InputError(f"{str(d)!r} is not a caller model dir ({META} and {WEIGHTS} expected); train one with "
                         "`raygen train caller` or use --model classical")
    try:
        meta = json.loads((d / META).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load caller model {str(d)!r}: {exc}") from None
    nf = meta.get("shape", {}).get("n_features")
    if nf != N_FEATURES:
        raise InputError(f"caller model {str(d)!r} reads {nf} site features, this raygen computes {N_FEATURES} "
                         "(the evidence features were added): retrain it with `raygen train caller`")
    try:
        net = PileupCNN(**meta["shape"])
        net.load_state_dict(load_file(str(d / WEIGHTS)))
    except Exception as exc:  # noqa: BLE001 - any corruption becomes one clear message
        raise InputError(f"cannot load caller model {str(d)!r}: {exc}") from None
    net.eval()
    return net


def predict(net: PileupCNN, x: np.ndarray, f: np.ndarray, batch: int = 256) -> np.ndarray:
    """Genotype probabilities ``[N, 3]`` for tensors ``x`` and features ``f``."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = net(torch.from_numpy(x[i:i + batch]), torch.from_numpy(f[i:i + batch]))
            out.append(torch.softmax(logits, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 3), dtype=np.float32)


def featurize(p: Pileup, t: SiteTables, cands: list[Candidate], cfg: CallConfig, em: ErrorModel | None = None):
    """Re-scored candidates, their classical records, tensors and site features for a shard.

    Features: the classical posteriors and counts (:func:`raygen.calling.tensors.site_features`), then the
    evidence features of :mod:`raygen.calling.features`."""
    em = em or ErrorModel.build(cfg)
    cands2, recs, sups, lls = genotype_classical(p, t, cands, cfg, "", em)
    lps = [ll + log_prior(c, cfg) for c, ll in zip(cands2, lls)]
    supports = [set(s[0].tolist()) if s is not None else None for s in sups]
    x = pileup_tensors(p, cands2, cfg, supports)
    ev = evidence_features(p, t, cands2, recs, sups, cfg, em.depth_median)
    f = np.concatenate([site_features(cands2, lps), ev], axis=1).astype(np.float32)
    return cands2, recs, x, f


def genotype_cnn(p: Pileup, t: SiteTables, cands: list[Candidate], cfg: CallConfig, chrom: str, net: PileupCNN,
                 em: ErrorModel | None = None) -> list[CallRecord]:
    """Genotype candidates with the CNN: probabilities become PL, QUAL and GQ like the classical model's."""
    cands2, _, x, f = featurize(p, t, cands, cfg, em)
    probs = predict(net, x, f)
    out = []
    for c, pr in zip(cands2, probs):
        lp = np.log(np.clip(pr.astype(np.float64), 1e-12, 1.0))
        out.append(make_record(chrom, c, lp, lp, cfg))
    return out

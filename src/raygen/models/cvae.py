"""A conditional VAE batch corrector in plain torch (scVI-style, for continuous log-scale data).

Inputs are standardised features (training means and SDs), missing values set to 0 and masked out of the
loss. The encoder sees ``[x, batch one-hot]`` and gives a Gaussian posterior over the latent code z; the
decoder maps ``[z, batch one-hot, covariates one-hot]`` to the feature means, with a learned variance per
(batch, feature). A small adversary tries to predict the batch from z; its gradient is reversed into the
encoder (Ganin & Lempitsky 2015) so z keeps as little batch as it can. Correcting a sample = encode it
with its own batch, decode the posterior mean with the reference batch.

Loss per sample: Gaussian negative log-likelihood of the observed features (per feature, mean over
features) + ``beta_kl`` x KL(q(z|x) || N(0, I)) / features + ``adversary_weight`` x batch cross-entropy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class CvaeShape:
    """Everything that fixes the network's shape (saved with the weights)."""

    n_features: int
    n_batches: int
    n_covariates: int  # width of the covariates' one-hot block (0: none)
    latent: int
    hidden: int
    dropout: float

    def to_dict(self) -> dict:
        return asdict(self)


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def _mlp(n_in: int, hidden: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.LayerNorm(hidden), nn.SiLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, n_out))


class ConditionalVAE(nn.Module):
    def __init__(self, shape: CvaeShape):
        super().__init__()
        self.shape = shape
        s = shape
        self.encoder = _mlp(s.n_features + s.n_batches, s.hidden, 2 * s.latent, s.dropout)
        self.decoder = _mlp(s.latent + s.n_batches + s.n_covariates, s.hidden, s.n_features, s.dropout)
        self.log_var = nn.Parameter(torch.zeros(s.n_batches, s.n_features))
        self.adversary = nn.Sequential(nn.Linear(s.latent, s.hidden), nn.SiLU(), nn.Linear(s.hidden, s.n_batches))

    def encode(self, x: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(torch.cat([x, F.one_hot(b, self.shape.n_batches).float()], dim=1))
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def decode(self, z: torch.Tensor, b: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z, F.one_hot(b, self.shape.n_batches).float(), cov], dim=1))

    def forward(self, x, mask, b, cov, beta_kl: float, adversary_weight: float) -> dict[str, torch.Tensor]:
        """Loss terms of one minibatch (x standardised, mask 1 where observed, b batch index, cov one-hot);
        the training step is the forward pass so DDP sees it."""
        mu, logvar = self.encode(x, b)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        mean = self.decode(z, b, cov)
        lv = self.log_var[b]
        nll = 0.5 * (lv + (x - mean) ** 2 / torch.exp(lv))
        recon = (nll * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1) / self.shape.n_features
        logits = self.adversary(_Reverse.apply(z))
        adv = F.cross_entropy(logits, b)
        total = recon.mean() + beta_kl * kl.mean() + adversary_weight * adv
        acc = (logits.argmax(dim=1) == b).float().mean()
        return {"loss": total, "recon": recon.mean(), "kl": kl.mean(), "adversary": adv, "adversary_acc": acc}

    @torch.no_grad()
    def correct(self, x: torch.Tensor, b: torch.Tensor, cov: torch.Tensor, ref: int) -> torch.Tensor:
        """Decode every sample's posterior mean as if it came from batch ``ref`` (standardised scale)."""
        mu, _ = self.encode(x, b)
        return self.decode(mu, torch.full_like(b, ref), cov)

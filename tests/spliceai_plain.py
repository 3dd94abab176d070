"""A plain, unbatched SpliceAI written the way the release computes it, for tests to check raygen against.

``keras_forward``: the Keras network ('same' zero-padded convs over the whole input, batch norms unfolded,
crop, softmax) straight from the HDF5 weights. ``release_windows``: the release's ``x_ref``/``x_alt`` strings
for one variant and gene (``get_delta_scores`` in spliceai/utils.py). Nothing here is shared with
``raygen.models.spliceai`` except the weights reader.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def keras_forward(n, onehot: np.ndarray) -> np.ndarray:
    """(L, 4) one-hot -> (L - 10000, 3) probabilities of one :class:`KerasSpliceAI` network."""
    def conv(x, c):
        return F.conv1d(x, torch.tensor(c.weight), torch.tensor(c.bias), dilation=c.dilation,
                        padding="same" if c.same else 0)

    def bn(x, b):
        t = lambda a: torch.tensor(a)[None, :, None]  # noqa: E731
        return (x - t(b.mean)) / torch.sqrt(t(b.var) + b.eps) * t(b.gamma) + t(b.beta)

    with torch.inference_mode():
        x = torch.tensor(onehot.T[None].astype(np.float32))
        s = conv(x, n.stem)
        skip = conv(s, n.skips[0])
        k = 1
        for i, u in enumerate(n.units):
            s = s + conv(torch.relu(bn(conv(torch.relu(bn(s, u.bn_a)), u.conv_a), u.bn_b)), u.conv_b)
            if k < len(n.skips) and n.skip_after[k] == i + 1:
                skip = skip + conv(s, n.skips[k])
                k += 1
        y = conv(skip[:, :, n.crop:-n.crop], n.out)
        return torch.softmax(y, dim=1)[0].T.numpy()


def onehot_of(codes: np.ndarray) -> np.ndarray:
    """Codes 0..4 (N, A, C, G, T) -> one-hot rows (N = zeros)."""
    return np.eye(5, dtype=np.float32)[codes][:, 1:]


def one_hot(seq: str) -> np.ndarray:
    return onehot_of(np.array(["NACGT".index(c) for c in seq.upper()]))


def release_windows(fasta, gene, pos: int, ref: str, alt: str, distance: int) -> tuple[str, str]:
    """The release's ``x_ref`` and ``x_alt`` (genomic orientation) for 1-based ``pos`` and a gene-table row."""
    wid = 10_000 + 2 * distance + 1
    seq = fasta.fetch(gene.chrom, pos - wid // 2 - 1, pos + wid // 2)
    tx_start, tx_end = gene.tx_start + 1, gene.tx_end
    pad0, pad1 = max(wid // 2 + tx_start - pos, 0), max(wid // 2 - (tx_end - pos), 0)
    x_ref = "N" * pad0 + seq[pad0:wid - pad1] + "N" * pad1
    return x_ref, x_ref[:wid // 2] + alt + x_ref[wid // 2 + len(ref):]


def ensemble_tracks(nets, x_ref: str, x_alt: str, strand: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the networks' outputs for both windows, minus strand on the reverse complement (genomic
    orientation out), as ``get_delta_scores`` computes y_ref and y_alt (before the indel handling)."""
    out = []
    for x in (x_ref, x_alt):
        h = one_hot(x)
        if strand == "-":
            h = h[::-1, ::-1].copy()
        y = sum(keras_forward(n, h) for n in nets) / len(nets)
        out.append(y[::-1] if strand == "-" else y)
    return out[0], out[1]

"""SpliceAI-10k in PyTorch: the release's network, evaluated in 'valid' mode, with incremental ALT forwards.

Network (from the wheel's HDF5 files, :mod:`raygen.models.spliceai_weights`): one-hot input (A, C, G, T;
N = all zeros) -> 1x1 stem conv (32 channels) -> 16 residual units in four groups of kernel/dilation
(11, 1), (11, 4), (21, 10), (41, 25), each unit ``s + conv_b(relu(bn_b(conv_a(relu(bn_a(s))))))`` ->
1x1 skip convs of the stem and of each group's output, summed in that order -> crop 5,000 bases each side
-> 1x1 conv -> softmax over (neither, acceptor, donor).

Exactness of the port:

- The receptive radius of the 32 dilated convs is exactly the 5,000-base crop, so an output base depends
  only on the 10,001 input bases around it, and the release's zero 'same' padding never reaches a kept
  output. We therefore run every conv in 'valid' mode: a tensor at cumulative radius ``R`` exists at input
  positions ``[R, L - R)``, and the network maps ``L`` input bases to ``L - 10000`` outputs.
- ``bn_b`` is folded into ``conv_a`` (``W' = s W``, ``b' = s (b - mean) + beta``, ``s = gamma / sqrt(var +
  eps)``, computed in float64 and stored as float32); ``bn_a`` acts on the residual stream, which also feeds
  the identity path and the skip convs, so it stays a per-channel affine.
- The stem (a 1x1 conv of a one-hot base) is a table lookup: row ``c`` = weight column ``c`` + bias, row 0
  (N) = bias, which is what the conv computes exactly.

Incremental ALT forward (:meth:`SpliceAINet.alt_forward`): an ALT window equals the REF window except for
a changed segment, so a tensor at radius ``R`` differs from REF only within ``R`` bases of that segment
(left of it at the same index, right of it shifted by ``len(REF) - len(ALT)``). We compute each ALT tensor
only there (and only where the outputs need it), reading REF values from the REF forward everywhere else.
:func:`cone_plan` gives those ranges; they depend only on the allele lengths and the window, so items of
one shape batch together and an item's arithmetic never depends on the other items of its batch.

Coordinates here are window indices (0-based) in model orientation: the caller reverse-complements
minus-strand windows, as the release does.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from raygen.io.atomic import atomic_path
from raygen.models.spliceai_weights import CONTEXT, KerasSpliceAI, model_paths, read_ensemble
from raygen.provenance import cache_dir

__all__ = ["CONTEXT", "SpliceAINet", "ConePlan", "cone_plan", "conv1d", "encode", "complement_codes", "load_ensemble"]

log = logging.getLogger(__name__)

#: Bump when :meth:`SpliceAINet.folded` or the folding arithmetic changes: old cache files are then ignored.
FOLDED_FORMAT = 1

#: Base -> one-hot row as the release encodes it (``map[ord(c) % 5]`` after A/C/G/T/N become 1/2/3/4/0):
#: 0 = N (all zeros), 1..4 = A, C, G, T. Letters other than ACGTN land on a row by their code, as there.
BASE_CODE = np.array([ord(c) % 5 for c in (chr(i) for i in range(256))], dtype=np.int64)
for _i, _b in enumerate("NACGT"):
    BASE_CODE[ord(_b)] = _i
    BASE_CODE[ord(_b.lower())] = _i
for _c in range(ord("a"), ord("z") + 1):  # the release upper-cases first
    BASE_CODE[_c] = BASE_CODE[_c - 32]


@functools.cache
def _onednn_bf16() -> bool:
    """Whether oneDNN has bf16 convolutions on this CPU (AVX512-BF16 or AVX-NE-CONVERT; a plain AVX2 CPU has none)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """'valid' conv1d. On CPU always oneDNN's kernel: ``F.conv1d`` would switch to another implementation for
    a batch of one narrow window, and the result of an item must not depend on its batch (oneDNN's does not:
    tested across batch sizes, widths and thread counts in tests/models/test_spliceai.py). bf16 on a CPU without
    oneDNN's bf16 kernels (oneDNN refuses them there): the bf16 values convolved in fp32 and rounded back to bf16,
    which is what a bf16 kernel computes (bf16 inputs, fp32 accumulation, a bf16 result), in oneDNN's fp32 kernel
    (PyTorch's generic bf16 convolution took 30 s for one variant)."""
    if x.device.type == "cpu":
        if x.dtype == torch.bfloat16 and not _onednn_bf16():
            return conv1d(x.float(), w.float(), b.float(), dilation).to(torch.bfloat16)
        return torch.ops.aten.mkldnn_convolution(x.unsqueeze(2), w.unsqueeze(2), b, [0, 0], [1, 1],
                                                 [1, dilation], 1).squeeze(2)
    return F.conv1d(x, w, b, dilation=dilation)


def encode(seq: str) -> np.ndarray:
    """Base codes (0 = N, 1..4 = A, C, G, T) of ``seq``, as int64."""
    return BASE_CODE[np.frombuffer(seq.encode("latin-1"), dtype=np.uint8)]


def complement_codes(codes: np.ndarray) -> np.ndarray:
    """Codes of the reverse complement (the release flips both the sequence and the one-hot axis)."""
    return np.where(codes == 0, 0, 5 - codes)[::-1].copy()


@dataclass(frozen=True)
class ConePlan:
    """Where an ALT forward computes each tensor, in ALT window indices (closed ranges).

    ``ranges[t]`` = (lo, hi) computed for tensor ``t`` (0 = stem, 2i-1 = unit i's mid tensor, 2i = stream
    after unit i); ``out`` = (lo, hi) of the output positions; ``u``: start of the changed segment;
    ``alt_len``; ``delta`` = len(REF) - len(ALT) (REF index = ALT index + delta right of the segment).
    """

    u: int
    alt_len: int
    delta: int
    radii: tuple[int, ...]
    ranges: tuple[tuple[int, int], ...]
    out: tuple[int, int]


def tensor_radii(radii_per_conv: list[int]) -> list[int]:
    """Cumulative radius of each tensor (stem, then mid/stream per unit) from the conv radii (a, b per unit)."""
    out, r = [0], 0
    for x in radii_per_conv:
        r += x
        out.append(r)
    return out


def cone_plan(u: int, ref_len: int, alt_len: int, window: int, radii: list[int]) -> ConePlan:
    """The ranges an ALT forward computes: tensor ``t`` at radius ``R`` differs from REF on
    ``[u - R, u + alt_len - 1 + R]`` and exists on ``[R, L_alt - 1 - R]`` (``L_alt = window - ref_len +
    alt_len``); the plan computes their intersection. ``window``: REF window length (bases)."""
    length = window - ref_len + alt_len
    ranges = tuple((max(u - r, r), min(u + alt_len - 1 + r, length - 1 - r)) for r in radii)
    full = radii[-1]
    return ConePlan(u, alt_len, ref_len - alt_len, tuple(radii), ranges, (full, length - 1 - full))


class SpliceAINet(torch.nn.Module):
    """One SpliceAI-10k network (BN folded, 'valid' convs). ``forward_ref`` keeps every tensor for ALTs."""

    def __init__(self, net: KerasSpliceAI, dtype: torch.dtype = torch.float32):
        super().__init__()
        stem = net.stem.weight[:, :, 0].astype(np.float64)  # (32, 4)
        table = np.concatenate([np.zeros((1, stem.shape[0])), stem.T], axis=0) + net.stem.bias[None, :]
        self.register_buffer("stem", torch.tensor(table, dtype=dtype))  # (5, 32): code -> stem output
        self.dilations, conv_radii = [], []
        for i, u in enumerate(net.units):
            sa = u.bn_a.gamma.astype(np.float64) / np.sqrt(u.bn_a.var.astype(np.float64) + u.bn_a.eps)
            sb = u.bn_b.gamma.astype(np.float64) / np.sqrt(u.bn_b.var.astype(np.float64) + u.bn_b.eps)
            wa = u.conv_a.weight.astype(np.float64) * sb[:, None, None]
            ba = (u.conv_a.bias.astype(np.float64) - u.bn_b.mean) * sb + u.bn_b.beta
            for name, val in (("sa", sa), ("ta", u.bn_a.beta - u.bn_a.mean * sa), ("wa", wa), ("ba", ba),
                              ("wb", u.conv_b.weight), ("bb", u.conv_b.bias)):
                self.register_buffer(f"{name}{i}", torch.tensor(np.asarray(val), dtype=dtype))
            self.dilations.append(u.conv_a.dilation)
            conv_radii += [u.conv_a.radius, u.conv_b.radius]
        self.n_units = len(net.units)
        self.radii = tensor_radii(conv_radii)
        self.skip_tensors = [2 * k for k in net.skip_after]  # stream tensor each skip conv reads
        for j, s in enumerate(net.skips):
            self.register_buffer(f"ws{j}", torch.tensor(s.weight, dtype=dtype))
            self.register_buffer(f"bs{j}", torch.tensor(s.bias, dtype=dtype))
        self.register_buffer("wo", torch.tensor(net.out.weight, dtype=dtype))
        self.register_buffer("bo", torch.tensor(net.out.bias, dtype=dtype))
        self.context = 2 * self.radii[-1]

    def folded(self) -> dict:
        """The folded network as plain data (tensors, ints) that ``torch.load(weights_only=True)`` reads back."""
        return {"buffers": dict(self.named_buffers()), "dilations": self.dilations, "radii": self.radii,
                "skip_tensors": self.skip_tensors, "n_units": self.n_units}

    @classmethod
    def from_folded(cls, d: dict) -> SpliceAINet:
        """The network :meth:`folded` described, bit for bit (no HDF5 parse, no folding)."""
        self = cls.__new__(cls)
        torch.nn.Module.__init__(self)
        for name, value in d["buffers"].items():
            self.register_buffer(name, value)
        self.dilations, self.radii = list(d["dilations"]), list(d["radii"])
        self.skip_tensors, self.n_units = list(d["skip_tensors"]), int(d["n_units"])
        self.context = 2 * self.radii[-1]
        return self

    def buf(self, name: str) -> torch.Tensor:
        return getattr(self, name)

    # -- pieces ----------------------------------------------------------------------------------------
    def pre(self, i: int, s: torch.Tensor) -> torch.Tensor:
        """relu(bn_a(s)) of unit ``i`` (``s``: (B, 32, W))."""
        return torch.relu(s * self.buf(f"sa{i}")[:, None] + self.buf(f"ta{i}")[:, None])

    def conv_a(self, i: int, a: torch.Tensor) -> torch.Tensor:
        """Unit ``i``'s mid tensor relu(bn_b(conv_a(a))), valid mode."""
        return torch.relu(conv1d(a, self.buf(f"wa{i}"), self.buf(f"ba{i}"), self.dilations[i]))

    def conv_b(self, i: int, m: torch.Tensor) -> torch.Tensor:
        return conv1d(m, self.buf(f"wb{i}"), self.buf(f"bb{i}"), self.dilations[i])

    def head(self, streams: list[torch.Tensor]) -> torch.Tensor:
        """Probabilities (B, W, 3) from the skip tensors, each already cut to the W output positions."""
        acc = None
        for j, s in enumerate(streams):
            y = conv1d(s, self.buf(f"ws{j}"), self.buf(f"bs{j}"))
            acc = y if acc is None else acc + y  # the release's order: ((s0 + s1) + s2) + ...
        logits = conv1d(acc, self.wo, self.bo).transpose(1, 2)
        return torch.softmax(logits.float(), dim=-1)  # per row, whatever the batch

    # -- REF -------------------------------------------------------------------------------------------
    def forward_ref(self, codes: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Probabilities (B, L - 10000, 3) of base codes (B, L), and every tensor (stem, then mid and stream of
        each unit): tensor ``t`` covers input positions ``[R_t, L - R_t)``, ``R_t = self.radii[t]``."""
        s = self.stem[codes].transpose(1, 2)  # (B, 32, L)
        kept = [s]
        for i in range(self.n_units):
            m = self.conv_a(i, self.pre(i, s))
            e = self.conv_b(i, m)
            cut = (s.shape[2] - e.shape[2]) // 2
            s = s[:, :, cut:s.shape[2] - cut] + e
            kept += [m, s]
        full = self.radii[-1]
        outs = [kept[t][:, :, full - self.radii[t]: kept[t].shape[2] - (full - self.radii[t])]
                for t in self.skip_tensors]
        return self.head(outs), kept

    # -- ALT -------------------------------------------------------------------------------------------
    def forward_alt(self, plan: ConePlan, alt_codes: torch.Tensor, ref: list[torch.Tensor], tile: torch.Tensor,
                    off: torch.Tensor) -> torch.Tensor:
        """Probabilities (B, n_out, 3) of B ALT windows that share ``plan``.

        ``alt_codes`` (B, alt_len): the ALT segment. ``ref``: the REF tensors of :meth:`forward_ref` over tiles
        (``ref[t]`` of shape (n_tiles, 32, W_t)); item b's REF window index ``q`` is tile ``tile[b]``'s input
        position ``off[b] + q``.
        """
        gather = _Gather(plan, self.radii, ref, tile, off)
        lo, hi = plan.ranges[0]
        gather.put(0, self.stem[alt_codes[:, lo - plan.u: hi - plan.u + 1]].transpose(1, 2))
        for i in range(self.n_units):
            r_a = self.radii[2 * i + 1] - self.radii[2 * i]
            r_b = self.radii[2 * i + 2] - self.radii[2 * i + 1]
            lo, hi = plan.ranges[2 * i + 1]
            gather.put(2 * i + 1, self.conv_a(i, self.pre(i, gather(2 * i, lo - r_a, hi + r_a))))
            lo, hi = plan.ranges[2 * i + 2]
            e = self.conv_b(i, gather(2 * i + 1, lo - r_b, hi + r_b))
            gather.put(2 * i + 2, gather(2 * i, lo, hi) + e)
        return self.head([gather(t, *plan.out) for t in self.skip_tensors])


class _Gather:
    """Tensor values of a batch of ALT windows over any range: computed ALT values inside the plan's range,
    REF values (shifted by ``delta`` right of the changed segment) outside."""

    def __init__(self, plan: ConePlan, radii: list[int], ref: list[torch.Tensor], tile: torch.Tensor,
                 off: torch.Tensor):
        self.plan, self.radii, self.ref, self.tile, self.off = plan, radii, ref, tile[:, None], off[:, None]
        self.alt: dict[int, torch.Tensor] = {}

    def put(self, t: int, x: torch.Tensor) -> None:
        self.alt[t] = x

    def _ref(self, t: int, lo: int, hi: int, shift: int) -> torch.Tensor:
        idx = self.off + (lo + shift - self.radii[t]) + torch.arange(hi - lo + 1, device=self.off.device)
        return self.ref[t][self.tile, :, idx].transpose(1, 2)  # (B, 32, n)

    def __call__(self, t: int, lo: int, hi: int) -> torch.Tensor:
        clo, chi = self.plan.ranges[t]
        parts = []
        if lo < clo:
            parts.append(self._ref(t, lo, min(hi, clo - 1), 0))
        a, b = max(lo, clo), min(hi, chi)
        if a <= b:
            parts.append(self.alt[t][:, :, a - clo: b - clo + 1])
        if hi > chi:
            parts.append(self._ref(t, max(lo, chi + 1), hi, self.plan.delta))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)


def folded_cache_path(dtype: torch.dtype) -> Path:
    """Where the folded ensemble of the installed wheel lives: ``$RAYGEN_CACHE/spliceai/<key>.pt``, the key
    a sha256 of the five ``.h5`` files' bytes, the dtype and :data:`FOLDED_FORMAT` (other weights, another
    dtype or another folding never read it)."""
    h = hashlib.sha256(f"spliceai-folded/{FOLDED_FORMAT}/{dtype}".encode())
    for path in model_paths():  # checked against the wheel's RECORD (raygen.models.spliceai_weights)
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return cache_dir() / "spliceai" / f"{h.hexdigest()[:32]}.pt"


def load_ensemble(dtype: torch.dtype = torch.float32) -> list[SpliceAINet]:
    """The five networks of the installed wheel, folded, in the release's order.

    Parsing the HDF5 files and folding the batch norms costs about 0.6 CPU s (plus h5py's import) in every
    process that loads the model (each Ray actor, each Serve replica); the folded tensors are therefore kept
    in raygen's cache (:func:`folded_cache_path`, ``torch.save``, written atomically) and read from there
    (about 0.07 CPU s, hashing the key included). A missing, unreadable or foreign cache file is rebuilt; a
    cache directory that cannot be written only costs the rebuild next time."""
    path = folded_cache_path(dtype)
    try:
        return [SpliceAINet.from_folded(d) for d in torch.load(path, weights_only=True)]
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign cache file: rebuild it
        log.info("SpliceAI weight cache %s unreadable (%s): rebuilt from the wheel", path, exc)
    nets = [SpliceAINet(n, dtype=dtype) for n in read_ensemble()]
    try:
        with atomic_path(path) as tmp:
            torch.save([n.folded() for n in nets], tmp)
    except OSError as exc:
        log.info("SpliceAI weight cache %s not written (%s)", path, exc)
    return nets

"""SpliceAI's published weights and gene tables, read from Illumina's ``spliceai`` 1.3.1 wheel.

The wheel (``pip install --no-deps spliceai==1.3.1``) ships the five SpliceAI-10k networks as Keras 2 HDF5
files (``spliceai/models/spliceai{1..5}.h5``) and GENCODE V24 gene tables (``spliceai/annotations/``). Its
Python modules import Keras, so they are never imported here: the files are located through the package's
installed metadata (``importlib.metadata``), checked against the sha256 sums in its RECORD, and read with
``h5py``.

:func:`read_network` turns one HDF5 file into a :class:`KerasSpliceAI`: the layers in the order the Keras
graph applies them (stem conv, residual units, skip convs, output conv) with plain numpy weights, after
checking that the graph has the shape the torch port implements (see :mod:`raygen.models.spliceai`).

Licence of the weights: CC BY-NC 4.0 (non-commercial use); the release's code is GPLv3 (none of it is used
here); the GENCODE tables are open.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from raygen.errors import InputError

DIST = "spliceai"
VERSION = "1.3.1"
INSTALL = f"pip install --no-deps {DIST}=={VERSION}"
N_MODELS = 5
LICENCE = ("SpliceAI-10k weights (Jaganathan et al., Cell 2019; Illumina spliceai 1.3.1): CC BY-NC 4.0, "
           "non-commercial use only")
ANNOTATIONS = ("grch37", "grch38")
CONTEXT = 10_000  # input bases an output base depends on besides itself: 5,000 each side (2 x the crop)


def _missing(why: str) -> InputError:
    return InputError(f"SpliceAI weights: {why}; install them with `{INSTALL}` (into raygen's environment; "
                      "`make install` does it)")


@cache
def wheel_files() -> dict[str, Path]:
    """Relative path in the wheel (``spliceai/models/spliceai1.h5``, ...) -> installed file, checked.

    Raises :class:`InputError` with the install command when the wheel is missing, of another version, or a
    file is absent or differs from the sha256 its RECORD lists.
    """
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        raise _missing(f"the {DIST} wheel is not installed") from None
    if dist.version != VERSION:
        raise _missing(f"{DIST} {dist.version} is installed, raygen reads {VERSION}")
    wanted = [f"spliceai/models/spliceai{i}.h5" for i in range(1, N_MODELS + 1)]
    wanted += [f"spliceai/annotations/{a}.txt" for a in ANNOTATIONS]
    listed = {str(f): f for f in dist.files or []}
    out = {}
    for rel in wanted:
        path = Path(dist.locate_file(rel))
        if rel not in listed or not path.is_file():
            raise _missing(f"{path} is missing")
        rec = listed[rel].hash
        if rec is not None and rec.mode == "sha256":
            digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
            if digest != rec.value:
                raise _missing(f"{path} differs from the file the wheel installed (sha256 mismatch)")
        out[rel] = path
    return out


def model_paths() -> list[Path]:
    """The five ``.h5`` files, model 1 first (the release's ensemble order)."""
    files = wheel_files()
    return [files[f"spliceai/models/spliceai{i}.h5"] for i in range(1, N_MODELS + 1)]


def annotation_path(name: str) -> Path:
    """The wheel's gene table ``grch37`` or ``grch38``."""
    return wheel_files()[f"spliceai/annotations/{name}.txt"]


@dataclass
class Conv:
    """A Keras Conv1D: ``weight`` (out, in, k) as torch wants it, ``bias`` (out,), dilation; 'same' or 'valid'."""

    weight: np.ndarray
    bias: np.ndarray
    dilation: int
    same: bool

    @property
    def radius(self) -> int:
        """Bases consumed on each side (valid mode)."""
        return self.dilation * (self.weight.shape[2] - 1) // 2


@dataclass
class BatchNorm:
    """Keras BatchNormalization at inference: ``gamma * (x - mean) / sqrt(var + eps) + beta``."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float


@dataclass
class Unit:
    """Residual unit: ``s + conv_b(relu(bn_b(conv_a(relu(bn_a(s))))))``."""

    bn_a: BatchNorm
    conv_a: Conv
    bn_b: BatchNorm
    conv_b: Conv


@dataclass
class KerasSpliceAI:
    """One SpliceAI network as its HDF5 file defines it.

    ``skip_after[i]``: the number of residual units applied before skip conv ``skips[i]`` reads the stream
    (0 = the stem's output). The skip outputs are summed in order, cropped by ``crop`` on each side, and
    ``out`` (1x1 conv) with a softmax over (none, acceptor, donor) gives the probabilities.
    """

    stem: Conv
    units: list[Unit]
    skips: list[Conv]
    skip_after: list[int]
    crop: int
    out: Conv
    source: str = ""
    notes: dict = field(default_factory=dict)


class _Graph:
    """The Keras functional graph of ``model_config``: layers by name and who consumes what."""

    def __init__(self, config: dict, where: str):
        self.where = where
        self.layers = {layer["name"]: layer for layer in config["config"]["layers"]}
        self.consumers: dict[str, list[str]] = {name: [] for name in self.layers}
        self.inputs: dict[str, list[str]] = {}
        for name, layer in self.layers.items():
            nodes = layer.get("inbound_nodes") or []
            self.inputs[name] = [n[0] for n in nodes[0]] if nodes else []
            for src in self.inputs[name]:
                self.consumers[src].append(name)

    def fail(self, why: str) -> InputError:
        return InputError(f"{self.where}: not the SpliceAI-10k architecture raygen implements ({why}); "
                          f"reinstall the weights with `{INSTALL}`")

    def kind(self, name: str) -> str:
        return self.layers[name]["class_name"]

    def one(self, name: str, kind: str) -> str:
        """The single consumer of ``name`` of class ``kind``."""
        found = [c for c in self.consumers[name] if self.kind(c) == kind]
        if len(found) != 1:
            raise self.fail(f"{name} feeds {len(found)} {kind} layers")
        return found[0]

    def maybe(self, name: str, kind: str) -> str | None:
        found = [c for c in self.consumers[name] if self.kind(c) == kind]
        return found[0] if len(found) == 1 else None


def _conv(g: _Graph, w, name: str) -> Conv:
    cfg = g.layers[name]["config"]
    if cfg.get("strides", [1]) != [1] or not cfg.get("use_bias", True):
        raise g.fail(f"{name}: strides/bias")
    kernel = np.asarray(w[name][name]["kernel:0"], dtype=np.float32)  # (k, in, out)
    bias = np.asarray(w[name][name]["bias:0"], dtype=np.float32)
    k = kernel.shape[0]
    if k % 2 == 0:
        raise g.fail(f"{name}: even kernel")
    return Conv(np.ascontiguousarray(kernel.transpose(2, 1, 0)), bias, int(cfg["dilation_rate"][0]),
                cfg["padding"] == "same")


def _bn(g: _Graph, w, name: str) -> BatchNorm:
    cfg = g.layers[name]["config"]
    grp = w[name][name]
    if cfg.get("axis") not in (-1, 2, [-1], [2]) or not cfg.get("center", True) or not cfg.get("scale", True):
        raise g.fail(f"{name}: axis/center/scale")
    return BatchNorm(*(np.asarray(grp[k], dtype=np.float32) for k in ("gamma:0", "beta:0", "moving_mean:0",
                                                                          "moving_variance:0")),
                     eps=float(cfg["epsilon"]))


def _relu_after(g: _Graph, name: str) -> str:
    act = g.one(name, "Activation")
    if g.layers[act]["config"].get("activation") != "relu":
        raise g.fail(f"{act} is not a relu")
    return act


def _walk_units(g: _Graph, w, stem: str) -> tuple[list[Unit], dict[str, int], str]:
    """Residual units along the stream from ``stem``: (units, stream tensor -> units before it, last stream)."""
    units: list[Unit] = []
    stream, seen = stem, {stem: 0}
    while (bn_a := g.maybe(stream, "BatchNormalization")) is not None:
        conv_a = g.one(_relu_after(g, bn_a), "Conv1D")
        bn_b = g.one(conv_a, "BatchNormalization")
        conv_b = g.one(_relu_after(g, bn_b), "Conv1D")
        add = g.one(conv_b, "Add")
        if sorted(g.inputs[add]) != sorted([conv_b, stream]):
            raise g.fail(f"{add} does not add the unit's input")
        units.append(Unit(_bn(g, w, bn_a), _conv(g, w, conv_a), _bn(g, w, bn_b), _conv(g, w, conv_b)))
        stream = add
        seen[stream] = len(units)
    return units, seen, stream


def _walk_skips(g: _Graph, w, stream_units: dict[str, int]) -> tuple[list[Conv], list[int], str]:
    """Skip convs in the order the Add chain sums them, and the chain's last Add."""
    def skip_of(tensor: str) -> str:
        src = g.inputs[tensor]
        if g.kind(tensor) != "Conv1D" or len(src) != 1 or src[0] not in stream_units:
            raise g.fail(f"{tensor} is not a skip conv on the stream")
        return tensor

    first = [c for c in g.consumers[next(iter(stream_units))] if g.kind(c) == "Conv1D"]
    if len(first) != 1:
        raise g.fail("no skip conv on the stem")
    names, acc = [skip_of(first[0])], first[0]
    while (add := g.maybe(acc, "Add")) is not None:
        other = [x for x in g.inputs[add] if x != acc]
        if len(other) != 1:
            raise g.fail(f"{add} is not a two-input add")
        names.append(skip_of(other[0]))
        acc = add
    skips = [_conv(g, w, n) for n in names]
    return skips, [stream_units[g.inputs[n][0]] for n in names], acc


def read_network(path: str | Path) -> KerasSpliceAI:
    """Read one SpliceAI ``.h5`` file (Keras 2 functional model) into a :class:`KerasSpliceAI`."""
    import h5py

    where = str(path)
    try:
        with h5py.File(path, "r") as f:
            config = json.loads(f.attrs["model_config"])
            w = f["model_weights"]
            g = _Graph(config, where)
            inp = [n for n, layer in g.layers.items() if layer["class_name"] == "InputLayer"]
            if len(inp) != 1:
                raise g.fail("expected one input")
            stem_name = g.one(inp[0], "Conv1D")
            units, stream_units, last = _walk_units(g, w, stem_name)
            skips, skip_after, acc = _walk_skips(g, w, stream_units)
            crop_name = g.one(acc, "Cropping1D")
            crop = g.layers[crop_name]["config"]["cropping"]
            out_name = g.one(crop_name, "Conv1D")
            if g.layers[out_name]["config"].get("activation") != "softmax" or crop[0] != crop[1]:
                raise g.fail("output is not a symmetric crop then a softmax conv")
            net = KerasSpliceAI(_conv(g, w, stem_name), units, skips, skip_after, int(crop[0]),
                                _conv(g, w, out_name), source=where)
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise InputError(f"{where}: unreadable SpliceAI weights ({exc}); reinstall them with `{INSTALL}`") from None
    radius = sum(u.conv_a.radius + u.conv_b.radius for u in net.units)
    if radius != net.crop or 2 * net.crop != CONTEXT or not all(c.weight.shape[2] == 1 for c in [net.stem, net.out, *net.skips]):
        raise InputError(f"{where}: receptive radius {radius} != crop {net.crop}; not SpliceAI-10k")
    if last not in [n for n in stream_units] or skip_after[-1] != len(units):
        raise InputError(f"{where}: the last skip conv does not read the last residual unit")
    return net


def read_ensemble() -> list[KerasSpliceAI]:
    """The five networks of the installed wheel, in the release's order."""
    return [read_network(p) for p in model_paths()]

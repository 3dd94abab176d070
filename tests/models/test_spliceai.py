"""SpliceAI in torch: weights from the wheel, the network against a plain Keras-style forward, the
incremental ALT forward, and the oneDNN invariances the REF sharing relies on."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from spliceai_plain import keras_forward, onehot_of

from raygen.errors import InputError
from raygen.models import spliceai_weights as sw
from raygen.models.spliceai import SpliceAINet, complement_codes, cone_plan, conv1d, encode


@pytest.fixture(scope="module")
def keras_nets():
    return sw.read_ensemble()


@pytest.fixture(scope="module")
def net(keras_nets):
    return SpliceAINet(keras_nets[0])


def test_folded_weights_cache_gives_the_same_bits_and_survives_damage(keras_nets, tmp_path, monkeypatch):
    import raygen.models.spliceai as ms

    monkeypatch.setenv("RAYGEN_CACHE", str(tmp_path))
    monkeypatch.setattr(ms, "read_ensemble", lambda: keras_nets)  # the module's parse: not again
    path = ms.folded_cache_path(torch.float32)
    assert not path.exists() and path.is_relative_to(tmp_path / "spliceai")
    built = ms.load_ensemble()  # folded from the wheel's networks; writes the cache
    assert path.exists() and ms.folded_cache_path(torch.bfloat16) != path
    cached = ms.load_ensemble()
    assert len(cached) == 5
    for a, b in zip(cached, built):
        assert (a.dilations, a.radii, a.skip_tensors, a.n_units) == (b.dilations, b.radii, b.skip_tensors, b.n_units)
        assert [n for n, _ in a.named_buffers()] == [n for n, _ in b.named_buffers()]
        assert all(torch.equal(x, y) for x, y in zip(a.buffers(), b.buffers()))
    x = torch.as_tensor(encode("ACGT" * 2600))[None]
    assert torch.equal(cached[0].forward_ref(x)[0], built[0].forward_ref(x)[0])
    path.write_bytes(b"not a torch file")
    assert torch.equal(ms.load_ensemble()[4].wo, built[4].wo)  # rebuilt
    assert len(torch.load(path, weights_only=True)) == 5


def test_weights_found_without_importing_spliceai_or_keras():
    code = ("import sys; from raygen.models.spliceai_weights import model_paths, read_ensemble; "
            "p = model_paths(); n = read_ensemble(); "
            "print(len(p), 'spliceai' in sys.modules, 'keras' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["5", "False", "False", "False"]


def test_architecture_read_from_the_h5_config(keras_nets):
    for n in keras_nets:
        assert len(n.units) == 16 and n.crop == 5000 and n.skip_after == [0, 4, 8, 12, 16]
        kd = [(u.conv_a.weight.shape[2], u.conv_a.dilation) for u in n.units]
        assert kd == [(11, 1)] * 4 + [(11, 4)] * 4 + [(21, 10)] * 4 + [(41, 25)] * 4
        assert all(u.bn_a.eps == 0.001 for u in n.units)
        assert n.stem.weight.shape == (32, 4, 1) and n.out.weight.shape == (3, 32, 1)
    # five different trained networks, not one file five times
    assert len({float(n.out.bias[0]) for n in keras_nets}) == 5


def test_unreadable_weights_fail_with_the_install_command(tmp_path, keras_nets):
    bad = tmp_path / "spliceai1.h5"
    data = sw.model_paths()[0].read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"pip install --no-deps spliceai==1\.3\.1"):
        sw.read_network(bad)


def test_missing_wheel_fails_with_the_install_command(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    sw.wheel_files.cache_clear()
    try:
        with pytest.raises(InputError, match=r"not installed.*pip install --no-deps spliceai==1\.3\.1"):
            sw.wheel_files()
    finally:
        monkeypatch.undo()
        sw.wheel_files.cache_clear()


def test_valid_mode_network_equals_the_keras_computation(keras_nets, net):
    rng = np.random.default_rng(3)
    codes = rng.integers(1, 5, 10_300)
    codes[:700] = 0  # N padding, as outside a transcript
    want = keras_forward(keras_nets[0], onehot_of(codes))
    with torch.inference_mode():
        got, kept = net.forward_ref(torch.as_tensor(codes)[None])
    assert got.shape == (1, 300, 3)
    np.testing.assert_allclose(got[0].numpy(), want, atol=2e-6)
    assert len(kept) == 33 and kept[-1].shape[2] == 300


def test_encoding_is_the_releases():
    assert encode("ACGTN").tolist() == [1, 2, 3, 4, 0]
    assert encode("acgtn").tolist() == [1, 2, 3, 4, 0]
    assert encode("RYK").tolist() == [ord("R") % 5, ord("Y") % 5, ord("K") % 5]  # map[ord % 5] as there
    assert complement_codes(encode("AACGN")).tolist() == encode("NCGTT").tolist()


@pytest.mark.parametrize("ref_len,alt_len", [(1, 1), (4, 1), (1, 3), (2, 1)])
def test_alt_cone_equals_a_full_alt_forward(net, ref_len, alt_len):
    rng = np.random.default_rng(ref_len * 10 + alt_len)
    d = 20
    wid = 10_000 + 2 * d + 1
    half = wid // 2
    span_pad = 37  # the REF forward covers more than this window: offsets matter
    ref_in = rng.integers(0, 5, wid + 2 * span_pad)
    ref_in[:900] = 0
    window = ref_in[span_pad:span_pad + wid]
    alt = rng.integers(1, 5, alt_len)
    for u in (half, half + 1 - ref_len):  # plus and minus strand positions of the changed segment
        alt_window = np.concatenate([window[:u], alt, window[u + ref_len:]])
        plan = cone_plan(u, ref_len, alt_len, wid, net.radii)
        with torch.inference_mode():
            _, kept = net.forward_ref(torch.as_tensor(ref_in)[None])
            want, _ = net.forward_ref(torch.as_tensor(alt_window)[None])
            got = net.forward_alt(plan, torch.as_tensor(alt)[None], kept, torch.tensor([0]), torch.tensor([span_pad]))
        assert got.shape == want.shape == (1, 2 * d + 1 - ref_len + alt_len, 3)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)


@pytest.mark.parametrize("k,d", [(11, 1), (11, 4), (21, 10), (41, 25), (1, 1)])
def test_onednn_conv_gives_each_output_the_same_bits_whatever_batch_width_or_threads(k, d):
    """What sharing REF spans between variants relies on (raygen.scoring.spliceai_tracks). Below ~27
    outputs oneDNN takes another path (MIN_SPAN_BP keeps REF spans above it), so widths here are >= 64."""
    g = torch.Generator().manual_seed(k * 100 + d)
    w, b = torch.randn(32, 32, k, generator=g) * 0.05, torch.randn(32, generator=g)
    x = torch.randn(9, 32, 3 * d * (k - 1) + 700, generator=g)
    threads = torch.get_num_threads()
    try:
        with torch.inference_mode():
            torch.set_num_threads(1)
            one = conv1d(x[4:5], w, b, d)
            torch.set_num_threads(2)
            assert torch.equal(conv1d(x[4:5], w, b, d), one)
            for batch in (x[3:6], x, x[4:6]):
                y = conv1d(batch, w, b, d)
                row = {3: 1, 9: 4, 2: 0}[batch.shape[0]]
                assert torch.equal(y[row:row + 1], one)
            for lo, hi in ((0, x.shape[2] - 333), (129, x.shape[2]), (250, d * (k - 1) + 314)):
                y = conv1d(x[4:5, :, lo:hi], w, b, d)
                assert torch.equal(y, one[:, :, lo:lo + y.shape[2]])
    finally:
        torch.set_num_threads(threads)


def test_no_tensorflow_in_raygens_environment():
    import importlib.util

    assert importlib.util.find_spec("tensorflow") is None and importlib.util.find_spec("keras") is None

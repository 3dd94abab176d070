"""Model loading: every tiny scheme saves and loads back through Auto* classes; bad model dirs fail fast."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from transformers import AutoTokenizer

from raygen.errors import InputError, UsageError
from raygen.models.kmer import BaseMarginalizer, detect_scheme
from raygen.models.load import describe_model, load_model
from raygen.models.tiny import build_tiny_model


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("scheme,kind,k,arch", [
    ("char", "mlm", None, "EsmForMaskedLM"), ("kmer", "mlm", 6, "EsmForMaskedLM"),
    ("bpe", "mlm", None, "EsmForMaskedLM"), ("bpe", "clm", None, "GPT2LMHeadModel"),
    ("char", "clm", None, "GPT2LMHeadModel"),
])
def test_tiny_model_round_trip(tmp_path, scheme, kind, k, arch):
    d = build_tiny_model(tmp_path / "m", scheme=scheme, kind=kind)
    lm = load_model(str(d), device="cpu")
    assert (lm.kind, lm.scheme, lm.k, lm.device) == (kind, scheme, k, "cpu")
    assert type(lm.model).__name__ == arch
    assert lm.head is None and lm.n_params > 1000
    assert describe_model(str(d)) == {"kind": kind, "scheme": scheme, "k": k, "head": False}
    # The saved tokenizer reloads with plain AutoTokenizer and covers a DNA string base for base.
    tok = AutoTokenizer.from_pretrained(d)
    seq = "ACGTTGCANACGGT"
    toks = [t for t in tok.convert_ids_to_tokens(tok(seq)["input_ids"]) if t not in tok.all_special_tokens]
    assert "".join(toks) == seq


def test_kmer_tokenizer_is_nt_style(tmp_path):
    """6-mers from the left; bases that cannot complete a 6-mer (N, tail) fall back to single tokens."""
    tok = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "k", scheme="kmer"))
    ids = tok("ACGTACGGTTAANCCCCCCGA")["input_ids"]
    toks = tok.convert_ids_to_tokens(ids)
    assert toks[0] == "<cls>" and toks[-1] == "<eos>"
    body = [t for t in toks if not t.startswith("<")]
    assert body == ["ACGTAC", "GGTTAA", "N", "CCCCCC", "G", "A"]
    assert len(tok) == 6 + 4**6 + 5  # NT v2 layout: 6 specials, 4096 6-mers, 5 single bases
    assert detect_scheme(tok) == ("kmer", 6)


def test_base_marginalizer_matches_explicit_sum():
    class Tok:  # a miniature 2-mer + single-base vocabulary
        vocab = {t: i for i, t in enumerate(["<pad>", "<mask>"] + ["".join(p) for p in itertools.product("ACGT", repeat=2)] + list("ACGTN"))}
        all_special_ids = [0, 1]

        def get_vocab(self):
            return self.vocab

        def __len__(self):
            return len(self.vocab)

    tok = Tok()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, len(tok)))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    out = BaseMarginalizer(tok).base_logp(logp, np.array([2, 2, 1]), np.array([0, 1, 0]))
    for row, (length, off) in enumerate([(2, 0), (2, 1), (1, 0)]):
        p = np.array([sum(np.exp(logp[row, i]) for t, i in tok.vocab.items() if len(t) == length and t[off] == b
                          and t not in ("<pad>", "<mask>")) for b in "ACGT"])
        np.testing.assert_allclose(out[row], np.log(p / p.sum()), atol=1e-12)


def test_missing_model_dir_says_what_to_do(tmp_path):
    with pytest.raises(InputError, match="does not exist.*raygen train pretrain"):
        load_model(str(tmp_path / "nope"))
    with pytest.raises(InputError, match="does not exist"):
        describe_model(str(tmp_path / "nope"))


def test_dir_without_config_is_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        load_model(str(tmp_path / "empty"))


def test_corrupt_weights_fail_with_input_error(tmp_path):
    d = build_tiny_model(tmp_path / "m", scheme="char", kind="mlm")
    (d / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="incomplete or corrupt"):
        load_model(str(d))
    (d / "model.safetensors").unlink()
    with pytest.raises(InputError, match="no weights"):
        describe_model(str(d))


def test_corrupt_config_fails_with_input_error(tmp_path):
    d = build_tiny_model(tmp_path / "m", scheme="char", kind="clm")
    (d / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="config"):
        load_model(str(d))


def test_hub_id_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="offline.*--model DIR"):
        load_model("InstaDeepAI/nucleotide-transformer-v2-50m-multi-species")


def test_kind_falls_back_to_model_type(tmp_path):
    d = build_tiny_model(tmp_path / "m", scheme="char", kind="mlm")
    cfg = json.loads((d / "config.json").read_text())
    cfg["architectures"] = ["EsmModel"]
    (d / "config.json").write_text(json.dumps(cfg))
    assert load_model(str(d)).kind == "mlm"  # falls back to the model type's registered masked-LM class


def test_cuda_device_without_gpu_fails_fast(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    d = build_tiny_model(tmp_path / "m", scheme="char", kind="mlm")
    with pytest.raises(UsageError, match="no CUDA"):
        load_model(str(d), device="cuda")

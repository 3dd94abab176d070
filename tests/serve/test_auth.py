"""Bearer-token auth: where the token comes from and how a header is checked."""

from __future__ import annotations

import pytest

from raygen.serve.auth import check_bearer, resolve_token_digest, token_digest


def test_auth(tmp_path, monkeypatch):
    monkeypatch.delenv("RAYGEN_TEST_TOKEN", raising=False)
    assert resolve_token_digest(token_file=None, token_env="RAYGEN_TEST_TOKEN") is None
    assert check_bearer(None, None)
    monkeypatch.setenv("RAYGEN_TEST_TOKEN", "abc")
    d = resolve_token_digest(token_file=None, token_env="RAYGEN_TEST_TOKEN")
    assert d == token_digest("abc")
    assert check_bearer("Bearer abc", d) and check_bearer("bearer  abc ", d)
    assert not check_bearer("Bearer abd", d) and not check_bearer("Basic abc", d) and not check_bearer(None, d)
    f = tmp_path / "tok"
    f.write_text("from-file\n")
    assert resolve_token_digest(token_file=str(f), token_env="RAYGEN_TEST_TOKEN") == token_digest("from-file")
    from raygen.errors import InputError

    with pytest.raises(InputError, match="does-not-exist"):
        resolve_token_digest(token_file=str(tmp_path / "does-not-exist"), token_env=None)

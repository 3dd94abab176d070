"""raygen.httpfront: which HTTP front the embedded Ray gets, and that two services' HAProxy settings never
collide. That requests really pass through HAProxy is checked on the running service
(tests/serve/test_api.py::test_requests_pass_through_haproxy_where_found)."""

from __future__ import annotations

import pytest

from raygen import httpfront
from raygen.config import RuntimeConfig
from raygen.errors import UsageError


def test_front_follows_the_binary(monkeypatch):
    assert httpfront.resolve_front("proxy") == "proxy"
    with pytest.raises(UsageError, match="one of auto, haproxy, proxy"):
        httpfront.resolve_front("nginx")
    monkeypatch.setattr(httpfront, "find_haproxy", lambda: None)
    assert httpfront.resolve_front("auto") == "proxy"  # no binary: Serve's Python proxy, no error
    with pytest.raises(UsageError, match="no HAProxy binary found"):
        httpfront.resolve_front("haproxy")
    monkeypatch.setattr(httpfront, "find_haproxy", lambda: "/usr/sbin/haproxy")
    assert httpfront.resolve_front("auto") == "haproxy"


def test_haproxy_settings_are_per_service(tmp_path):
    a, b = httpfront.haproxy_env(str(tmp_path / "a")), httpfront.haproxy_env(str(tmp_path / "b"))
    assert a["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
    paths = [k for k in a if k.endswith(("_LOC", "_PATH", "_BASE", "_FILE"))]
    assert len(paths) == 5 and all(a[k] != b[k] and a[k].startswith(str(tmp_path / "a")) for k in paths)
    for key in ("RAY_SERVE_HAPROXY_METRICS_PORT", "RAY_SERVE_HAPROXY_STATS_PORT", "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"):
        assert int(a[key]) > 0  # a free port each, not Ray's machine-wide 9101, 8404, 8500


def test_front_is_configurable_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAYGEN_HTTP_FRONT", "proxy")
    assert RuntimeConfig().http_front == "proxy"
    monkeypatch.delenv("RAYGEN_HTTP_FRONT")
    assert RuntimeConfig().http_front == "auto"

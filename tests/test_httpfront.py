"""raygen.httpfront: which HTTP front the embedded Ray gets, and that two services' HAProxy settings never
collide. That requests really pass through HAProxy is checked on the running service
(tests/serve/test_api.py::test_requests_pass_through_haproxy_where_found)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

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


def test_a_haproxy_left_behind_is_stopped(tmp_path):
    """A haproxy running a config of ours (what outlives a controller that failed to shut down) is stopped;
    the real binary, a minimal config."""
    import subprocess

    binary = httpfront.find_haproxy()
    if binary is None:
        pytest.skip("no HAProxy binary here")
    port = httpfront.haproxy_env(str(tmp_path))["RAY_SERVE_HAPROXY_STATS_PORT"]
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\n"
                   f"frontend f\n  bind 127.0.0.1:{port}\n  http-request return status 200\n")
    proc = subprocess.Popen([binary, "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # running once it answers on its port
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                break
            time.sleep(0.05)
        assert proc.poll() is None
        assert httpfront.stop_haproxy(str(tmp_path)) == 1
        assert proc.wait(timeout=10) is not None
        assert httpfront.stop_haproxy(str(tmp_path)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_state_dir_outlives_the_ray_workers_that_use_it(tmp_path):
    # A process that inherited the HAProxy settings (as Serve's manager worker does) still writing there must
    # find the directory until it exits; only then is it removed.
    state = tmp_path / "state"
    state.mkdir()
    env = dict(os.environ, **httpfront.haproxy_env(str(state)))
    code = "import time, pathlib, sys; time.sleep(1.0); pathlib.Path(sys.argv[1], 'late').write_text('x')"
    proc = subprocess.Popen([sys.executable, "-c", code, str(state)], env=env)
    try:
        httpfront._cleanup(str(state))
        assert proc.wait(timeout=10) == 0  # it could still write its file
        assert not state.exists()
    finally:
        if proc.poll() is None:
            proc.kill()

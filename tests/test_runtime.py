"""raygen.runtime: the embedded default always starts; a dead or silent explicit address fails fast, in one line.

These run ``raygen info`` in fresh processes with an isolated ``RAY_TMPDIR`` (the folder where Ray looks for
the last ``ray start`` address), so they never meet the test session's Ray.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from raygen.errors import RaygenError, UsageError
from raygen.runtime import _host_port, check_reachable, resolve_address

RAYGEN = [sys.executable, "-m", "raygen.cli"]


@pytest.fixture()
def ray_tmpdir():
    # Short on purpose: Ray's unix sockets live under it and AF_UNIX paths are limited to ~107 bytes.
    d = tempfile.mkdtemp(prefix="rgt", dir="/tmp")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _env(ray_tmpdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=str(ray_tmpdir), RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", **extra)
    return env


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SilentServer:
    """A TCP port that accepts connections and never answers: ray.init blocks on it without end."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def test_resolve_address(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert resolve_address(None) is None
    assert resolve_address("local") is None
    assert resolve_address("10.0.0.1:6379") == "10.0.0.1:6379"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.2:6379")
    assert resolve_address(None) == "10.0.0.2:6379"
    assert resolve_address("10.0.0.1:6379") == "10.0.0.1:6379"  # the flag wins over the environment
    assert _host_port("ray://head:10001") == ("head", 10001)
    assert _host_port("[::1]:6379") == ("::1", 6379)
    with pytest.raises(UsageError, match="not HOST:PORT"):
        _host_port("nonsense")


def test_dead_address_is_refused_at_once():
    port = _closed_port()
    t0 = time.monotonic()
    with pytest.raises(RaygenError, match=rf"cannot reach the Ray cluster at 127.0.0.1:{port} \(.*refused"):
        check_reachable(f"127.0.0.1:{port}", 5)
    assert time.monotonic() - t0 < 5


@pytest.mark.timeout(120)
def test_stale_address_file_does_not_stop_the_embedded_ray(ray_tmpdir):
    # What a killed `ray start --head` leaves behind: the address of a cluster that is gone.
    (ray_tmpdir / "ray").mkdir()
    (ray_tmpdir / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_closed_port()}\n")
    t0 = time.monotonic()
    proc = subprocess.run([*RAYGEN, "info", "--num-cpus", "1"], env=_env(ray_tmpdir), capture_output=True,
                          text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ray mode      local" in proc.stdout
    assert time.monotonic() - t0 < 90


@pytest.mark.timeout(120)
def test_embedded_ray_that_cannot_start_is_one_line(ray_tmpdir):
    # Ray refuses to start a node with a negative CPU count; what the user sees is one line, not Ray's traceback
    # (the same path reports Ray's fixed 30 s node start-up timeout on an overloaded machine, after one retry).
    proc = subprocess.run([*RAYGEN, "info", "--num-cpus", "-1"], env=_env(ray_tmpdir), capture_output=True,
                          text=True, timeout=100)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "raygen info: error: the embedded Ray did not start (Resource quantities must be nonnegative" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.timeout(120)
def test_dead_explicit_address_fails_in_one_line(ray_tmpdir):
    port = _closed_port()
    t0 = time.monotonic()
    proc = subprocess.run([*RAYGEN, "info"], env=_env(ray_tmpdir, RAY_ADDRESS=f"127.0.0.1:{port}"),
                          capture_output=True, text=True, timeout=100)
    assert proc.returncode == 1
    assert f"raygen info: error: cannot reach the Ray cluster at 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 30


@pytest.mark.timeout(120)
def test_silent_address_times_out_and_ctrl_c_works(ray_tmpdir):
    server = SilentServer()
    try:
        code = ("from raygen.runtime import init_ray; from raygen.config import RuntimeConfig; "
                f"init_ray(RuntimeConfig(address='127.0.0.1:{server.port}', connect_timeout_s=3))")
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", code], env=_env(ray_tmpdir), capture_output=True, text=True,
                              timeout=100)
        assert proc.returncode != 0 and "no answer from a Ray GCS within 3 s" in proc.stderr
        assert time.monotonic() - t0 < 30
        # With the default deadline (15 s), Ctrl-C ends the wait at once.
        proc = subprocess.Popen([*RAYGEN, "info", "--address", f"127.0.0.1:{server.port}"],
                                env=_env(ray_tmpdir, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        for line in proc.stdout:  # versions, then CUDA, then the connection attempt
            if line.startswith("cuda"):
                break
        time.sleep(1)
        t1 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
        assert time.monotonic() - t1 < 8
    finally:
        server.close()

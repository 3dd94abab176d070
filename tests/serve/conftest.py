"""Serve test fixtures: a tiny model and reference built once, one real Serve for the session (the
shared-Serve note is at :func:`serve_port`), and one app on it per test module."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

#: chr1 carries a CA repeat at 1-based 1001..1010 (normalization moves deletions in it to the left).
REPEAT_POS = 1001
REPEAT = "CACACACACA"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_reference(path: Path) -> dict[str, str]:
    rng = np.random.default_rng(7)
    seqs = {}
    chr1 = "".join(rng.choice(list("ACGT"), 3000))
    chr1 = chr1[:REPEAT_POS - 1] + REPEAT + "G" + chr1[REPEAT_POS + len(REPEAT):]
    seqs["chr1"] = chr1
    seqs["chr2"] = "N" * 50 + "".join(rng.choice(list("ACGT"), 1450))
    with open(path, "w") as fh:
        for name, seq in seqs.items():
            fh.write(f">{name}\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    return seqs


@pytest.fixture(scope="session")
def serve_assets(tmp_path_factory):
    """(model dir, reference path, {contig: sequence}) shared by every serve test module."""
    from raygen.models.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("serve_assets")
    seqs = write_reference(root / "ref.fa")
    model = build_tiny_model(root / "model", scheme="char", kind="mlm", seed=0)
    return str(model), str(root / "ref.fa"), seqs


def snvs(seqs: dict[str, str], positions: list[int], chrom: str = "chr1") -> list[dict]:
    """One SNV per 1-based position (REF from the reference, ALT the next base round ACGT)."""
    out = []
    for p in positions:
        ref = seqs[chrom][p - 1]
        out.append({"chrom": chrom, "pos": p, "ref": ref, "alt": "ACGT"[("ACGT".index(ref) + 1) % 4]})
    return out


@pytest.fixture(scope="session")
def serve_port(ray_session) -> int:
    """Loopback port of the one Serve (controller + HTTP proxy) that every tests/serve module deploys its app on.

    Shared because ``serve.shutdown()`` + ``serve.start()`` cost about 8 s per module (measured 4.5 s + 3-4 s idle;
    seven modules did it). Each module deploys its own app at route ``/`` and deletes it when it ends (one app
    owns ``/`` at a time); ``raygen serve`` processes (:class:`ServeProcess`) join this Serve with ``--port`` of
    it, as on any cluster the command only joins.
    """
    from ray import serve

    serve.shutdown()  # a Serve another test left would ignore our http_options
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port},
                logging_config={"enable_access_log": False, "log_level": "WARNING"})
    yield port
    serve.shutdown()


def wait_ready(url: str, what: str, timeout_s: float = 60) -> str:
    """Poll ``url/readyz`` until it answers 200; returns ``url``."""
    import httpx

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} did not become ready at {url}")


@contextmanager
def running_app(port: int, name: str, **app_args) -> Iterator[str]:
    """``serve.run`` the raygen app on the shared Serve (:func:`serve_port`) at ``/``; yields its base URL and
    deletes the app afterwards, so the next module's app can take ``/``."""
    from ray import serve

    from raygen.serve.app import build_app

    serve.run(build_app(app_args), name=name, route_prefix="/", blocking=False)
    try:
        yield wait_ready(f"http://127.0.0.1:{port}", name)
    finally:
        serve.delete(name)


class ServeProcess:
    """A real ``raygen serve`` process joined to the test session's Ray and its Serve (on ``port``, the shared
    :func:`serve_port`); its output lines are collected."""

    def __init__(self, address: str, port: int, model: str, ref: str, *extra: str, env: dict | None = None):
        import os
        import signal
        import subprocess
        import sys
        import threading

        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "raygen.cli", "serve", "--address", address, "--model", model, "-f", ref,
               "--host", "127.0.0.1", "--port", str(self.port), *extra]
        # Ctrl-C must reach it as it would from a terminal (a background child otherwise ignores SIGINT).
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **(env or {})},
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")),
                                       daemon=True)
        self.reader.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_serving(self, timeout_s: float = 180) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline and self.proc.poll() is None:
            if any("press Ctrl-C" in x for x in self.lines):
                return
            time.sleep(0.3)
        raise AssertionError(f"raygen serve never became ready (exit {self.proc.poll()}): {self.output[-3000:]}")

    def interrupt(self, timeout_s: float = 60) -> int:
        import signal

        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout=timeout_s)
        self.reader.join(timeout=10)
        return rc

    def kill(self, app_name: str = "raygen") -> None:
        """Kill the process if it still runs, and delete its app (a killed process leaves it on the shared Serve,
        holding ``/``)."""
        from ray import serve

        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        serve.delete(app_name)

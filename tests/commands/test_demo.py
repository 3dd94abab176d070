"""``raygen demo`` runs the whole main job (simulate -> normalize -> train -> score -> serve) on a real local Ray.

One demo run serves every test here (it is the slowest thing in the suite): :func:`live_demo` starts the real
command in a subprocess (a fresh embedded Ray of its own, as a user's shell would) with stdout and stderr piped
to a file as ``make demo > log`` does, and waits until it serves.

- :func:`test_demo_log_has_no_warnings`: the service answers, the docs' curl examples (blocks marked
  ``<!-- runnable: demo -->``) run against it, and after Ctrl-C (SIGTERM) the whole log, stopping included,
  holds no line at warning level or above: nothing in it is about the user's input, so any such line is Ray,
  Serve, torch or transformers chatter that ``raygen.raylogs`` or the service's logging config should have
  demoted; and no absolute path (the demo's folder and caches are shown relative or as ``~/...``).
- :func:`test_demo_outputs_and_caches`: the outputs are complete, and later runs (in this process, on the
  session's Ray) reuse the cached model and scores; ``--no-cache`` scores again, to the same bytes.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from raygen.commands.demo import demo_model_dir
from raygen.httpfront import find_haproxy
from tests.test_docs import DOCS, shell_blocks

#: The demo's training budget in these tests (the model's quality is not what they check).
TRAIN = ["--train-minutes", "0.1", "--train-steps", "6"]

#: A line at warning level or above, in any of the formats that reach the console: Python logging (ours and
#: Ray's), glog lines of Ray's C++ core (``[date time E pid tid] file.cc``), Python warnings and tracebacks.
LOUD = re.compile(
    r"\b(WARNING|WARN|ERROR|CRITICAL|FATAL)\b"
    r"|\[\d{4}-\d\d-\d\d [\d:,]+ [WEF] \d+ \d+\]"
    r"|\b\w+Warning\b"
    r"|Traceback \(most recent call last\)"
    # Ray Train's and Serve's console handlers print the message without its level name
    r"|\bFailed to\b|\b\w*(Error|Exception)\b|\berror:"
)


def loud_lines(text: str) -> list[str]:
    return [line for line in text.replace("\r", "\n").splitlines() if LOUD.search(line)]


def test_loud_pattern_finds_each_format():
    # The grep must be able to fail: one line of each format it is meant to catch, and quiet ones it must not.
    samples = [
        "13:44:55 WARNING raygen.score: x",
        "2026-12-01 13:49:46,933\tWARNING streaming_executor.py:215 -- x",
        "[36m(TrainController pid=1)[0m [2026-12-01 13:46:13,361 E 22901 23090] core_worker.cc:2465: Actor",
        "/x/y.py:3: FutureWarning: `x` is deprecated",
        "Traceback (most recent call last):",
        "(TrainController pid=2) Failed to send resource request for train-e34f. If this only happens transiently",
        "ConnectionError: Found multiple active Ray instances",
    ]
    assert loud_lines("\n".join(samples)) == samples
    assert loud_lines("13:44:55 INFO raygen.score: records in: 3\nskip reasons: ref_mismatch=1") == []


def _free_port() -> int:
    """A free port below the kernel's ephemeral range: the demo starts Ray (whose processes take ephemeral ports)
    before it binds the service, and an ephemeral port picked here was once taken by Ray in between."""
    lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]) \
        if Path("/proc/sys/net/ipv4/ip_local_port_range").exists() else 32768
    for port in random.Random().sample(range(max(1024, lo - 12_000), lo - 2_000), 200):  # above Ray's worker ports (10002-19999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@dataclass
class LiveDemo:
    """A ``raygen demo`` subprocess that serves; its working directory is ``root`` (``--out demo``)."""

    root: Path
    port: int
    log: Path
    proc: subprocess.Popen

    @property
    def out(self) -> Path:
        return self.root / "demo"

    def stop(self) -> None:
        """Ctrl-C, as a user stops it (SIGTERM: a background job ignores SIGINT), then wait for the exit."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _wait_for(proc: subprocess.Popen, log: Path, needle: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"demo exited with {proc.returncode} before {needle!r}:\n{log.read_text()[-4000:]}")
        time.sleep(1.0)
    pytest.fail(f"no {needle!r} within {timeout_s:g} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def live_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    port = _free_port()
    # The user's defaults, also the HTTP front (HAProxy where found: the suite's Serve tests keep the proxy)
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_DATA_DISABLE_PROGRESS_BARS", "RAY_ADDRESS", "RAYGEN_HTTP_FRONT")}
    env["PYTHONUNBUFFERED"] = "1"
    log = root / "demo.log"
    # Relative --out and caches, run from `root`: what `make demo` prints in a clone (paths relative to it).
    cmd = [sys.executable, "-m", "raygen.cli", "demo", "--out", "demo", "--model-cache", "models",
           "--score-cache", "scores", *TRAIN, "--num-cpus", "2", "--port", str(port)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    demo = LiveDemo(root, port, log, proc)
    try:
        _wait_for(proc, log, "serving; press Ctrl-C", 540)
        yield demo
    finally:
        demo.stop()


def _run_docs_examples(port: int) -> None:
    """The README's and docs' blocks marked ``<!-- runnable: demo -->`` (curl examples), against this service."""
    blocks = [(path, line, text) for path in DOCS for line, text, mark in shell_blocks(path) if mark == "demo"]
    assert blocks, "no docs block is marked <!-- runnable: demo -->"
    for path, line, text in blocks:
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", text.replace("localhost:8000", f"localhost:{port}")],
                              capture_output=True, text=True, timeout=120)
        where = f"{path.name}:{line}"
        assert proc.returncode == 0, f"{where}: {proc.stderr}"
        # curl -s exits 0 on HTTP errors too: the answers must be scores, not a 422 about the variant
        assert '"results"' in proc.stdout and '"detail"' not in proc.stdout, f"{where}: {proc.stdout}"
        assert "ref_mismatch" not in proc.stdout, f"{where}: the example's REF is not the demo genome's: {proc.stdout}"


def _records(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt") as fh:
        return [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]


@pytest.mark.timeout(600)
def test_demo_log_has_no_warnings(live_demo):
    # The service answers for a variant of the demo genome (its first scored record).
    rec = _records(live_demo.out / "scored.vcf.gz")[0]
    variant = {"chrom": rec[0], "pos": int(rec[1]), "ref": rec[3], "alt": rec[4].split(",")[0]}
    req = urllib.request.Request(f"http://127.0.0.1:{live_demo.port}/v1/score",
                                 data=json.dumps({"variants": [variant]}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 200
        assert json.loads(resp.read())["results"][0]["llr"] is not None
    _run_docs_examples(live_demo.port)
    live_demo.stop()
    text = live_demo.log.read_text(errors="replace")
    assert "demo outputs in demo " in text and "stopping raygen service" in text
    front = "HTTP front: HAProxy" if find_haproxy() else "HTTP front: Serve's Python proxy"
    assert front in text, text[-3000:]  # the answers above came through the front a user gets
    assert "training the demo DNA language model once" in text and "reused the outputs" not in text
    assert loud_lines(text) == [], text[-6000:]
    # No absolute path reaches the user: not the working directory, nor the caches' (also not in the VCF header)
    assert str(live_demo.root) not in text, [ln for ln in text.splitlines() if str(live_demo.root) in ln]
    header = [ln for ln in gzip.decompress((live_demo.out / "scored.vcf.gz").read_bytes()).decode().splitlines()
              if ln.startswith("##raygen")]
    assert header and not [ln for ln in header if str(live_demo.root) in ln]
    assert any(ln.startswith("##raygen_score=<model=raygen-small-clm-") for ln in header)


@pytest.mark.timeout(600)
def test_demo_outputs_and_caches(live_demo, ray_session, run_cli, monkeypatch):
    root, out = live_demo.root, live_demo.out
    model = demo_model_dir(root / "models", None, 0.1, 6)
    assert '"architectures": [\n    "RoFormerForCausalLM"' in (model / "config.json").read_text()
    assert (model / "README.md").exists()
    assert (out / "model").resolve() == model.resolve()  # serve_configs/local.yaml serves demo_out/model

    # Every normalized record comes back scored (or with a skip reason): nothing is dropped.
    normalized, scored = _records(out / "normalized.vcf.gz"), _records(out / "scored.vcf.gz")
    assert len(normalized) == len(scored) > 200
    assert [r[:5] for r in normalized] == [r[:5] for r in scored]
    assert all("RAYGEN_LLR=" in r[7] or "RAYGEN_SKIP=" in r[7] for r in scored)
    table = ds.dataset(out / "scored.parquet", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(scored)
    first = (out / "scored.vcf.gz").read_bytes()

    # A later run (here: in this process, another --out) reuses the cached model instead of training again, and
    # the scores of the same input (byte-identical to scoring again); --no-cache scores again, to the same bytes.
    monkeypatch.chdir(root)
    later = ["demo", "--out", "again", "--no-serve", "--model-cache", "models", "--score-cache", "scores", *TRAIN]
    rc, stdout, _ = run_cli(*later)
    assert rc == 0
    assert "using the cached demo model" in stdout and "training the demo" not in stdout
    assert "reused the outputs of an earlier run" in stdout
    assert (root / "again" / "scored.vcf.gz").read_bytes() == first
    rc, stdout, _ = run_cli(*later, "--no-cache")
    assert rc == 0 and "reused the outputs" not in stdout
    again = gzip.decompress((root / "again" / "scored.vcf.gz").read_bytes()).decode().splitlines()
    # the same bytes but for the ##raygen_provenance line, which records this run's own date (and command)
    assert [ln for ln in again if not ln.startswith("##raygen_provenance=")] == [
        ln for ln in gzip.decompress(first).decode().splitlines() if not ln.startswith("##raygen_provenance=")]
    assert sum(ln.startswith("##raygen_provenance=") for ln in again) == 1  # the score step's own run

"""The log of ``raygen demo`` (its whole job path, training and the service included) holds no line at warning
level or above: nothing in it is about the user's input, so any such line is Ray, Serve, torch or
transformers chatter that ``raygen.raylogs`` or the service's logging config should have demoted.

Runs the real command in a subprocess (a fresh embedded Ray of its own, as a user's shell would), with stdout
and stderr piped to a file as ``make demo > log`` does, then asks the live service for one score and runs the
docs' curl examples (blocks marked ``<!-- runnable: demo -->``) against it, so they cannot rot either.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_docs import DOCS, shell_blocks

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _wait_for(proc: subprocess.Popen, log: Path, needle: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"demo exited with {proc.returncode} before {needle!r}:\n{log.read_text()[-4000:]}")
        time.sleep(1.0)
    pytest.fail(f"no {needle!r} within {timeout_s:g} s:\n{log.read_text()[-4000:]}")


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


@pytest.mark.timeout(600)
def test_demo_log_has_no_warnings(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_DATA_DISABLE_PROGRESS_BARS", "RAY_ADDRESS")}
    env["PYTHONUNBUFFERED"] = "1"
    log = tmp_path / "demo.log"
    cmd = [sys.executable, "-m", "raygen.cli", "demo", "--out", str(tmp_path / "demo"),
           "--model-cache", str(tmp_path / "models"), "--score-cache", str(tmp_path / "scores"),
           "--train-minutes", "0.1", "--train-steps", "6", "--num-cpus", "2", "--port", str(port)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_for(proc, log, "serving; press Ctrl-C", 540)
        # The service answers for a variant of the demo genome (its first scored record).
        import gzip

        with gzip.open(tmp_path / "demo" / "scored.vcf.gz", "rt") as vcf:
            rec = next(line.split("\t") for line in vcf if not line.startswith("#"))
        variant = {"chrom": rec[0], "pos": int(rec[1]), "ref": rec[3], "alt": rec[4].split(",")[0]}
        body = json.dumps({"variants": [variant]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/score", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            assert resp.status == 200
            assert json.loads(resp.read())["results"][0]["llr"] is not None
        _run_docs_examples(port)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # as Ctrl-C; a background job ignores SIGINT
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = log.read_text(errors="replace")
    assert "demo outputs in" in text
    assert loud_lines(text) == [], text[-6000:]

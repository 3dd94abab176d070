"""A real single-node Ray cluster on loopback, started with ``ray start --head --block`` for job tests.

It runs in its own process group with every port chosen free (so it never meets the test session's Ray or
another engineer's cluster), its own short temp dir (its logs stay inspectable and are removed after),
token auth off and usage stats off. Teardown sends SIGTERM to that group only: never ``ray stop``, which
stops every Ray on the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

#: The runtime env our docs tell users to submit with, minus cluster-specific bits: the job gets the
#: venv's ``raygen`` on PATH (a real cluster has it installed on every node) and ships the checkout's
#: ``src/raygen`` with ``py_modules`` so workers run exactly the code under test.
def job_runtime_env(**env_vars: str) -> dict:
    return {
        "working_dir": str(REPO),
        "py_modules": [str(REPO / "src" / "raygen")],
        "env_vars": {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            **env_vars,
        },
    }


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that were free a moment ago (held open together so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class HeadCluster:
    proc: subprocess.Popen
    temp_dir: Path
    gcs_address: str
    dashboard_url: str
    start_s: float

    def client(self):
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.dashboard_url)

    def log_tail(self, n: int = 60) -> str:
        """Last lines of the cluster's own logs, for failure messages."""
        out = []
        for name in ("raylet.out", "gcs_server.out", "dashboard.log"):
            for f in self.temp_dir.glob(f"session_*/logs/{name}"):
                out.append(f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-n:]))
        return "\n".join(out)

    def stop(self) -> None:
        """SIGTERM the cluster's process group (ray start --block forwards it to its children) and wait."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Stragglers (workers that ignore SIGTERM) are in the same group: finish them.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _fail(head: HeadCluster, message: str) -> None:
    """Stop what a failed start left (children may outlive ``ray start``), remove its files, raise."""
    head.stop()
    shutil.rmtree(head.temp_dir, ignore_errors=True)
    raise RuntimeError(message)


def start_head(num_cpus: int = 2, timeout_s: float = 90.0) -> HeadCluster:
    """Start ``ray start --head --block`` on loopback in a new process group and wait for its job API."""
    import urllib.request

    (gcs, dash, client, agent_listen, agent_grpc, metrics, runtime_env_agent, node_manager,
     object_manager) = free_ports(9)
    # Our own temp dir, short because Ray's unix socket paths are long. It also keeps `ray start` from
    # writing /tmp/ray/ray_current_cluster, which a plain `ray.init()` elsewhere on the machine (other
    # tests, other engineers) would otherwise join instead of starting its own Ray.
    temp_dir = Path(tempfile.mkdtemp(prefix="rgj-", dir="/tmp"))
    # No drain on SIGTERM: Ray 2.60 otherwise waits out a Serve-oriented drain window before stopping.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
           # On a loaded 2-core box the Python agents can take long to come up; the raylet gives up on them
           # (and dies) after this long.
           "RAY_agent_register_timeout_ms": "120000"}
    env.pop("RAY_ADDRESS", None)
    cmd = [
        str(VENV_BIN / "ray"), "start", "--head", "--block", "--disable-usage-stats",
        "--node-ip-address=127.0.0.1", f"--port={gcs}", "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dash}", f"--ray-client-server-port={client}",
        f"--dashboard-agent-listen-port={agent_listen}", f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={runtime_env_agent}",
        f"--node-manager-port={node_manager}", f"--object-manager-port={object_manager}",
        f"--num-cpus={num_cpus}", "--num-gpus=0", "--object-store-memory=300000000",
        f"--temp-dir={temp_dir}",
    ]
    t0 = time.perf_counter()
    log = open(temp_dir / "ray-start.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    head = HeadCluster(proc, temp_dir, f"127.0.0.1:{gcs}", f"http://127.0.0.1:{dash}", 0.0)
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            _fail(head, f"ray start exited with {proc.returncode}:\n{(temp_dir / 'ray-start.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{head.dashboard_url}/api/version", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            _fail(head, f"Ray head not up after {timeout_s}s:\n{head.log_tail()}")
        time.sleep(0.5)
    # The job API needs the head's dashboard agent too (else: 500 "No available agent to submit job").
    while True:
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", agent_listen)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            _fail(head, f"Ray dashboard agent not up after {timeout_s}s:\n{head.log_tail()}")
        time.sleep(0.5)
    head.start_s = time.perf_counter() - t0
    return head


def submit_when_ready(client, timeout_s: float = 60.0, **kwargs) -> str:
    """``client.submit_job(**kwargs)``, retried while the agent has not registered with the head yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return client.submit_job(**kwargs)
        except RuntimeError as exc:
            if "No available agent" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(1.0)


@pytest.fixture(scope="module")
def ray_head():
    """A loopback Ray head (2 CPUs) for this module's job submissions; stopped by SIGTERM to its group."""
    try:
        head = start_head()
    except RuntimeError as first:
        # Seen only under heavy machine load (an agent missing its start-up deadline): one more try.
        print(f"ray start --head failed once, retrying: {str(first)[:500]}")
        head = start_head()
    try:
        yield head
    finally:
        head.stop()
        shutil.rmtree(head.temp_dir, ignore_errors=True)


def wait_for_job(client, job_id: str, timeout_s: float = 120.0):
    """Poll until the job reaches a terminal status; returns (JobStatus, seconds waited)."""
    from ray.job_submission import JobStatus

    t0 = time.perf_counter()
    while True:
        status = client.get_job_status(job_id)
        if status in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
            return status, time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout_s:
            client.stop_job(job_id)
            raise TimeoutError(f"job {job_id} still {status} after {timeout_s}s; logs:\n{client.get_job_logs(job_id)}")
        time.sleep(0.25)

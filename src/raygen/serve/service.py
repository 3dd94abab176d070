"""The raygen service in the foreground (``raygen serve``, ``raygen demo``): start Ray and Serve, deploy the
application graph of :mod:`raygen.serve.app`, print the URLs, serve until Ctrl-C or SIGTERM, then stop
what we started.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from typing import Any

import ray
from ray import serve

from raygen.config import SERVE_LOGGING, RuntimeConfig, ServeConfig
from raygen.errors import RaygenError, UsageError
from raygen.httpfront import describe_front
from raygen.provenance import display_name
from raygen.raylogs import loud
from raygen.runtime import init_ray, runs_embedded_ray
from raygen.serve.app import build_application
from raygen.serve.auth import resolve_token_digest

log = logging.getLogger("raygen.serve")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def service_urls(host: str, port: int) -> dict[str, str]:
    base = f"http://{host}:{port}"
    return {"api": f"{base}/v1", "docs": f"{base}/docs", "ui": f"{base}/ui/", "health": f"{base}/healthz",
            "ready": f"{base}/readyz"}


def _raise_interrupt(_sig, _frame):
    raise KeyboardInterrupt


def _deploy(cfg: ServeConfig, deployment_options: dict[str, dict[str, Any]] | None) -> None:
    try:
        serve.run(build_application(cfg, deployment_options), name=cfg.app_name, route_prefix="/", blocking=False)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a replica that fails to start: say why in one line
        msg = str(exc).strip().splitlines()
        raise RaygenError(f"the service failed to start: {msg[-1] if msg else type(exc).__name__}") from None


def _print_ready(cfg: ServeConfig, urls: dict[str, str], seconds: float, print_fn) -> None:
    token = resolve_token_digest(token_file=cfg.token_file, token_env=cfg.token_env, token_sha256=cfg.token_sha256)
    auth = "on (Authorization: Bearer <token>)" if token else "off"
    print_fn(f"raygen service ready in {seconds:.1f} s; API auth {auth}")
    for name in ("ui", "docs", "api", "health", "ready") if cfg.ui else ("docs", "api", "health", "ready"):
        print_fn(f"  {name:<7} {urls[name]}")


#: (host, port) of the Serve instances this process started with :func:`start_serve`.
_STARTED: set[tuple[str, int]] = set()


def start_serve(host: str, port: int, *, check_port: bool = True) -> None:
    """Start Serve's controller and HTTP proxy on ``host:port`` in the current Ray session, without any
    application: what :func:`run_service` does first. ``raygen demo`` calls it early, in a thread, so those two
    processes start while it trains and scores. ``check_port``: refuse a port in use (our own embedded Ray)."""
    if check_port and not _port_free(host, port):
        raise UsageError(f"port {port} on {host} is in use; pass another --port")
    # The controller and proxy: on a busy laptop they warn that a replica "has taken more than 30s to initialize"
    # while the model loads (we print that we are loading it); -v keeps their warnings (raygen.raylogs).
    serve.start(http_options={"host": host, "port": port},
                logging_config={**SERVE_LOGGING, "log_level": "WARNING" if loud() else "ERROR"})
    _STARTED.add((host, port))


def run_service(cfg: ServeConfig, *, block: bool = True, address: str | None = None, print_fn=print,
                num_cpus: int | None = None, num_gpus: int | None = None,
                deployment_options: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """Start the raygen service (API + UI) of ``cfg`` on Ray Serve, listening on ``cfg.host:cfg.port``, and
    return its URLs.

    Joins ``address`` (or $RAY_ADDRESS) or the current Ray session, else starts an embedded local Ray.
    ``deployment_options`` (a serve config's ``deployments:`` by name) override the deployments' defaults.
    With ``block`` it prints the URLs and serves until Ctrl-C/SIGTERM, then removes the app (and stops
    Serve and Ray where it started them); without, it returns once the model is loaded and the URLs answer.
    """
    info = init_ray(RuntimeConfig(address=address, num_cpus=num_cpus, num_gpus=num_gpus))
    # Our own embedded Ray: Serve is ours too, so Ctrl-C stops everything.
    owns_ray = info.mode == "local"
    # A port we started Serve on ourselves (start_serve) is in use by our own proxy; serve.start is idempotent.
    start_serve(cfg.host, cfg.port, check_port=owns_ray and (cfg.host, cfg.port) not in _STARTED)
    urls = service_urls(cfg.host, cfg.port)
    print_fn(f"starting raygen service ({info.describe()}); loading model {display_name(cfg.model)} ...")
    if runs_embedded_ray():  # a joined cluster keeps the front it was started with
        print_fn(f"HTTP front: {describe_front()}")
    # SIGTERM (from a supervisor or `kill`) stops the service like Ctrl-C, also while the model loads.
    old = signal.signal(signal.SIGTERM, _raise_interrupt) if block else None
    started = False
    t0 = time.perf_counter()
    try:
        _deploy(cfg, deployment_options)
        started = True
        _print_ready(cfg, urls, time.perf_counter() - t0, print_fn)
        if not block:
            return urls
        print_fn("serving; press Ctrl-C to stop")
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        print_fn("stopping raygen service ...")
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        if block or not started:  # a non-blocking caller owns a started service; anything else is ours to stop
            _stop(cfg.app_name, owns_ray)
    return urls


def _stop(app_name: str, owns_ray: bool) -> None:
    """Remove the app; where we started Ray (and so Serve) ourselves, stop both."""
    try:
        if owns_ray:
            serve.shutdown()
            _STARTED.clear()
            ray.shutdown()
        else:
            serve.delete(app_name)
    except Exception as exc:  # noqa: BLE001 - stopping must not hide why we stop
        log.warning("while stopping the service: %s", exc)


__all__ = ["run_service", "service_urls", "start_serve"]

"""Connect to a Ray cluster or start the embedded local one, and say which it is.

Every command calls :func:`init_ray` once. With ``--address`` or ``RAY_ADDRESS`` it joins that cluster
(which is how ``ray job submit`` hands its cluster to the driver); otherwise it starts a local Ray sized
to this machine. Inside an already-initialised driver (tests, notebooks) it reuses that session.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from raygen.config import RuntimeConfig, apply_quiet_env

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


#: Loggers whose warnings only mean "this Ray has no dashboard": Ray Train's placement-group cleaner asks the
#: dashboard's State API whether the training controller is alive and warns every few seconds when it cannot.
_NO_DASHBOARD_NOISE = ("ray.train.v2._internal.execution.controller.placement_group_cleaner",)


def quiet_worker_logs() -> None:
    """Worker start-up hook of the embedded (dashboard-less) Ray: silence warnings that only say the
    dashboard is off, so progress bars stay readable. Errors still come through."""
    for name in _NO_DASHBOARD_NOISE:
        logging.getLogger(name).setLevel(logging.ERROR)


def init_ray(cfg: RuntimeConfig | None = None) -> RayInfo:
    """Start or join Ray according to ``cfg`` and log where we run; safe to call twice."""
    import ray

    cfg = cfg or RuntimeConfig()
    apply_quiet_env()
    address = cfg.address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        mode = "existing"
    elif address:
        ray.init(address=address, log_to_driver=True)
        mode = "cluster"
    else:
        # A local cluster of our own: token auth protects nothing on loopback and breaks `ray job submit`.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(
            # "local" always starts a fresh cluster of our own: a bare ray.init() would first try to join the
            # address in /tmp/ray/ray_current_cluster, which a killed `ray start --head` leaves behind.
            address="local",
            num_cpus=cfg.num_cpus,
            num_gpus=cfg.num_gpus,
            include_dashboard=cfg.include_dashboard,
            object_store_memory=cfg.object_store_memory,
            configure_logging=False,
            runtime_env=None if cfg.include_dashboard else {"worker_process_setup_hook": quiet_worker_logs},
        )
        mode = "local"
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

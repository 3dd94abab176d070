"""raygen commands submitted as Ray jobs to a real loopback cluster (``ray start --head``), as users do."""

from __future__ import annotations

import shlex
import sys
import time

import pytest

from .conftest import job_runtime_env, wait_for_job

pytestmark = pytest.mark.timeout(240)


def submit(head, entrypoint: str, **env_vars: str) -> tuple[str, float]:
    """Submit ``entrypoint`` with the documented runtime env; returns (job id, seconds the submit call took)."""
    client = head.client()
    t0 = time.perf_counter()
    job_id = client.submit_job(entrypoint=entrypoint, runtime_env=job_runtime_env(**env_vars))
    return job_id, time.perf_counter() - t0


def test_info_job_joins_the_submitted_cluster(ray_head):
    from ray.job_submission import JobStatus

    client = ray_head.client()
    job_id, _ = submit(ray_head, "raygen info")
    status, waited = wait_for_job(client, job_id)
    logs = client.get_job_logs(job_id)
    assert status == JobStatus.SUCCEEDED, logs
    # The driver joined the job's cluster (RAY_ADDRESS set by Ray) instead of starting a Ray of its own.
    assert "ray mode      cluster" in logs, logs
    assert "ray CPUs      2" in logs, logs
    print(f"\n[figure] ray start --head: {ray_head.start_s:.1f} s; `raygen info` job submit->SUCCEEDED: {waited:.1f} s")

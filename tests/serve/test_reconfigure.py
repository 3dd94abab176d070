"""Batch settings change on the running service: a redeploy of the serve config that changes only the Scorer's
``user_config`` reaches the same replica (same actor, same process) through ``reconfigure``, no restart.

Deployed as operators do it, with Ray Serve's own CLI (``serve run CONFIG``: the declarative path that
``serve deploy`` and a KubeRay RayService take too), against the test session's Ray.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from .conftest import snvs

pytestmark = pytest.mark.timeout(240)
APP = "raygen_reconfigure_test"


def config(model: str, ref: str, max_batch_size: int, wait_s: float) -> dict:
    return {"applications": [{
        "name": APP, "route_prefix": "/", "import_path": "raygen.serve.app:build_app",
        "args": {"model": model, "reference": ref, "ui": False, "token_env": None, "scorer_cpus": 0.25},
        "deployments": [{"name": "Scorer", "user_config": {"max_batch_size": max_batch_size,
                                                           "batch_wait_timeout_s": wait_s}}]}]}


def serve_run(address: str, path: Path) -> None:
    """``serve run CONFIG --non-blocking`` (Ray Serve's CLI, the one installed beside this Python)."""
    exe = Path(sys.executable).with_name("serve")
    proc = subprocess.run([str(exe), "run", str(path), "--address", address, "--non-blocking"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def scorer_replicas() -> dict[str, int]:
    """The Scorer's replica actors of our app: actor id -> pid (asked of the actor itself)."""
    import ray

    out = {}
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if APP in entry["name"] and "Scorer" in entry["name"]:
            actor = ray.get_actor(entry["name"], namespace=entry["namespace"])
            out[actor._actor_id.hex()] = ray.get(actor.__ray_call__.remote(lambda _self: os.getpid()), timeout=30)
    return out


def wait_for(url: str, check, timeout_s: float = 120):
    deadline = time.time() + timeout_s
    last = None
    while time.time() < deadline:
        try:
            last = httpx.get(url + "/v1/models", timeout=10)
            if last.status_code == 200 and check(last.json()["models"][0]):
                return last.json()["models"][0]
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"never saw the expected settings: {last and last.text}")


def test_new_batch_settings_reach_the_same_replica(ray_session, serve_port, serve_assets, tmp_path):
    from ray import serve

    model, ref, seqs = serve_assets
    url = f"http://127.0.0.1:{serve_port}"  # the session's Serve (tests/serve/conftest.py): `serve run` joins it
    path = tmp_path / "serve.yaml"
    body = {"variants": snvs(seqs, list(range(100, 140)))}
    try:
        path.write_text(yaml.safe_dump(config(model, ref, 4, 0.001)))
        serve_run(ray_session.address, path)
        first = wait_for(url, lambda m: m["max_batch_size"] == 4)
        assert first["batch_wait_timeout_s"] == 0.001
        before = scorer_replicas()
        assert len(before) == 1, before
        r1 = httpx.post(url + "/v1/score", json=body, timeout=60)
        assert r1.status_code == 200, r1.text

        path.write_text(yaml.safe_dump(config(model, ref, 16, 0.02)))
        serve_run(ray_session.address, path)
        second = wait_for(url, lambda m: m["max_batch_size"] == 16)
        assert second["batch_wait_timeout_s"] == 0.02
        assert scorer_replicas() == before  # same actor id, same pid: reconfigured, not restarted
        r2 = httpx.post(url + "/v1/score", json=body, timeout=60)
        assert r2.status_code == 200
        assert [x["llr"] for x in r2.json()["results"]] == pytest.approx([x["llr"] for x in r1.json()["results"]],
                                                                         abs=1e-6)
    finally:
        serve.delete(APP)

"""`raygen serve` as a user runs it (a foreground process, stopped with Ctrl-C) and the Serve config files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from .conftest import free_port, snvs

REPO = Path(__file__).resolve().parents[2]
CONFIGS = [REPO / "serve_configs" / "local.yaml", REPO / "serve_configs" / "gpu.yaml"]


def test_help_explains_the_command(run_cli):
    with pytest.raises(SystemExit) as exc:
        run_cli("serve", "--help")
    assert exc.value.code == 0


def test_missing_inputs_fail_fast_with_one_line(run_cli, tmp_path):
    rc, _, err = run_cli("serve", "--model", str(tmp_path), "-f", str(tmp_path / "nope.fa"))
    assert rc == 2 and "nope.fa" in err and "does not exist" in err
    rc, _, err = run_cli("serve", "-f", str(tmp_path / "x.fa"))
    assert rc == 2 and "--model" in err


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_serve_configs_are_valid_for_serve_run(path, serve_assets):
    """Each file validates as a Serve deploy config and its builder builds the app (with our test paths)."""
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve.schema import ServeDeploySchema

    from raygen.serve.app import build_app

    doc = yaml.safe_load(path.read_text())
    schema = ServeDeploySchema.model_validate(doc)
    assert doc["http_options"]["host"] == "127.0.0.1"
    app_cfg = schema.applications[0]
    assert app_cfg.import_path == "raygen.serve.app:build_app"
    names = {d.name for d in app_cfg.deployments}
    assert names == {"Scorer", "Ingress"}
    model, ref, _ = serve_assets
    args = dict(app_cfg.args, model=model, reference=ref, device="cpu")
    from ray.serve import Application

    assert isinstance(call_user_app_builder_with_args_if_necessary(build_app, args), Application)
    scorer = next(d for d in doc["applications"][0]["deployments"] if d["name"] == "Scorer")
    ingress = next(d for d in doc["applications"][0]["deployments"] if d["name"] == "Ingress")
    assert scorer["max_ongoing_requests"] >= doc["applications"][0]["args"]["max_batch_size"]
    assert ingress["max_queued_requests"] > 0  # admission control answers 503 beyond it
    if path.name == "gpu.yaml":
        assert scorer["ray_actor_options"]["num_gpus"] >= 1
        auto = scorer["autoscaling_config"]
        assert auto["min_replicas"] >= 1 and auto["max_replicas"] > auto["min_replicas"]


@pytest.mark.timeout(240)
def test_raygen_serve_runs_in_the_foreground_and_stops_on_ctrl_c(ray_session, serve_assets, tmp_path):
    """A real `raygen serve` process joins this session's Ray, answers over HTTP, and stops cleanly on SIGINT."""
    from ray import serve

    model, ref, seqs = serve_assets
    serve.shutdown()  # a fresh Serve for the process to start with its own port
    port = free_port()
    env = dict(os.environ, RAYGEN_API_TOKEN="")
    cmd = [sys.executable, "-m", "raygen.cli", "serve", "--address", ray_session.address, "--model", model,
           "-f", ref, "--port", str(port), "--no-ui", "--cpus-per-replica", "0.5", "--max-batch-size", "16"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 150
        while time.time() < deadline and proc.poll() is None and not any("press Ctrl-C" in x for x in lines):
            time.sleep(0.3)
        assert any("press Ctrl-C" in x for x in lines), f"raygen serve never became ready: {''.join(lines)[-3000:]}"
        assert httpx.get(url + "/readyz", timeout=10).status_code == 200
        r = httpx.post(url + "/v1/score", json={"variants": snvs(seqs, [321])}, timeout=60)
        assert r.status_code == 200 and r.json()["results"][0]["llr"] is not None
        assert r.json()["model"]["max_batch_size"] == 16
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
        out = "".join(lines)
        # The app is gone; Serve itself stays up on a cluster we only joined (its owner stops it).
        assert httpx.get(url + "/readyz", timeout=10).status_code == 404
    finally:
        if proc.poll() is None:
            proc.kill()
        serve.shutdown()
    assert proc.returncode == 0, out[-3000:]
    assert f"http://127.0.0.1:{port}/docs" in out and "/ui/" not in out and "stopping raygen service" in out
    assert "Traceback" not in out

"""`raygen serve` flags and errors, and the Serve config files (the foreground process itself is exercised by
test_api.py, whose app it starts)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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


def test_bad_calling_flags_fail_fast_with_one_line(run_cli, serve_assets, tmp_path):
    model, ref, _ = serve_assets
    rc, _, err = run_cli("serve", "--model", model, "-f", ref, "--data-dirs", str(tmp_path / "no_such_dir"))
    assert rc == 2 and "--data-dir" in err and "no_such_dir" in err and "Traceback" not in err
    rc, _, err = run_cli("serve", "--model", model, "-f", ref, "--data-dirs", str(tmp_path),
                         "--call-model", str(tmp_path))
    assert rc == 2 and "--call-model" in err and "caller.json" in err


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_serve_configs_are_valid_for_serve_run(path, serve_assets):
    """Each file validates as a Serve deploy config and its builder builds the app (with our test paths)."""
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve.schema import ServeDeploySchema

    from raygen.serve.app import build_app

    doc = yaml.safe_load(path.read_text())
    schema = ServeDeploySchema.model_validate(doc)
    # One machine: loopback only. A cluster: the proxy must be reachable from the Service / load balancer.
    assert doc["http_options"]["host"] == ("0.0.0.0" if path.name == "gpu.yaml" else "127.0.0.1")
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
    assert scorer["max_ongoing_requests"] >= scorer["user_config"]["max_batch_size"]  # batch settings: live
    assert ingress["max_queued_requests"] > 0  # admission control answers 503 beyond it
    if path.name == "gpu.yaml":
        assert scorer["ray_actor_options"]["num_gpus"] >= 1
        auto = scorer["autoscaling_config"]
        assert auto["min_replicas"] >= 1 and auto["max_replicas"] > auto["min_replicas"]


def test_config_file_feeds_raygen_serve():
    from raygen.serve.options import load_serve_config, serve_config

    values, deployments = load_serve_config(str(CONFIGS[0]))
    cfg = serve_config(values)  # the same object the flags build
    assert cfg.model and cfg.reference and cfg.max_batch_size <= cfg.max_ongoing_requests
    assert (cfg.host, cfg.port) == ("127.0.0.1", 8000)  # from http_options
    assert set(deployments) == {"Scorer", "Ingress"} and "name" not in deployments["Scorer"]


def test_bad_config_file_is_a_one_line_error(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("applications:\n  - name: x\n    import_path: somewhere.else:app\n")
    rc, _, err = run_cli("serve", "--config", str(bad))
    assert rc == 2 and "import_path must be raygen.serve.app:build_app" in err

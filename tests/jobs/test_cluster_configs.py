"""cluster/: the Ray cluster launcher YAML and the KubeRay manifests load, carry what a raygen cluster needs,
pin the same Ray as pyproject.toml, and the RayService embeds serve_configs/gpu.yaml verbatim."""

from __future__ import annotations

import copy
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster"
LAUNCHER = CLUSTER / "aws-gpu.yaml"
RAYCLUSTER = CLUSTER / "kuberay" / "raycluster.yaml"
RAYSERVICE = CLUSTER / "kuberay" / "rayservice.yaml"
DOCKERFILE = CLUSTER / "Dockerfile"
SERVE_CONFIG = REPO / "serve_configs" / "gpu.yaml"


def pinned_ray_version() -> str:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [m.group(1) for d in deps if (m := re.fullmatch(r"ray(?:\[[^\]]*\])?==([\w.]+)", d.replace(" ", "")))]
    assert len(pins) == 1, f"pyproject.toml should pin ray with == exactly once, got {deps}"
    return pins[0]


RAY = pinned_ray_version()


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{path} is not a YAML mapping"
    return doc


def ray_versions_named(text: str) -> list[str]:
    """Every Ray version a file names: pip pins, rayproject/ray image tags, rayVersion fields."""
    found = re.findall(r"\bray(?:\[[^\]]*\])?==([\w.]+)", text)
    found += re.findall(r"rayproject/ray(?:-ml)?:([0-9][\w.]*?)(?:-|\s|$)", text)
    found += re.findall(r"rayVersion:\s*\"?([\w.]+)", text)
    found += re.findall(r"-ray([0-9]+\.[0-9]+\.[0-9]+)", text)  # our own image tags: raygen:X-ray2.60.0-gpu
    return found


@pytest.mark.parametrize("path", [LAUNCHER, RAYCLUSTER, RAYSERVICE, DOCKERFILE], ids=lambda p: p.name)
def test_every_ray_version_named_is_the_pinned_one(path):
    versions = ray_versions_named(path.read_text())
    assert versions, f"{path.name} names no Ray version"
    assert set(versions) == {RAY}, f"{path.name} names Ray {sorted(set(versions))}, pyproject pins {RAY}"


# ----------------------------------------------------------------------------------------------- launcher

def test_launcher_config_passes_rays_own_schema():
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = load(LAUNCHER)
    validate_config(prepare_config(copy.deepcopy(config)))
    # The check has teeth: a misspelt key is refused.
    broken = copy.deepcopy(config)
    broken["available_node_types"]["ray.worker.gpu"]["min_wrkers"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


def test_launcher_has_cpu_head_and_autoscaled_spot_gpu_workers():
    c = load(LAUNCHER)
    assert c["provider"]["type"] == "aws"
    types = c["available_node_types"]
    head = types[c["head_node_type"]]
    assert not re.match(r"(g|p)\d", head["node_config"]["InstanceType"]), "head should be a CPU instance"
    assert head["resources"].get("CPU") == 0, "head takes no tasks: it runs GCS, dashboard and drivers"

    gpu = [t for t in types.values() if re.match(r"(g|p)\d", t["node_config"]["InstanceType"])]
    assert len(gpu) == 1
    gpu = gpu[0]
    assert gpu["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot"
    assert 0 <= gpu["min_workers"] < gpu["max_workers"]
    assert sum(t.get("max_workers", 0) for n, t in types.items() if n != c["head_node_type"]) <= c["max_workers"]
    assert c["idle_timeout_minutes"] > 0


def test_launcher_installs_this_raygen_on_every_node():
    c = load(LAUNCHER)
    remote = [r for r, local in c["file_mounts"].items() if local == "."]
    assert remote, "the checkout must be shipped to the nodes"
    setup = "\n".join(c["setup_commands"])  # setup_commands run on head and workers alike
    assert re.search(rf"pip install .*-e {re.escape(remote[0])}\b", setup), setup
    assert f"ray[default,serve,data,train]=={RAY}" in setup
    assert re.search(r"torch>=2\.3,<2\.14", setup), "torch stays bounded as in pyproject"


# ------------------------------------------------------------------------------------------------ kuberay

def _containers(pod_template: dict) -> list[dict]:
    return pod_template["spec"]["containers"]


def _check_ray_cluster_spec(spec: dict) -> None:
    assert spec["rayVersion"] == RAY
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["autoscalerOptions"]["idleTimeoutSeconds"] > 0
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert head["rayStartParams"]["num-cpus"] == "0"
    ports = {p["containerPort"] for p in _containers(head["template"])[0]["ports"]}
    assert {6379, 8265} <= ports
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    gpu = groups["gpu"]
    assert gpu["minReplicas"] <= gpu["replicas"] <= gpu["maxReplicas"] and gpu["maxReplicas"] > 0
    for c in _containers(gpu["template"]):
        assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert c["resources"]["requests"]["nvidia.com/gpu"] == "1"
    for group in [head, *spec["workerGroupSpecs"]]:
        for c in _containers(group["template"]):
            assert c["image"].startswith("raygen:"), "pods run the image built by cluster/Dockerfile"


def test_raycluster_manifest():
    doc = load(RAYCLUSTER)
    assert (doc["apiVersion"], doc["kind"]) == ("ray.io/v1", "RayCluster")
    _check_ray_cluster_spec(doc["spec"])
    # Batch jobs read and write shared storage: every pod mounts the same volume at the same path.
    spec = doc["spec"]
    for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
        mounts = {m["mountPath"] for c in _containers(group["template"]) for m in c["volumeMounts"]}
        assert "/shared" in mounts and "/dev/shm" in mounts


def test_rayservice_manifest():
    doc = load(RAYSERVICE)
    assert (doc["apiVersion"], doc["kind"]) == ("ray.io/v1", "RayService")
    _check_ray_cluster_spec(doc["spec"]["rayClusterConfig"])
    assert isinstance(doc["spec"]["serveConfigV2"], str), "KubeRay takes serveConfigV2 as a YAML string"


def test_dockerfile_installs_raygen_on_the_pinned_ray_image():
    text = DOCKERFILE.read_text()
    assert re.search(rf"^FROM rayproject/ray:{re.escape(RAY)}-py3\d+-gpu$", text, re.M)
    assert re.search(r"pip install .*\s\.\s", text), "the image installs this checkout"


# ------------------------------------------------------------------------------- serve config in RayService

def test_rayservice_serve_config_is_serve_configs_gpu_yaml():
    assert SERVE_CONFIG.is_file(), f"{SERVE_CONFIG} is missing (owned by the Serve area)"
    embedded = load(RAYSERVICE)["spec"]["serveConfigV2"]
    source = SERVE_CONFIG.read_text()
    assert yaml.safe_load(embedded) == yaml.safe_load(source), "run: python cluster/sync_serve_config.py"
    assert embedded.rstrip("\n") == source.rstrip("\n"), "embedded verbatim (comments too)"
    assert sync_module().main(["--check"]) == 0


def test_sync_script_reports_drift_and_repairs_it(tmp_path):
    sync = sync_module()
    manifest = RAYSERVICE.read_text()
    config = "# a comment\napplications:\n  - name: a\n\n    import_path: x.y:z\n"
    synced = sync.render(manifest, config)
    assert yaml.safe_load(load_str(synced)["spec"]["serveConfigV2"]) == yaml.safe_load(config)
    assert load_str(synced)["spec"]["serveConfigV2"] == config
    assert sync.render(synced, config) == synced  # idempotent
    # Everything outside the block is untouched.
    before, after = manifest.splitlines(keepends=True), synced.splitlines(keepends=True)
    (s0, e0, _), (s1, e1, _) = sync._block_bounds(before), sync._block_bounds(after)
    assert before[: s0 + 1] == after[: s1 + 1] and before[e0:] == after[e1:]
    assert "rayClusterConfig" in "".join(after[e1:])


def _embedded_serve_config() -> dict:
    return yaml.safe_load(load(RAYSERVICE)["spec"]["serveConfigV2"])


def test_rayservice_serve_config_is_a_valid_serve_config():
    from ray.serve.schema import ServeDeploySchema

    ServeDeploySchema.model_validate(_embedded_serve_config())


def _cpu(q: str) -> float:
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def test_rayservice_pods_can_host_the_serve_config():
    """Each deployment's replica fits one worker pod, and the files the app reads are on a pod volume."""
    spec = load(RAYSERVICE)["spec"]["rayClusterConfig"]
    pods = [_containers(g["template"])[0] for g in spec["workerGroupSpecs"]]
    for app in _embedded_serve_config()["applications"]:
        for dep in app.get("deployments", []):
            need = dep.get("ray_actor_options", {})
            fits = [p for p in pods
                    if need.get("num_gpus", 0) <= float(p["resources"]["limits"].get("nvidia.com/gpu", 0))
                    and need.get("num_cpus", 1) <= _cpu(p["resources"]["limits"]["cpu"])]
            assert fits, f"no worker group can host a {dep['name']} replica ({need})"
        mounts = [m["mountPath"] for p in pods for m in p["volumeMounts"]]
        for key in ("model", "reference"):
            value = str(app.get("args", {}).get(key, ""))
            if value.startswith("/"):
                assert any(value.startswith(m.rstrip("/") + "/") for m in mounts), (
                    f"{key}={value} is on no volume the worker pods mount ({mounts})")


def test_rayservice_proxy_listens_beyond_loopback():
    """In a pod the proxy must listen on the pod IP, or the <name>-serve-svc Service cannot reach it."""
    host = (_embedded_serve_config().get("http_options") or {}).get("host")
    assert host in (None, "0.0.0.0", "::"), f"http_options.host={host!r}"


def load_str(text: str) -> dict:
    return yaml.safe_load(text)


def sync_module():
    """cluster/sync_serve_config.py, imported by path (cluster/ is not a package)."""
    spec = importlib.util.spec_from_file_location("sync_serve_config", CLUSTER / "sync_serve_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""raygen commands submitted as Ray jobs to a real loopback cluster (``ray start --head``), as users do."""

from __future__ import annotations

import shlex
import time

import pytest

from .conftest import job_runtime_env, submit_when_ready, wait_for_job

pytestmark = pytest.mark.timeout(240)


def submit(head, entrypoint: str, **env_vars: str) -> tuple[str, float]:
    """Submit ``entrypoint`` with the documented runtime env; returns (job id, seconds the submit call took)."""
    client = head.client()
    t0 = time.perf_counter()
    job_id = submit_when_ready(client, entrypoint=entrypoint, runtime_env=job_runtime_env(**env_vars))
    return job_id, time.perf_counter() - t0


def test_simulate_normalize_score_as_one_job(ray_head, tmp_path):
    """The quickstart pipeline submitted as a job: every command joins the job's cluster; files land in
    absolute paths (shared storage on a real cluster) and the VCF and Parquet outputs agree."""
    import pyarrow.dataset as pads
    import pysam
    from ray.job_submission import JobStatus

    from raygen.models.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "model")
    run = tmp_path / "run"
    ref = run / "sim" / "reference.fa"
    steps = [
        "raygen info",  # prints where it runs: the job's cluster, not a Ray of its own
        "python -c 'import raygen; print(\"raygen from\", raygen.__file__)'",
        f"raygen simulate --out {run}/sim --length 40k --contigs 2 --seed 5 --denormalize",
        f"raygen normalize {run}/sim/truth.denorm.vcf.gz -f {ref} -m -any -o {run}/norm.vcf.gz",
        f"raygen score {run}/norm.vcf.gz -f {ref} --model {model} -o {run}/scored.vcf.gz --parquet {run}/scored_pq",
    ]
    client = ray_head.client()
    job_id, submit_s = submit(ray_head, " && ".join(steps))
    status, waited = wait_for_job(client, job_id, timeout_s=180)
    logs = client.get_job_logs(job_id)
    assert status == JobStatus.SUCCEEDED, logs
    assert "records scored:" in logs  # the score summary reached the job's log
    # The driver joined the job's cluster (RAY_ADDRESS set by Ray) instead of starting a Ray of its own.
    assert "ray mode      cluster" in logs and "ray CPUs      2" in logs, logs
    # The driver imports the raygen shipped with py_modules (unpacked under the cluster's temp dir),
    # ahead of the venv's editable install: the runtime env table in the README holds.
    assert f"raygen from {ray_head.temp_dir}" in logs, logs

    with pysam.VariantFile(str(run / "norm.vcf.gz")) as vf:
        normalized = [(r.chrom, r.pos, r.ref, r.alts) for r in vf]
    with pysam.VariantFile(str(run / "scored.vcf.gz")) as vf:
        assert "RAYGEN_LLR" in vf.header.info
        scored = list(vf)
    assert len(normalized) > 20
    assert [(r.chrom, r.pos, r.ref, r.alts) for r in scored] == normalized  # nothing dropped or reordered
    llrs = [x for r in scored if "RAYGEN_LLR" in r.info for x in r.info["RAYGEN_LLR"] if x is not None]
    assert len(llrs) >= 0.9 * len(scored) and len(set(llrs)) > 5  # real, varied model outputs
    table = pads.dataset(run / "scored_pq", partitioning="hive").to_table()
    assert table.num_rows == len(scored)
    assert sorted(table["contigName"].unique().to_pylist()) == sorted({c for c, *_ in normalized})
    print(f"\n[figure] ray start --head: {ray_head.start_s:.1f} s")
    print(f"[figure] info+simulate+normalize+score job ({len(scored)} records): submit call {submit_s:.2f} s, "
          f"submit->SUCCEEDED {waited:.1f} s")


# --------------------------------------------------------------------------------------- bad input, dead worker

@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """A simulated genome with denormalized indels (in-process: no reads, so no Ray needed)."""
    from raygen.config import SimulateConfig
    from raygen.simulate import simulate_genome

    cfg = SimulateConfig(length=400_000, contigs=2, seed=11, denormalize=True, snv_rate=4e-3, indel_rate=2e-3)
    return simulate_genome(cfg, tmp_path_factory.mktemp("genome"))


@pytest.mark.parametrize("command", ["normalize", "score"])
def test_missing_input_fails_at_once_with_the_path(ray_head, genome, tmp_path, command):
    from ray.job_submission import JobStatus

    client = ray_head.client()
    missing = tmp_path / "no_such_input.vcf.gz"
    out = tmp_path / "out.vcf.gz"
    extra = f"--model {tmp_path / 'model'}" if command == "score" else ""
    if command == "score":  # only the input is missing: the model and reference exist
        from raygen.models.tiny import build_tiny_model

        build_tiny_model(tmp_path / "model")
    entry = f"raygen {command} {shlex.quote(str(missing))} -f {genome.reference} {extra} -o {shlex.quote(str(out))}"
    job_id, _ = submit(ray_head, entry)
    status, waited = wait_for_job(client, job_id, timeout_s=90)
    logs = client.get_job_logs(job_id)
    assert status == JobStatus.FAILED, logs
    assert str(missing) in logs, logs
    info = client.get_job_info(job_id)
    assert "exit code 2" in (info.message or ""), info.message  # InputError, not a crash
    assert not out.exists() and not list(tmp_path.glob(".out.vcf.gz.tmp-*"))
    # "At once": the command stops before any pipeline work (no Ray Data dataset ran, no map actor was
    # created for this job), so the job costs the driver's start-up only.
    assert "Starting execution of Dataset" not in logs, logs
    job_hex = client.get_job_info(job_id).job_id
    assert not [a for a in _map_workers(ray_head) if a.job_id == job_hex], "pipeline actors were started"
    assert waited < 60, f"took {waited:.1f} s"
    print(f"\n[figure] missing-input `raygen {command}` job submit->FAILED: {waited:.1f} s")


def _map_workers(head, **kw):
    """Ray Data's map actors (class ``MapWorker(...)``) on the job cluster."""
    from ray.util.state import list_actors

    return [a for a in list_actors(address=head.dashboard_url, limit=1000, raise_on_missing_output=False, **kw)
            if a.class_name.startswith("MapWorker(")]


def _vcf_records(path) -> list[str]:
    import pysam

    with pysam.VariantFile(str(path)) as vf:
        return [str(r) for r in vf.fetch()]


def test_killed_worker_is_retried_and_output_is_complete_and_written_once(ray_head, genome, tmp_path, run_cli):
    import os
    import signal

    from ray.job_submission import JobStatus

    client = ray_head.client()
    src, ref = genome.truth_denorm_vcf, genome.reference
    out = tmp_path / "job" / "norm.vcf.gz"
    out.parent.mkdir()  # so the directory holds only what this job writes (checked at the end)
    # Many small shards so the map actor is busy for seconds: the kill lands mid-job.
    job_id, _ = submit(ray_head, f"raygen normalize {src} -f {ref} -m -any -o {out} --ray --shard-bp 5000")
    deadline = time.monotonic() + 120
    victims = []
    while not victims:
        assert time.monotonic() < deadline, client.get_job_logs(job_id)
        status = client.get_job_status(job_id)
        assert status == JobStatus.RUNNING or status == JobStatus.PENDING, (
            f"job reached {status} before a map worker could be killed:\n{client.get_job_logs(job_id)}")
        victims = [a for a in _map_workers(ray_head, filters=[("state", "=", "ALIVE")]) if a.pid]
        time.sleep(0.1)
    os.kill(victims[0].pid, signal.SIGKILL)
    assert client.get_job_status(job_id) == JobStatus.RUNNING, "the kill must land while the job runs"

    status, _ = wait_for_job(client, job_id)
    logs = client.get_job_logs(job_id)
    assert status == JobStatus.SUCCEEDED, logs
    # Ray noticed the death and restarted the killed actor (same actor id); nothing in raygen had to.
    victim = [a for a in _map_workers(ray_head, detail=True) if a.actor_id == victims[0].actor_id]
    print(f"\n[info] killed actor after the job: {[(a.state, a.num_restarts) for a in victim]}")
    assert victim and victim[0].num_restarts >= 1, victim

    # Complete and written once: the same records, in the same order, as an in-process run ...
    expected = tmp_path / "local" / "norm.vcf.gz"
    expected.parent.mkdir()
    rc, _, err = run_cli("normalize", src, "-f", ref, "-m", "-any", "-o", expected, "--no-ray")
    assert rc == 0, err
    got, want = _vcf_records(out), _vcf_records(expected)
    assert len(got) == len(want) > 1000
    assert got == want
    # ... and nothing half-written beside it.
    assert sorted(p.name for p in out.parent.iterdir()) == ["norm.vcf.gz", "norm.vcf.gz.tbi"]

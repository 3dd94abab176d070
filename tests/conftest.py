"""Shared fixtures: one real local Ray for the whole session, the shared real-data folder, a fresh CLI.

Tests that need Ray take the ``ray_session`` fixture; Ray starts once (about 4 s) with 2 CPUs and stays up.
Tests that read ``../shared/data`` take ``shared_data`` and skip with a clear message where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before any Ray/HF/Gradio import: offline, quiet, no token auth on our loopback clusters.
for _k, _v in {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "HF_HUB_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
    # Serve's Python proxy: HAProxy's front (raygen.httpfront, what `raygen serve` uses) costs 8-14 s more per
    # serve.start at load 20-37, about ten times a session; RAYGEN_HTTP_FRONT=haproxy runs tests/serve through it.
    "RAYGEN_HTTP_FRONT": "proxy",
    # Ray Train's controller polls its workers every 2 s by default, and a worker's ray.train.report waits for
    # the poll that takes the previous result (and a finished run for one more): measured at load 30-40, a fit
    # of 2 workers with 5 checkpoint reports took 79-92 s at 2 s and 47-55 s at 0.2 s. About fifteen Ray Train
    # runs a session (also in the subprocesses tests start, which inherit this); training itself is unchanged.
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
}.items():
    os.environ.setdefault(_k, _v)

# Before torch loads: in-process scorers wait for their threads as raygen's scorer processes do (no spinning).
from raygen.scoring.base import SCORER_ENV  # noqa: E402 - after the environment above, before torch

for _k, _v in SCORER_ENV.items():
    os.environ.setdefault(_k, _v)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RAYGEN_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or $RAYGEN_SHARED_DATA); skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data test: {SHARED_DATA} is absent (set RAYGEN_SHARED_DATA to its location)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray with 2 CPUs, started once per test session and shut down at the end."""
    import ray

    from raygen.config import RuntimeConfig
    from raygen.runtime import init_ray

    info = init_ray(RuntimeConfig(num_cpus=2, num_gpus=0))
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield info
    ray.shutdown()


@pytest.fixture()
def run_cli(capsys):
    """Run ``raygen ARGS`` in-process (sharing the session's Ray) and return (exit code, stdout, stderr)."""
    from raygen.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        rc = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return rc, out, err

    return _run

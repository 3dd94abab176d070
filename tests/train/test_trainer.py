"""The one Ray Train wrapper: errors from workers reach the driver as ours, hooks run inside the workers,
an earlier run is never continued without ``resume``."""

from __future__ import annotations

import json

import pytest

from raygen.errors import InputError, RaygenError, UsageError
from raygen.train.trainer import Scaling, call_hooks, fit, hooks

ONE = Scaling(workers=1, cpus_per_worker=0.5)


def test_earlier_run_is_refused_without_resume(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(UsageError, match=r"already holds a toy training run: pass --resume"):
        fit(lambda config: None, {}, name="run", label="toy training", scaling=ONE, storage_dir=tmp_path)


@pytest.mark.timeout(240)  # two Ray Train runs
def test_worker_errors_reach_the_driver_and_hooks_run_in_workers(ray_session, tmp_path):
    seen = tmp_path / "hook.jsonl"

    def loop(config):  # nested, so Ray ships it by value to the workers
        call_hooks("epoch", epoch=1)
        if config["ours"]:
            raise InputError("labels.tsv:3: pos 'x' is not an integer")
        raise ValueError("shapes do not match\nsecond line")

    def record(point, info):
        with open(seen, "a") as fh:
            fh.write(json.dumps({"point": point, **info}) + "\n")

    # Our error keeps its type (exit code 2 at the CLI) and its message, not Ray's wrapper text.
    with hooks(record), pytest.raises(InputError, match=r"^labels\.tsv:3: pos 'x' is not an integer$"):
        fit(loop, {"ours": True}, name="ours", scaling=ONE, storage_dir=tmp_path)
    assert [json.loads(x) for x in seen.read_text().splitlines()] == [
        {"point": "epoch", "rank": 0, "world_size": 1, "epoch": 1}]
    # Anything else: one RaygenError line naming the run, the rank and the exception; no hooks left behind.
    with pytest.raises(RaygenError, match=r"^toy training failed: worker rank 0: ValueError: shapes do not match$") as e:
        fit(loop, {"ours": False}, name="other", label="toy training", scaling=ONE, storage_dir=tmp_path)
    assert type(e.value) is RaygenError
    assert len(seen.read_text().splitlines()) == 1

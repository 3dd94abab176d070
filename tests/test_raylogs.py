"""raygen.raylogs: what it demotes, and that -v (loud) keeps everything."""

from __future__ import annotations

import importlib.util
import logging
import threading

import pytest

from raygen import raylogs


@pytest.fixture()
def restore(monkeypatch):
    seen: list[str] = []
    # the hook quiet_process wraps: records which threads' deaths reach it
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.thread.name))
    for key in (*raylogs.QUIET_RAY_ENV, *raylogs.LOCAL_RAY_ENV, "RAYGEN_RAY_LOGS"):
        monkeypatch.setenv(key, "x")  # recorded, so teardown restores what the test process had
        monkeypatch.delenv(key)
    names = [*raylogs.QUIET_LOGGERS, importlib.util.find_spec(raylogs.QUIET_FILE_LOGGERS[0]).origin]
    levels = {n: logging.getLogger(n).level for n in names}
    yield names, seen
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)


def _die_in_thread(name: str) -> None:
    t = threading.Thread(target=lambda: 1 / 0, name=name)
    t.start()
    t.join()


def test_quiet_process_demotes_only_what_it_lists(restore):
    names, seen = restore
    raylogs.set_loud(False)
    raylogs.quiet_process()
    assert all(logging.getLogger(n).level >= logging.WARNING for n in names)
    _die_in_thread(raylogs.QUIET_THREADS[0])
    _die_in_thread("some-other-thread")  # any other thread's death still reaches the usual hook
    assert seen == ["some-other-thread"]


def test_loud_keeps_everything(restore):
    _, seen = restore
    raylogs.set_loud(True)
    raylogs.quiet_process()
    _die_in_thread(raylogs.QUIET_THREADS[0])
    assert seen == [raylogs.QUIET_THREADS[0]]
    raylogs.apply_ray_env()
    import os

    assert "RAY_BACKEND_LOG_LEVEL" not in os.environ
    assert os.environ["RAY_SERVE_QUEUE_LENGTH_RESPONSE_DEADLINE_S"] == "1.0"  # a setting, not a demotion
    assert raylogs.train_log_level() == "INFO"
    raylogs.set_loud(False)
    raylogs.apply_ray_env()
    assert os.environ["RAY_BACKEND_LOG_LEVEL"] == "fatal" and raylogs.train_log_level() == "ERROR"


NOISE = "[2026-12-01 20:23:47,545 I 15327 15327] logging.cc:303: Set ray log level from environment variable RAY_BACKEND_LOG_LEVEL to 3\n"


def test_ray_log_level_line_is_dropped_from_fd2_and_nothing_else(restore, capfd):
    """Issue 19: every embedded-Ray command printed Ray's C++ "Set ray log level ..." INFO line (the driver's
    own, written to fd 2 inside ray.init, and the raylet's, forwarded)."""
    import os

    raylogs.set_loud(False)
    with raylogs.dropping_fd2_lines():
        os.write(2, b"before\n" + NOISE.encode() + b"after\n")
    assert capfd.readouterr().err == "before\nafter\n"
    raylogs.set_loud(True)
    with raylogs.dropping_fd2_lines():
        os.write(2, NOISE.encode())
    assert capfd.readouterr().err == NOISE


def test_forwarded_ray_log_level_line_is_dropped(restore):
    from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher

    from raygen.runtime import drop_forwarded_noise

    got: list[list[str]] = []
    raylogs.set_loud(False)
    # only this test's handler while it runs: a Ray started earlier in this process registered its printer
    # there, which would get these hand-made batches
    saved, dispatcher.handlers = dispatcher.handlers, [("raygen-test", lambda data: got.append(data["lines"]))]
    try:
        drop_forwarded_noise()
        drop_forwarded_noise()  # twice: wrapped once
        dispatcher.emit({"pid": "raylet", "lines": [NOISE.strip(), "a real warning"]})
        dispatcher.emit({"pid": "raylet", "lines": [NOISE.strip()]})
    finally:
        dispatcher.handlers = saved
    assert got == [["a real warning"]]

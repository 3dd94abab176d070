"""Ray's own chatter, demoted where it starts unless the user asks for it (``-v``).

What a user of the embedded local Ray saw at warning level or above on every ``raygen demo`` although nothing
was wrong, and what turns each off. The Python-side lines still reach Ray's session log files under
``/tmp/ray/session_*/logs``; the C++ level applies to those files too, so a C++ error of Ray's own is only
seen with ``-v`` (a failure still reaches us as a Python exception):

- C++ ``core_worker.cc ... E`` lines ("Actor ... has constructor arguments in the object store and
  max_restarts > 0", for every Ray Data actor pool and Ray Train's preemption watcher): the C++ log level
  (``RAY_BACKEND_LOG_LEVEL``, read by every Ray process this driver starts) is ``fatal`` on the console.
- Ray Train's controller: "Failed to send resource request" with a traceback when a loaded machine answers
  the autoscaling coordinator late (it retries and goes on), ``TrainingReport(...)`` dumps at INFO: the run's
  ``ray.train.LoggingConfig`` level (:func:`train_log_level`).
- Ray Train's placement-group cleaner thread dies with a traceback when the dashboard (its State API) is off
  or several Ray instances run on the machine: it only cleans up after a crashed controller, which the
  embedded Ray does not outlive; :func:`quiet_process` logs that thread's death at DEBUG.
- The same cleaner's "Failed to query Ray Train Controller actor state" warnings (no dashboard).
- Ray Data's progress block every 10 s when stdout is not a terminal: every 30 s
  (``RAY_DATA_NON_TTY_PROGRESS_LOG_INTERVAL``).
- Ray Train's preemption watcher on the embedded Ray (:data:`LOCAL_RAY_ENV`): not started at all.
- "logging.cc: Set ray log level from environment variable RAY_BACKEND_LOG_LEVEL to 3": the C++ logger of
  every Ray process says so at INFO, whatever the level, because the variable above is set. The driver's own
  line goes straight to file descriptor 2 inside ``ray.init`` (:func:`dropping_fd2_lines` filters that call);
  the raylet's and workers' come back as forwarded log lines (``raygen.runtime.drop_forwarded_noise``).
- Serve's "Failed to get queue length from replica ... within 0.1s" on a busy machine: on one machine there is
  no network latency, so a slow answer only means busy CPUs; the embedded Ray waits up to 1 s
  (``RAY_SERVE_QUEUE_LENGTH_RESPONSE_DEADLINE_S``, :data:`LOCAL_RAY_ENV`, set with or without ``-v``).

``-v`` (or ``RAYGEN_RAY_LOGS=1``) keeps all of it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator

log = logging.getLogger("raygen.raylogs")

#: Environment for Ray processes started by this driver; ``setdefault``, so a user's own settings win.
QUIET_RAY_ENV: dict[str, str] = {
    "RAY_BACKEND_LOG_LEVEL": "fatal",
    "RAY_DATA_NON_TTY_PROGRESS_LOG_INTERVAL": "30",
}

#: Settings of the embedded local Ray that fit one (possibly busy) machine; applied whatever the verbosity.
LOCAL_RAY_ENV: dict[str, str] = {
    "RAY_SERVE_QUEUE_LENGTH_RESPONSE_DEADLINE_S": "1.0",
    # Ray Train's preemption watcher polls for a cloud node being drained: one more actor process to start before
    # the first step (seconds on a busy laptop), and the source of a core_worker error line, for a machine that
    # is never preempted. Clusters (--address) keep it.
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
}

#: Loggers demoted to ERROR in every worker process: warnings that only say the dashboard is off.
QUIET_LOGGERS: tuple[str, ...] = ("ray.train.v2._internal.execution.controller.placement_group_cleaner",)

#: Modules whose logger is named by their file path (``logging.getLogger(__file__)``), so no "ray.*" level
#: reaches it: Ray Train's worker context logs every ``TrainingReport(...)`` at INFO through the root logger.
QUIET_FILE_LOGGERS: tuple[str, ...] = ("ray.train.v2._internal.execution.context",)

#: Background threads of Ray whose death is not the user's problem (see the module docstring).
QUIET_THREADS: tuple[str, ...] = ("PlacementGroupCleanerMonitor",)

_ENV_LOUD = "RAYGEN_RAY_LOGS"


def set_loud(loud: bool) -> None:
    """Record the user's choice (``-v``) for this process and the Ray processes it starts."""
    os.environ[_ENV_LOUD] = "1" if loud else "0"


def loud() -> bool:
    return os.environ.get(_ENV_LOUD, "0") == "1"


def apply_ray_env() -> None:
    """Set :data:`LOCAL_RAY_ENV` and (unless loud) :data:`QUIET_RAY_ENV` before the embedded Ray starts, so
    its processes inherit them."""
    for key, value in {**LOCAL_RAY_ENV, **({} if loud() else QUIET_RAY_ENV)}.items():
        os.environ.setdefault(key, value)


def train_log_level() -> str:
    """Console level of Ray Train's own ``ray.train`` logs (``ray.train.LoggingConfig``)."""
    return "INFO" if loud() else "ERROR"


def _thread_hook(previous):
    def hook(args: threading.ExceptHookArgs) -> None:
        name = getattr(args.thread, "name", "")
        if name in QUIET_THREADS:
            log.debug("Ray thread %s stopped: %s", name, args.exc_value)
            return
        previous(args)

    return hook


def quiet_process() -> None:
    """Worker start-up hook of the embedded Ray (``runtime_env worker_process_setup_hook``): demote the
    loggers and threads listed above in this process. Errors still come through."""
    if loud():
        return
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for module in QUIET_FILE_LOGGERS:
        try:  # the file path without importing the module (this hook runs first thing in every worker)
            origin = importlib.util.find_spec(module).origin
        except (ImportError, AttributeError, ValueError):
            continue
        logging.getLogger(origin).setLevel(logging.WARNING)
    if not getattr(threading.excepthook, "_raygen_quiet", False):
        threading.excepthook = _thread_hook(threading.excepthook)
        threading.excepthook._raygen_quiet = True  # type: ignore[attr-defined]


#: Lines of Ray's own processes that say nothing to a user (see the module docstring).
NOISE_LINES = re.compile(r"logging\.cc:\d+: Set ray log level from environment variable")


@contextlib.contextmanager
def dropping_fd2_lines(pattern: re.Pattern[str] = NOISE_LINES) -> Iterator[None]:
    """While the block runs, file descriptor 2 (where Ray's C++ logger writes) goes through a pipe whose
    lines matching ``pattern`` are dropped; everything else reaches the real stderr in order. Ray's own
    processes started meanwhile get their own stderr files, not this pipe. No-op when loud."""
    if loud():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    r, w = os.pipe()
    os.dup2(w, 2)
    os.close(w)

    def pump() -> None:
        with os.fdopen(r, "rb") as fh:
            for line in fh:
                if not pattern.search(line.decode("utf-8", "replace")):
                    os.write(saved, line)

    t = threading.Thread(target=pump, name="raygen-stderr-filter", daemon=True)
    t.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last write end closes: the pump reads to its end and stops
        t.join(timeout=5)
        if not t.is_alive():
            os.close(saved)

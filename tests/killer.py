"""Fault injection helper: SIGKILL one of this test process's own descendants (a Ray worker, actor or Serve
replica, found by the ``ray::`` process title Ray gives it) while a job or a request stream runs."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil


class Killer(threading.Thread):
    """SIGKILL the first descendant process whose title holds ``needle``, ``delay_s`` after it appears."""

    def __init__(self, needle: str, delay_s: float, timeout_s: float = 120):
        super().__init__(daemon=True)
        self.needle, self.delay_s, self.timeout_s = needle, delay_s, timeout_s
        self.killed: list[tuple[int, str]] = []
        self.stop = threading.Event()

    def _find(self) -> psutil.Process | None:
        for p in psutil.Process(os.getpid()).children(recursive=True):
            try:
                title = " ".join(p.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if self.needle in title:
                return p
        return None

    def run(self) -> None:
        t_end = time.monotonic() + self.timeout_s
        while not self.stop.is_set() and time.monotonic() < t_end:
            p = self._find()
            if p is not None:
                time.sleep(self.delay_s)
                try:
                    title = " ".join(p.cmdline())
                    os.kill(p.pid, signal.SIGKILL)
                    self.killed.append((p.pid, title))
                except (psutil.NoSuchProcess, ProcessLookupError):
                    continue
                return
            time.sleep(0.02)

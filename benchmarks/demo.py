"""How long `make demo` takes to reach "serving": a first run (fresh caches: training included) and later runs
(cached model and scores), each line with the load average, and where the time went (seconds at which each
step's header appeared).

    python benchmarks/demo.py [--later 2] [--keep DIR]

Runs the real `raygen demo` in a subprocess with its own caches under a temporary folder (your
~/.cache/raygen is not touched), stops it with SIGTERM (what Ctrl-C does) once it prints "serving". There is no peer
tool for this figure; the issue's target is < 4 min first and < 90 s later on 2 cores.

Wall seconds on a shared machine follow the load; CPU seconds much less so. Every 0.25 s the benchmark sums the
user + system CPU time of the demo's whole process tree (the driver, Ray's GCS and raylet, every worker, actor
and replica, read from /proc), so each step also gets the CPU seconds it used, and the run a table of CPU
seconds by process (Ray's process titles: ``ray::RayTrainWorker``, ``ray::ServeReplica:raygen:Scorer``, ...).
A process that exits between two samples loses at most its last 0.25 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Lines that start a step (or, within pretraining, mark its first optimizer step and the model's export).
STEPS = ("== simulate", "== normalize", "== training", "pretrain: step 1,", "model written to", "== using the cached",
         "== score", "== starting the service", "serving; press Ctrl-C")


#: What the time from one marker to the next is, where the marker's own text does not say it.
LABELS = {"== training": "Ray Train start (to step 1)", "pretrain: step 1,": "training steps + validation",
          "model written to": "export", "== using the cached": "cached model", "== score": "score",
          "== starting the service": "Serve start (to serving)"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float, list[str]]]:
    """pid -> (parent pid, user + system CPU seconds, argv; argv[0] is Ray's title) of every process we can read."""
    table = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            argv = [a.decode(errors="replace") for a in (d / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        table[int(d.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK, argv)
    return table


def _kind(argv: list[str]) -> str:
    """A short name for a process of the demo's tree (Ray sets titles like ``ray::ServeReplica:raygen:Scorer``)."""
    if not argv:
        return "?"
    title = argv[0]
    if title.startswith("ray::"):
        name = title[5:].split()[0]
        return "ray::IDLE (worker pool)" if name.startswith("IDLE") else f"ray::{name}"
    if "python" in Path(title).name:  # the driver (-m raygen.cli) or a Ray helper script (agent.py, ...)
        for i, a in enumerate(argv[1:], 1):
            if a == "-m" and i + 1 < len(argv):
                return f"python -m {argv[i + 1]}"
            if a.endswith(".py"):
                return f"python {Path(a).name}"
    return Path(title).name


class CpuSampler:
    """Sums the CPU seconds of ``root``'s process tree every ``period`` s in a background thread."""

    def __init__(self, root: int, period: float = 0.25):
        self.root, self.period = root, period
        self.cpu: dict[int, float] = {}  # pid -> last CPU seconds seen
        self.kind: dict[int, str] = {}  # pid -> last non-idle kind seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def sample(self) -> None:
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        todo = [self.root]
        while todo:
            pid = todo.pop()
            if pid in table:
                _, cpu, argv = table[pid]
                self.cpu[pid] = max(cpu, self.cpu.get(pid, 0.0))
                kind = _kind(argv)  # the last title that says what the process does (an exiting one has no argv)
                if pid not in self.kind or not (kind.startswith("ray::IDLE") or kind == "?"):
                    self.kind[pid] = kind
            todo.extend(children.get(pid, []))

    def total(self) -> float:
        return sum(self.cpu.values())

    def by_kind(self) -> dict[str, tuple[int, float]]:
        out: dict[str, tuple[int, float]] = {}
        for pid, cpu in self.cpu.items():
            n, s = out.get(self.kind[pid], (0, 0.0))
            out[self.kind[pid]] = (n + 1, s + cpu)
        return dict(sorted(out.items(), key=lambda kv: -kv[1][1]))

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()


def run_once(work: Path, label: str, timeout_s: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(PYTHONUNBUFFERED="1", RAYGEN_CACHE=str(work / "cache"))
    cmd = [sys.executable, "-m", "raygen.cli", "demo", "--out", str(work / "demo_out"), "--port", str(_port())]
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    seen: dict[str, float] = {}
    cpu_at: dict[str, float] = {}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                            start_new_session=True)
    sampler = CpuSampler(proc.pid)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            for step in STEPS:
                if line.startswith(step) and step not in seen:
                    seen[step] = time.monotonic() - t0
                    sampler.sample()
                    cpu_at[step] = sampler.total()
            if "serving; press Ctrl-C" in line or time.monotonic() - t0 > timeout_s:
                break
    finally:
        total = time.monotonic() - t0
        load1 = os.getloadavg()[0]
        sampler.stop()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # as Ctrl-C; a background job ignores SIGINT
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    served = "serving; press Ctrl-C" in seen
    return {"run": label, "seconds": total if served else None, "load": (load0, load1), "steps": seen,
            "cpu_at": cpu_at, "cpu": sampler.total(), "by_kind": sampler.by_kind()}


def _step_table(r: dict) -> list[str]:
    """One line per step: wall and CPU seconds (whole process tree) from its header to the next one's."""
    marks = [("start (Ray start, imports)", 0.0, 0.0)] + [
        (LABELS.get(name, name.strip("= ").split(";")[0]), r["steps"][name], r["cpu_at"][name]) for name in r["steps"]]
    return [f"    {name:<28} wall {t1 - t0:6.1f} s  cpu {c1 - c0:6.1f} s"
            for (name, t0, c0), (_, t1, c1) in zip(marks, marks[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--later", type=int, default=2, help="later runs after the first")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds before a run counts as failed")
    ap.add_argument("--keep", metavar="DIR", help="work folder to keep (default: a temporary one)")
    a = ap.parse_args()
    work = Path(a.keep or tempfile.mkdtemp(prefix="raygen-demo-bench-"))
    rows = [run_once(work, "first", a.timeout)] + [run_once(work, f"later {i + 1}", a.timeout) for i in range(a.later)]
    print(f"{'run':<9} {'to serving':>11} {'load before->after':>19}  seconds at each step")
    for r in rows:
        secs = f"{r['seconds']:.0f} s" if r["seconds"] is not None else "FAILED"
        steps = ", ".join(f"{k.strip('= ').split(';')[0]} {v:.0f}" for k, v in r["steps"].items())
        print(f"{r['run']:<9} {secs:>11} {r['load'][0]:>8.1f} -> {r['load'][1]:<8.1f}  {steps}")
    for r in rows:
        print(f"\n{r['run']}: {r['cpu']:.0f} CPU s in all; each step from its first line to the next step's")
        print("\n".join(_step_table(r)))
        print("  CPU seconds by process:")
        for kind, (n, cpu) in r["by_kind"].items():
            if cpu >= 0.5:
                print(f"    {kind:<44} x{n:<3} {cpu:6.1f} s")
    later = [r["seconds"] for r in rows[1:] if r["seconds"] is not None]
    print(f"best later run: {min(later):.0f} s" if later else "no later run reached serving")
    print(f"cores: {os.cpu_count()}; target: first < 240 s, later < 90 s")


if __name__ == "__main__":
    main()

"""How long `make demo` takes to reach "serving": a first run (fresh caches: training included) and later runs
(cached model and scores), each line with the load average, and where the time went (seconds at which each
step's header appeared).

    python benchmarks/demo.py [--later 2] [--keep DIR]

Runs the real `raygen demo` in a subprocess with its own caches under a temporary folder (your
~/.cache/raygen is not touched), stops it with SIGTERM (what Ctrl-C does) once it prints "serving". There is no peer
tool for this figure; the issue's target is < 4 min first and < 90 s later on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("== simulate", "== normalize", "== training", "== using the cached", "== score", "== starting the service",
         "serving; press Ctrl-C")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(work: Path, label: str, timeout_s: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(PYTHONUNBUFFERED="1", RAYGEN_CACHE=str(work / "cache"))
    cmd = [sys.executable, "-m", "raygen.cli", "demo", "--out", str(work / "demo_out"), "--port", str(_port())]
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    seen: dict[str, float] = {}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                            start_new_session=True)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            for step in STEPS:
                if line.startswith(step) and step not in seen:
                    seen[step] = time.monotonic() - t0
            if "serving; press Ctrl-C" in line or time.monotonic() - t0 > timeout_s:
                break
    finally:
        total = time.monotonic() - t0
        load1 = os.getloadavg()[0]
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # as Ctrl-C; a background job ignores SIGINT
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    served = "serving; press Ctrl-C" in seen
    return {"run": label, "seconds": total if served else None, "load": (load0, load1), "steps": seen}


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
    later = [r["seconds"] for r in rows[1:] if r["seconds"] is not None]
    print(f"best later run: {min(later):.0f} s" if later else "no later run reached serving")
    print(f"cores: {os.cpu_count()}; target: first < 240 s, later < 90 s")


if __name__ == "__main__":
    main()

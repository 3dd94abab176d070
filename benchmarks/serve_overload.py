"""Overload benchmark of the HTTP service: does it shed load (fast 503 + Retry-After) instead of collapsing?

One command prints the whole table. The script starts the real raygen Serve app on loopback (embedded
local Ray, the ServeConfig admission settings given on the command line), then:

1. **unloaded**: sequential single-variant ``POST /v1/score`` requests -> p50/p99 latency;
2. **sustainable rate**: ``--clients`` closed-loop clients for ``--seconds`` -> successful requests/s;
3. **overload**: open-loop arrivals at 2x and 4x that rate for ``--seconds`` each (a request is sent on
   schedule whether or not earlier ones were answered, as independent users do), every request with the
   client deadline ``--deadline-s``: counts of 200 / 503 / other / client timeouts, p50/p99 of accepted
   requests, p99 of the 503 answers, the share carrying ``Retry-After``;
4. **recovery**: after the overload, one request every 0.2 s until a latency is back within 2x the unloaded
   p50: seconds to recover.

Goals (issue 19): no timeouts beyond the deadline and no errors other than 503 under 2x and 4x; p99 of
accepted requests within 3x its unloaded value; recovery within seconds. The load generator runs in this
process (asyncio + httpx) and competes for the same CPUs: on a small shared machine the figures include
that (load average printed).

Usage:
    python benchmarks/serve_overload.py                                   # ServeConfig defaults
    python benchmarks/serve_overload.py --max-ongoing-requests 32 --max-queued-requests 16 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score import build_default_model, random_reference  # noqa: E402  (benchmarks/score.py)
from serve_load import free_port, random_snvs  # noqa: E402  (benchmarks/serve_load.py)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


async def closed_loop(url: str, clients: int, seconds: float, variants: list[dict]) -> float:
    """Successful requests/s of ``clients`` back-to-back clients (the sustainable rate); a client refused
    with 503 pauses 50 ms (it does not spin on the refusals)."""
    import httpx

    ok = 0
    stop = time.perf_counter() + seconds

    async def worker(k: int, ac) -> None:
        nonlocal ok
        i = k
        while time.perf_counter() < stop:
            r = await ac.post("/v1/score", json={"variants": [variants[i % len(variants)]]})
            ok += r.status_code == 200
            if r.status_code == 503:
                await asyncio.sleep(0.05)
            i += clients

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=clients + 4)) as ac:
        t0 = time.perf_counter()
        await asyncio.gather(*[worker(k, ac) for k in range(clients)])
        return ok / (time.perf_counter() - t0)


async def open_loop(url: str, rate: float, seconds: float, deadline_s: float, variants: list[dict]) -> dict:
    """Send at ``rate`` req/s for ``seconds`` regardless of answers; classify every outcome."""
    import httpx

    res: dict = {"200": [], "503": [], "other": 0, "timeout": 0, "retry_after": 0}
    n = int(rate * seconds)

    async def one(i: int, ac) -> None:
        t0 = time.perf_counter()
        try:  # the deadline is the whole request's (httpx's own timeout is per read/write/connect step)
            r = await asyncio.wait_for(ac.post("/v1/score", json={"variants": [variants[i % len(variants)]]}),
                                       deadline_s)
        except (httpx.TimeoutException, asyncio.TimeoutError):
            res["timeout"] += 1
            return
        except httpx.HTTPError:
            res["other"] += 1
            return
        dt = time.perf_counter() - t0
        if r.status_code in (200, 503):
            res[str(r.status_code)].append(dt)
            res["retry_after"] += r.status_code == 503 and r.headers.get("retry-after") is not None
        else:
            res["other"] += 1

    limits = httpx.Limits(max_connections=2048, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, timeout=deadline_s, limits=limits) as ac:
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, ac)))
        await asyncio.gather(*tasks)
    res["sent"] = n
    return res


def gate_state(url: str) -> str:
    """The admission gate's learned limit and unloaded latency (GET /metrics), as one short string."""
    import httpx

    vals = {}
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        for key in ("raygen_admission_limit", "raygen_admission_unloaded_seconds"):
            if line.startswith(key + "{"):
                vals[key] = float(line.rsplit(" ", 1)[1])
    return (f"gate limit {vals.get('raygen_admission_limit', float('nan')):.1f} variants, unloaded "
            f"{vals.get('raygen_admission_unloaded_seconds', float('nan')) * 1000:.0f} ms")


def sequential(url: str, n: int, variants: list[dict]) -> list[float]:
    import httpx

    lat = []
    with httpx.Client(base_url=url, timeout=60) as c:
        for i in range(n):
            t0 = time.perf_counter()
            r = c.post("/v1/score", json={"variants": [variants[i % len(variants)]]})
            if r.status_code == 200:
                lat.append(time.perf_counter() - t0)
    return lat


def recovery_s(url: str, p50_s: float, variants: list[dict], limit_s: float = 60) -> float:
    import httpx

    t0 = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60) as c:
        while time.perf_counter() - t0 < limit_s:
            s = time.perf_counter()
            r = c.post("/v1/score", json={"variants": [variants[0]]})
            if r.status_code == 200 and time.perf_counter() - s <= 2 * p50_s:
                return time.perf_counter() - t0
            time.sleep(0.2)
    return float("inf")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model dir (default: raygen-small MLM with random weights, built here)")
    ap.add_argument("-f", "--fasta", help="indexed FASTA (default: 50 kb random sequence)")
    ap.add_argument("--arch", default="raygen-small")
    ap.add_argument("--clients", type=int, default=32, help="closed-loop clients to find the sustainable rate")
    ap.add_argument("--seconds", type=float, default=10.0, help="per phase")
    ap.add_argument("--deadline-s", type=float, default=10.0, help="client timeout per request")
    ap.add_argument("--multipliers", type=float, nargs="+", default=[2.0, 4.0])
    ap.add_argument("--max-ongoing-requests", type=int, default=None, help="default: ServeConfig's")
    ap.add_argument("--max-queued-requests", type=int, default=None, help="default: ServeConfig's")
    ap.add_argument("--retry-after-s", type=float, default=None, help="default: ServeConfig's")
    ap.add_argument("--admission-factor", type=float, default=None, help="default: ServeConfig's (0: gate off)")
    ap.add_argument("--scorer-cpus", type=float, default=1.0)
    ap.add_argument("--num-cpus", type=int, default=None, help="local Ray CPUs (default: all)")
    args = ap.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ray import serve

    from raygen.config import DEFAULTS, RuntimeConfig, ServeConfig
    from raygen.runtime import init_ray
    from raygen.serve.app import build_application

    d = DEFAULTS.serve
    ongoing = args.max_ongoing_requests or d.max_ongoing_requests
    queued = d.max_queued_requests if args.max_queued_requests is None else args.max_queued_requests
    retry = d.retry_after_s if args.retry_after_s is None else args.retry_after_s
    factor = d.admission_factor if args.admission_factor is None else args.admission_factor
    tmp = Path(tempfile.mkdtemp(prefix="raygen_overload_"))
    model = args.model or str(build_default_model(tmp / "model", args.arch, "mlm"))
    fasta = args.fasta or str(random_reference(tmp / "ref.fa", 50_000, 1))
    variants = random_snvs(fasta, 4096, 2, DEFAULTS.score.window)
    # The replicas' logs stay out of this process: printing a log line per request here would cost the load
    # generator CPU.
    info = init_ray(RuntimeConfig(num_cpus=args.num_cpus, log_to_driver=False))
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port},
                logging_config={"enable_access_log": False, "log_level": "ERROR"})
    cfg = ServeConfig(model=model, reference=fasta, ui=False, token_env=None, max_ongoing_requests=max(ongoing, d.max_batch_size),
                      max_queued_requests=queued, retry_after_s=retry, admission_factor=factor,
                      scorer_cpus=args.scorer_cpus, device="cpu")
    serve.run(build_application(cfg), name="overload", route_prefix="/", blocking=False)
    url = f"http://127.0.0.1:{port}"
    print(f"{info.describe()}; max_ongoing_requests={cfg.max_ongoing_requests} "
          f"max_queued_requests={queued} retry_after_s={retry} admission_factor={factor}; deadline {args.deadline_s} s; load avg {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores", flush=True)
    sequential(url, 20, variants)  # warm-up
    unloaded = sequential(url, 100, variants)
    p50u, p99u = pct(unloaded, 50), pct(unloaded, 99)
    print(f"unloaded: p50 {p50u:.1f} ms  p99 {p99u:.1f} ms", flush=True)
    rate = asyncio.run(closed_loop(url, args.clients, args.seconds, variants))
    print(f"sustainable: {rate:.1f} req/s with {args.clients} closed-loop clients ({gate_state(url)})", flush=True)
    rows = []
    for m in args.multipliers:
        r = asyncio.run(open_loop(url, m * rate, args.seconds, args.deadline_s, variants))
        rec = recovery_s(url, p50u / 1000, variants)
        rows.append((m, r, rec))
        print(f"{m:g}x done (load avg {os.getloadavg()[0]:.1f}; {gate_state(url)})", flush=True)
    print("\noffered   sent    200    503  other  timeouts  rejected  p50 ok ms  p99 ok ms  p99/unloaded  "
          "p99 503 ms  Retry-After  recover s")
    for m, r, rec in rows:
        ok, rej = r["200"], r["503"]
        p99 = pct(ok, 99)
        print(f"{m:>4g}x {m * rate:>5.0f}/s {r['sent']:>5} {len(ok):>6} {len(rej):>6} {r['other']:>6} {r['timeout']:>9} "
              f"{len(rej) / max(r['sent'], 1):>8.1%} {pct(ok, 50):>10.1f} {p99:>10.1f} {p99 / p99u:>13.1f} "
              f"{pct(rej, 99):>11.1f} {r['retry_after']:>6}/{len(rej):<5} {rec:>9.1f}")
    print(f"\nunloaded p50 {p50u:.1f} ms, p99 {p99u:.1f} ms; sustainable {rate:.1f} req/s; load avg at end "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machines skew these)")
    serve.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

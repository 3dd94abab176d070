"""Load benchmark of the HTTP service: requests/s and latency with Serve batching on vs off.

For each mode the script starts the real raygen Serve app on loopback (embedded local Ray), then, for each
client count, runs that many concurrent HTTP clients for ``--seconds`` (or until ``--max-requests``),
each sending single-variant ``POST /v1/score`` requests (random SNVs) back to back. It prints requests/s,
p50/p99 latency and error counts per (mode, clients), then the two goal figures:

- p99 of a single-variant score at low load (1 client, batching on) vs the 50 ms goal;
- throughput with batching on / off at the highest client count (goal >= 5x at 32 clients).

"Off" is the same app with ``max_batch_size=1`` (each request is its own model call); "on" uses
``--max-batch-size`` (default: ServeConfig's) and ``--batch-wait-timeout-s``. Loopback only; bounded in time
and request count. The load generator runs in this process (asyncio + httpx): on a small machine it
competes with the replicas for CPU, which the printed figures include.

Usage:
    python benchmarks/serve_load.py                       # raygen-small MLM (random weights), 1 and 32 clients
    python benchmarks/serve_load.py --model DIR -f ref.fa --clients 1 8 32 --seconds 15
    python benchmarks/serve_load.py --overload [ARGS]     # the overload benchmark (benchmarks/serve_overload.py)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score import build_default_model, random_reference  # noqa: E402  (benchmarks/score.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_snvs(fasta: str, n: int, seed: int, window: int) -> list[dict]:
    from raygen.io.fasta import Reference

    rng = np.random.default_rng(seed)
    with Reference(fasta) as ref:
        chrom = max(ref.contigs, key=ref.length)
        seq = ref.fetch(chrom, 0, ref.length(chrom))
    out = []
    while len(out) < n:
        p = int(rng.integers(window, len(seq) - window))
        b = seq[p - 1]
        if b in "ACGT":
            out.append({"chrom": chrom, "pos": p, "ref": b, "alt": "ACGT"[("ACGT".index(b) + int(rng.integers(1, 4))) % 4]})
    return out


async def load(url: str, clients: int, seconds: float, max_requests: int, variants: list[dict]) -> dict:
    import httpx

    lat: list[float] = []
    codes: dict[int, int] = {}
    errors = 0
    sent = 0
    stop_at = time.perf_counter() + seconds

    async def worker(k: int, ac: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        i = k
        while time.perf_counter() < stop_at and sent < max_requests:
            sent += 1
            body = {"variants": [variants[i % len(variants)]]}
            i += clients
            t0 = time.perf_counter()
            try:
                r = await ac.post("/v1/score", json=body)
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    lat.append(time.perf_counter() - t0)
                else:
                    errors += 1
            except httpx.HTTPError:
                errors += 1

    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as ac:
        t0 = time.perf_counter()
        await asyncio.gather(*[worker(k, ac) for k in range(clients)])
        wall = time.perf_counter() - t0
    a = np.array(lat) * 1000 if lat else np.array([np.nan])
    return {"clients": clients, "ok": len(lat), "errors": errors, "codes": codes, "wall_s": wall,
            "rps": len(lat) / wall, "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


def run_mode(name: str, model: str, fasta: str, args, max_batch_size: int, variants: list[dict]) -> list[dict]:
    import httpx
    from ray import serve

    from raygen.config import ServeConfig
    from raygen.serve.app import build_application

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port},
                logging_config={"enable_access_log": False, "log_level": "WARNING"})
    cfg = ServeConfig(model=model, reference=fasta, window=args.window, ui=False, token_env=None,
                      max_batch_size=max_batch_size, batch_wait_timeout_s=args.batch_wait_timeout_s,
                      max_ongoing_requests=max(64, 2 * max(args.clients), max_batch_size), max_queued_requests=1024,
                      scorer_cpus=args.scorer_cpus, device=args.device)
    t0 = time.perf_counter()
    serve.run(build_application(cfg), name=f"bench_{name}", route_prefix="/", blocking=False)
    url = f"http://127.0.0.1:{port}"
    print(f"[{name}] app up in {time.perf_counter() - t0:.1f} s (max_batch_size={max_batch_size})", flush=True)
    for _ in range(20):  # warm-up: first calls pay for lazy initialisation
        httpx.post(url + "/v1/score", json={"variants": [variants[0]]}, timeout=60)
    rows = []
    for c in args.clients:
        res = asyncio.run(load(url, c, args.seconds, args.max_requests, variants))
        res["mode"] = name
        rows.append(res)
        print(f"[{name}] clients={c:>3}  {res['rps']:8.1f} req/s  p50 {res['p50_ms']:7.1f} ms  "
              f"p99 {res['p99_ms']:7.1f} ms  ok {res['ok']}  errors {res['errors']} {res['codes']}", flush=True)
    serve.shutdown()
    return rows


def main() -> int:
    if "--overload" in sys.argv[1:]:  # issue 19 names this script for the overload benchmark: one name, one script
        sys.argv.remove("--overload")
        from serve_overload import main as overload

        return overload()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model dir (default: raygen-small MLM with random weights, built here)")
    ap.add_argument("-f", "--fasta", help="indexed FASTA (default: 50 kb random sequence)")
    ap.add_argument("--arch", default="raygen-small")
    ap.add_argument("--window", type=int, default=None, help="default: ScoreConfig.window")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--seconds", type=float, default=10.0, help="per (mode, clients) run")
    ap.add_argument("--max-requests", type=int, default=20_000, help="per (mode, clients) run")
    ap.add_argument("--max-batch-size", type=int, default=None, help="batching on (default: ServeConfig's)")
    ap.add_argument("--batch-wait-timeout-s", type=float, default=None, help="seconds (default: ServeConfig's)")
    ap.add_argument("--scorer-cpus", type=float, default=1.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--num-cpus", type=int, default=None, help="local Ray CPUs (default: all)")
    args = ap.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from raygen.config import DEFAULTS, RuntimeConfig
    from raygen.runtime import init_ray

    args.window = args.window or DEFAULTS.score.window
    args.max_batch_size = args.max_batch_size or DEFAULTS.serve.max_batch_size
    if args.batch_wait_timeout_s is None:
        args.batch_wait_timeout_s = DEFAULTS.serve.batch_wait_timeout_s
    tmp = Path(tempfile.mkdtemp(prefix="raygen_serve_bench_"))
    model = args.model or str(build_default_model(tmp / "model", args.arch, "mlm"))
    fasta = args.fasta or str(random_reference(tmp / "ref.fa", 50_000, 1))
    variants = random_snvs(fasta, 4096, 2, args.window)
    info = init_ray(RuntimeConfig(num_cpus=args.num_cpus))
    print(f"model {args.model or args.arch + ' (random weights)'}; window {args.window}; {info.describe()}; "
          f"os.cpu_count()={os.cpu_count()}; load avg at start {os.getloadavg()[0]:.1f}", flush=True)

    rows = run_mode("batched", model, fasta, args, args.max_batch_size, variants)
    rows += run_mode("unbatched", model, fasta, args, 1, variants)

    print("\nmode        clients    req/s   p50 ms   p99 ms   errors")
    for r in rows:
        print(f"{r['mode']:<11} {r['clients']:>7} {r['rps']:8.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['errors']:>8}")
    lo = min(args.clients)
    hi = max(args.clients)
    p99 = next(r["p99_ms"] for r in rows if r["mode"] == "batched" and r["clients"] == lo)
    on = next(r["rps"] for r in rows if r["mode"] == "batched" and r["clients"] == hi)
    off = next(r["rps"] for r in rows if r["mode"] == "unbatched" and r["clients"] == hi)
    print(f"\np99 single-variant latency, {lo} client(s), batching on: {p99:.1f} ms "
          f"(goal < 50 ms: {'met' if p99 < 50 else 'NOT met'})")
    print(f"throughput at {hi} clients: batching on {on:.1f} req/s / off {off:.1f} req/s = {on / off:.2f}x "
          f"(goal >= 5x: {'met' if on / off >= 5 else 'NOT met'})")
    print(f"load average at end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machines skew these)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

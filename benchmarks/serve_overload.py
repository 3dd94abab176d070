"""Overload benchmark of the HTTP service: does it shed load (fast 503 + Retry-After) instead of collapsing,
and where does an accepted request's time go? (``python benchmarks/serve_load.py --overload`` runs this too.)

One command prints the whole table. The script starts the real raygen Serve app on loopback (a fresh embedded
local Ray per configuration, with its HTTP front: ``front=haproxy`` or ``front=proxy`` in a ``--config``, else
``--front``; raygen.httpfront) and drives it from a load generator in its own process (benchmarks/loadgen.py:
asyncio + aiohttp, open-loop), so the generator's CPU is counted apart. For each configuration (``--config``;
default: the ServeConfig defaults) and round (``--rounds``, configurations interleaved, A B A B):

1. **unloaded**: open-loop arrivals at ``--unloaded-rate`` (default 6/s) through the same generator as the
   loaded phases -> p50/p99 latency (the reference of the 3x goal);
2. **sustainable**: the highest open-loop rate (``--ramp-s`` per step, 5 req/s up by 25% a step; a failed step
   is tried once more) at which at most 1% is refused, nothing times out and the p99 stays within 3x the unloaded p99 (``--clients N``:
   successful requests/s of N closed-loop clients instead, the earlier definition, which counts the refusals
   those clients provoke; ``--rate`` fixes the rate: A/B comparisons then offer every configuration the same load);
3. **overload**: open-loop arrivals at 2x and 4x that rate, every request with the client deadline
   ``--deadline-s``, each phase followed by **recovery**: one request every 0.2 s until one is answered within
   2x the unloaded p50.

Per phase it prints counts of 200 / 503 / other / client timeouts, p50/p99 of accepted requests and where
their time went (from the ``Server-Timing`` header of ``POST /v1/score``: ``pre`` = body, validation and REF
checks in the ingress; ``scorer`` = the Scorer call: router, its queue, batching, the model; ``outside`` =
client total - ingress handler = client, proxy, proxy->ingress hop and the ingress's event loop queue), the
generator's send lateness, the p99 of the 503 answers, and the CPU (cores) each of our processes used
(generator, proxy, the haproxy binary, ingress, scorer, the rest of our Ray) and the machine's other users.

Goals (issue 19): no timeouts beyond the deadline and no errors other than 503 under 2x and 4x; p99 of
accepted requests within 3x the unloaded p99; recovery within seconds.

Usage:
    python benchmarks/serve_overload.py                                   # ServeConfig defaults
    python benchmarks/serve_overload.py --config haproxy:front=haproxy --config proxy:front=proxy --rounds 2
    python benchmarks/serve_overload.py --config gate: --config off:admission_factor=0 --rounds 2 --rate 15
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import LoadGen  # noqa: E402  (benchmarks/loadgen.py)
from score import build_default_model, random_reference  # noqa: E402  (benchmarks/score.py)
from serve_load import free_port, random_snvs  # noqa: E402  (benchmarks/serve_load.py)

#: CPU accounting: our processes by what their command line names (Ray sets ``ray::<actor>`` titles).
#: HTTP fronts: Serve's Python proxy (``ProxyActor``) or Ray's HAProxy mode (its manager actor, ``HAProxyManager``,
#: counts as proxy; the haproxy binary apart, as ``hap``).
ROLES = (("ingress", "Ingress"), ("scorer", "Scorer"), ("proxy", "ProxyActor"), ("proxy", "HAProxyManager"),
         ("hap", "bin/haproxy"))


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


class CpuMeter:
    """CPU seconds of this process's descendants by role, and of the whole machine, between two calls."""

    def __init__(self, loadgen_pid: int):
        self.loadgen_pid = loadgen_pid

    def _role(self, p: psutil.Process) -> str:
        if p.pid == self.loadgen_pid:
            return "loadgen"
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            return "ray"
        return next((role for role, key in ROLES if key in cmd), "ray")

    def sample(self) -> tuple[float, dict[str, float], float]:
        by: dict[str, float] = {}
        me = psutil.Process()
        for p in [me, *me.children(recursive=True)]:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            role = "ray" if p.pid == me.pid else self._role(p)
            by[role] = by.get(role, 0.0) + t.user + t.system
        m = psutil.cpu_times()
        return time.perf_counter(), by, m.user + m.system + m.nice + getattr(m, "irq", 0) + getattr(m, "softirq", 0)

    @staticmethod
    def cores(a, b) -> dict[str, float]:
        """Cores used by role between samples ``a`` and ``b``; ``others``: the machine's other users."""
        wall = b[0] - a[0]
        out = {r: (b[1].get(r, 0.0) - a[1].get(r, 0.0)) / wall
               for r in ("loadgen", "proxy", "hap", "ingress", "scorer", "ray")}
        out["others"] = max(0.0, (b[2] - a[2]) / wall - sum(out.values()))
        return out


def summary(res: list, cores: dict[str, float]) -> dict:
    """One phase's figures from the generator's outcomes (see benchmarks/loadgen.py)."""
    ok = [r for r in res if r[0] == 200]
    rej = [r for r in res if r[0] == 503]
    lat = [r[1] * 1e3 for r in ok]
    timing = [(r[1] * 1e3, r[3]) for r in ok if "app" in r[3]]
    return {"sent": len(res), "ok": len(ok), "503": len(rej), "timeout": sum(r[0] == 0 for r in res),
            "other": sum(r[0] not in (0, 200, 503) for r in res), "p50": pct(lat, 50), "p99": pct(lat, 99),
            "pre99": pct([t["pre"] for _, t in timing], 99), "scorer50": pct([t["scorer"] for _, t in timing], 50),
            "scorer99": pct([t["scorer"] for _, t in timing], 99),
            "out50": pct([total - t["app"] for total, t in timing], 50),
            "out99": pct([total - t["app"] for total, t in timing], 99),
            "late99": pct([r[2] * 1e3 for r in res], 99), "rej99": pct([r[1] * 1e3 for r in rej], 99),
            "retry_after": sum(r[4] is not None for r in rej), "cores": cores, "load": os.getloadavg()[0]}


def phase(gen: LoadGen, meter: CpuMeter, kind: str, **kw) -> dict:
    a = meter.sample()
    out = gen.run(kind, **kw)
    s = summary(out["results"], CpuMeter.cores(a, meter.sample()))
    s["wall_s"] = out["wall_s"]
    return s


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


def parse_config(text: str) -> tuple[str, dict]:
    """``"name:key=value,key=value"`` -> (name, overrides): ``front`` (the HTTP front of the embedded Ray,
    ``RuntimeConfig.http_front``: haproxy, proxy or auto; each configuration starts a Ray of its own), ServeConfig
    fields (numbers), ``ingress.OPTION``
    (an Ingress deployment option, e.g. ``ingress.max_ongoing_requests=8``) or ``ingress_env.VAR`` /
    ``scorer_env.VAR`` (an environment variable of those replicas, e.g. one of Ray Serve's ``RAY_SERVE_*``
    switches)."""
    name, _, rest = text.partition(":")
    kv = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        k = k.strip()
        kv[k] = v if "_env." in k or k == "front" else float(v) if "." in v else int(v)
    return name or "default", kv


def ramp(gen: LoadGen, meter: CpuMeter, unloaded_p99: float, args) -> tuple[float, dict]:
    """The highest rate of 5 req/s x 1.25^k that the service takes in full within the goal (see the module
    docstring), and that step's figures. A step that fails is tried once more before the ramp stops (on a shared
    machine one latency spike is not the service's capacity)."""
    rate, best, failed = 5.0, (float("nan"), None), 0
    while rate < 500:
        s = phase(gen, meter, "open", rate=rate, seconds=args.ramp_s, deadline_s=args.deadline_s)
        if s["503"] + s["other"] > 0.01 * s["sent"] or s["timeout"] or s["p99"] > 3 * unloaded_p99:
            failed += 1
            if failed == 2:
                break
            continue
        best, failed = (rate, s), 0
        rate *= 1.25
    if best[1] is None:  # not even 5 req/s: report that step
        return rate, s
    return best


def start_ray(front: str, args) -> tuple[str, str]:
    """A fresh embedded Ray with HTTP front ``front`` and Serve on a free loopback port: (front chosen, URL)."""
    import ray
    from ray import serve

    from raygen.config import RuntimeConfig
    from raygen.httpfront import haproxy_env, resolve_front
    from raygen.runtime import init_ray

    for key in haproxy_env(tempfile.gettempdir()):  # the previous configuration's front must not leak into this one
        os.environ.pop(key, None)
    if ray.is_initialized():
        ray.shutdown()
    # The replicas' logs stay out of this process: a log line per request would cost CPU here.
    info = init_ray(RuntimeConfig(num_cpus=args.num_cpus, log_to_driver=False, http_front=front))
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port},
                logging_config={"enable_access_log": False, "log_level": "ERROR"})
    print(f"{info.describe()}; HTTP front {resolve_front(front)}", flush=True)
    return resolve_front(front), f"http://127.0.0.1:{port}"


def run_config(name: str, over: dict, args, base: dict, variants: list) -> list[tuple]:
    """Start a Ray of this configuration's front, deploy it, run its phases, stop; rows of (config, phase,
    figures)."""
    from ray import serve

    front, url = start_ray(over.get("front", args.front), args)
    gen = LoadGen(url, variants)
    meter = CpuMeter(gen.proc.pid)
    try:
        return run_phases(name, over, args, base, url, gen, meter, front)
    finally:
        gen.close()
        serve.shutdown()


def run_phases(name: str, over: dict, args, base: dict, url: str, gen: LoadGen, meter: CpuMeter,
               front: str) -> list[tuple]:
    """Deploy one configuration and run its phases (see the module docstring)."""
    from ray import serve

    from raygen.config import ServeConfig
    from raygen.scoring.base import SCORER_ENV
    from raygen.serve.app import build_application

    def picked(prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in over.items() if k.startswith(prefix)}

    ienv, senv, ingress = picked("ingress_env."), picked("scorer_env."), picked("ingress.")
    cfg = ServeConfig(**{**base, **{k: v for k, v in over.items() if "." not in k and k != "front"}})
    opts: dict = {"Ingress": ingress}
    if ienv:
        ingress["ray_actor_options"] = {"num_cpus": cfg.ingress_cpus, "runtime_env": {"env_vars": ienv}}
    if senv:
        opts["Scorer"] = {"ray_actor_options": {"num_cpus": cfg.scorer_cpus, "num_gpus": cfg.scorer_gpus,
                                                "runtime_env": {"env_vars": {**SCORER_ENV, **senv}}}}
    serve.run(build_application(cfg, opts), name="overload", route_prefix="/", blocking=False)
    gen.run("open", rate=20.0, seconds=1.0, deadline_s=args.deadline_s)  # warm-up: lazy initialisation
    un = phase(gen, meter, "open", rate=args.unloaded_rate, seconds=args.unloaded_s, deadline_s=args.deadline_s)
    rows = [(name, "unloaded", un)]
    if args.rate:
        rate = args.rate
    elif args.clients:
        sus = phase(gen, meter, "closed", clients=args.clients, seconds=args.seconds, deadline_s=args.deadline_s)
        rate = sus["ok"] / sus["wall_s"]
        rows.append((name, f"closed {args.clients}", sus))
    else:
        rate, step = ramp(gen, meter, un["p99"], args)
        rows.append((name, f"ramp {rate:.0f}/s", step))
    for m in args.multipliers:
        s = phase(gen, meter, "open", rate=m * rate, seconds=args.seconds, deadline_s=args.deadline_s)
        s["recover_s"] = gen.run("recover", target_s=2 * un["p50"] / 1e3)["results"]
        rows.append((name, f"{m:g}x {m * rate:.0f}/s", s))
    print(f"[{name} {over}] front {front}; sustainable {rate:.1f} req/s; {gate_state(url)}; "
          f"load avg {os.getloadavg()[0]:.1f}", flush=True)
    return rows


def print_table(rows: list[tuple], args) -> None:
    print("\nconfig   phase          load  sent   200   503 oth t/o  p50ok  p99ok  x_unl | pre99 scor50 scor99 "
          "out50 out99 late99 | p99_503 RA%  rec_s | cores: gen proxy hap ingr scorer ray others | http ms/req")
    unl = {}
    for name, ph, s in rows:
        if ph == "unloaded":
            unl[name] = s["p99"]
        c = s["cores"]
        ratio = s["p99"] / unl[name]
        ra = s["retry_after"] / s["503"] if s["503"] else float("nan")
        http = c["proxy"] + c["hap"] + c["ingress"]
        print(f"{name:<8} {ph:<13} {s['load']:>5.1f} {s['sent']:>5} {s['ok']:>5} {s['503']:>5} {s['other']:>3} "
              f"{s['timeout']:>3} {s['p50']:>6.0f} {s['p99']:>6.0f} {ratio:>6.1f} | {s['pre99']:>5.1f} "
              f"{s['scorer50']:>6.0f} {s['scorer99']:>6.0f} {s['out50']:>5.0f} {s['out99']:>5.0f} "
              f"{s['late99']:>6.1f} | {s['rej99']:>7.0f} {ra:>4.0%} {s.get('recover_s', float('nan')):>5.1f} | "
              f"{c['loadgen']:>10.2f} {c['proxy']:>5.2f} {c['hap']:>4.2f} {c['ingress']:>4.2f} {c['scorer']:>6.2f} "
              f"{c['ray']:>3.2f} {c['others']:>6.2f} | {http * s['wall_s'] / max(s['sent'], 1) * 1e3:>5.1f}")
    print("\nms unless named; x_unl: p99 of accepted / unloaded p99 of the same config and round; pre/scor/out: "
          "Server-Timing of accepted requests (out = client total - ingress handler); late99: generator send "
          f"lateness; RA%: 503s with Retry-After; rec_s: seconds to an answer within 2x unloaded p50; cores: CPU "
          f"used per process group ({os.cpu_count()} cores; others = other users of the machine); http ms/req: "
          "CPU of proxy + hap (the haproxy binary) + ingress per request sent; deadline "
          f"{args.deadline_s} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model dir (default: raygen-small MLM with random weights, built here)")
    ap.add_argument("-f", "--fasta", help="indexed FASTA (default: 50 kb random sequence)")
    ap.add_argument("--arch", default="raygen-small")
    ap.add_argument("--config", action="append", default=[], metavar="NAME:K=V,...",
                    help="a configuration: ServeConfig fields over the defaults (repeat for A/B; default: one, "
                         "the defaults)")
    ap.add_argument("--rounds", type=int, default=1, help="each configuration this many times, interleaved")
    ap.add_argument("--clients", type=int, default=0,
                    help="find the sustainable rate with this many closed-loop clients instead of the ramp")
    ap.add_argument("--ramp-s", type=float, default=5.0, help="seconds per ramp step")
    ap.add_argument("--rate", type=float, default=None, help="fixed sustainable rate (req/s) instead of measuring it")
    ap.add_argument("--seconds", type=float, default=10.0, help="per loaded phase")
    ap.add_argument("--unloaded-rate", type=float, default=6.0, help="req/s of the unloaded phase")
    ap.add_argument("--unloaded-s", type=float, default=15.0)
    ap.add_argument("--deadline-s", type=float, default=10.0, help="client deadline per request (whole request)")
    ap.add_argument("--multipliers", type=float, nargs="+", default=[2.0, 4.0])
    ap.add_argument("--num-cpus", type=int, default=None, help="local Ray CPUs (default: all)")
    ap.add_argument("--front", default="auto", choices=("auto", "haproxy", "proxy"),
                    help="HTTP front of the embedded Ray where a configuration names none (RuntimeConfig.http_front)")
    args = ap.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import ray

    from raygen.config import DEFAULTS

    tmp = Path(tempfile.mkdtemp(prefix="raygen_overload_"))
    model = args.model or str(build_default_model(tmp / "model", args.arch, "mlm"))
    fasta = args.fasta or str(random_reference(tmp / "ref.fa", 50_000, 1))
    variants = random_snvs(fasta, 4096, 2, DEFAULTS.score.window)
    base = dict(model=model, reference=fasta, ui=False, token_env=None, device="cpu")
    configs = [parse_config(c) for c in args.config] or [("default", {})]
    print(f"configs {configs}; load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    rows = []
    try:
        for _ in range(args.rounds):
            for name, over in configs:
                rows += run_config(name, over, args, base, variants)
    finally:
        print_table(rows, args)
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bad-input campaign: a seeded corpus (``tests/badinput.py``) through the commands that read user files,
and the probe table of issue 19.

For every case the command runs in this process (as ``raygen ...`` would, through ``raygen.cli.main``),
bounded by ``--timeout-s``; ``badinput.judge`` decides what went wrong. The table has one row per probe
class (the mutation kind): cases tried, clean runs (exit 0, in = out + rejected), clear errors (exit 1/2
with one line naming the file), tracebacks, records lost, hangs, other problems (e.g. an output htslib
cannot read, a partial file left). The first problems are printed below the table.

Usage:
    python benchmarks/reliability.py                           # seeds 1..5, normalize (with/without -f)
    python benchmarks/reliability.py --seeds 1-40 --call       # long campaign, plus raygen call on bad BAMs
    python benchmarks/reliability.py --http 200 --no-normalize # every HTTP route fuzzed, 200 cases each
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import badinput as B  # noqa: E402  (tests/badinput.py)

COLUMNS = ("tried", "clean", "clear_error", "tracebacks", "records_lost", "hangs", "other")


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def _tally(table, examples, probe: str, case, o, problems) -> None:
    row = table[probe]
    row["tried"] += 1
    if o.hung:
        row["hangs"] += 1
    elif any(p.startswith("traceback") for p in problems):
        row["tracebacks"] += 1
    elif not problems:
        row["clean" if o.rc == 0 else "clear_error"] += 1
    else:
        row["other"] += 1
    row["records_lost"] += case.extra.get("lost", 0)
    if problems and len(examples) < 30:
        examples.append(f"{probe} {case.path.name}: {problems[0][:300]}")


def normalize_campaign(root: Path, seeds: list[int], timeout_s: float, table, examples) -> None:
    for seed in seeds:
        for with_ref in (True, False):
            d = root / f"norm_{seed}_{int(with_ref)}"
            d.mkdir()
            cases = B.corpus(d, seed, n_record=60, n_file=20, n_fasta=8 if with_ref else 0, n_trunc=6)
            for c in cases:
                if not with_ref and c.extra.get("kind") == "pos_beyond_contig":
                    c.min_rejects = 0  # no FASTA: the contig end is unknown
                out_dir = d / f"out_{c.name}"
                out_dir.mkdir()
                out, rej = out_dir / "out.vcf.gz", out_dir / "rejects.tsv"
                ref = ["-f", c.fasta, "-c", "w"] if with_ref else []
                o = B.run_in_process(["normalize", c.path, *ref, "-o", out, "--rejects", rej, "-q", "--no-ray"],
                                     timeout_s)
                probe = f"normalize{' -f' if with_ref else ''}: {c.extra.get('kind', c.level)}"
                _tally(table, examples, probe, c, o, B.judge(c, o, "normalize", out, rej))


def call_campaign(root: Path, seeds: list[int], timeout_s: float, table, examples) -> None:
    from raygen.config import RuntimeConfig
    from raygen.runtime import init_ray

    init_ray(RuntimeConfig(num_cpus=2, num_gpus=0))
    for seed in seeds:
        rng = random.Random(seed)
        d = root / f"call_{seed}"
        d.mkdir()
        seqs = B.reference(rng)
        fa = B.write_fasta(d / "ref.fa", seqs)
        for i, kind in enumerate(B.BAM_FAULTS):
            c = B.bam_case(d, rng, seqs, fa, i, kind)
            out_dir = d / f"out_{c.name}"
            out_dir.mkdir()
            out = out_dir / "calls.vcf.gz"
            o = B.run_in_process(["call", c.path, "-f", fa, "-o", out, "--shard-bp", "1000", "-q"], timeout_s)
            problems = B.judge(c, o, "call", out, None)
            if kind in ("truncated_with_index", "stale_index") and o.rc == 1:
                problems = [p for p in problems if "output file exists" not in p]
            _tally(table, examples, f"call: {kind}", c, o, problems)


def http_campaign(root: Path, examples: int, table, examples_out) -> None:
    """Every route of the real service's /openapi.json fuzzed by schemathesis (``examples`` cases per route,
    tests/httpfuzz.py): clean = 2xx, clear error = 4xx or an overload 503; tracebacks, leaks, other 5xx and
    errors outside the documented shape are problems; a request past 60 s is a hang. Then /readyz and a score
    must answer 200 (row "http: healthy afterwards")."""
    import httpx
    from ray import serve

    import httpfuzz  # tests/httpfuzz.py
    from raygen.config import RuntimeConfig, ServeConfig
    from raygen.models.tiny import build_tiny_model
    from raygen.runtime import init_ray
    from raygen.serve.app import build_application
    from serve_load import free_port  # benchmarks/serve_load.py

    rng = random.Random(1)
    seqs = B.reference(rng)
    fa = B.write_fasta(root / "http_ref.fa", seqs)
    model = build_tiny_model(root / "http_model", scheme="char", kind="mlm", seed=0)
    data = root / "http_bams"
    data.mkdir()
    B.write_bam(data / "reads.bam", seqs, rng)
    init_ray(RuntimeConfig(num_cpus=2, num_gpus=0, log_to_driver=False))
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config={"enable_access_log": False})
    cfg = ServeConfig(model=str(model), reference=str(fa), ui=False, token_env=None, data_dirs=(str(data),),
                      max_call_bp=5000, scorer_cpus=0.5, caller_cpus=0, device="cpu")
    serve.run(build_application(cfg), name="fuzz", route_prefix="/", blocking=False)
    url = f"http://127.0.0.1:{port}"

    class Res:  # one case's outcome, for _tally
        def __init__(self, rc, hung):
            self.rc, self.hung = rc, hung

    class Case:
        def __init__(self, name):
            self.extra, self.path = {}, Path(name.replace("/", "_"))

    def check(name, case):
        try:
            r = case.call(timeout=60)
        except httpx.TimeoutException:
            _tally(table, examples_out, f"http: {name}", Case(name), Res(None, True), ["hang"])
            return
        except Exception as exc:  # noqa: BLE001 - a connection the server dropped counts as a problem
            _tally(table, examples_out, f"http: {name}", Case(name), Res(None, False), [f"no answer: {exc!r}"])
            return
        probs = httpfuzz.problems(r)
        probs = [("traceback: " + p) if "Traceback" in p else p for p in probs]
        _tally(table, examples_out, f"http: {name}", Case(f"{name} {r.status_code} {r.text[:120]}"),
               Res(0 if r.status_code < 400 else 2, False), probs)

    httpfuzz.fuzz_operations(url, examples, check)
    ok = httpx.get(url + "/readyz", timeout=30).status_code == 200
    chrom = next(iter(seqs))
    ref = seqs[chrom][499]
    body = {"variants": [{"chrom": chrom, "pos": 500, "ref": ref, "alt": "ACGT"[("ACGT".index(ref) + 1) % 4]}]}
    ok = ok and httpx.post(url + "/v1/score", json=body, timeout=60).status_code == 200
    _tally(table, examples_out, "http: healthy afterwards", Case("healthy"), Res(0 if ok else 1, False),
           [] if ok else ["not healthy after the fuzzing"])
    serve.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1-5", help="e.g. 1-40 or 3,7,9")
    ap.add_argument("--timeout-s", type=float, default=60, help="per run; longer counts as a hang")
    ap.add_argument("--call", action="store_true", help="also raygen call on bad BAMs (starts a local Ray)")
    ap.add_argument("--http", type=int, default=0, metavar="N",
                    help="also fuzz every route of the real service from /openapi.json, N cases per route")
    ap.add_argument("--no-normalize", dest="normalize", action="store_false", help="skip the normalize corpus")
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    seeds = _seeds(args.seeds)
    root = Path(tempfile.mkdtemp(prefix="raygen_reliability_"))
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    examples: list[str] = []
    t0 = time.perf_counter()
    if args.normalize:
        normalize_campaign(root, seeds, args.timeout_s, table, examples)
    if args.call:
        call_campaign(root, seeds, args.timeout_s, table, examples)
    if args.http:
        http_campaign(root, args.http, table, examples)
    width = max(len(k) for k in table) + 2
    print(f"\nseeds {args.seeds}; {time.perf_counter() - t0:.0f} s; load avg {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores; corpus under {root}")
    print("probe class".ljust(width) + "".join(f"{c:>13}" for c in COLUMNS))
    total = dict.fromkeys(COLUMNS, 0)
    for probe in sorted(table):
        print(probe.ljust(width) + "".join(f"{table[probe][c]:>13}" for c in COLUMNS))
        for c in COLUMNS:
            total[c] += table[probe][c]
    print("TOTAL".ljust(width) + "".join(f"{total[c]:>13}" for c in COLUMNS))
    for e in examples:
        print("  " + e)
    bad = total["tracebacks"] + total["records_lost"] + total["hangs"] + total["other"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

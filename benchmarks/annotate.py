"""Benchmark: ``raygen annotate`` vs ``bcftools annotate`` (pysam's bcftools 1.24) on the same files.

Generates (once, cached under ``--work``) a synthetic case with :func:`raygen.simulate.annotation.make_annotation_case`:
a reference, a source of ``--source`` records (SNVs, 10% multi-allelic, 1-3 bp indels; INFO AF Number=A
Float, AC Number=A Integer, CLNSIG String, DB Flag) and a query of ``--query`` records (half of them copies
of source alleles), all bgzipped + indexed and written normalized, plus ``--shifted`` source deletions
written right-shifted in homopolymers (only raygen's normalized key meets those).

Runs, each a whole command in a subprocess (wall clock; peak RSS of that process, measured by a small launcher):
- ``raygen cold``: the first raygen run, which normalizes the source into its Parquet cache (once per source);
- ``raygen``: later runs (cache warm), in-process path (the default for a query of this size);
- ``raygen --ray`` (with ``--with-ray``): the Ray Data path; its RSS is the driver's only (Ray's workers are
  not its children);
- ``bcftools``: ``bcftools annotate -a SOURCE -c INFO/S_AF:=AF,... -O z -W=tbi -o OUT.vcf.gz QUERY`` through
  pysam (a Python process calling the bundled bcftools; raygen writes the .tbi too).
Warm runs are interleaved, best of ``--repeats``; the 1-minute load average is printed with each run. Then
the outputs are compared record by record (pysam-typed S_* INFO values) on the exact-match subset (every
record but the shifted keys), and the shifted keys are counted on both sides.

    .venv/bin/python benchmarks/annotate.py [--query 100000] [--source 1000000] [--repeats 3] [--with-ray]
    .venv/bin/python benchmarks/annotate.py --query 1000000 --source 10000000   # the issue's size
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIELDS = ("AF", "AC", "CLNSIG", "DB")
PY = sys.executable


#: A small launcher process: a child forked from this (large) benchmark process would inherit its RSS
#: high-water mark, so each tool runs under a fresh Python that reports its one child's peak RSS.
LAUNCH = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
          "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
          "print(u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); sys.exit(rc)")


def run(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MiB, CPU seconds: user + system) of one command; raises on failure. On a
    loaded machine CPU seconds say more than wall seconds (Ray's worker processes are not counted)."""
    t0 = time.perf_counter()
    p = subprocess.run([PY, "-c", LAUNCH, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - t0
    err = p.stderr.decode(errors="replace")
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{err[-2000:]}")
    rss, cpu = err.strip().splitlines()[-1].split()
    return wall, int(rss) / 1024, float(cpu)


def raygen_cmd(case, out: Path, ray: bool) -> list[str]:
    return [str(Path(PY).with_name("raygen")), "annotate", str(case.query), "-f", str(case.fasta), "--source",
            f"S={case.source}:{','.join(FIELDS)}", "-o", str(out), "-q", "--no-version",
            "--ray" if ray else "--no-ray"]


def bcftools_cmd(case, out: Path) -> list[str]:
    cols = ",".join(f"INFO/S_{f}:={f}" for f in FIELDS)
    code = ("import sys, pysam.bcftools as b; b.annotate('-a', sys.argv[1], '-c', sys.argv[2], '-o', sys.argv[3], "
            "'-O', 'z', '-W=tbi', sys.argv[4], catch_stdout=False)")
    return [PY, "-c", code, str(case.source), cols, str(out), str(case.query)]


def typed(path: Path) -> dict:
    import pysam

    with pysam.VariantFile(str(path)) as vf:
        return {(r.chrom, r.pos, r.ref, r.alts[0]): {k: r.info[k] for k in r.info if k.startswith("S_")} for r in vf}


def compare(ours: Path, theirs: Path, shifted: set, names: tuple[str, str] = ("raygen", "bcftools")) -> str:
    """Record-by-record agreement of two outputs on every key but ``shifted``, and who met the shifted keys."""
    a, b = typed(ours), typed(theirs)
    keys = set(b) - shifted
    same = sum(a.get(k) == b[k] for k in keys)
    annotated = sum(bool(b[k]) for k in keys)
    text = (f"{names[0]} vs {names[1]}: {same}/{len(keys)} records identical on the exact-match subset "
            f"({annotated} of them annotated); records only in one output: {len(set(a) ^ set(b))}")
    if shifted:
        text += (f"; shifted source indels met: {names[0]} {sum(bool(a.get(k)) for k in shifted)}/{len(shifted)}, "
                 f"{names[1]} {sum(bool(b.get(k)) for k in shifted)}/{len(shifted)}")
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--query", type=int, default=100_000)
    ap.add_argument("--source", type=int, default=1_000_000)
    ap.add_argument("--shifted", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--with-ray", action="store_true", help="also time the Ray Data path (--ray)")
    ap.add_argument("--work", default=os.path.join(os.environ.get("RAYGEN_BENCH_CACHE", "/tmp/raygen-bench-cache"), "annotate"),
                    help="cache of generated inputs and outputs (default $RAYGEN_BENCH_CACHE/annotate)")
    args = ap.parse_args()
    from raygen.simulate.annotation import make_annotation_case  # the package under test, from this venv

    work = Path(args.work) / f"q{args.query}_s{args.source}_x{args.shifted}"
    t0 = time.perf_counter()
    if not (work / "query.vcf.gz.tbi").exists():
        case = make_annotation_case(work, n_source=args.source, n_query=args.query, shifted=args.shifted, seed=11)
        (work / "shifted.txt").write_text("".join(f"{c}\t{p}\t{r}\t{a}\n" for c, p, r, a in case.shifted_keys))
    else:
        from raygen.simulate.annotation import AnnotationCase
        keys = [tuple(l.split("\t")) for l in (work / "shifted.txt").read_text().splitlines()]
        case = AnnotationCase(work / "ref.fa", work / "source.vcf.gz", work / "query.vcf.gz",
                              [(c, int(p), r, a) for c, p, r, a in keys])
    print(f"inputs: query {args.query} records, source {args.source} (+{args.shifted} shifted) records "
          f"({(work / 'source.vcf.gz').stat().st_size / 2**20:.1f} MiB bgzipped); ready in "
          f"{time.perf_counter() - t0:.1f} s; cpus {os.cpu_count()}")
    env = dict(os.environ, RAYGEN_CACHE=str(work / "cache"), RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    shutil.rmtree(work / "cache", ignore_errors=True)
    out = {"raygen": work / "raygen.vcf.gz", "raygen --ray": work / "raygen_ray.vcf.gz", "bcftools": work / "bcftools.vcf.gz"}
    wall, rss, cpu = run(raygen_cmd(case, out["raygen"], False), env)
    rows = [("raygen cold (converts the source once)", wall, cpu, rss, os.getloadavg()[0])]
    tools = ["raygen", "bcftools"] + (["raygen --ray"] if args.with_ray else [])
    best: dict[str, tuple[float, float, float, float]] = {}
    for rep in range(args.repeats):
        for tool in (tools if rep % 2 == 0 else tools[::-1]):  # interleaved, order alternating
            cmd = bcftools_cmd(case, out[tool]) if tool == "bcftools" else raygen_cmd(case, out[tool], tool.endswith("--ray"))
            wall, rss, cpu = run(cmd, env)
            load = os.getloadavg()[0]
            print(f"  run {rep + 1} {tool:13s} {wall:8.2f} s wall {cpu:8.2f} s CPU {rss:7.0f} MiB  load {load:.1f}",
                  flush=True)
            if tool not in best or wall < best[tool][0]:
                best[tool] = (wall, cpu, rss, load)
    rows += [(f"{t} (best of {args.repeats})", *best[t]) for t in tools]
    n = args.query + args.shifted
    print(f"\n{'tool':44s} {'wall s':>8s} {'CPU s':>8s} {'query rows/s':>13s} {'peak RSS MiB':>13s} {'load':>6s}")
    for name, wall, cpu, rss, load in rows:
        print(f"{name:44s} {wall:8.2f} {cpu:8.2f} {n / wall:13.0f} {rss:13.0f} {load:6.1f}")
    print(f"ratio bcftools/raygen (>1: raygen faster): wall {best['bcftools'][0] / best['raygen'][0]:.2f}, "
          f"CPU {best['bcftools'][1] / best['raygen'][1]:.2f}")
    print(compare(out["raygen"], out["bcftools"], set(case.shifted_keys)))
    if args.with_ray:
        print(compare(out["raygen --ray"], out["raygen"], set(), ("raygen --ray", "raygen")))
    print(f"load average now: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

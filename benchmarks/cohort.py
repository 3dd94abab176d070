"""Benchmark: a simulated cohort through ``raygen cohort`` vs CNVkit 0.9.14's own commands, same input, same
cores. Prints samples/s, peak memory (RSS of the whole process tree, Ray workers included) and the ratio.

Input (generated once per size, seeded): an exome-like panel of ``--targets`` target and ``--targets / 2``
antitarget bins on chr1-22, X, Y with a Picard-style ``gc`` column; N normals (both sexes) and N tumours as
raw coverage ``.cnn`` files with a per-sample GC bias curve, a batch shift (4 batches) and gains/losses.

Pipeline per size N (what each tool runs):

* raygen: one Ray driver (an embedded Ray of ``--cores`` CPUs) runs ``pipeline.reference_many`` over the N normals
  (map over normals, reduce over bin chunks), then ``fix``, ``segment -m haar`` and ``call`` over the N tumours
  (one Ray map each), the functions the CLI runs. ``--cli`` instead runs the four ``raygen cohort`` commands
  (``reference``, ``fix -r``, ``segment``, ``call`` with ``--ray``), each starting its own Ray.
* CNVkit: ``cnvkit.py reference`` of the N normals (one process: CNVkit has no parallel reference), then
  ``cnvkit.py fix``, ``segment -m haar`` and ``call`` for each tumour, split over ``--cores`` worker processes
  that run CNVkit's command-line entry point in-process one command after another (so CNVkit's ~3-10 s
  interpreter start-up is paid once per worker, not per command; ``cnvkit.py batch`` needs BAMs, this is the
  same chain from coverage files). Where CNVkit would run longer than ``--cnvkit-max-samples`` the table
  extrapolates from its measured per-sample time and says so.

Optional ``--coverage N``: ``raygen cohort coverage`` (one Ray Data job) vs ``cnvkit.py coverage`` per BAM, on
N copies (symlinks) of the GIAB chr20 BAM.

Runs are interleaved (raygen, CNVkit, raygen, ...), best of ``--repeats``. The machine's load average is
printed; on a shared box the wall times grow with it.

    .venv/bin/python benchmarks/cohort.py [--sizes 10,100,1000] [--repeats 1] [--cores 2] [--cnvkit-max-samples 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from raygen.cohort.cnvfiles import CopyNumTable, write_cnvkit  # noqa: E402

ORACLES = Path(os.environ.get("RAYGEN_ORACLES", REPO / ".oracles"))
CNVKIT_PY = ORACLES / "cnvkit" / "bin" / "python"
BATCH = REPO / "tests" / "cohort" / "cnvkit_batch.py"
RAYGEN = [sys.executable, "-m", "raygen.cli"]
SHARED = Path(os.environ.get("RAYGEN_SHARED_DATA", REPO.parent / "shared" / "data"))
CHROMS = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]


# -- input ---------------------------------------------------------------------------------------------

def panel(n_targets: int, rng) -> tuple[CopyNumTable, CopyNumTable]:
    """Target and antitarget bins spread over the chromosomes, with a gc column."""
    tables = []
    for n, anti in ((n_targets, False), (n_targets // 2, True)):
        per = max(4, n // len(CHROMS))
        c, s, e = [], [], []
        for ch in CHROMS:
            pos = 1_000_000 + (150 if anti else 0)
            for _ in range(per):
                size = int(rng.integers(20_000, 60_000)) if anti else int(rng.integers(120, 400))
                c.append(ch)
                s.append(pos)
                e.append(pos + size)
                pos += size + (int(rng.integers(30_000, 90_000)) if anti else int(rng.integers(2_000, 40_000)))
        gene = np.asarray(["Antitarget"] * len(c) if anti else [f"G{k // 5}" for k in range(len(c))], dtype=object)
        tables.append(CopyNumTable({"chromosome": np.asarray(c, dtype=object), "start": np.asarray(s),
                                    "end": np.asarray(e), "gene": gene}).sorted())
    return tables[0], tables[1]


def sample(rng, bins: CopyNumTable, gc: np.ndarray, female: bool, sid: str, batch: float, tumour: bool) -> CopyNumTable:
    anti = bins.is_antitarget()
    slope = rng.uniform(0.5, 2.5)
    log2 = (7.0 + batch - slope * 4 * (gc - 0.5) ** 2 + rng.normal(0, 0.15, len(bins))
            + np.where(anti, -4 + rng.normal(0, 0.2, len(bins)), 0))
    x, y = bins.chrom == "chrX", bins.chrom == "chrY"
    if female:
        log2[y] = -6 + rng.normal(0, 0.5, int(y.sum()))
    else:
        log2[x | y] -= 1
    if tumour:
        for ch in rng.choice(CHROMS[:22], 3, replace=False):
            on = bins.chrom == ch
            log2[on & (bins.start > np.median(bins.start[on]))] += rng.choice([-1.0, 0.58, 1.0])
    depth = np.asarray([float("%.6g" % v) for v in np.exp2(log2)])
    cols = dict(bins.data)
    cols.update(depth=depth, log2=np.log2(depth), gc=gc)
    return CopyNumTable(cols, sid)


def make_cohort(root: Path, n: int, n_targets: int) -> tuple[list[Path], list[Path]]:
    """N normals and N tumours (target + antitarget .cnn each) under root; cached."""
    root.mkdir(parents=True, exist_ok=True)
    done = root / ".done"
    normals = [root / f"N{k:04d}.{kind}.cnn" for k in range(n) for kind in ("targetcoverage", "antitargetcoverage")]
    tumours = [root / f"T{k:04d}.{kind}.cnn" for k in range(n) for kind in ("targetcoverage", "antitargetcoverage")]
    if done.exists():
        return normals, tumours
    rng = np.random.default_rng(2024)
    t, a = panel(n_targets, rng)
    gcs = {id(t): rng.uniform(0.3, 0.7, len(t)), id(a): rng.uniform(0.3, 0.7, len(a))}
    for k in range(n):
        for prefix, tumour in (("N", False), ("T", True)):
            female, batch = bool(rng.random() < 0.5), float(rng.choice([-0.6, -0.2, 0.2, 0.6]))
            for bins, kind in ((t, "targetcoverage"), (a, "antitargetcoverage")):
                write_cnvkit(sample(rng, bins, gcs[id(bins)], female, f"{prefix}{k:04d}", batch, tumour),
                             root / f"{prefix}{k:04d}.{kind}.cnn")
    done.touch()
    return normals, tumours


# -- measurement ---------------------------------------------------------------------------------------

def run_measured(cmds: list[list[str]], parallel: int = 1, cwd: Path | None = None) -> tuple[float, float]:
    """Run commands (at most ``parallel`` at once); (wall seconds, peak RSS GB of all their process trees)."""
    t0 = time.perf_counter()
    peak = [0.0]
    running: list[subprocess.Popen] = []
    stop = threading.Event()

    def sample_rss():
        while not stop.is_set():
            total = 0
            for p in list(running):
                try:
                    proc = psutil.Process(p.pid)
                    for q in [proc, *proc.children(recursive=True)]:
                        total += q.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], total / 1e9)
            time.sleep(0.2)

    th = threading.Thread(target=sample_rss, daemon=True)
    th.start()
    queue = list(cmds)
    try:
        while queue or running:
            while queue and len(running) < parallel:
                running.append(subprocess.Popen(queue.pop(0), cwd=cwd, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE, text=True))
            for p in list(running):
                if p.poll() is not None:
                    err = p.stderr.read()
                    running.remove(p)
                    if p.returncode:
                        raise RuntimeError(f"{' '.join(map(str, p.args))[:200]} failed: {err[-1500:]}")
            time.sleep(0.05)
    finally:
        stop.set()
        th.join()
    return time.perf_counter() - t0, peak[0]


def raygen_steps(normals, tumours, out: Path, cores: int):
    """raygen's steps as functions returning their command (built when the step runs: each reads the
    previous step's outputs)."""
    common = ["-q", "--num-cpus", str(cores), "--ray"]
    yield lambda: RAYGEN + ["cohort", "reference", *map(str, normals), "-o", str(out / "ref.cnn"), *common]
    yield lambda: RAYGEN + ["cohort", "fix", *map(str, tumours), "-r", str(out / "ref.cnn"), "-d", str(out), *common]
    yield lambda: RAYGEN + ["cohort", "segment", *sorted(map(str, out.glob("T*.cnr"))), "-m", "haar", "-d", str(out),
                            *common]
    yield lambda: RAYGEN + ["cohort", "call", *sorted(map(str, out.glob("T*.cns"))), "-d", str(out), *common]


def cnvkit_jobs(normals, tumours, out: Path, cores: int) -> tuple[list[str], list[list[list[str]]]]:
    """CNVkit: the reference job, then per-worker job lists of fix/segment/call."""
    ref = ["reference", *map(str, normals), "-o", str(out / "ref.cnn")]
    per = [[] for _ in range(cores)]
    tt = sorted(p for p in map(str, tumours) if "antitarget" not in p)
    for k, t in enumerate(tt):
        sid = Path(t).name.split(".")[0]
        a = t.replace("targetcoverage", "antitargetcoverage")
        per[k % cores] += [["fix", t, a, str(out / "ref.cnn"), "-o", str(out / f"{sid}.cnr")],
                           ["segment", str(out / f"{sid}.cnr"), "-m", "haar", "-o", str(out / f"{sid}.cns")],
                           ["call", str(out / f"{sid}.cns"), "-o", str(out / f"{sid}.call.cns")]]
    return ref, per


def _batch_cmd(jobs, out: Path, name: str) -> list[str]:
    spec = out / f"{name}.json"
    spec.write_text(json.dumps(jobs))
    return [str(CNVKIT_PY), str(BATCH), str(spec)]


def driver(cohort: Path, out: Path, cores: int) -> None:
    """The raygen side as one Ray driver (``--driver``): one embedded Ray runs reference, fix, segment and
    call, as a workflow script or ``ray job submit`` would, instead of four CLI commands each starting Ray."""
    from raygen.cohort import pipeline, pooling, steps
    from raygen.cohort.segment import SegmentOptions
    from raygen.config import RuntimeConfig
    from raygen.runtime import init_ray

    init_ray(RuntimeConfig(num_cpus=cores))
    files = sorted(map(str, cohort.glob("*.cnn")))
    normals = [f for f in files if Path(f).name.startswith("N")]
    tumours = [f for f in files if Path(f).name.startswith("T") and "antitarget" not in f]
    ref = pipeline.reference_many([f for f in normals if "antitarget" not in f], [f for f in normals if "antitarget" in f],
                                  None, pooling.ReferenceOptions(), progress=False)
    write_cnvkit(ref, out / "ref.cnn")
    sids = [Path(t).name.split(".")[0] for t in tumours]
    pipeline.map_samples(steps.fix_file, [(t, t.replace("targetcoverage", "antitargetcoverage"), str(out / "ref.cnn"),
                                           str(out / f"{s}.cnr")) for t, s in zip(tumours, sids)], progress=False)
    pipeline.map_samples(steps.segment_file, [(str(out / f"{s}.cnr"), str(out / f"{s}.cns"), SegmentOptions(method="haar"))
                                              for s in sids], progress=False)
    pipeline.map_samples(steps.call_file, [(str(out / f"{s}.cns"), str(out / f"{s}.call.cns")) for s in sids],
                         progress=False)


def bench_raygen(normals, tumours, work: Path, cores: int, cli: bool = False) -> tuple[float, float, Path]:
    out = work / "rg"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if not cli:
        w, p = run_measured([[sys.executable, __file__, "--driver", str(Path(normals[0]).parent), str(out),
                              str(cores)]])
        return w, p, out
    wall, peak = 0.0, 0.0
    for step in raygen_steps(normals, tumours, out, cores):
        w, p = run_measured([step()])
        wall, peak = wall + w, max(peak, p)
    return wall, peak, out


def bench_cnvkit(normals, tumours, work: Path, cores: int) -> tuple[float, float, Path]:
    out = work / "ck"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    ref, per = cnvkit_jobs(normals, tumours, out, cores)
    w1, p1 = run_measured([_batch_cmd([ref], out, "ref")])
    w2, p2 = run_measured([_batch_cmd(j, out, f"w{k}") for k, j in enumerate(per) if j], parallel=cores)
    return w1 + w2, max(p1, p2), out


def same_outputs(rg: Path, ck: Path) -> str:
    """Whether the reference and every .cnr are byte-identical between the tools."""
    files = ["ref.cnn"] + sorted(p.name for p in ck.glob("*.cnr"))
    same = sum((rg / f).exists() and (rg / f).read_bytes() == (ck / f).read_bytes() for f in files)
    return f"{same}/{len(files)}"


def coverage_bench(n: int, work: Path, cores: int) -> None:
    bam = SHARED / "giab_chr20" / "NA12878_S1.chr20.10_10p1mb.bam"
    d = work / "bams"
    d.mkdir(parents=True, exist_ok=True)
    bams = []
    for k in range(n):
        p = d / f"S{k:04d}.bam"
        for src, dst in ((bam, p), (Path(str(bam) + ".bai"), Path(str(p) + ".bai"))):
            if not dst.exists():
                dst.symlink_to(src)
        bams.append(p)
    bed = work / "bins.bed"
    bed.write_text("".join(f"chr20\t{s}\t{s + 300}\tB{s // 5000}\n" for s in range(10_000_000, 10_100_000, 400)))
    w_r, p_r = run_measured([RAYGEN + ["cohort", "coverage", *map(str, bams), str(bed), "-d", str(work / "cov_rg"), "-q",
                                       "--num-cpus", str(cores)]])
    (work / "cov_ck").mkdir(exist_ok=True)
    jobs = [[["coverage", str(b), str(bed), "-o", str(work / "cov_ck" / f"{b.stem}.targetcoverage.cnn")]
             for b in bams[k::cores]] for k in range(cores)]
    w_c, p_c = run_measured([_batch_cmd(j, work, f"cov{k}") for k, j in enumerate(jobs) if j], parallel=cores)
    same = sum((work / "cov_rg" / f"{b.stem}.targetcoverage.cnn").read_bytes() ==
               (work / "cov_ck" / f"{b.stem}.targetcoverage.cnn").read_bytes() for b in bams)
    print(f"\ncoverage of {n} BAMs (GIAB chr20 slice, {len(bed.read_text().splitlines())} bins): raygen {w_r:.1f} s "
          f"({n / w_r:.2f} samples/s, peak {p_r:.2f} GB) vs CNVkit {w_c:.1f} s ({n / w_c:.2f} samples/s, peak "
          f"{p_c:.2f} GB): ratio {w_c / w_r:.2f}; identical .cnn {same}/{n}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10,100,1000", help="cohort sizes N (normals; as many tumours)")
    ap.add_argument("--targets", type=int, default=6000, help="target bins (antitargets: half as many)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--cnvkit-max-samples", type=int, default=100, help="larger sizes: CNVkit time extrapolated")
    ap.add_argument("--coverage", type=int, default=0, help="also benchmark coverage over this many BAMs")
    ap.add_argument("--cli", action="store_true", help="raygen as four CLI commands (four Ray starts) instead of one driver")
    ap.add_argument("--driver", nargs=3, metavar=("COHORT", "OUT", "CORES"), help=argparse.SUPPRESS)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "raygen-bench-cohort"))
    args = ap.parse_args(argv)
    if args.driver:
        driver(Path(args.driver[0]), Path(args.driver[1]), int(args.driver[2]))
        return 0
    if not CNVKIT_PY.exists():
        print(f"CNVkit side venv {CNVKIT_PY} missing: run `make oracles` (or set RAYGEN_ORACLES)")
        return 2
    cache = Path(args.cache)
    print(f"machine: {os.cpu_count()} CPUs, both tools on {args.cores}; load average at start "
          f"{os.getloadavg()[0]:.1f}")
    rows = []
    per_sample_ck = None
    for n in (int(x) for x in args.sizes.split(",")):
        normals, tumours = make_cohort(cache / f"n{n}_t{args.targets}", n, args.targets)
        work = cache / f"run{n}"
        best_r = best_c = (float("inf"), 0.0)
        for _ in range(args.repeats):
            w, p, rg = bench_raygen(normals, tumours, work, args.cores, args.cli)
            best_r = min(best_r, (w, p))
            if n <= args.cnvkit_max_samples:
                w, p, ck = bench_cnvkit(normals, tumours, work, args.cores)
                best_c = min(best_c, (w, p))
        if n <= args.cnvkit_max_samples:
            per_sample_ck = best_c[0] / n
            ck_txt, same = f"{best_c[0]:.1f}", same_outputs(rg, ck)
        else:
            best_c = (per_sample_ck * n if per_sample_ck else float("nan"), float("nan"))
            ck_txt, same = f"~{best_c[0]:.0f} (extrapolated)", "-"
        rows.append((n, best_r, best_c, ck_txt, same))
        print(f"  N={n}: raygen {best_r[0]:.1f} s, CNVkit {ck_txt} s (load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"\ncohort pipeline (reference of N normals + fix/segment haar/call of N tumours; {args.targets} target + "
          f"{args.targets // 2} antitarget bins)")
    print(f"{'N':>6} {'raygen s':>9} {'samples/s':>9} {'peak GB':>8} | {'CNVkit s':>22} {'samples/s':>9} {'peak GB':>8} | "
          f"{'ratio':>6} identical ref+cnr")
    for n, r, c, ck_txt, same in rows:
        print(f"{n:>6} {r[0]:>9.1f} {n / r[0]:>9.2f} {r[1]:>8.2f} | {ck_txt:>22} {n / c[0]:>9.2f} {c[1]:>8.2f} | "
              f"{c[0] / r[0]:>6.2f} {same}")
    if args.coverage:
        coverage_bench(args.coverage, cache / "coverage", args.cores)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times grow with it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark `raygen score --model spliceai` against the stock `spliceai` CLI (Illumina 1.3.1, TensorFlow).

Both tools score the same VCF against the same reference and gene table on the same CPU cores (``taskset``),
in one run; the table gives wall seconds (whole command: start-up, model loading, scoring, writing),
variants/s, raygen's speed-up, the load average before and after each run, and then compares the outputs
record for record (the SpliceAI INFO strings). raygen runs as the command chooses by default (in process
below ``ScoreConfig.ray_min_records``) and as a Ray Data job (``--ray``: one actor with all the cores'
threads, one single-thread actor per core); each raygen run's own timeline (its summary's ``time`` line:
where the seconds went) is printed under the table, with "outside" = the command's wall time minus what
raygen timed (interpreter start, imports, Ray's shutdown). raygen runs are interleaved with the release's
and the best of ``--repeats`` is kept; the release runs once (it takes minutes). With a CUDA GPU, raygen
also runs with ``--gpus-per-actor 1``.

Usage:
    python benchmarks/spliceai.py                          # the 148 shared variants, cores 0,1
    python benchmarks/spliceai.py --input calls.vcf --reference GRCh38.fa --annotation grch38
    python benchmarks/spliceai.py --generated 300          # 300 seeded generated variants (same genes and
                                                           # region of the shared reference) instead
    python benchmarks/spliceai.py --campaign 500           # differential only: no timing, many variants
    python benchmarks/spliceai.py --cpu-time 40            # CPU seconds of both scorers on the first 40
                                                           # records, in plain processes, 1 and 2 threads
                                                           # (loading and scoring apart: a loaded host)

The release's venv comes from ``make oracles`` (``.oracles/spliceai``; ``$RAYGEN_ORACLES`` moves it) or
``--oracle-python``. Its pyfaidx cannot read BGZF FASTA, so it gets a decompressed copy.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "spliceai"
DRIVER = REPO / "tests" / "scoring" / "spliceai_oracle.py"


def oracle_python(given: str | None) -> Path:
    if given:
        return Path(given)
    root = Path(os.environ.get("RAYGEN_ORACLES", REPO / ".oracles"))
    py = root / "spliceai" / "bin" / "python"
    if not py.exists():
        sys.exit(f"no SpliceAI release venv at {py}: run `make oracles` or pass --oracle-python")
    return py


def plain_fasta(src: Path, tmp: Path) -> Path:
    if not src.name.endswith(".gz"):
        return src
    out = tmp / src.name[:-3]
    with gzip.open(src, "rb") as fi, open(out, "wb") as fo:
        shutil.copyfileobj(fi, fo)
    return out


def spliceai_info(path: Path) -> dict[tuple, str]:
    """(CHROM, POS, REF, ALT) -> SpliceAI INFO value ('' when absent) of a VCF (plain or gzipped)."""
    opener = gzip.open if path.suffix == ".gz" else open
    out = {}
    with opener(path, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            val = next((x[9:] for x in f[7].split(";") if x.startswith("SpliceAI=")), "")
            out[(f[0], f[1], f[3], f[4])] = val
    return out


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], cores: str, env: dict) -> tuple[float, float, float, float, str]:
    """(wall seconds, load before, load after, CPU seconds, stdout) of ``cmd`` pinned to ``cores``. CPU
    seconds: user + system of the processes it started and waited for (everything of the release and of an
    in-process raygen run; a Ray run's actors and Ray's daemons are not all counted)."""
    load0, cpu0 = os.getloadavg()[0], children_cpu()
    t = time.perf_counter()
    run = subprocess.run(["taskset", "-c", cores, *cmd], check=True, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t, load0, os.getloadavg()[0], children_cpu() - cpu0, run.stdout


def timeline(stdout: str, wall: float) -> str:
    """raygen's own breakdown from its summary (``wrote ... in S s`` and ``time (ENGINE): stage S s, ...``)."""
    lines = stdout.splitlines()
    inside = next((float(ln.rsplit(" in ", 1)[1].split(" s ")[0]) for ln in lines if ln.startswith("wrote ")), None)
    stages = next((ln[len("time "):] for ln in lines if ln.startswith("time (")), "")
    return stages + (f"; outside (start-up, imports, shutdown) {wall - inside:.1f} s" if inside is not None else "")


def count_records(vcf: Path) -> int:
    opener = gzip.open if vcf.suffix == ".gz" else open
    with opener(vcf, "rt") as fh:
        return sum(1 for line in fh if not line.startswith("#"))


def compare(ours: dict, theirs: dict) -> tuple[int, list[str]]:
    same, diffs = 0, []
    for key, val in theirs.items():
        if ours.get(key) == val:
            same += 1
        else:
            diffs.append(f"{':'.join(key)}: raygen {ours.get(key)!r} release {val!r}")
    return same, diffs


def raygen_cmd(inp: Path, fasta: Path, annotation: str, out: Path, how: list[str], gpus: float,
               distance: int) -> list[str]:
    cmd = [sys.executable, "-m", "raygen.cli", "score", str(inp), "-f", str(fasta), "--model", "spliceai",
           "--annotation", annotation, "--distance", str(distance), "-o", str(out), "-q", *how]
    return cmd + (["--gpus-per-actor", str(gpus)] if gpus else ["--num-gpus", "0"])


def raygen_configs(ncores: int, n: int) -> list[tuple[str, list[str]]]:
    """(name, flags): the command's own choice, then Ray with one actor of ``ncores`` threads and with one
    single-thread actor per core; the latter with ``--rows-per-batch`` = n / ncores, so that every actor
    gets a batch (an unindexed input of fewer than 1,024 records is otherwise one batch for one actor)."""
    out = [("auto", [])]
    out += [(f"ray-{a}x{t}", ["--ray", "--actors", str(a), "--threads-per-actor", str(t)]
             + (["--rows-per-batch", str(-(-n // a))] if a > 1 else []))
            for a, t in ([(1, ncores), (ncores, 1)] if ncores > 1 else [(1, 1)])]
    return out


def generated_input(n: int, seed: int, tmp: Path) -> tuple[Path, Path, str]:
    from raygen.simulate.splice_cases import make_cases, make_site

    fa, genes, rows = make_site(SHARED / "reference.fa.gz", tmp / "site")
    cases = sorted(make_cases(fa, rows, n, seed), key=lambda c: c["pos"])
    vcf = tmp / "generated.vcf"
    with open(vcf, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n##contig=<ID=20,length=400000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for c in cases:
            fh.write(f"20\t{c['pos']}\t.\t{c['ref']}\t{c['alts'][0]}\t.\t.\t.\n")
    return vcf, fa, str(genes)


def bench(args, tmp: Path) -> int:
    py = oracle_python(args.oracle_python)
    if args.generated:
        inp, fasta, annotation = generated_input(args.generated, args.seed, tmp)
    else:
        inp, fasta, annotation = Path(args.input), Path(args.reference), args.annotation
    plain = plain_fasta(fasta, tmp)
    n = count_records(inp)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES=os.environ.get("CUDA_VISIBLE_DEVICES", ""))
    stock = [str(py.parent / "spliceai"), "-I", str(inp), "-O", str(tmp / "release.vcf"), "-R", str(plain),
             "-A", annotation, "-D", str(args.distance)]
    configs = [c for c in raygen_configs(len(args.cores.split(",")), n) if not args.raygen or c[0] in args.raygen]
    rows, best, lines = [], {}, []
    release = None
    for rep in range(args.repeats):
        for name, how in configs:
            out = tmp / f"raygen.{name}.vcf.gz"
            wall, l0, l1, cpu, stdout = timed(raygen_cmd(inp, fasta, annotation, out, how, 0, args.distance),
                                              args.cores, env)
            key = "raygen score " + (" ".join(how) or "(default: auto)")
            rows.append((key, wall, l0, l1, cpu))
            lines.append(f"  {key}, {wall:.1f} s: {timeline(stdout, wall)}")
            best[key] = min(best.get(key, wall), wall)
        if release is None:  # interleaved: after the first raygen round
            release = timed(stock, args.cores, env)[:4]
            rows.append(("spliceai 1.3.1 CLI (TensorFlow 2.15 CPU)", *release))
    print(f"\n{n} variants, cores {args.cores}, D={args.distance}, annotation {annotation}")
    print(f"{'run':58s} {'wall s':>8s} {'var/s':>8s} {'load before/after':>18s} {'CPU s':>7s} {'CPU x':>6s}")
    for name, wall, l0, l1, cpu in rows:
        print(f"{name:58s} {wall:8.1f} {n / wall:8.2f} {l0:8.1f} / {l1:<8.1f} {cpu:7.1f} {release[3] / cpu:6.2f}")
    print("(CPU s: the command's processes that it waited for: all of an in-process run, not all of a Ray run; "
          "CPU x: release CPU s / this run's)")
    print("raygen's timelines (wall s):")
    print("\n".join(lines))
    print(f"\n{'best of ' + str(args.repeats):58s} {'wall s':>8s} {'var/s':>8s} {'x release':>10s}")
    print(f"{'spliceai CLI':58s} {release[0]:8.1f} {n / release[0]:8.2f} {1.0:10.2f}")
    for key, wall in best.items():
        print(f"{key:58s} {wall:8.1f} {n / wall:8.2f} {release[0] / wall:10.2f}")
    theirs = spliceai_info(tmp / "release.vcf")
    status = 0
    for name, _ in configs:
        same, diffs = compare(spliceai_info(tmp / f"raygen.{name}.vcf.gz"), theirs)
        print(f"raygen {name} vs release: {same}/{len(theirs)} records identical")
        for d in diffs[:20]:
            print("  " + d)
        status |= bool(diffs)
    gpu_line(inp, fasta, annotation, tmp, n, args, env)
    return status


def gpu_line(inp, fasta, annotation, tmp, n, args, env) -> None:
    import torch

    if not torch.cuda.is_available():
        print("GPU: none on this host (variants/s per GPU not measured)")
        return
    out = tmp / "raygen.gpu.vcf.gz"
    wall, l0, _, _ = timed(raygen_cmd(inp, fasta, annotation, out, ["--actors", "1", "--threads-per-actor", "1"], 1,
                                      args.distance), args.cores, env)
    same, _ = compare(spliceai_info(out), spliceai_info(tmp / "release.vcf"))
    print(f"GPU ({torch.cuda.get_device_name(0)}): {n / wall:.1f} variants/s (wall {wall:.1f} s incl. start-up), "
          f"{same}/{n} records identical to the release")


def campaign(args, tmp: Path) -> int:
    """Differential only: many generated variants, the release's get_delta_scores vs raygen, per case."""
    sys.path[:0] = [str(REPO / "tests" / "scoring"), str(REPO / "tests")]
    from test_spliceai_oracle import near_boundary, ours, run_release

    from raygen.simulate.splice_cases import make_cases, make_site

    fa, genes, rows = make_site(SHARED / "reference.fa.gz", tmp / "site")
    cases = make_cases(fa, rows, args.campaign, args.seed)
    t = time.perf_counter()
    want = run_release(oracle_python(args.oracle_python), fa, genes, cases, tmp)
    t_release = time.perf_counter() - t
    t = time.perf_counter()
    got = ours(fa, genes, cases)
    t_ours = time.perf_counter() - t
    exact = boundary = bad = 0
    for case, w, g in zip(cases, want, got):
        texts = [s.text() for s in g]
        if texts == w:
            exact += 1
            continue
        ok = len(texts) == len(w) and all(
            all(2 <= i < 6 and near_boundary(s.ds[i - 2])
                for i, (a, b) in enumerate(zip(t.split("|"), r.split("|"))) if a != b)
            for s, t, r in zip(g, texts, w))
        boundary += ok
        bad += not ok
        print(("BOUNDARY " if ok else "DIFF ") + json.dumps(case), texts, w, [s.ds for s in g])
    print(f"{len(cases)} generated cases (seed {args.seed}): {exact} identical, {boundary} differ only at a "
          f"rounding boundary (unrounded delta within 1e-4), {bad} differ; release {t_release:.0f} s, raygen "
          f"{t_ours:.0f} s (in-process), load {os.getloadavg()[0]:.1f}")
    return int(bad > 0)


#: Both scorers in plain processes: CPU seconds (all threads, process_time) of loading and of scoring apart,
#: then the INFO entries. argv: FASTA, cases JSON, output JSON, threads.
RAYGEN_CPU_SCRIPT = """
import json, sys, time, torch
from raygen.config import SpliceAIConfig
from raygen.scoring.spliceai_scorer import SpliceAIScorer
from raygen.variant import Variant
fa, cases, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c0, t0 = time.process_time(), time.perf_counter()
torch.set_num_threads(threads)
sc = SpliceAIScorer(fa, SpliceAIConfig(annotation="grch38"), device="cpu")
c1, t1 = time.process_time(), time.perf_counter()
res = sc.score_variants([Variant(c["chrom"], c["pos"], c["ref"], c["alts"][0]) for c in json.load(open(cases))])
c2, t2 = time.process_time(), time.perf_counter()
json.dump({"entries": [[g.text() for g in r.scores] for r in res], "load": [c1 - c0, t1 - t0],
           "score": [c2 - c1, t2 - t1]}, open(out, "w"))
"""
RELEASE_CPU_SCRIPT = """
import json, os, sys, time
from types import SimpleNamespace
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
fa, ann_path, cases, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
c0, t0 = time.process_time(), time.perf_counter()
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.keras.utils.disable_interactive_logging()
from spliceai.utils import Annotator, get_delta_scores
ann = Annotator(fa, ann_path)
c1, t1 = time.process_time(), time.perf_counter()
res = [get_delta_scores(SimpleNamespace(chrom=c["chrom"], pos=c["pos"], ref=c["ref"], alts=tuple(c["alts"])), ann,
                        c["distance"], c["mask"]) for c in json.load(open(cases))]
c2, t2 = time.process_time(), time.perf_counter()
json.dump({"entries": res, "load": [c1 - c0, t1 - t0], "score": [c2 - c1, t2 - t1]}, open(out, "w"))
"""


def cpu_time(args, tmp: Path) -> int:
    """Both scorers in plain processes (no Ray) on the first N shared records, with 1 and then 2 threads
    each (``--threads``), interleaved: CPU seconds of loading and of scoring apart. CPU seconds are what a
    loaded host still measures fairly (wall time there is mostly waiting for a core); one thread per
    process is how raygen fills cores (one actor per core), and an oversubscribed host punishes threads that
    wait for each other."""
    from raygen.models.spliceai_weights import annotation_path
    from raygen.scoring.base import SCORER_ENV

    cases = [{"chrom": k[0], "pos": int(k[1]), "ref": k[2], "alts": [k[3]], "distance": 50, "mask": 0}
             for k in list(spliceai_info(Path(args.input)))[:args.cpu_time]]
    cases_path = tmp / "cases.json"
    cases_path.write_text(json.dumps(cases))
    fa = plain_fasta(Path(args.reference), tmp)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", **SCORER_ENV)
    py = oracle_python(args.oracle_python)
    n = len(cases)
    print(f"\n{n} records (first of {args.input}), cores {args.cores}; CPU s = user + system of all threads")
    print(f"{'scorer':36s} {'threads':>7s} {'load CPU s':>10s} {'score CPU s':>11s} {'score wall s':>12s} "
          f"{'CPU s/var':>9s} {'load avg':>8s}")
    status, per_var = 0, {}
    for threads in args.threads:
        runs = {}
        for name, cmd in (("spliceai 1.3.1 (TF 2.15)", [str(py), "-c", RELEASE_CPU_SCRIPT, str(fa),
                                                         str(annotation_path("grch38")), str(cases_path)]),
                          ("raygen SpliceAIScorer (torch)", [sys.executable, "-c", RAYGEN_CPU_SCRIPT, str(fa),
                                                             str(cases_path)])):
            out = tmp / f"{len(runs)}.{threads}.json"
            cmd = [*cmd, str(out), str(threads)]
            subprocess.run(["taskset", "-c", args.cores, *cmd], check=True, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
            runs[name] = json.loads(out.read_text())
            r = runs[name]
            per_var[(name, threads)] = r["score"][0] / n
            print(f"{name:36s} {threads:7d} {r['load'][0]:10.1f} {r['score'][0]:11.1f} {r['score'][1]:12.1f} "
                  f"{r['score'][0] / n:9.3f} {os.getloadavg()[0]:8.1f}")
        (rel, want), (_, ours) = [(k, v["entries"]) for k, v in runs.items()]
        same = sum(w == g for w, g in zip(want, ours))
        status |= same != n
        print(f"  {threads} thread(s): raygen / release scoring throughput per CPU-second "
              f"{per_var[(rel, threads)] / per_var[('raygen SpliceAIScorer (torch)', threads)]:.1f}x; "
              f"{same}/{n} records identical")
    return status


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", default=str(SHARED / "input.vcf"))
    p.add_argument("--reference", default=str(SHARED / "reference.fa.gz"))
    p.add_argument("--annotation", default="grch38")
    p.add_argument("--distance", type=int, default=50)
    p.add_argument("--cores", default="0,1", help="CPU list given to both tools (taskset -c)")
    p.add_argument("--repeats", type=int, default=2, help="raygen runs per configuration (best kept)")
    p.add_argument("--raygen", nargs="+", metavar="CONFIG", help="raygen configurations to run (default: all of "
                   "auto, ray-1xC, ray-Cx1 for C cores)")
    p.add_argument("--generated", type=int, default=0, metavar="N", help="score N generated variants instead")
    p.add_argument("--campaign", type=int, default=0, metavar="N", help="differential campaign of N variants")
    p.add_argument("--cpu-time", type=int, default=0, metavar="N", help="CPU seconds of both on N records")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="--cpu-time: threads per process")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--oracle-python", help="python of a venv with tensorflow-cpu and spliceai 1.3.1")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="raygen-spliceai-bench-") as tmp:
        if args.cpu_time:
            return cpu_time(args, Path(tmp))
        return campaign(args, Path(tmp)) if args.campaign else bench(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())

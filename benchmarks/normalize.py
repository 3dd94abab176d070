"""Benchmark: ``raygen normalize -m -any -f REF`` vs ``bcftools norm -m -any -f REF`` (pysam's bcftools 1.24).

Generates (once, cached) un-normalized VCFs of ~1.04M records over real sequence
(``../shared/data/pretrain/grch38.chr20_and_21_10M.fa.gz``), one per variant mix of :data:`MIXES`:
``issue13`` (issue #13's independent shape: 70% SNVs, 15% indels right-shifted in homopolymer runs, 10% SNV +
deletion with a padded 3-base REF, 5% MNPs, INFO AC/DP, two samples GT:AD), ``multi_mnv`` (dominated by
multi-allelic and MNV records) and ``repeats`` (the first input of this benchmark: indels in repeats
written right-shifted with redundant trailing bases, multi-allelics, GT:AD). Both tools read the same
bgzipped, indexed input and write bgzipped VCF plus a .tbi index, each with ``--threads N`` (the same N, printed;
default raygen's own compression threads); each is timed as a whole command
(subprocess, wall clock and CPU), interleaved, best of ``--repeats``. Prints one table row per mix: both
times, the ratio (bcftools time / raygen time: >= 1.0 means raygen is at least as fast), whether the output
records are identical, and the 1-minute load average over the runs.

    .venv/bin/python benchmarks/normalize.py [--mixes issue13,multi_mnv,repeats] [--records 1040000] [--repeats 3] [--threads N]
    .venv/bin/python benchmarks/normalize.py --mixes indel_heavy --records 700000 --seed 99   # a second input
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RAYGEN_SHARED_DATA", REPO.parent / "shared" / "data"))
FASTA = SHARED / "pretrain" / "grch38.chr20_and_21_10M.fa.gz"
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def _contigs(fasta: Path) -> dict[str, bytes]:
    import pysam

    with pysam.FastaFile(str(fasta)) as fa:
        return {c: fa.fetch(c).upper().encode() for c in fa.references}


def _gt_ad(rng: np.random.Generator, n: int, n_alt: np.ndarray) -> list[str]:
    """Sample columns ``GT:AD`` for two samples; multi-allelic rows get 1/2 genotypes and 3 AD values."""
    gts = np.array(["0/1", "1/1", "0/0", "0|1"])
    g = gts[rng.integers(0, 4, size=(n, 2))]
    ad = rng.integers(0, 40, size=(n, 2, 3))
    out = []
    for i in range(n):
        cols = []
        for s in range(2):
            if n_alt[i] == 1:
                cols.append(f"{g[i, s]}:{ad[i, s, 0]},{ad[i, s, 1]}")
            else:
                cols.append(f"{'1/2' if s == 0 else g[i, s]}:{ad[i, s, 0]},{ad[i, s, 1]},{ad[i, s, 2]}")
        out.append("\t".join(cols))
    return out


def make_vcf(path: Path, fasta: Path, n_records: int, seed: int = 7) -> None:
    """Write the un-normalized benchmark VCF (plain text; the caller bgzips and indexes it)."""
    rng = np.random.default_rng(seed)
    contigs = _contigs(fasta)
    per = n_records // len(contigs) + 1
    lines = []
    for chrom, seq_b in contigs.items():
        seq = np.frombuffer(seq_b, dtype=np.uint8)
        L = len(seq)
        acgt = np.isin(seq, BASES)
        # repeat sites: base equal to the next one (homopolymers) or two before (dinucleotide STRs)
        rep = np.zeros(L, dtype=bool)
        rep[:-2] = ((seq[:-2] == seq[1:-1]) | (seq[:-2] == seq[2:])) & acgt[:-2] & acgt[1:-1] & acgt[2:]
        ok = acgt.copy()
        ok[:50] = False
        ok[-50:] = False
        cand = np.flatnonzero(ok)
        pos0 = np.sort(rng.choice(cand, size=min(per, len(cand)), replace=False))
        kind = rng.choice(4, size=len(pos0), p=[0.78, 0.08, 0.08, 0.06])  # snv, del, ins, multi
        rep_idx = np.flatnonzero(rep)
        # move indels onto repeat sites near their drawn position (so left-alignment has work to do)
        indel = (kind == 1) | (kind == 2)
        j = np.searchsorted(rep_idx, pos0[indel]).clip(0, len(rep_idx) - 1)
        pos0[indel] = rep_idx[j]
        order = np.argsort(pos0, kind="stable")
        pos0, kind = pos0[order], kind[order]
        keep = np.ones(len(pos0), dtype=bool)
        keep[1:] = pos0[1:] != pos0[:-1]
        pos0, kind = pos0[keep], kind[keep]
        n = len(pos0)
        alt_shift = rng.integers(1, 4, size=n)
        lens = rng.integers(1, 5, size=n)
        pad = rng.integers(0, 3, size=n)
        n_alt = np.where(kind == 3, 2, 1)
        samples = _gt_ad(rng, n, n_alt)
        s = seq_b.decode()
        for i in range(n):
            p = int(pos0[i])
            k = kind[i]
            b = s[p]
            if k == 0:
                ref, alt = b, "ACGT"[("ACGT".index(b) + alt_shift[i]) % 4]
            elif k == 1:  # deletion of lens bases, right-shifted to the end of the repeat + padding
                L_ = int(lens[i])
                q = p
                while q + L_ + 1 < len(s) - 60 and s[q + 1] == s[q + 1 + L_]:
                    q += 1
                e = int(pad[i])
                ref = s[q: q + L_ + 1 + e]
                alt = s[q] + s[q + L_ + 1: q + L_ + 1 + e]
                p = q
            elif k == 2:  # insertion duplicating the next lens bases, written right-shifted + padding
                L_ = int(lens[i])
                ins = s[p + 1: p + 1 + L_]
                q = p + L_
                e = int(pad[i])
                ref = s[q: q + 1 + e]
                alt = s[q] + ins + s[q + 1: q + 1 + e]
                p = q
            else:
                other = [c for c in "ACGT" if c != b]
                if alt_shift[i] == 3:  # SNV + deletion
                    ref = s[p: p + 3]
                    alt = f"{other[0]}{s[p + 1: p + 3]},{b}"
                else:
                    ref, alt = b, f"{other[0]},{other[1]}"
            lines.append((p, f"{chrom}\t{p + 1}\t.\t{ref}\t{alt}\t50\tPASS\t.\tGT:AD\t{samples[i]}"))
        lines.sort(key=lambda x: x[0]) if False else None
    contig_lines = "".join(f"##contig=<ID={c},length={len(v)}>\n" for c, v in contigs.items())
    header = (
        "##fileformat=VCFv4.2\n"
        '##FILTER=<ID=PASS,Description="All filters passed">\n'
        + contig_lines
        + '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
    )
    # records of one contig must be sorted by POS for the index (shifted indels moved right)
    by_chrom: dict[str, list] = {}
    for p, line in lines:
        by_chrom.setdefault(line.split("\t", 1)[0], []).append((p, line))
    with open(path, "w") as fh:
        fh.write(header)
        for c in contigs:
            for _, line in sorted(by_chrom.get(c, []), key=lambda x: x[0]):
                fh.write(line + "\n")


#: Variant mixes (fractions of sites): ``repeats`` is the benchmark's first input (indels in repeats with
#: padding); ``issue13`` the independent shape of issue #13 (70% SNVs, 15% indels right-shifted in homopolymer
#: runs, 10% SNV + deletion with a padded 3-base REF, 5% MNPs, INFO AC/DP); ``multi_mnv`` is dominated by
#: multi-allelic and MNV records.
MIXES = {
    "repeats": None,  # make_vcf's own draw
    "issue13": {"snv": 0.70, "indel": 0.15, "snv_del": 0.10, "mnp": 0.05},
    "multi_mnv": {"snv": 0.15, "indel": 0.10, "snv_del": 0.20, "snv_snv": 0.15, "tri": 0.10, "mnp": 0.30},
    # not in the default --mixes: a second shape to check a speed change beyond the three above (with --seed 99)
    "indel_heavy": {"snv": 0.45, "indel": 0.30, "snv_del": 0.05, "snv_snv": 0.05, "mnp": 0.15},
}
_KINDS = ("snv", "indel", "snv_del", "snv_snv", "tri", "mnp")


def _other(b: str, k: int) -> str:
    return "ACGT"[("ACGT".index(b) + k) % 4]


def _mix_record(s: str, p: int, kind: str, r: np.ndarray) -> tuple[int, str, str]:
    """(0-based POS, REF, ALT) of one site of ``kind`` at ``p``; ``r``: 3 random ints in [1, 4)."""
    b = s[p]
    if kind == "snv":
        return p, b, _other(b, r[0])
    if kind == "indel":  # p starts a homopolymer run: delete or insert run bases, written at the run's end
        q = p
        while s[q + 1] == b:
            q += 1
        n = int(min(r[0], q - p + 1))
        if r[1] == 1:  # insertion of n bases
            return q, b, b * (n + 1)
        return q - n, s[q - n: q + 1], s[q - n]
    if kind == "snv_del":
        return p, s[p: p + 3], f"{_other(b, r[0])}{s[p + 1: p + 3]},{b}"
    if kind == "snv_snv":
        return p, b, f"{_other(b, 1)},{_other(b, 2)}"
    if kind == "tri":
        return p, b, f"{_other(b, 1)},{_other(b, 2)},{_other(b, 3)}"
    n = 2 + int(r[2] == 3)  # MNP of 2 or 3 bases, every base changed
    return p, s[p: p + n], "".join(_other(c, r[i]) for i, c in enumerate(s[p: p + n]))


def make_mix_vcf(path: Path, fasta: Path, n_records: int, mix: dict[str, float], seed: int = 13) -> None:
    """Write an un-normalized VCF of ``mix`` (plain text, sorted by POS; the caller bgzips and indexes it):
    INFO AC (Number=A) and DP, two samples GT:AD."""
    rng = np.random.default_rng(seed)
    contigs = _contigs(fasta)
    per = n_records // len(contigs) + 1
    probs = np.array([mix.get(k, 0.0) for k in _KINDS])
    out = []
    for chrom, seq_b in contigs.items():
        seq = np.frombuffer(seq_b, dtype=np.uint8)
        acgt = np.isin(seq, BASES)
        ok = acgt.copy()
        ok[:50] = ok[-50:] = False
        ok[:-3] &= acgt[1:-2] & acgt[2:-1] & acgt[3:]
        run = np.zeros(len(seq), dtype=bool)  # homopolymer starts (>= 3 equal bases)
        run[1:-3] = (seq[1:-3] == seq[2:-2]) & (seq[1:-3] == seq[3:-1]) & (seq[1:-3] != seq[:-4]) & ok[1:-3]
        cand, runs = np.flatnonzero(ok), np.flatnonzero(run)
        kind = rng.choice(len(_KINDS), size=per, p=probs / probs.sum())
        pos0 = rng.choice(cand, size=per, replace=False)
        ind = kind == 1
        pos0[ind] = runs[rng.integers(0, len(runs), size=int(ind.sum()))]
        rnd = rng.integers(1, 4, size=(per, 3))
        gts = np.array(["0/1", "1/1", "0/0", "0|1", "./."])[rng.choice(5, size=(per, 2), p=[.4, .25, .2, .1, .05])]
        ad = rng.integers(0, 40, size=(per, 2, 4))
        dp = rng.integers(1, 200, size=per)
        s = seq_b.decode()
        recs = []
        for i in range(per):
            p, ref, alt = _mix_record(s, int(pos0[i]), _KINDS[kind[i]], rnd[i])
            n_alt = alt.count(",") + 1
            ac = ",".join(str(x) for x in ad[i, 0, 1: 1 + n_alt])
            smp = []
            for j in range(2):
                g = gts[i, j] if n_alt == 1 or j else "1/2"
                smp.append(f"{g}:" + ",".join(str(x) for x in ad[i, j, : n_alt + 1]))
            recs.append((p, f"{chrom}\t{p + 1}\t.\t{ref}\t{alt}\t50\tPASS\tAC={ac};DP={dp[i]}\tGT:AD\t"
                            + "\t".join(smp)))
        recs.sort(key=lambda x: x[0])
        seen = set()
        out += [line for p, line in recs if not (p in seen or seen.add(p))]  # one record per POS
    contig_lines = "".join(f"##contig=<ID={c},length={len(v)}>\n" for c, v in contigs.items())
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n##FILTER=<ID=PASS,Description=\"All filters passed\">\n" + contig_lines
                 + '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">\n'
                 '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
                 '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                 '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n")
        fh.write("\n".join(out) + "\n")


def ensure_input(cache: Path, n_records: int, mix: str = "repeats", seed: int = 13) -> Path:
    """The bgzipped, indexed input of ``mix`` (generated once; ``seed``: of the mix generator, not ``repeats``)."""
    import pysam

    cache.mkdir(parents=True, exist_ok=True)
    stem = f"denorm_{n_records}" if mix == "repeats" else f"{mix}_{n_records}" + (f"_seed{seed}" if seed != 13 else "")
    gz = cache / f"{stem}.vcf.gz"
    if gz.exists() and Path(str(gz) + ".tbi").exists():
        return gz
    plain = cache / f"{stem}.vcf"
    t0 = time.perf_counter()
    if MIXES[mix] is None:
        make_vcf(plain, FASTA, n_records)
    else:
        make_mix_vcf(plain, FASTA, n_records, MIXES[mix], seed=seed)
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    print(f"generated {gz} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return gz


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads and children) of one command."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dt, cpu


def records(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as fh:
        return [line for line in fh.read().split(b"\n") if line and not line.startswith(b"#")]


def _compile_sources() -> None:
    """Byte-compile raygen's sources once, as an installed (non-editable) package is: otherwise a shell with
    PYTHONDONTWRITEBYTECODE makes every raygen run recompile its modules (~0.4 s) and bcftools has no such
    cost."""
    import compileall

    compileall.compile_dir(str(REPO / "src" / "raygen"), quiet=1)


def bench_mix(mix: str, n_records: int, repeats: int, cache: Path, extra: str, threads: int, seed: int = 13) -> dict:
    """Time both tools on one mix (interleaved, best of ``repeats``); outputs compared record for record."""
    inp = ensure_input(cache, n_records, mix, seed)
    out_dir = cache / "out"
    out_dir.mkdir(exist_ok=True)
    out_b, out_r = out_dir / f"bcftools_{mix}.vcf.gz", out_dir / f"raygen_{mix}.vcf.gz"
    bcf_cmd = [sys.executable, "-c",
               "import sys, pysam.bcftools; pysam.bcftools.norm(*sys.argv[1:], catch_stdout=False)",
               "-m", "-any", "-f", str(FASTA), "-Oz", "-W=tbi", "--threads", str(threads), "-o", str(out_b), str(inp)]
    ray_cmd = [str(REPO / ".venv" / "bin" / "raygen"), "normalize", str(inp), "-m", "-any", "-f", str(FASTA),
               "-o", str(out_r), "-q", "--threads", str(threads), *extra.split()]
    # interleaved, so both tools see the same background load on a shared machine; best run of each
    runs_b, runs_r, loads = [], [], []
    for _ in range(repeats):
        loads.append(os.getloadavg()[0])
        runs_b.append(timed(bcf_cmd))
        runs_r.append(timed(ray_cmd))
    rb, rr = records(out_b), records(out_r)
    return {"mix": mix, "n_in": sum(1 for _ in records(inp)), "n_out": len(rr), "bcftools": min(runs_b),
            "raygen": min(runs_r), "same": rb == rr, "load": (min(loads), max(loads)),
            "all_b": [round(t, 2) for t, _ in runs_b], "all_r": [round(t, 2) for t, _ in runs_r]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_040_000, help="records to generate per mix (before dedup of sites)")
    ap.add_argument("--mixes", default="issue13,multi_mnv,repeats", help=f"comma-separated, of {sorted(MIXES)}")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each command; the best is reported")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("RAYGEN_BENCH_CACHE", "/tmp/raygen-bench-cache")),
                    help="where the generated inputs are kept between runs (outside the repo)")
    ap.add_argument("--seed", type=int, default=13, help="seed of the generated mixes other than repeats "
                    "(another seed: another input of the same shape)")
    ap.add_argument("--extra", default="", help="extra flags for raygen normalize (e.g. --ray)")
    ap.add_argument("--threads", type=int, default=None,
                    help="--threads N for both tools: worker threads beside the main one (bcftools: BGZF "
                         "compression and decompression; raygen: BGZF compression). Default: raygen's own default "
                         "(the usable cores, at most 4), so both get the same")
    args = ap.parse_args()
    if args.threads is None:
        from raygen.io.bgzf import default_threads

        args.threads = default_threads()
    if not FASTA.exists():
        raise SystemExit(f"{FASTA} is absent (set RAYGEN_SHARED_DATA)")
    _compile_sources()
    print(f"machine: {os.cpu_count()} CPUs; pysam {__import__('pysam').__version__} (bcftools 1.24); "
          f"both: -m -any -f REF, bgzipped VCF + .tbi, --threads {args.threads}; best of {args.repeats}, interleaved")
    print(f"| {'mix':<10} | {'records in':>10} | {'out':>9} | {'bcftools s':>10} | {'CPU s':>6} | {'raygen s':>8} | "
          f"{'CPU s':>6} | {'ratio wall':>10} | {'ratio CPU':>9} | {'identical':>9} | {'load 1-min':>11} |")
    print("|" + "|".join("-" * (w + 2) for w in (10, 10, 9, 10, 6, 8, 6, 10, 9, 9, 11)) + "|")
    same = True
    for mix in args.mixes.split(","):
        r = bench_mix(mix, args.records, args.repeats, args.cache, args.extra, args.threads, args.seed)
        (tb, cb), (tr, cr) = r["bcftools"], r["raygen"]
        same &= r["same"]
        print(f"| {mix:<10} | {r['n_in']:>10} | {r['n_out']:>9} | {tb:>10.2f} | {cb:>6.2f} | {tr:>8.2f} | {cr:>6.2f} | "
              f"{tb / tr:>9.2f}x | {cb / cr:>8.2f}x | {str(r['same']):>9} | {r['load'][0]:>5.1f}-{r['load'][1]:<5.1f} |",
              flush=True)
        print(f"    runs (s): bcftools {r['all_b']}, raygen {r['all_r']}", file=sys.stderr)
    print("ratio = bcftools time / raygen time (>= 1.0: raygen at least as fast); CPU = user + system of all "
          f"threads; load after: {os.getloadavg()}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

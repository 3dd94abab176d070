"""Variant-calling benchmark: accuracy on GIAB and simulated data, and core-seconds per Mbp, vs bcftools.

    .venv/bin/python benchmarks/call.py giab  [--model DIR]   # side-by-side table on ../shared/data/giab_chr20
    .venv/bin/python benchmarks/call.py speed [--mbp 10]      # core-s/Mbp at 30x, raygen classical vs bcftools
    .venv/bin/python benchmarks/call.py hard  [--model DIR]   # low coverage, high error, repeat indels

Every number is measured in this run. Core-seconds are this process's CPU time (``time.process_time``) while
one caller runs single-threaded over every shard, so they do not depend on how many cores Ray would use;
bcftools (pysam's bundled 1.24, run in-process) is timed the same way on the same BAM. Accuracy uses
``raygen evaluate``'s matching (both sides normalized, MNPs decomposed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from raygen.eval.concordance import format_side_by_side

REPO = Path(__file__).resolve().parents[1]
GIAB = Path(os.environ.get("RAYGEN_SHARED_DATA", REPO.parent / "shared" / "data")) / "giab_chr20"
DEEPVARIANT_CORE_S_PER_MBP = 152.0  # DeepVariant 1.9, 30x WGS: 82 min on 96 vCPU (issue's anchor)


def raygen_call(bam: str, ref: str, out: str, model: str = "classical", regions: list[tuple[str, int, int]] | None = None,
                cfg=None) -> float:
    """Call every region in-process, one shard after another; returns CPU seconds."""
    import pysam

    from raygen.calling.pipeline import call_shard, write_calls
    from raygen.regions import make_shards
    from raygen.config import CallConfig

    cfg = cfg or CallConfig()
    fa = pysam.FastaFile(ref)
    contigs = dict(zip(fa.references, fa.lengths))
    regions = regions or [(c, 0, n) for c, n in contigs.items()]
    recs = []
    t0 = time.process_time()
    net = None
    if model != "classical":
        from raygen.calling.cnn import load_caller

        net = load_caller(model)
    for s in make_shards(regions, cfg.shard_bp, cfg.margin_bp):
        recs += call_shard(bam, ref, s, model, cfg, _cache={model: net} if net is not None else None).records
    cpu = time.process_time() - t0
    write_calls(out, recs, contigs, "SAMPLE", ref, model, cfg)
    return cpu


def bcftools_call(bam: str, ref: str, out: str, region: str | None = None) -> float:
    """``bcftools mpileup -f REF -a AD,DP | bcftools call -mv``; returns CPU seconds of both steps."""
    import pysam
    import pysam.bcftools

    pile = out + ".pile.bcf"
    t0 = time.process_time()
    args = ["-f", ref, "-a", "AD,DP", "-Ou", "-o", pile] + (["-r", region] if region else []) + [bam]
    pysam.bcftools.mpileup(*args, catch_stdout=False)
    pysam.bcftools.call("-mv", "-Oz", "-o", out, pile, catch_stdout=False)
    cpu = time.process_time() - t0
    pysam.tabix_index(out, preset="vcf", force=True)
    os.unlink(pile)
    return cpu


def report(truth: str, query: str, ref: str, bed: str | None = None):
    from raygen.eval.concordance import evaluate_vcfs

    return evaluate_vcfs(truth, query, confident_bed=bed, reference=ref)


def counts(truth: str, query: str, ref: str, bed: str | None = None):
    return report(truth, query, ref, bed).counts


def giab(model: str | None) -> None:
    ref = str(GIAB / "ucsc.hg19.chr20.unittest.fasta.gz")
    bam = str(GIAB / "NA12878_S1.chr20.10_10p1mb.bam")
    truth = str(GIAB / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz")
    bed = str(GIAB / "test_nist.b37_chr20_100kbp_at_10mb.bed")
    region = ("chr20", 9_999_000, 10_101_000)
    with tempfile.TemporaryDirectory() as d:
        q = {}
        cpu = {}
        cpu["raygen classical"] = raygen_call(bam, ref, f"{d}/c.vcf.gz", regions=[region])
        q["raygen classical"] = f"{d}/c.vcf.gz"
        if model:
            cpu["raygen CNN"] = raygen_call(bam, ref, f"{d}/n.vcf.gz", model=model, regions=[region])
            q["raygen CNN"] = f"{d}/n.vcf.gz"
        q["DeepVariant 1.4 golden"] = str(GIAB / "golden.postprocess_single_site_output.vcf.gz")
        cpu["bcftools mpileup+call"] = bcftools_call(bam, ref, f"{d}/b.vcf.gz", "chr20:9999001-10101000")
        q["bcftools mpileup+call"] = f"{d}/b.vcf.gz"
        print(f"GIAB NA12878 chr20:10.0-10.1 Mb (hg19), truth {Path(truth).name}")
        print(f"\nInside the confident BED ({bed and Path(bed).name}: 8,999 bp, 49 truth variants)")
        print(format_side_by_side([(name, report(truth, path, ref, bed)) for name, path in q.items()]))
        print("\nWhole 100 kb (truth outside the BED is not confident: 'false calls' there include real variants)")
        print(f"{'caller':<22} {'TP':>4} {'FN':>3} {'recall/222':>10} {'false calls':>11} {'core-s':>7}")
        for name, path in q.items():
            a = counts(truth, path, ref)["ALL"]
            note = "  (golden VCF covers only the first ~10 kb)" if "golden" in name else ""
            c = f"{cpu[name]:7.2f}" if name in cpu else "      -"
            print(f"{name:<22} {a.tp:>4} {a.fn:>3} {a.recall:10.4f} {a.fp:>11} {c}{note}")


def simulate(out: Path, **kw) -> Path:
    from raygen.config import RuntimeConfig, SimulateConfig
    from raygen.simulate.api import simulate_genome

    cfg = dataclasses.replace(SimulateConfig(), **kw)
    if not (out / "reads.bam").exists():
        simulate_genome(cfg, out, runtime=RuntimeConfig(num_cpus=2))
    return out


def speed(mbp: float, keep: str | None) -> None:
    import ray

    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="raygen-bench-call-"))
    d = simulate(base / f"sim{mbp:g}M", length=int(mbp * 1e6), contigs=max(1, int(mbp)), coverage=30.0, seed=7)
    if ray.is_initialized():
        ray.shutdown()  # free the cores before timing
    ref, bam, truth = str(d / "reference.fa"), str(d / "reads.bam"), str(d / "truth.vcf.gz")
    bp = int(mbp * 1e6)
    t0 = time.time()
    cpu_r = raygen_call(bam, ref, str(d / "raygen.vcf.gz"))
    wall_r = time.time() - t0
    t0 = time.time()
    cpu_b = bcftools_call(bam, ref, str(d / "bcftools.vcf.gz"))
    wall_b = time.time() - t0
    cr, cb = counts(truth, str(d / "raygen.vcf.gz"), ref), counts(truth, str(d / "bcftools.vcf.gz"), ref)
    print(f"Simulated {mbp:g} Mbp at 30x (2x150 bp, error 0.2%), single core, this machine")
    print(f"{'caller':<22} {'core-s':>8} {'core-s/Mbp':>10} {'wall s':>7}  {'F1 SNP':>7} {'F1 INDEL':>8}")
    print(f"{'raygen classical':<22} {cpu_r:8.1f} {cpu_r / (bp / 1e6):10.1f} {wall_r:7.1f}  {cr['SNP'].f1:7.4f} {cr['INDEL'].f1:8.4f}")
    print(f"{'bcftools mpileup+call':<22} {cpu_b:8.1f} {cpu_b / (bp / 1e6):10.1f} {wall_b:7.1f}  {cb['SNP'].f1:7.4f} {cb['INDEL'].f1:8.4f}")
    print(f"raygen / bcftools core-s ratio: {cpu_r / cpu_b:.2f}; DeepVariant 1.9 anchor {DEEPVARIANT_CORE_S_PER_MBP:g} core-s/Mbp "
          f"-> raygen is {DEEPVARIANT_CORE_S_PER_MBP / (cpu_r / (bp / 1e6)):.1f}x fewer core-s (anchor not measured here)")


def hard(model: str | None, keep: str | None) -> None:
    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="raygen-bench-hard-"))
    cases = {
        "low coverage 10x": dict(coverage=10.0),
        "high error 2%": dict(coverage=30.0, error_rate=0.02),
        "repeat indels": dict(coverage=30.0, indel_rate=2e-3, repeat_indel_fraction=0.95, homopolymer_rate=1 / 150),
    }
    print("Simulated hard cases, 300 kb each (seed 21)")
    for name, kw in cases.items():
        d = simulate(base / name.replace(" ", "_").replace("%", "pct"), length=300_000, contigs=1, seed=21, **kw)
        ref, bam, truth = str(d / "reference.fa"), str(d / "reads.bam"), str(d / "truth.vcf.gz")
        rows = [("raygen classical", str(d / "raygen.vcf.gz"))]
        raygen_call(bam, ref, rows[0][1])
        if model:
            rows.append(("raygen CNN", str(d / "cnn.vcf.gz")))
            raygen_call(bam, ref, rows[-1][1], model=model)
        rows.append(("bcftools mpileup+call", str(d / "bcftools.vcf.gz")))
        bcftools_call(bam, ref, rows[-1][1])
        print(format_side_by_side([(f"{name}: {caller}", report(truth, path, ref)) for caller, path in rows]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["giab", "speed", "hard", "all"])
    ap.add_argument("--model", help="CNN model dir from `raygen train caller` (adds a raygen CNN row)")
    ap.add_argument("--mbp", type=float, default=10.0, help="simulated genome size for `speed` (default 10)")
    ap.add_argument("--keep", help="directory for simulated data (reused when present)")
    a = ap.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if a.what in ("giab", "all"):
        if not GIAB.is_dir():
            print(f"skip giab: {GIAB} is absent", file=sys.stderr)
        else:
            giab(a.model)
    if a.what in ("hard", "all"):
        hard(a.model, a.keep)
    if a.what in ("speed", "all"):
        speed(a.mbp, a.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Variant-calling benchmark: accuracy on GIAB and simulated data, and core-seconds per Mbp, vs bcftools.

    .venv/bin/python benchmarks/call.py giab  [--model DIR] [--fraction 0.65]  # NA12878 halves, each held out
    .venv/bin/python benchmarks/call.py fit   [--out FILE]    # refit the shipped site model on both halves
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

    from raygen.calling.pipeline import write_calls
    from raygen.calling.shard import bam_profile, call_shard
    from raygen.config import CallConfig
    from raygen.regions import Region, make_shards

    cfg = cfg or CallConfig()
    fa = pysam.FastaFile(ref)
    contigs = dict(zip(fa.references, fa.lengths))
    regions = regions or [(c, 0, n) for c, n in contigs.items()]
    recs = []
    t0 = time.process_time()
    prof = bam_profile(bam, ref, [Region(*r) for r in regions], cfg)  # as `raygen call` does: timed with the call
    net = None
    if model != "classical":
        from raygen.calling.cnn import load_caller

        net = load_caller(model)
    for s in make_shards(regions, cfg.shard_bp, cfg.margin_bp):
        recs += call_shard(bam, ref, s, model, cfg, _cache={model: net} if net is not None else None,
                           profile=prof).records
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


HALVES = {  # the whole-slice BAM's reads split by position (0-based half-open spans)
    "first": ("NA12878_S1.chr20.10_10p1mb.first_half.bam", ("chr20", 10_000_000, 10_050_000)),
    "second": ("NA12878_S1.chr20.10_10p1mb.second_half.bam", ("chr20", 10_050_000, 10_100_000)),
}
GIAB_REF = "ucsc.hg19.chr20.unittest.fasta.gz"
GIAB_TRUTH = "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"
GIAB_BED = "test_nist.b37_chr20_100kbp_at_10mb.bed"
GOLDEN = "golden.postprocess_single_site_output.vcf.gz"


def min_qual(src: str, out: str, qual: float = 20.0) -> str:
    """A copy of VCF ``src`` keeping the records with QUAL >= ``qual`` (FILTER as it was): the calibration
    check, a QUAL threshold as a user applies it."""
    import pysam

    with pysam.VariantFile(src) as vin, pysam.VariantFile(out, "wz", header=vin.header) as vout:
        for rec in vin:
            if rec.qual is not None and rec.qual >= qual:
                vout.write(rec)
    pysam.tabix_index(out, preset="vcf", force=True)
    return out


def _bed(path: str, region: tuple[str, int, int]) -> str:
    Path(path).write_text("%s\t%d\t%d\n" % region)
    return path


def _bcftools_recall(bam: str, ref: str, truth: str, region: tuple[str, int, int], d: str) -> float:
    out = f"{d}/bcf_train_{region[1]}.vcf.gz"
    bcftools_call(bam, ref, out, f"{region[0]}:{region[1] + 1}-{region[2]}")
    return counts(truth, out, ref, _bed(f"{d}/train_{region[1]}.bed", region))["ALL"].recall


def fit_half(name: str, d: str, cfg=None):
    """The site model of one fold: collected on half ``name`` against the truth, cross-validated there, with
    bcftools' recall on the same half as the target. Returns (model, path)."""
    from raygen.calling.sitefit import collect, cross_fit
    from raygen.regions import Region

    ref, truth = str(GIAB / GIAB_REF), str(GIAB / GIAB_TRUTH)
    bam, region = HALVES[name]
    data = collect(str(GIAB / bam), ref, [Region(*region)], cfg, truth_vcf=truth, name=f"NA12878 {name} half")
    target = _bcftools_recall(str(GIAB / bam), ref, truth, region, d)
    m = cross_fit(data, target_recall=target, card={"fitted_on": [f"NA12878 {name} half {region}"]})
    path = f"{d}/site_model_{name}.json"
    m.save(path)
    return m, path


def giab(model: str | None, fraction: float = 1.0) -> None:
    """Two folds: the site model fitted (and cross-validated) on one half, every caller measured on the other;
    ``fraction`` < 1 measures on the held-out half's reads subsampled to that fraction (another depth than the
    fitted one; the model still sees the full-depth other half)."""
    ref, truth, bed = str(GIAB / GIAB_REF), str(GIAB / GIAB_TRUTH), str(GIAB / GIAB_BED)
    from raygen.config import CallConfig

    print(f"GIAB NA12878 chr20:10.0-10.1 Mb (hg19), truth {GIAB_TRUTH}; load {os.getloadavg()[0]:.1f}"
          + (f"; held-out reads subsampled to {fraction:g} (seed 7)" if fraction < 1 else ""))
    print("Protocol: raygen's site model for each half is fitted on the OTHER half only (5-fold CV there picks "
          "its L2 and veto threshold,\nwith bcftools' recall on that other half as the recall target); the "
          "classical model's own parameters are\nthe config's defaults plus the BAM's self-measured error "
          "profile (no truth used).")
    totals: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as d:
        for held, other in (("first", "second"), ("second", "first")):
            m, mpath = fit_half(other, d)
            bam, region = HALVES[held]
            bam = str(GIAB / bam)
            if fraction < 1:
                import pysam

                sub = f"{d}/{held}_sub.bam"
                pysam.samtools.view("-b", "-s", f"{7 + fraction:.3f}", "-o", sub, bam,  # seed 7, fraction
                                    catch_stdout=False)
                pysam.index(sub)
                bam = sub
            rbed = _bed(f"{d}/held_{held}.bed", region)
            q, cpu = {}, {}
            for name, site in (("raygen classical", "none"), ("raygen + site model", mpath)):
                cfg = dataclasses.replace(CallConfig(), site_model=site)
                q[name] = f"{d}/{held}_{site == 'none'}.vcf.gz"
                cpu[name] = raygen_call(bam, ref, q[name], regions=[region], cfg=cfg)
            if model:
                q["raygen CNN"] = f"{d}/{held}_cnn.vcf.gz"
                cpu["raygen CNN"] = raygen_call(bam, ref, q["raygen CNN"], model=model, regions=[region])
            q["bcftools mpileup+call"] = f"{d}/{held}_bcf.vcf.gz"
            cpu["bcftools mpileup+call"] = bcftools_call(bam, ref, q["bcftools mpileup+call"],
                                                         f"{region[0]}:{region[1] + 1}-{region[2]}")
            for name in ("raygen + site model", "bcftools mpileup+call"):  # QUAL calibration on held-out data
                q[f"{name.split(' mpileup')[0]}, QUAL>=20"] = min_qual(q[name], f"{q[name]}.q20.vcf.gz")
            if held == "first":
                q["DeepVariant golden (~10 kb)"] = str(GIAB / GOLDEN)
            cv = m.card["cross_validation"]
            print(f"\n== held-out {held} half {region[0]}:{region[1]:,}-{region[2]:,} (site model fitted on the "
                  f"{other} half: L2 {cv['l2']:g}, threshold P>={cv['threshold']:g}, veto reaches classical QUAL < "
                  f"{cv.get('protect_qual')}, target recall "
                  f"{cv['target_recall']:.4f})")
            print(f"{'caller':<30} {'TP':>4} {'FN':>3} {'FP':>3} {'recall':>7} {'precision':>9} {'F1':>7} "
                  f"{'F1 SNP':>7} {'F1 INDEL':>8} {'core-s':>7}")
            for name, path in q.items():
                c = counts(truth, path, ref, rbed)
                a = c["ALL"]
                if "golden" not in name:
                    totals.setdefault(name, []).append(a)
                t = f"{cpu[name]:7.2f}" if name in cpu else "      -"
                print(f"{name:<30} {a.tp:>4} {a.fn:>3} {a.fp:>3} {a.recall:7.4f} {a.precision:9.4f} {a.f1:7.4f} "
                      f"{c['SNP'].f1:7.4f} {c['INDEL'].f1:8.4f} {t}")
            if held == "first":
                print(f"\nInside the confident BED ({GIAB_BED}: 8,999 bp, all in the first half)")
                print(format_side_by_side([(name, report(truth, path, ref, bed)) for name, path in q.items()]))
    print("\n== whole slice: the two held-out halves together (each called with the model of the other half)")
    print(f"{'caller':<30} {'TP':>4} {'FN':>3} {'FP':>3} {'recall':>7} {'precision':>9} {'F1':>7}")
    for name, rows in totals.items():
        tp, fn, fp = (sum(getattr(r, k) for r in rows) for k in ("tp", "fn", "fp"))
        rec, prec = tp / (tp + fn), tp / (tp + fp)
        print(f"{name:<30} {tp:>4} {fn:>3} {fp:>3} {rec:7.4f} {prec:9.4f} {2 * prec * rec / (prec + rec):7.4f}")
    print("Truth outside the confident BED is not confident: some 'FP' there are real variants the truth lacks.")


def fit_default(out: str | None) -> None:
    """Fit the shipped site model on both NA12878 halves (target: bcftools' recall on both) and write its card."""
    from raygen.calling.sitefit import collect, cross_fit
    from raygen.calling.sitemodel import DEFAULT_PATH
    from raygen.regions import Region

    ref, truth = str(GIAB / GIAB_REF), str(GIAB / GIAB_TRUTH)
    path = Path(out) if out else DEFAULT_PATH
    data = None
    tp = tot = 0
    with tempfile.TemporaryDirectory() as d:
        for name, (bam, region) in HALVES.items():
            part = collect(str(GIAB / bam), ref, [Region(*region)], truth_vcf=truth, name=f"NA12878 {name} half")
            data = part if data is None else data + part
            r = _bcftools_recall(str(GIAB / bam), ref, truth, region, d)
            tp += round(r * part.truth_total)
            tot += part.truth_total
    card = {"fitted_on": [f"NA12878 {n} half {HALVES[n][1]} vs {GIAB_TRUTH}" for n in HALVES],
            "protocol": "benchmarks/call.py fit: 5-fold CV picks L2 and threshold; recall target = bcftools'"}
    m = cross_fit(data, target_recall=tp / tot, card=card)
    m.save(path)
    cv = m.card["cross_validation"]
    print(f"wrote {path}: {m.card['candidates']} candidates ({m.card['real']} real), L2 {cv['l2']:g}, "
          f"threshold P>={cv['threshold']:g} (QUAL {m.min_qual:.1f}), target recall {cv['target_recall']:.4f}")


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
    """Simulated hard cases (no DeepVariant output exists for them); raygen's site model is the shipped one."""
    from raygen.config import CallConfig

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
        rows = [("raygen classical", str(d / "raygen.vcf.gz")), ("raygen + site model", str(d / "site.vcf.gz"))]
        raygen_call(bam, ref, rows[0][1], cfg=dataclasses.replace(CallConfig(), site_model="none"))
        raygen_call(bam, ref, rows[1][1])  # the shipped site model: fitted on NA12878 only, never on these
        if model:
            rows.append(("raygen CNN", str(d / "cnn.vcf.gz")))
            raygen_call(bam, ref, rows[-1][1], model=model)
        rows.append(("bcftools mpileup+call", str(d / "bcftools.vcf.gz")))
        bcftools_call(bam, ref, rows[-1][1])
        print(format_side_by_side([(f"{name}: {caller}", report(truth, path, ref)) for caller, path in rows]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["giab", "speed", "hard", "fit", "all"])
    ap.add_argument("--fraction", type=float, default=1.0,
                    help="`giab`: subsample the held-out half's reads to this fraction (default 1: all)")
    ap.add_argument("--out", help="`fit`: where to write the site model (default: the one shipped in the package)")
    ap.add_argument("--model", help="CNN model dir from `raygen train caller` (adds a raygen CNN row)")
    ap.add_argument("--mbp", type=float, default=10.0, help="simulated genome size for `speed` (default 10)")
    ap.add_argument("--keep", help="directory for simulated data (reused when present)")
    a = ap.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if a.what in ("giab", "all"):
        if not GIAB.is_dir():
            print(f"skip giab: {GIAB} is absent", file=sys.stderr)
        else:
            giab(a.model, a.fraction)
    if a.what == "fit":
        fit_default(a.out)
    if a.what in ("hard", "all"):
        hard(a.model, a.keep)
    if a.what in ("speed", "all"):
        speed(a.mbp, a.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())

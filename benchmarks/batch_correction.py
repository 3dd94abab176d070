"""Batch correction, proof not promise: ComBat vs the conditional VAE on simulated cohorts and the bladder data.

    .venv/bin/python benchmarks/batch_correction.py [--seeds 1 2 3] [--kinds linear nonlinear] [--bladder]
                                                    [--epochs 300] [--picture docs/img/batch_bladder.png]

Simulations (raygen.simulate.cohort.simulate_cohort): 600 samples x 400 features, 4 labels in 3 batches of
unequal size and label composition; *linear* = ComBat's own model (additive + multiplicative effect per
batch and feature), *nonlinear* = the batch rescales each label's biology differently, bends values
through a batch-specific saturation and drops low values out. For every kind and seed the same metrics
(raygen.cohort.assess_job) score: the uncorrected data, the data before the batch effect ("clean", the
ceiling), ComBat and the VAE without labels, and ComBat and the VAE given the label as a covariate (like
with like). The VAE trains on Ray Train (2 DDP workers) with the settings printed at the top; those
settings were chosen on seed 100, which is not among the reported seeds (never fit on what you report).
The VAE corrects in "decode" mode by default (the posterior mean decoded as the reference batch);
"residual" (the sample minus the decoder's batch difference, keeping its own noise as ComBat does) is
the alternative. Settings tried on seed 100 (epochs 300-800, adversary 0-5, KL weight 0.5-2, latent
10-16, hidden 128-256, both modes): the defaults in raygen.config.VaeConfig were the best trade-off there. Bladder: bladderbatch (22,283 probes x 57 arrays, 5 batches, cancer status as label).

The verdict applies the issue's goal: on the non-linear simulations the VAE must mix at least as well
as ComBat (iLISI and kBET, means over seeds) and keep more biology (label ASW and classifier AUROC); on
the linear ones it must not lose to ComBat by more than the seed-to-seed SD on any of these metrics.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "combat" / "bladder"
GOAL_METRICS = ("ilisi", "kbet", "asw_label", "auroc_label")


def _vae(y, batch, label, spec, workdir: Path, name: str, workers: int, mode: str, covariate: bool):
    from raygen.train.vae import correct_arrays, data_from_arrays, train

    out = workdir / name
    shutil.rmtree(out, ignore_errors=True)
    cov = {"label": list(label)} if covariate else None
    t0 = time.time()
    train(data_from_arrays(y, list(batch), cov), spec, str(out), workers=workers, quiet=True)
    corrected = correct_arrays(str(out), y, list(batch), cov, mode=mode)
    return corrected, time.time() - t0


def _combat(y, batch, label, covariate: bool):
    from raygen.cohort.combat import combat
    from raygen.cohort.design import build_design

    sheet = {"batch": list(batch), "label": list(label)}
    return combat(y, build_design(sheet, "batch", ["label"] if covariate else []))[0]


def run_simulation(kind: str, seed: int, spec, workdir: Path, workers: int, mode: str) -> list[dict]:
    from raygen.cohort.assess_job import assess_matrices, format_table
    from raygen.simulate.cohort import simulate_cohort

    c = simulate_cohort(kind, seed)
    sh = c.sheet()
    b, lab = np.asarray(sh["batch"]), np.asarray(sh["label"])
    v, tv = _vae(c.y, b, lab, spec, workdir, f"{kind}_{seed}", workers, mode, False)
    vl, tvl = _vae(c.y, b, lab, spec, workdir, f"{kind}_{seed}_label", workers, mode, True)
    mats = [("uncorrected", c.y), ("clean", c.clean), ("ComBat", _combat(c.y, b, lab, False)), ("VAE", v),
            ("ComBat+label", _combat(c.y, b, lab, True)), ("VAE+label", vl)]
    rows, _ = assess_matrices(mats, b, lab, seed=seed)
    print(f"\n{kind} seed {seed} (VAE training {tv:.0f} s and {tvl:.0f} s wall, load {os.getloadavg()[0]:.1f})")
    print(format_table(rows, True), flush=True)
    return [{**r, "kind": kind, "seed": seed} for r in rows]


def summarize(rows: list[dict]) -> tuple[str, dict]:
    from raygen.cohort.assess_job import METRICS

    lines, agg = [], {}
    for kind in sorted({r["kind"] for r in rows}):
        lines.append(f"\n{kind}: mean +- SD over seeds {sorted({r['seed'] for r in rows if r['kind'] == kind})}")
        lines.append(f"{'matrix':<14}" + "".join(f"{h:>20}" for _, h, _ in METRICS))
        for name in dict.fromkeys(r["name"] for r in rows if r["kind"] == kind):
            sel = [r for r in rows if r["kind"] == kind and r["name"] == name]
            stats = {k: (float(np.mean([r[k] for r in sel])), float(np.std([r[k] for r in sel], ddof=1)) if len(sel) > 1 else 0.0)
                     for k, _, _ in METRICS}
            agg[(kind, name)] = stats
            lines.append(f"{name:<14}" + "".join(f"{m:>12.3f} +- {s:<5.3f}" for m, s in stats.values()))
    return "\n".join(lines), agg


def verdict(agg: dict) -> str:
    out = ["\nverdict against the issue's goal (means over seeds). Only VAE vs ComBat (neither sees the label) tests "
           "'keeps biology': the VAE+label decoder is given the label and writes its mean into every output, so its "
           "label metrics are circular (AUROC ~1 by construction); its mixing metrics still count."]
    for vae, cb in (("VAE", "ComBat"), ("VAE+label", "ComBat+label")):
        if ("nonlinear", vae) in agg:
            a, c = agg[("nonlinear", vae)], agg[("nonlinear", cb)]
            mix = a["ilisi"][0] >= c["ilisi"][0] and a["kbet"][0] >= c["kbet"][0]
            bio = a["asw_label"][0] > c["asw_label"][0] and a["auroc_label"][0] > c["auroc_label"][0]
            bio_note = " (circular)" if vae == "VAE+label" else ""
            out.append(f"  nonlinear {vae} vs {cb}: mixes at least as well: {'yes' if mix else 'NO'} "
                       f"(iLISI {a['ilisi'][0]:.3f} vs {c['ilisi'][0]:.3f}, kBET {a['kbet'][0]:.3f} vs {c['kbet'][0]:.3f}); "
                       f"keeps more biology: {'yes' if bio else 'NO'} (label ASW {a['asw_label'][0]:.3f} vs "
                       f"{c['asw_label'][0]:.3f}, AUROC {a['auroc_label'][0]:.3f} vs {c['auroc_label'][0]:.3f}) -> "
                       f"{'MET' if mix and bio else 'NOT MET'}{bio_note}")
        if ("linear", vae) in agg:
            a, c = agg[("linear", vae)], agg[("linear", cb)]
            worse = []
            for k in GOAL_METRICS:
                noise = max(a[k][1], c[k][1])
                if a[k][0] < c[k][0] - noise:
                    worse.append(f"{k} {a[k][0]:.3f} vs {c[k][0]:.3f} (SD {noise:.3f})")
            out.append(f"  linear {vae} vs {cb}: " + ("within seed noise or better on every metric -> MET"
                                                      if not worse else "loses by more than seed noise on "
                                                      + "; ".join(worse) + " -> NOT MET"))
    return "\n".join(out)


def run_bladder(spec, workdir: Path, workers: int, mode: str, picture: str | None) -> list[dict]:
    from raygen.cohort.assess_job import assess_matrices, draw_pca, format_table
    from raygen.cohort.matrix import align_sheet, read_matrix, read_sheet

    m = read_matrix(DATA / "bladder_expr.5dp.tsv.gz")
    sheet = align_sheet(read_sheet(DATA / "bladder-pheno.txt"), m.samples)
    b, lab = np.asarray(sheet["batch"]), np.asarray(sheet["cancer"])
    v, tv = _vae(m.values, b, lab, spec, workdir, "bladder", workers, mode, False)
    vl, tvl = _vae(m.values, b, lab, spec, workdir, "bladder_label", workers, mode, True)
    mats = [("uncorrected", m.values), ("ComBat", _combat(m.values, b, lab, False)), ("VAE", v),
            ("ComBat+cancer", _combat(m.values, b, lab, True)), ("VAE+cancer", vl)]
    rows, embs = assess_matrices(mats, b, lab)
    print(f"\nbladder (22,283 probes x 57 arrays; label = cancer; VAE {tv:.0f} s and {tvl:.0f} s wall)")
    print(format_table(rows, True), flush=True)
    if picture:
        keep = [0, 3, 4]
        draw_pca(picture, [mats[i][0] for i in keep], [embs[i] for i in keep], b, lab)
        print(f"picture: {picture} ({Path(picture).stat().st_size / 1024:.0f} KB)")
    return [{**r, "kind": "bladder", "seed": 0} for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--kinds", nargs="+", default=["linear", "nonlinear"], choices=["linear", "nonlinear"])
    ap.add_argument("--bladder", action="store_true", help="also the bladder data")
    from raygen.config import VaeConfig

    v = VaeConfig()
    ap.add_argument("--epochs", type=int, default=v.epochs)
    ap.add_argument("--adversary-weight", type=float, default=v.adversary_weight)
    ap.add_argument("--latent", type=int, default=v.latent)
    ap.add_argument("--hidden", type=int, default=v.hidden)
    ap.add_argument("--beta-kl", type=float, default=v.beta_kl)
    ap.add_argument("--mode", choices=["residual", "decode"], default=v.correct_mode)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/raygen-batch-bench")
    ap.add_argument("--picture", help="bladder PCA picture (uncorrected, ComBat+cancer, VAE+cancer)")
    ap.add_argument("--json", help="write every row as JSON")
    ap.add_argument("--from-json", help="only summarise the rows of an earlier --json run")
    a = ap.parse_args()
    if a.from_json:
        rows = [r for r in json.loads(Path(a.from_json).read_text()) if r["kind"] != "bladder"]
        text, agg = summarize(rows)
        print(text)
        print(verdict(agg))
        return 0

    logging.getLogger("ray").setLevel(logging.ERROR)
    from raygen.config import RuntimeConfig
    from raygen.runtime import init_ray
    from raygen.train.vae import VaeSpec

    init_ray(RuntimeConfig(num_cpus=os.cpu_count()))
    spec = VaeSpec(epochs=a.epochs, adversary_weight=a.adversary_weight, latent=a.latent, hidden=a.hidden,
                   beta_kl=a.beta_kl, checkpoint_every=max(1, a.epochs))
    print(f"VAE settings (chosen on seed 100): epochs {spec.epochs}, adversary {spec.adversary_weight}, latent "
          f"{spec.latent}, hidden {spec.hidden}, KL weight {spec.beta_kl}, lr {spec.lr}, batch {spec.batch_size}, "
          f"mode {a.mode}, {a.workers} workers; load {os.getloadavg()}")
    workdir = Path(a.workdir)
    rows: list[dict] = []
    for kind in a.kinds:
        for seed in a.seeds:
            rows += run_simulation(kind, seed, spec, workdir, a.workers, a.mode)
    if rows:
        text, agg = summarize(rows)
        print(text)
        print(verdict(agg))
    if a.bladder:
        rows += run_bladder(spec, workdir, a.workers, a.mode, a.picture)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

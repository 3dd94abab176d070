"""``raygen cohort combat|combat-apply|size-factors|vae-train|vae-correct|assess``: batch effects and counts.

Parse flags, call one pipeline function, print its summary. The work happens in ``raygen.cohort``
(ComBat, size factors, mixing metrics), ``raygen.cohort.batch_pipeline`` (Ray Data) and
``raygen.train.vae`` (Ray Train).
"""

from __future__ import annotations

import argparse
import json

from raygen.commands import DefaultsHelpFormatter
from raygen.config import DEFAULTS

CB = DEFAULTS.cohort_batch
FMT = DefaultsHelpFormatter
V = DEFAULTS.vae

MATRIX_HELP = ("features x samples: CSV or TSV (gzip ok) with a header of sample names and an optional first "
               "column of feature names, or Parquet (one numeric column per sample, one text column of names)")
SHEET_HELP = ("sample sheet (CSV/TSV with a header): one row per sample; the sample column is --sample-col or "
              "the first column whose values cover the matrix's sample names")


def _inputs(p: argparse.ArgumentParser, batch_required: bool = True) -> None:
    p.add_argument("matrix", metavar="MATRIX", help=MATRIX_HELP)
    p.add_argument("--samples", required=True, metavar="SHEET", help=SHEET_HELP)
    p.add_argument("--batch", required=batch_required, metavar="COL", help="sheet column with each sample's batch")
    p.add_argument("--sample-col", metavar="COL", help="sheet column with the sample names (default: detected)")
    p.add_argument("--feature-col", metavar="NAME",
                   help="name of the matrix's feature-name column, when detection cannot tell (e.g. numeric ids)")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    _register_combat(sub, common)
    _register_apply(sub, common)
    _register_size_factors(sub, common)
    _register_vae_train(sub, common)
    _register_vae_correct(sub, common)
    _register_assess(sub, common)


# ------------------------------------------------------------------------------------------ combat


def _register_combat(sub, common) -> None:
    p = sub.add_parser(
        "combat", parents=[common], formatter_class=FMT,
        help="ComBat batch-effect correction, exactly as R sva::ComBat (parametric or non-parametric EB)",
        description="Remove batch effects with ComBat (Johnson, Li & Rabinovic 2007), computed as R sva 3.46.0's "
        "ComBat computes it: per feature a location/scale batch effect, shrunk by empirical Bayes across features. "
        "Covariates (numeric, or categorical dummy-coded as R's model.matrix) are protected. --ref-batch keeps one "
        "batch unchanged and moves the others to it; --no-eb is neuroCombat's eb=FALSE. Missing values (empty, NA) "
        "are handled as sva does and stay missing. A batch with one sample switches to the mean-only adjustment, "
        "as sva does. Features sva cannot adjust (constant within a batch; and where sva would fail: all values "
        "missing, too few values in a batch, no residual variance) come out unchanged and are listed in "
        "OUT.excluded.tsv. The output has the input's features, samples, order and layout. Large inputs run on "
        "Ray Data sharded by feature (--engine).",
    )
    _inputs(p)
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="adjusted matrix (.parquet writes Parquet, "
                   "else text in the input's delimiter)")
    p.add_argument("--covariates", nargs="+", default=[], metavar="COL",
                   help="sheet columns to protect (numeric columns enter as numbers, others dummy-coded)")
    p.add_argument("--categorical", nargs="+", default=[], metavar="COL",
                   help="covariates to dummy-code even though their values are numbers (R's as.factor)")
    p.add_argument("--non-parametric", action="store_true", help="non-parametric empirical Bayes (sva par.prior=FALSE)")
    p.add_argument("--mean-only", action="store_true", help="adjust the batch means only, not the variances")
    p.add_argument("--ref-batch", metavar="B", help="reference batch: left unchanged, the others moved to it")
    p.add_argument("--no-eb", action="store_true", help="no empirical Bayes shrinkage (neuroCombat eb=FALSE)")
    p.add_argument("--save-params", metavar="P.parquet",
                   help="write the fitted model (for `combat-apply` and `assess --against`)")
    p.add_argument("--exclusions", metavar="TSV", help="where to list unadjusted features (default OUT.excluded.tsv, "
                   "written when there are any)")
    p.add_argument("--engine", choices=("auto", "memory", "ray"), default="auto",
                   help=f"auto: Ray Data for inputs of {CB.ray_min_bytes >> 20} MiB or more, else in memory")
    p.add_argument("--shard-mb", type=float, default=CB.shard_bytes / 2 ** 20, help="MiB of values per Ray shard")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_combat)


def _print_summary(s: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(s, indent=2))
        return
    batches = ", ".join(f"{b}: {n}" for b, n in s["batches"].items())
    print(f"features in {s['features_in']}, out {s['features_out']}: adjusted {s['adjusted']}, "
          f"left unchanged {s.get('excluded', 0)}")
    for reason, n in s.get("excluded_by_reason", {}).items():
        print(f"  {n} {reason}")
    if s.get("exclusions_file"):
        print(f"  listed in {s['exclusions_file']}")
    print(f"samples {s['samples']} in {len(s['batches'])} batches ({batches})")
    if "mode" in s:
        covs = ", ".join(s["covariate_columns"]) or "none"
        print(f"mode {s['mode']}; covariate columns: {covs}; reference batch: {s['ref_batch'] or 'none'}; "
              f"missing values: {'yes' if s['missing_values'] else 'no'}; engine {s['engine']}")
    print(f"wrote {s['output']}" + (f" and {s['params_file']}" if s.get("params_file") else "")
          + f" in {s['wall_s']:.1f} s")


def run_combat(args: argparse.Namespace) -> int:
    from raygen.cli import runtime_config
    from raygen.cohort.batch_pipeline import CombatJob, choose_engine, run_combat as _run
    from raygen.cohort.combat import ComBatOptions
    from raygen.errors import require

    require(not (args.no_eb and args.non_parametric), "--no-eb and --non-parametric exclude each other (no EB, no prior)")
    require(args.shard_mb > 0, "--shard-mb must be positive")
    job = CombatJob(
        matrix=args.matrix, sheet=args.samples, batch=args.batch, out=args.out, covariates=tuple(args.covariates),
        categorical=tuple(args.categorical), ref_batch=args.ref_batch, sample_col=args.sample_col,
        feature_col=args.feature_col, params_out=args.save_params, exclusions_out=args.exclusions,
        options=ComBatOptions(parametric=not args.non_parametric, mean_only=args.mean_only, eb=not args.no_eb),
        engine=args.engine, shard_bytes=int(args.shard_mb * 2 ** 20), quiet=args.quiet,
    )
    if choose_engine(job) == "ray":
        from raygen.runtime import init_ray

        init_ray(runtime_config(args))
    _print_summary(_run(job), args.json)
    return 0


def _register_apply(sub, common) -> None:
    p = sub.add_parser(
        "combat-apply", parents=[common], formatter_class=FMT,
        help="apply a fitted ComBat model to new samples of known batches (neuroCombat's from-training mode)",
        description="Adjust new samples with the estimates `raygen cohort combat --save-params` wrote, without "
        "refitting (so the training cohort never moves): each sample is standardised with the training pooled "
        "variance and mean, its batch's posterior effects are removed, and it is rescaled. Every sample's batch "
        "must be one the model was fitted on. By default the standardisation mean is the training samples' mean, "
        "as neuroCombatFromTraining does; --use-covariates uses each new sample's own covariates instead (the "
        "model's covariate columns must be in the sheet). The matrix must have the training features in order.",
    )
    _inputs(p, batch_required=False)
    p.add_argument("--params", required=True, metavar="P.parquet", help="model from `combat --save-params`")
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="adjusted matrix")
    p.add_argument("--use-covariates", action="store_true", help="standardise with each sample's own covariates")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_apply)


def run_apply(args: argparse.Namespace) -> int:
    from raygen.cohort.batch_pipeline import ApplyJob, run_apply as _run

    s = _run(ApplyJob(args.matrix, args.params, args.samples, args.batch, args.out, args.sample_col,
                      args.feature_col, args.use_covariates))
    _print_summary(s, args.json)
    return 0


# ------------------------------------------------------------------------------------------ counts


def _register_size_factors(sub, common) -> None:
    p = sub.add_parser(
        "size-factors", parents=[common], formatter_class=FMT,
        help="count normalization: DESeq2 median-of-ratios, edgeR TMM / upper-quartile, log-CPM",
        description="Size factors of a count matrix (features x samples, non-negative, no NA), computed as "
        "DESeq2's estimateSizeFactorsForMatrix (median of ratios) or edgeR's calcNormFactors (TMM, upperquartile) "
        "compute them. Writes one row per sample: library size, factor, effective library size. Optionally the "
        "log2-CPM matrix (edgeR's cpm(log=TRUE) on the effective library sizes) and the normalized counts "
        "(counts / DESeq2 size factor, or counts scaled to the mean effective library for the edgeR methods).",
    )
    p.add_argument("matrix", metavar="COUNTS", help=MATRIX_HELP)
    p.add_argument("--method", choices=("deseq2", "tmm", "upperquartile", "none"), default="tmm",
                   help="deseq2: median of ratios; tmm / upperquartile: edgeR; none: library sizes only")
    p.add_argument("-o", "--out", required=True, metavar="FACTORS.tsv", help="per-sample table")
    p.add_argument("--log-cpm", metavar="OUT", help="also write log2 counts per million")
    p.add_argument("--normalized", metavar="OUT", help="also write normalized counts")
    p.add_argument("--prior-count", type=float, default=CB.prior_count, help="log-CPM prior count")
    p.add_argument("--feature-col", metavar="NAME", help="name of the feature-name column, if detection cannot tell")
    p.set_defaults(func=run_size_factors)


def run_size_factors(args: argparse.Namespace) -> int:
    from raygen.cohort.counts_job import run_size_factors as _run
    from raygen.errors import require

    require(args.prior_count >= 0, "--prior-count must be >= 0")
    s = _run(args.matrix, args.method, args.out, args.log_cpm, args.normalized, args.prior_count, args.feature_col)
    print(f"{s['features']} features x {s['samples']} samples; {args.method} factors range "
          f"{s['factor_min']:.4g}-{s['factor_max']:.4g}; wrote {', '.join(s['outputs'])}")
    return 0


# ------------------------------------------------------------------------------------------ VAE


def _register_vae_train(sub, common) -> None:
    p = sub.add_parser(
        "vae-train", parents=[common], formatter_class=FMT,
        help="train a conditional-VAE batch corrector (Ray Train, DDP, checkpoints, resume)",
        description="Train a conditional variational autoencoder on a cohort: the encoder sees a sample's values "
        "and its batch, the decoder rebuilds them from the latent code and the batch (and optional covariates); an "
        "adversary on the latent code, trained through gradient reversal, discourages batch information there. "
        "`vae-correct` then decodes every sample as if from one reference batch. Features are standardised with the "
        "training means and SDs (saved with the model). Training runs on Ray Train (TorchTrainer, DDP over "
        "--workers), checkpoints to DIR/train_state every --checkpoint-every epochs, resumes with --resume, stops "
        "cleanly at --time-limit, and writes DIR/model.pt, DIR/model.json and a model card DIR/README.md.",
    )
    _inputs(p)
    p.add_argument("--out", required=True, metavar="DIR", help="model directory")
    p.add_argument("--covariates", nargs="+", default=[], metavar="COL",
                   help="sheet columns given to the decoder as conditions (categorical, one-hot). Their learned effect "
                   "is written into every corrected sample, so do not judge biology kept on a column given here")
    p.add_argument("--ref-batch", metavar="B", help="batch to decode as by default (default: the largest)")
    p.add_argument("--latent", type=int, default=V.latent, help="latent dimensions")
    p.add_argument("--hidden", type=int, default=V.hidden, help="hidden units per layer")
    p.add_argument("--epochs", type=int, default=V.epochs)
    p.add_argument("--batch-size", type=int, default=V.batch_size, help="samples per worker per step")
    p.add_argument("--lr", type=float, default=V.lr)
    p.add_argument("--beta-kl", type=float, default=V.beta_kl, help="KL weight")
    p.add_argument("--adversary-weight", type=float, default=V.adversary_weight,
                   help="weight of the latent batch adversary (0: plain conditional VAE)")
    p.add_argument("--time-limit", type=float, metavar="MINUTES", help="stop cleanly after this much training time")
    p.add_argument("--workers", type=int, default=V.workers, help="Ray Train workers (DDP ranks)")
    p.add_argument("--cpus-per-worker", type=float, default=V.cpus_per_worker)
    p.add_argument("--gpus-per-worker", type=float, default=V.gpus_per_worker)
    p.add_argument("--checkpoint-every", type=int, default=V.checkpoint_every, help="epochs between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue the run in DIR from its latest checkpoint")
    p.add_argument("--seed", type=int, default=V.seed)
    p.set_defaults(func=run_vae_train)


def run_vae_train(args: argparse.Namespace) -> int:
    from raygen.cli import runtime_config
    from raygen.errors import require
    from raygen.runtime import init_ray
    from raygen.train.vae import VaeJob, VaeSpec, train_vae

    require(args.latent >= 1 and args.hidden >= 1, "--latent and --hidden must be >= 1")
    require(args.epochs >= 1 and args.batch_size >= 2, "--epochs must be >= 1 and --batch-size >= 2")
    require(args.workers >= 1, "--workers must be >= 1")
    spec = VaeSpec(latent=args.latent, hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size,
                   lr=args.lr, beta_kl=args.beta_kl, adversary_weight=args.adversary_weight,
                   checkpoint_every=args.checkpoint_every,
                   time_limit_s=None if args.time_limit is None else args.time_limit * 60, seed=args.seed)
    job = VaeJob(matrix=args.matrix, sheet=args.samples, batch=args.batch, out_dir=args.out,
                 covariates=list(args.covariates), ref_batch=args.ref_batch, sample_col=args.sample_col,
                 feature_col=args.feature_col, spec=spec)
    init_ray(runtime_config(args))
    s = train_vae(job, workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                  gpus_per_worker=args.gpus_per_worker, resume=args.resume, quiet=args.quiet)
    print(f"model written to {args.out}: {s['epochs']} epochs in {s['train_s']:.0f} s, final loss {s['loss']:.4f} "
          f"(reconstruction {s['recon']:.4f}, KL {s['kl']:.4f}); reference batch {s['ref_batch']}")
    return 0


def _register_vae_correct(sub, common) -> None:
    p = sub.add_parser(
        "vae-correct", parents=[common], formatter_class=FMT,
        help="decode samples as if from one reference batch with a trained VAE",
        description="Encode each sample with its own batch, decode it with the reference batch (the model's, or "
        "--ref-batch), and write the result on the data scale. Every sample's batch must be one the model was "
        "trained on, the matrix must have the model's features in order. Missing values are imputed by the model "
        "for the encoding and come back missing.",
    )
    _inputs(p)
    p.add_argument("--model", required=True, metavar="DIR", help="model directory from `vae-train`")
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="corrected matrix")
    p.add_argument("--ref-batch", metavar="B", help="decode as this batch (default: the model's reference)")
    p.add_argument("--mode", choices=("decode", "residual"), default=V.correct_mode,
                   help="decode: the posterior mean decoded as the reference batch (denoised); residual: the sample "
                   "minus the decoder's batch difference (keeps its own noise, as ComBat does)")
    p.set_defaults(func=run_vae_correct)


def run_vae_correct(args: argparse.Namespace) -> int:
    from raygen.train.vae import correct_file

    s = correct_file(args.model, args.matrix, args.samples, args.batch, args.out, args.ref_batch,
                     args.sample_col, args.feature_col, args.mode)
    print(f"{s['features']} features x {s['samples']} samples decoded as batch {s['ref_batch']}; wrote {args.out}")
    return 0


# ------------------------------------------------------------------------------------------ assess


def _register_assess(sub, common) -> None:
    p = sub.add_parser(
        "assess", parents=[common], formatter_class=FMT,
        help="batch mixing and biology kept (kBET, LISI, ASW, classifier AUROC) side by side; drift checks",
        description="Score how well batches are mixed and how much biology is kept, on the top principal "
        "components of each matrix (features standardised): kBET acceptance rate (higher = better mixed), iLISI "
        "(effective number of batches in a neighbourhood; higher = better mixed), ASW of batch (silhouette of "
        "batch labels; near 0 or below = mixed), and with --label: ASW of label (higher = biology kept), cLISI "
        "(1 = neighbourhoods of one label) and the cross-validated AUROC of a logistic-regression classifier of "
        "the label (higher = biology kept). MATRIX is the uncorrected matrix; add corrected versions with "
        "--corrected NAME=FILE (same samples). --picture draws PCA coloured by batch and by label for each. "
        "--against P.parquet instead checks new samples for drift against a fitted ComBat model: each feature's "
        "corrected values are compared with the training reference (PSI on its deciles, location and scale "
        "shift); the command exits 3 when more than --max-drift-fraction of the features have PSI above "
        "--psi-alert (or, in a small batch, above what chance gives it), so a scheduled job can stop before it "
        "corrupts a study.",
    )
    _inputs(p)
    p.add_argument("--label", metavar="COL", help="sheet column with the biology to keep (e.g. cell type, status)")
    p.add_argument("--corrected", action="append", default=[], metavar="NAME=FILE",
                   help="a corrected matrix to score next to the uncorrected one (repeatable)")
    p.add_argument("--picture", metavar="PNG", help="PCA before/after, coloured by batch and by label")
    p.add_argument("--components", type=int, default=CB.pca_components, help="principal components for the metrics")
    p.add_argument("--json", metavar="FILE", help="also write the table (or the drift report) as JSON")
    p.add_argument("--against", metavar="P.parquet", help="drift check against a fitted ComBat model")
    p.add_argument("--psi-alert", type=float, default=CB.psi_alert,
                   help="PSI above which a feature has drifted (raised, for a small batch, to the PSI that chance "
                        "gives a drift-free feature 1 time in 100)")
    p.add_argument("--max-drift-fraction", type=float, default=CB.drift_max_fraction,
                   help="fraction of drifted features above which the check fails (exit 3)")
    p.add_argument("--seed", type=int, default=CB.seed)
    p.set_defaults(func=run_assess)


def run_assess(args: argparse.Namespace) -> int:
    from raygen.cohort.assess_job import run_assess as _assess, run_drift
    from raygen.errors import require

    if args.against:
        report = run_drift(args.matrix, args.samples, args.batch, args.against, args.sample_col, args.feature_col,
                           args.psi_alert, args.max_drift_fraction, args.json)
        print(report["text"])
        return 0 if report["passed"] else 3
    require(args.components >= 2, "--components must be >= 2")
    corrected = []
    for spec in args.corrected:
        name, sep, path = spec.partition("=")
        require(bool(sep and name and path), f"--corrected takes NAME=FILE, got {spec!r}")
        corrected.append((name, path))
    report = _assess(args.matrix, args.samples, args.batch, args.label, corrected, args.components, args.picture,
                     args.json, args.sample_col, args.feature_col, args.seed)
    print(report["text"])
    return 0

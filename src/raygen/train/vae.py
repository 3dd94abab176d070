"""Train the conditional-VAE batch corrector (:mod:`raygen.models.cvae`) on Ray Train, and correct with it.

The driver standardises the cohort (per-feature training mean and SD) into ``DIR/train_data.npz``; every
``TorchTrainer`` worker loads it, takes its share of each epoch's shuffled samples and steps a DDP-wrapped
model. Rank 0 appends one JSON line per epoch to ``DIR/metrics.jsonl`` and reports a checkpoint (weights,
optimizer, epoch, training seconds) every ``checkpoint_every`` epochs and at the end, all through the
house's one Ray Train wrapper (:mod:`raygen.train.trainer`): a failed worker restarts the group from the
latest checkpoint, and ``--resume`` continues a killed run. ``time_limit_s``
counts training-loop seconds, carried across restarts. The model dir gets ``model.pt`` (weights),
``model.json`` (shape, features, batches, standardisation, covariate coding, reference batch) and a
model card ``README.md``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import ray.train.torch

from raygen.config import VaeConfig
from raygen.errors import InputError, UsageError
from raygen.train.trainer import (
    Scaling, any_rank, call_hooks, fit, prepare_model, rank_and_world, report, resume_checkpoint,
)

log = logging.getLogger("raygen.train.vae")
V = VaeConfig()
DATA_FILE = "train_data.npz"
METRICS_FILE = "metrics.jsonl"
STATE_DIR = "train_state"
RUN_NAME = "vae"
CKPT_FILE = "state.pt"


@dataclass
class VaeSpec:
    """Hyper-parameters of one training run (plain types: they travel to the workers)."""

    latent: int = V.latent
    hidden: int = V.hidden
    epochs: int = V.epochs
    batch_size: int = V.batch_size
    lr: float = V.lr
    weight_decay: float = V.weight_decay
    beta_kl: float = V.beta_kl
    kl_warmup_epochs: int = V.kl_warmup_epochs
    adversary_weight: float = V.adversary_weight
    dropout: float = V.dropout
    checkpoint_every: int = V.checkpoint_every
    time_limit_s: float | None = None
    seed: int = V.seed


@dataclass
class VaeData:
    """A standardised cohort, samples x features (float32), with batch and covariate codes."""

    x: np.ndarray
    mask: np.ndarray
    batch: np.ndarray  # (N,) int into batches
    cov: np.ndarray  # (N, C) one-hot of the covariates
    features: list[str]
    samples: list[str]
    batches: list[str]
    mean: np.ndarray  # (F,)
    sd: np.ndarray  # (F,)
    coding: list[tuple[str, list[str]]] = field(default_factory=list)  # covariate column -> levels
    ref: int = 0
    source: str = ""


def _one_hot_covariates(covariates: dict[str, list[str]], n: int, coding=None) -> tuple[np.ndarray, list]:
    blocks, out_coding = [], []
    for i, (col, values) in enumerate(covariates.items()):
        levels = sorted(set(values)) if coding is None else coding[i][1]
        unseen = sorted(set(values) - set(levels))
        if unseen:
            raise InputError(f"covariate {col!r}: level(s) {', '.join(unseen)} were not in the training cohort")
        blocks.append((np.asarray(values)[:, None] == np.asarray(levels)[None, :]).astype(np.float32))
        out_coding.append((col, list(levels)))
    return (np.hstack(blocks) if blocks else np.zeros((n, 0), np.float32)), out_coding


def data_from_arrays(y: np.ndarray, batch: list[str], covariates: dict[str, list[str]] | None = None,
                     ref_batch: str | None = None, features=None, samples=None, source: str = "") -> VaeData:
    """Standardise ``y`` (features x samples, NaN = missing) for training."""
    from raygen.cohort.design import factor_levels

    y = np.asarray(y, dtype=np.float64)
    batches = factor_levels([str(b) for b in batch])
    if len(batches) < 2:
        raise InputError("the batch column has a single level: nothing to correct")
    bidx = np.asarray([batches.index(str(b)) for b in batch])
    if ref_batch is None:
        ref = int(np.argmax(np.bincount(bidx)))
    elif str(ref_batch) in batches:
        ref = batches.index(str(ref_batch))
    else:
        raise UsageError(f"reference batch {ref_batch!r} is not one of {', '.join(batches)}")
    obs = ~np.isnan(y)
    if (obs.sum(axis=1) == 0).any():
        raise InputError(f"{int((obs.sum(axis=1) == 0).sum())} feature(s) have no observed value")
    mean = np.nanmean(y, axis=1)
    sd = np.nanstd(y, axis=1)
    sd[~(sd > 0)] = 1.0
    x = np.where(obs, (y - mean[:, None]) / sd[:, None], 0.0).T.astype(np.float32)
    cov, coding = _one_hot_covariates(covariates or {}, y.shape[1])
    return VaeData(x, obs.T.astype(np.float32), bidx, cov, list(features or range(y.shape[0])),
                   list(samples or range(y.shape[1])), batches, mean, sd, coding, ref, source)


def data_from_files(matrix: str, sheet_path: str, batch: str, covariates: list[str], ref_batch: str | None,
                    sample_col: str | None, feature_col: str | None) -> VaeData:
    from raygen.cohort.matrix import align_sheet, read_matrix, read_sheet

    sheet = read_sheet(sheet_path)
    m = read_matrix(matrix, feature_col, known_samples=[v for col in sheet.values() for v in col])
    aligned = align_sheet(sheet, m.samples, sample_col, path=sheet_path)
    for col in [batch, *covariates]:
        if col not in aligned:
            raise UsageError(f"{sheet_path}: no column {col!r} (columns: {', '.join(aligned)})")
    return data_from_arrays(m.values, aligned[batch], {c: aligned[c] for c in covariates}, ref_batch,
                            m.features, m.samples, source=str(Path(matrix).resolve()))


# ----------------------------------------------------------------------------------------------- worker


def _complete(d: Path) -> bool:
    return (d / CKPT_FILE).is_file() and (d / CKPT_FILE).stat().st_size > 0


def train_loop_per_worker(config: dict) -> None:
    """Ray Train entry point: epochs of shuffled minibatches until ``epochs`` or the time budget."""
    import torch

    from raygen.models.cvae import ConditionalVAE, CvaeShape

    spec = VaeSpec(**config["spec"])
    out = Path(config["out_dir"])
    rank, world = rank_and_world()
    device = ray.train.torch.get_device()
    torch.manual_seed(spec.seed)
    d = np.load(out / DATA_FILE)
    x, mask, b, cov = (torch.from_numpy(d[k]) for k in ("x", "mask", "batch", "cov"))
    b = b.long()
    net = ConditionalVAE(CvaeShape(**config["shape"]))
    opt = torch.optim.AdamW(net.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    epoch, train_s = 0, 0.0
    with resume_checkpoint(out / STATE_DIR / RUN_NAME, _complete) as ckpt:
        if ckpt is not None:
            state = torch.load(ckpt / CKPT_FILE, map_location="cpu", weights_only=False)
            net.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            epoch, train_s = state["epoch"], state["train_s"]
    model, core = prepare_model(net)
    metrics_fh = open(out / METRICS_FILE, "a", encoding="utf-8") if rank == 0 else None
    if metrics_fh and epoch:
        metrics_fh.write(json.dumps({"event": "resumed", "epoch": epoch, "train_s": round(train_s, 2)}) + "\n")
    n = x.shape[0]
    per_rank = -(-n // world)
    steps = max(1, -(-per_rank // spec.batch_size))

    def save(final: bool, metrics: dict) -> None:
        def write(folder: Path) -> None:
            torch.save({"model": core.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                        "train_s": train_s}, folder / CKPT_FILE)

        report({**metrics, "final": final}, write if rank == 0 else None,
               f"epoch_{epoch:06d}{'_final' if final else ''}")

    last: dict = {"epoch": epoch, "train_s": train_s}
    while not any_rank(epoch >= spec.epochs or (spec.time_limit_s is not None and train_s >= spec.time_limit_s),
                       device, world):  # all ranks stop at the same epoch, or DDP would hang
        call_hooks("epoch", epoch=epoch + 1)
        t0 = time.perf_counter()
        model.train()
        perm = torch.from_numpy(np.random.default_rng((spec.seed, epoch)).permutation(n))
        mine = perm[rank::world]
        mine = torch.cat([mine, perm[: per_rank - mine.numel()]]) if mine.numel() < per_rank else mine
        kl_w = spec.beta_kl * min(1.0, (epoch + 1) / max(1, spec.kl_warmup_epochs))
        sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0, "adversary": 0.0, "adversary_acc": 0.0}
        for s in range(steps):
            idx = mine[s * spec.batch_size:(s + 1) * spec.batch_size]
            if idx.numel() < 2:
                idx = mine[-2:]
            terms = model(x[idx].to(device), mask[idx].to(device), b[idx].to(device), cov[idx].to(device),
                          kl_w, spec.adversary_weight)
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            for k in sums:
                sums[k] += float(terms[k].detach()) / steps
        epoch += 1
        train_s += time.perf_counter() - t0
        last = {"epoch": epoch, "train_s": round(train_s, 3), **{k: round(v, 5) for k, v in sums.items()}}
        if metrics_fh:
            metrics_fh.write(json.dumps(last) + "\n")
            metrics_fh.flush()
        if epoch % spec.checkpoint_every == 0 and epoch < spec.epochs:
            save(False, last)
    save(True, last)
    if metrics_fh:
        metrics_fh.close()


# ----------------------------------------------------------------------------------------------- driver


def _progress(path: Path, spec: VaeSpec, done: threading.Event, quiet: bool) -> None:
    from tqdm import tqdm

    timed = spec.time_limit_s is not None
    bar = tqdm(total=spec.epochs, unit="epoch", desc="vae-train", disable=quiet, dynamic_ncols=True)
    pos = path.stat().st_size if path.exists() else 0
    while True:
        finished = done.wait(1.0)
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                fh.seek(pos)
                lines = fh.read().split("\n")
                pos = fh.tell() - len(lines[-1])
            for line in lines[:-1]:
                rec = json.loads(line)
                if "loss" in rec:
                    bar.n = rec["epoch"]
                    bar.set_postfix(loss=f"{rec['loss']:.3f}", recon=f"{rec['recon']:.3f}",
                                    adv_acc=f"{rec['adversary_acc']:.2f}",
                                    t=f"{rec['train_s']:.0f}s" + (f"/{spec.time_limit_s:.0f}s" if timed else ""))
                    bar.refresh()
                elif rec.get("event") == "resumed":
                    bar.write(f"resumed from the checkpoint at epoch {rec['epoch']}")
        if finished:
            break
    bar.close()


def train(data: VaeData, spec: VaeSpec, out_dir: str, *, workers: int = V.workers, cpus_per_worker: float = V.cpus_per_worker,
          gpus_per_worker: float = V.gpus_per_worker, resume: bool = False, quiet: bool = False,
          covariate_names: list[str] | None = None) -> dict:
    """Train on the current Ray cluster and write the model dir; returns the final metrics."""
    from raygen.models.cvae import CvaeShape

    out = Path(out_dir).resolve()
    if (out / STATE_DIR / RUN_NAME).exists() and not resume:  # before the data file is overwritten
        raise UsageError(f"{out} already holds a VAE run: pass --resume to continue it, or choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    if not (resume and (out / DATA_FILE).exists()):
        np.savez(out / DATA_FILE, x=data.x, mask=data.mask, batch=data.batch, cov=data.cov)
    shape = CvaeShape(data.x.shape[1], len(data.batches), data.cov.shape[1], spec.latent, spec.hidden, spec.dropout)
    config = {"spec": asdict(spec), "shape": shape.to_dict(), "out_dir": str(out)}
    t0 = time.time()
    result = fit(train_loop_per_worker, config, name=RUN_NAME, label="VAE training",
                 scaling=Scaling(workers, cpus_per_worker, gpus_per_worker), storage_dir=out / STATE_DIR,
                 resume=resume, max_failures=V.max_failures, keep_checkpoints=2,
                 progress=lambda done: _progress(out / METRICS_FILE, spec, done, quiet))
    summary = dict(result.metrics)
    summary["wall_s"] = round(time.time() - t0, 1)
    summary["ref_batch"] = data.batches[data.ref]
    _export(result.checkpoint, out, data, spec, shape, summary, workers)
    return summary


def _export(ckpt: Path, out: Path, data: VaeData, spec: VaeSpec, shape, summary: dict, workers: int) -> None:
    """model.pt, model.json and README.md, each written beside and renamed (model.json last)."""
    import torch

    from raygen.train.card import git_commit

    state = torch.load(ckpt / CKPT_FILE, map_location="cpu", weights_only=False)
    meta = {"shape": shape.to_dict(), "features": [str(f) for f in data.features], "batches": data.batches,
            "batch_sizes": np.bincount(data.batch, minlength=len(data.batches)).tolist(),
            "ref_batch": data.batches[data.ref], "mean": data.mean.tolist(), "sd": data.sd.tolist(),
            "coding": data.coding, "spec": asdict(spec), "metrics": summary, "source": data.source,
            "samples": len(data.samples), "workers": workers, "git_commit": git_commit()}
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        torch.save(state["model"], tmp / "model.pt")
        (tmp / "README.md").write_text(model_card(meta), encoding="utf-8")
        (tmp / "model.json").write_text(json.dumps(meta), encoding="utf-8")
        for name in ("model.pt", "README.md", "model.json"):
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def model_card(meta: dict) -> str:
    s, m = meta["spec"], meta["metrics"]
    batches = "\n".join(f"| {b} | {n} |" for b, n in zip(meta["batches"], meta["batch_sizes"]))
    covs = ", ".join(f"{c} ({', '.join(lv)})" for c, lv in meta["coding"]) or "none"
    return f"""# raygen conditional-VAE batch corrector

Trained with `raygen cohort vae-train` (Ray Train, {meta['workers']} worker(s)); apply it with
`raygen cohort vae-correct MATRIX --samples SHEET --batch COL --model DIR -o OUT`, which decodes every
sample as if it came from batch **{meta['ref_batch']}** (or `--ref-batch`).

## Data
- Matrix: `{meta['source'] or 'in-memory arrays'}`: {len(meta['features'])} features x {meta['samples']} samples,
  standardised per feature with the training mean and SD (kept in `model.json`).
- Covariates given to the decoder: {covs}

| batch | samples |
|---|---|
{batches}

## Model and training
- Encoder and decoder: two hidden layers of {meta['shape']['hidden']} (LayerNorm, SiLU, dropout {meta['shape']['dropout']}),
  latent {meta['shape']['latent']}; Gaussian likelihood with a variance per (batch, feature); batch adversary on the
  latent through gradient reversal (weight {s['adversary_weight']}).
- {m.get('epoch')} epochs of {s['epochs']} in {m.get('train_s', 0):.0f} s of training (wall {m.get('wall_s', 0):.0f} s);
  AdamW lr {s['lr']}, weight decay {s['weight_decay']}, batch {s['batch_size']} per worker, KL weight {s['beta_kl']}
  (warm-up {s['kl_warmup_epochs']} epochs){f", time limit {s['time_limit_s']:.0f} s" if s['time_limit_s'] else ''}; seed {s['seed']}.

## Final training metrics (last epoch, averaged over its minibatches)
| metric | value |
|---|---|
| loss | {m.get('loss', float('nan')):.4f} |
| reconstruction (Gaussian NLL per feature) | {m.get('recon', float('nan')):.4f} |
| KL per feature | {m.get('kl', float('nan')):.4f} |
| adversary cross-entropy | {m.get('adversary', float('nan')):.4f} |
| adversary accuracy (batch from latent; chance ~ {max(meta['batch_sizes']) / sum(meta['batch_sizes']):.2f}) | {m.get('adversary_acc', float('nan')):.3f} |

How well it mixes batches and keeps biology is measured by `raygen cohort assess` (kBET, LISI, ASW,
classifier AUROC) and `benchmarks/batch_correction.py`, not by these training losses.

## Provenance
- raygen git commit {meta['git_commit']}
"""


# ----------------------------------------------------------------------------------------------- correct


def load_vae(model_dir: str):
    import torch

    from raygen.models.cvae import ConditionalVAE, CvaeShape

    d = Path(model_dir)
    if not (d / "model.json").is_file() or not (d / "model.pt").is_file():
        raise InputError(f"{model_dir}: not a VAE model dir (needs model.json and model.pt from `vae-train`)")
    meta = json.loads((d / "model.json").read_text())
    model = ConditionalVAE(CvaeShape(**meta["shape"]))
    model.load_state_dict(torch.load(d / "model.pt", map_location="cpu", weights_only=True))
    model.eval()
    return model, meta


def correct_arrays(model_dir: str, y: np.ndarray, batch: list[str], covariates: dict[str, list[str]] | None = None,
                   ref_batch: str | None = None, mode: str = V.correct_mode, chunk: int = 1024) -> np.ndarray:
    """Corrected ``y`` (features x samples); NaN stays NaN. ``mode`` "decode": the posterior mean decoded as
    the reference batch (denoised); "residual": the sample itself minus the decoder's batch difference,
    ``x + dec(z, ref) - dec(z, own batch)`` (keeps the sample's own residual, as ComBat does)."""
    if mode not in ("decode", "residual"):
        raise UsageError(f"unknown correction mode {mode!r} (decode or residual)")
    import torch

    from raygen.cohort.design import match_batches

    model, meta = load_vae(model_dir)
    y = np.asarray(y, dtype=np.float64)
    if y.shape[0] != len(meta["features"]):
        raise InputError(f"the matrix has {y.shape[0]} features, the model {len(meta['features'])}")
    bidx = match_batches(batch, meta["batches"])
    ref = meta["ref_batch"] if ref_batch is None else str(ref_batch)
    if ref not in meta["batches"]:
        raise UsageError(f"reference batch {ref!r} is not one of the model's batches ({', '.join(meta['batches'])})")
    cov, _ = _one_hot_covariates({c: (covariates or {})[c] for c, _ in meta["coding"]}, y.shape[1], meta["coding"])
    mean, sd = np.asarray(meta["mean"]), np.asarray(meta["sd"])
    obs = ~np.isnan(y)
    x = np.where(obs, (y - mean[:, None]) / sd[:, None], 0.0).T.astype(np.float32)
    out = np.empty_like(x)
    with torch.no_grad():
        for lo in range(0, x.shape[0], chunk):
            sl = slice(lo, lo + chunk)
            xs, bs, cs = torch.from_numpy(x[sl]), torch.from_numpy(bidx[sl]).long(), torch.from_numpy(cov[sl])
            out[sl] = model.correct(xs, bs, cs, meta["batches"].index(ref)).numpy()
            if mode == "residual":
                own = model.decode(model.encode(xs, bs)[0], bs, cs).numpy()
                out[sl] += np.where(obs.T[sl], x[sl] - own, 0.0)
    res = out.T.astype(np.float64) * sd[:, None] + mean[:, None]
    res[~obs] = np.nan
    return res


def correct_file(model_dir: str, matrix: str, sheet_path: str, batch: str, out: str, ref_batch: str | None,
                 sample_col: str | None, feature_col: str | None, mode: str = V.correct_mode) -> dict:
    from raygen.cohort.matrix import MatrixWriter, align_sheet, read_matrix, read_sheet

    _, meta = load_vae(model_dir)
    sheet = read_sheet(sheet_path)
    m = read_matrix(matrix, feature_col, known_samples=[v for col in sheet.values() for v in col])
    if m.features != meta["features"]:
        raise InputError(f"{matrix}: its features are not the model's ({len(m.features)} vs {len(meta['features'])}, "
                         "or in another order)")
    aligned = align_sheet(sheet, m.samples, sample_col, path=sheet_path)
    if batch not in aligned:
        raise UsageError(f"{sheet_path}: no column {batch!r}")
    for c, _ in meta["coding"]:
        if c not in aligned:
            raise UsageError(f"{sheet_path}: the model needs covariate column {c!r}")
    res = correct_arrays(model_dir, m.values, aligned[batch], {c: aligned[c] for c, _ in meta["coding"]}, ref_batch,
                         mode)
    with MatrixWriter(out, m.layout, m.samples) as w:
        w.write(m.features, res)
    return {"features": len(m.features), "samples": len(m.samples), "ref_batch": ref_batch or meta["ref_batch"]}


@dataclass
class VaeJob:
    """``raygen cohort vae-train`` arguments."""

    matrix: str
    sheet: str
    batch: str
    out_dir: str
    covariates: list[str] = field(default_factory=list)
    ref_batch: str | None = None
    sample_col: str | None = None
    feature_col: str | None = None
    spec: VaeSpec = field(default_factory=VaeSpec)


def train_vae(job: VaeJob, *, workers: int, cpus_per_worker: float, gpus_per_worker: float, resume: bool,
              quiet: bool) -> dict:
    data = data_from_files(job.matrix, job.sheet, job.batch, job.covariates, job.ref_batch, job.sample_col,
                           job.feature_col)
    s = train(data, job.spec, job.out_dir, workers=workers, cpus_per_worker=cpus_per_worker,
              gpus_per_worker=gpus_per_worker, resume=resume, quiet=quiet)
    return {"epochs": s.get("epoch", 0), "train_s": s.get("train_s", 0.0), "loss": s.get("loss", float("nan")),
            "recon": s.get("recon", float("nan")), "kl": s.get("kl", float("nan")), "ref_batch": s["ref_batch"]}

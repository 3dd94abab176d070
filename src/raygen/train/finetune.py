"""Variant-effect head fine-tuning: frozen base model features, a small head trained with Ray Train.

Steps: (1) read and check the labels (:mod:`raygen.train.labels`); (2) run the frozen base model once per
distinct SNV window through :func:`raygen.scoring.masked.masked_site_outputs` and build
:func:`raygen.models.head.head_features`; (3) split train/validation by genomic region; (4) train a
:class:`~raygen.models.head.VariantHead` in a one-worker ``TorchTrainer`` with early stopping on
validation AUROC, then fit a temperature on validation; (5) write a copy of the base model dir with the
head inside, so ``raygen score --model OUT`` adds ``RAYGEN_PROB``.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from raygen.config import FinetuneConfig
from raygen.errors import InputError
from raygen.io.atomic import atomic_dir
from raygen.io.fasta import Reference
from raygen.models.head import VariantHead, head_features
from raygen.models.load import load_model
from raygen.scoring.masked import masked_site_outputs
from raygen.train.labels import LabelTable, read_labels, region_split
from raygen.train.metrics import auprc, auroc, spearman
from raygen.train.trainer import Scaling, call_hooks, fit, report

log = logging.getLogger("raygen.train.finetune")
HISTORY_FILE = "finetune_history.jsonl"
REJECTS_FILE = "labels_rejects.tsv"
#: Files of a pretraining run that a fine-tuned copy does not need.
_SKIP_FROM_BASE = {"train_state", "metrics.jsonl", "variant_head.safetensors", "variant_head.json", HISTORY_FILE,
                   REJECTS_FILE}


def snv_features(loaded, reference, chrom: np.ndarray, pos: np.ndarray, ref: np.ndarray, alt: np.ndarray,
                 window: int) -> tuple[np.ndarray, np.ndarray]:
    """(features [B, F], llr [B]) for SNVs at 1-based ``pos``, from ``window``-bp reference windows.

    Window placement follows the scoring contract: 0-based start ``pos - 1 - window // 2``, variant at index
    ``window // 2``; contig edges are padded with N.
    """
    half = window // 2
    windows = [reference.fetch(c, p - 1 - half, p - 1 - half + window) for c, p in zip(chrom, pos)]
    logp, hidden = masked_site_outputs(loaded, windows, half)
    ref_i = np.array(["ACGT".index(b) for b in ref])
    alt_i = np.array(["ACGT".index(b) for b in alt])
    feats = head_features(logp, hidden, ref_i, alt_i)
    rows = np.arange(len(ref_i))
    return feats, logp[rows, alt_i] - logp[rows, ref_i]


def classification_metrics(y: np.ndarray, p: np.ndarray, score: np.ndarray | None = None) -> dict:
    """AUROC, AUPRC, log loss and Brier score of probabilities ``p``; Spearman vs ``score`` when given."""
    eps = 1e-7
    pc = np.clip(p, eps, 1 - eps)
    out = {"n": int(len(y)), "positives": int(y.sum()), "auroc": auroc(y, p), "auprc": auprc(y, p),
           "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
           "brier": float(np.mean((p - y) ** 2))}
    if score is not None and np.isfinite(score).sum() > 2:
        ok = np.isfinite(score)
        out["spearman_score"] = spearman(p[ok], score[ok])
    return out


def fit_temperature(logits: np.ndarray, y: np.ndarray, t_range: tuple[float, float] = FinetuneConfig.temperature_range,
                    steps: int = FinetuneConfig.temperature_steps) -> float:
    """Temperature T in ``t_range`` minimising the log loss of ``sigmoid(logits / T)`` (log-spaced grid of ``steps``)."""
    grid = np.exp(np.linspace(math.log(t_range[0]), math.log(t_range[1]), steps))
    z = logits[None, :] / grid[:, None]
    # log(1 + exp(-z)) for y=1, log(1 + exp(z)) for y=0, computed stably.
    nll = np.where(y[None, :] == 1, np.logaddexp(0, -z), np.logaddexp(0, z)).mean(axis=1)
    return float(grid[int(np.argmin(nll))])


def head_train_loop(config: dict) -> None:
    """Ray Train worker: train the head with early stopping, fit the temperature, report a checkpoint."""
    cfg: FinetuneConfig = config["cfg"]
    x_tr, y_tr = np.asarray(config["x_train"], np.float32), np.asarray(config["y_train"], np.float32)
    x_va, y_va = np.asarray(config["x_val"], np.float32), np.asarray(config["y_val"], np.float32)
    torch.manual_seed(cfg.seed)
    head = VariantHead(x_tr.shape[1], cfg.hidden_units)
    head.set_standardization(x_tr)
    best, history = _train_with_early_stopping(head, cfg, x_tr, y_tr, x_va, y_va)
    with torch.no_grad():
        val_logits = head(torch.from_numpy(x_va)).numpy()
    head.temperature.fill_(fit_temperature(val_logits.astype(np.float64), y_va, cfg.temperature_range,
                                           cfg.temperature_steps))

    def save(d: Path) -> None:
        save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(d / "head.safetensors"))
        (d / "history.json").write_text(json.dumps(history))

    report({"epochs_run": len(history), "best_val_auroc": best, "temperature": float(head.temperature)}, save)


def _train_with_early_stopping(head: VariantHead, cfg: FinetuneConfig, x_tr: np.ndarray, y_tr: np.ndarray,
                               x_va: np.ndarray, y_va: np.ndarray) -> tuple[float, list[dict]]:
    """Train ``head`` until validation AUROC stops improving (``patience`` epochs), then restore its best
    epoch's weights and leave it in eval mode. Returns (best validation AUROC, one record per epoch)."""
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # Plain BCE (no class re-weighting): the logits keep the real base rate, so a temperature alone can
    # calibrate them; re-weighting would shift every logit and temperature scaling cannot undo a shift.
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt, yt, xv = torch.from_numpy(x_tr), torch.from_numpy(y_tr), torch.from_numpy(x_va)
    gen = torch.Generator().manual_seed(cfg.seed)
    best, best_state, bad = -1.0, None, 0
    history = []
    for epoch in range(1, cfg.epochs + 1):
        call_hooks("epoch", epoch=epoch)
        head.train()
        total = 0.0
        for idx in torch.randperm(len(xt), generator=gen).split(cfg.batch_size):
            loss = loss_fn(head(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        head.eval()
        with torch.no_grad():
            val_auc = auroc(y_va, head(xv).numpy())
        history.append({"epoch": epoch, "train_loss": total / len(xt), "val_auroc": val_auc})
        if (np.isfinite(val_auc) and val_auc > best + cfg.min_improvement) or best_state is None:
            best, bad = (val_auc if np.isfinite(val_auc) else best), 0
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
        else:
            bad += 1
        if bad >= cfg.patience:
            break
    head.load_state_dict(best_state)
    head.eval()
    return best, history


def train_head(x_train, y_train, x_val, y_val, cfg: FinetuneConfig, storage: Path):
    """Train a :class:`VariantHead` in a one-worker Ray Train run; returns (head, history)."""
    config = {"cfg": cfg, "x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}
    result = fit(head_train_loop, config, name="finetune", label="head training",
                 scaling=Scaling(workers=1, cpus_per_worker=cfg.cpus), storage_dir=storage)
    head = VariantHead(x_train.shape[1], cfg.hidden_units)
    head.load_state_dict(load_file(str(result.checkpoint / "head.safetensors")))
    history = json.loads((result.checkpoint / "history.json").read_text())
    head.eval()
    return head, history


def copy_base(base: str, loaded, dest: Path) -> None:
    """Put the base model into ``dest``: copy a local dir (minus training leftovers) or save a hub model."""
    src = Path(base).expanduser()
    if src.is_dir():
        shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if n in _SKIP_FROM_BASE or n.startswith(".")],
                        dirs_exist_ok=True)
    else:
        loaded.model.save_pretrained(dest)
        loaded.tokenizer.save_pretrained(dest)


def run_finetune(base: str, labels: str, reference: str, out: str, cfg: FinetuneConfig = FinetuneConfig(), *,
                 window: int, skip_mismatches: bool = False, device: str = "auto", revision: str | None = None,
                 trust_remote_code: bool = False) -> dict:
    """Fine-tune a head on ``labels`` and write ``out`` (base model + head). Returns the summary dict.

    ``window``: reference bases around each SNV, as the scorer will use them; the rest of the recipe
    (split, head, optimizer, early stopping, calibration) is ``cfg``.
    """
    loaded = load_model(base, revision=revision, trust_remote_code=trust_remote_code, device=device)
    if loaded.kind != "mlm":
        raise InputError(f"{base!r} is a causal LM: the variant head needs a masked LM's masked-site outputs")
    with Reference(reference) as ref:
        table = read_labels(labels, ref, skip_mismatches=skip_mismatches)
        log.info("labels: %d SNVs (%d positive), %d rows skipped", len(table), int(table.label.sum()), len(table.rejects))
        feats, llr = snv_features(loaded, ref, table.chrom, table.pos, table.ref, table.alt, window)
    tr, va = region_split(table, cfg.region_bp, cfg.val_fraction, cfg.seed)
    for name, idx in (("training", tr), ("validation", va)):
        if len(np.unique(table.label[idx])) < 2:
            raise InputError(f"the {name} split has only one class ({len(idx)} variants); add labelled variants of "
                             "both classes in more regions, or change --region-bp/--val-fraction")
    with tempfile.TemporaryDirectory(prefix="raygen-finetune-") as storage:
        head, history = train_head(feats[tr], table.label[tr], feats[va], table.label[va], cfg, Path(storage))
    summary = {"base_model": base, "labels": str(labels), "reference": str(reference), "window": window,
               **_split_metrics(table, tr, va, head, feats, llr, cfg), "epochs_run": len(history)}
    with atomic_dir(Path(out).resolve()) as tmp:
        copy_base(base, loaded, tmp)
        head.save(tmp, {"base_model": base, "window": window, "metrics": summary})
        with open(tmp / HISTORY_FILE, "w") as fh:
            fh.writelines(json.dumps(h) + "\n" for h in history)
        if table.rejects:
            with open(tmp / REJECTS_FILE, "w") as fh:
                fh.write("line\treason\trow\n")
                fh.writelines(f"{ln}\t{why}\t{raw}\n" for ln, why, raw in table.rejects)
        _append_card(tmp / "README.md", summary)
    return summary


def _split_metrics(table: LabelTable, tr: np.ndarray, va: np.ndarray, head: VariantHead, feats: np.ndarray,
                   llr: np.ndarray, cfg: FinetuneConfig) -> dict:
    """The summary's split, row counts, temperature and metrics: head on both splits, zero-shot LLR on validation."""
    y, score = table.label, table.score
    reasons = [x[1] for x in table.rejects]
    return {
        "split": {"by": f"genomic region ({cfg.region_bp} bp)", "train_variants": int(len(tr)), "val_variants": int(len(va))},
        "rows": {"used": len(table), "skipped": len(table.rejects),
                 "skipped_by_reason": {r: reasons.count(r) for r in set(reasons)}},
        "temperature": float(head.temperature),
        "train": classification_metrics(y[tr], head.predict_proba(feats[tr]), None if score is None else score[tr]),
        "validation": classification_metrics(y[va], head.predict_proba(feats[va]), None if score is None else score[va]),
        "validation_zero_shot": {"auroc_neg_llr": auroc(y[va], -llr[va]), "auroc_abs_llr": auroc(y[va], np.abs(llr[va]))},
    }


def _append_card(path: Path, s: dict) -> None:
    v, z = s["validation"], s["validation_zero_shot"]
    text = path.read_text() if path.exists() else "# raygen model with a variant-effect head\n"
    text += f"""
## Variant-effect head (`raygen train finetune`)
- Labels: `{s['labels']}` ({s['rows']['used']} SNVs used, {s['rows']['skipped']} rows skipped); window {s['window']} bp.
- Split {s['split']['by']}: {s['split']['train_variants']} training, {s['split']['val_variants']} validation variants.
- Validation: AUROC {v['auroc']:.4f}, AUPRC {v['auprc']:.4f}, log loss {v['log_loss']:.4f} (temperature {s['temperature']:.3f}){'' if 'spearman_score' not in v else f", Spearman vs score {v['spearman_score']:.4f}"}.
- Zero-shot on the same validation variants: AUROC(-LLR) {z['auroc_neg_llr']:.4f}, AUROC(|LLR|) {z['auroc_abs_llr']:.4f}.
- `raygen score --model DIR` reports the calibrated probability as `RAYGEN_PROB` beside `RAYGEN_LLR`.
"""
    path.write_text(text)

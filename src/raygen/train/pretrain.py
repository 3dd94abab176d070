"""DNA-LM pretraining with Ray Train: the per-worker loop, the driver, and export to an HF model dir.

Each ``TorchTrainer`` worker reads the FASTA itself, samples random windows from the training blocks,
masks them (MLM) or predicts the next base (CLM) and steps a DDP-wrapped stock transformers model. Rank 0
appends one JSON line per step to ``metrics.jsonl``, scores the held-out blocks at every checkpoint and
saves checkpoints (``save_pretrained`` weights + optimizer state) through ``ray.train.report``. After a
worker dies, Ray Train restarts the group (``FailureConfig``) and every worker resumes from the latest
checkpoint; rerunning the command with ``--resume`` does the same for a killed job.

Time budget: ``time_limit_s`` counts training-loop seconds (carried across restarts in the checkpoint).
The learning rate follows warm-up then cosine decay over whichever runs out first, steps or time, so a
time-limited run anneals fully before it stops.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from raygen.config import PretrainConfig
from raygen.train.trainer import Scaling, call_hooks, fit, prepare_model, rank_and_world, report, resume_checkpoint

log = logging.getLogger("raygen.train.pretrain")

METRICS_FILE = "metrics.jsonl"
STATE_DIR = "train_state"  # Ray Train storage (checkpoints) inside the output dir
RUN_NAME = "pretrain"
TRAIN_STATE_FILE = "train_state.pt"


@dataclass
class PretrainJob:
    """One pretraining run: the FASTA and the regions to train and validate on (0-based half-open), the output
    dir and the recipe. It travels to the workers as it is."""

    reference: str
    out_dir: str
    train_regions: list[tuple[str, int, int]]
    val_regions: list[tuple[str, int, int]]
    config: PretrainConfig = field(default_factory=PretrainConfig)


# ----------------------------------------------------------------------------------------------- worker


def _lr_factor(progress: float, warmup: float, start: float) -> float:
    if progress < warmup:
        return max(progress / warmup, start)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / max(1e-9, 1 - warmup))))


def _is_complete(d: Path) -> bool:
    """A checkpoint dir with weights and training state both written."""
    return all((d / f).is_file() and (d / f).stat().st_size > 0 for f in ("config.json", "model.safetensors", TRAIN_STATE_FILE))


def validation_bits(model, job: PretrainJob, val_seqs: list[np.ndarray], device) -> float | None:
    """Bits per base on the held-out blocks: masked-base (MLM) or next-base (CLM); None without any."""
    from raygen.train.evaluate import clm_bits, make_eval_set, model_bits

    ev = make_eval_set(val_seqs, job.config.context, max_windows=job.config.val_windows, seed=job.config.seed)
    if len(ev.rows) == 0:
        return None
    if job.config.objective == "clm":
        return clm_bits(model, ev.windows, device=device)
    return model_bits(model, ev, device=device)


def train_loop_per_worker(config: dict) -> None:
    """Ray Train entry point: train until ``steps`` or the time budget, checkpointing as it goes."""
    import ray.train
    import ray.train.torch
    import torch

    from raygen.models.arch import build_model
    from raygen.models.tokenizer import BASE_OFFSET, build_nucleotide_tokenizer
    from raygen.train.windows import Region, WindowSampler, load_sequences, mask_for_mlm, to_token_ids

    job: PretrainJob = config["job"]
    c = job.config
    rank, world = rank_and_world()
    device = ray.train.torch.get_device()
    torch.manual_seed(job.config.seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)

    model = build_model(job.config.arch, job.config.objective, build_nucleotide_tokenizer())
    step, train_s, tokens_seen = 0, 0.0, 0
    opt_state = None
    with resume_checkpoint(Path(job.out_dir) / STATE_DIR / RUN_NAME, _is_complete) as d:
        if d is not None:
            from safetensors.torch import load_file

            model.load_state_dict(load_file(str(d / "model.safetensors")), strict=False)
            state = torch.load(d / TRAIN_STATE_FILE, map_location="cpu", weights_only=False)
            step, train_s, tokens_seen, opt_state = state["step"], state["train_s"], state["tokens"], state["optimizer"]
    model, core = prepare_model(model)
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay, betas=c.adam_betas, eps=c.adam_eps)
    if opt_state is not None:
        opt.load_state_dict(opt_state)

    train_seqs = load_sequences(job.reference, [Region(*r) for r in job.train_regions])
    val_seqs = load_sequences(job.reference, [Region(*r) for r in job.val_regions]) if rank == 0 else []
    # A different stream per rank and per restart, so a resumed run does not replay the same windows.
    sampler = WindowSampler(train_seqs, job.config.context, max_n_fraction=job.config.max_n_fraction, seed=(job.config.seed, rank, step))
    rng = np.random.default_rng((job.config.seed, rank, step, 1))
    metrics_path = Path(job.out_dir) / METRICS_FILE
    metrics_fh = open(metrics_path, "a", encoding="utf-8") if rank == 0 else None
    if metrics_fh and step > 0:
        metrics_fh.write(json.dumps({"event": "resumed", "step": step, "train_s": round(train_s, 2)}) + "\n")
        metrics_fh.flush()
    use_amp = c.mixed_precision and device.type == "cuda"

    def save_and_report(final: bool) -> None:
        metrics = {"step": step, "train_s": train_s, "tokens": tokens_seen, "final": final}
        if rank == 0:
            val = validation_bits(core, job, val_seqs, device)
            core.train()
            metrics["val_bits_per_base"] = val
            metrics_fh.write(json.dumps({"event": "validation", **metrics}) + "\n")
            metrics_fh.flush()

            def save(d: Path) -> None:
                core.save_pretrained(d)
                torch.save({"step": step, "train_s": train_s, "tokens": tokens_seen, "optimizer": opt.state_dict()},
                           d / TRAIN_STATE_FILE)

            report(metrics, save, name=f"step_{step:08d}{'_final' if final else ''}")
        else:
            report(metrics)

    model.train()
    while True:
        stop = step >= job.config.steps or (job.config.time_limit_s is not None and train_s >= job.config.time_limit_s)
        if world > 1:  # every rank must agree to stop at the same step, or DDP would hang
            flag = torch.tensor([float(stop)], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            stop = bool(flag.item())
        if stop:
            break
        call_hooks("step", step=step)
        t0 = time.perf_counter()
        progress = step / job.config.steps
        if job.config.time_limit_s:
            progress = max(progress, train_s / job.config.time_limit_s)
        for g in opt.param_groups:
            g["lr"] = job.config.lr * _lr_factor(progress, c.warmup_fraction, c.warmup_start_factor)
        ids = to_token_ids(sampler.sample(job.config.batch_size))
        if job.config.objective == "mlm":
            inputs, labels = mask_for_mlm(ids, rng, job.config.mask_prob)
        else:
            inputs, labels = ids, np.where(ids >= BASE_OFFSET, ids, -100)  # predict bases only, never [SEP]
        x = torch.from_numpy(inputs).to(device)
        y = torch.from_numpy(labels).to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = model(input_ids=x, attention_mask=torch.ones_like(x), labels=y).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip_norm)
        opt.step()
        loss_v = float(loss.detach())
        dt = time.perf_counter() - t0
        step += 1
        train_s += dt
        tokens_seen += ids.size * world
        if metrics_fh:
            metrics_fh.write(json.dumps({
                "step": step, "loss": round(loss_v, 5), "bits_per_base": round(loss_v / math.log(2), 5),
                "tokens_per_s": round(ids.size * world / dt, 1), "lr": opt.param_groups[0]["lr"],
                "train_s": round(train_s, 2), "time": round(time.time(), 2)}) + "\n")
            metrics_fh.flush()
        if step % job.config.checkpoint_every == 0 and step < job.config.steps:
            save_and_report(final=False)
    save_and_report(final=True)
    if metrics_fh:
        metrics_fh.close()


# ----------------------------------------------------------------------------------------------- driver


def plan_regions(reference: str, bed: str | None, contigs: list[str] | None, block_bp: int,
                 val_fraction: float, seed: int):
    """(all regions, train blocks, validation blocks) for a FASTA, optionally limited by a BED or contigs."""
    from raygen.io.fasta import Reference
    from raygen.train.windows import read_bed, split_blocks, whole_genome

    with Reference(reference) as ref:
        regions = read_bed(bed, ref) if bed else whole_genome(ref, contigs)
        if bed and contigs:
            regions = [r for r in regions if r.chrom in contigs]
    train, val = split_blocks(regions, block_bp, val_fraction, seed)
    return regions, train, val


def _progress(metrics_path: Path, job: PretrainJob, quiet: bool, done: threading.Event) -> None:
    """Follow ``metrics.jsonl`` and show a tqdm bar (steps, loss, bits/base, tokens/s) until ``done``."""
    from tqdm import tqdm

    # With a time budget the bar counts training seconds (steps/s is unknown up front), else steps.
    timed = job.config.time_limit_s is not None
    bar = tqdm(total=round(job.config.time_limit_s) if timed else job.config.steps, unit="s" if timed else "step",
               desc="pretrain", disable=quiet, dynamic_ncols=True)
    pos = metrics_path.stat().st_size if metrics_path.exists() else 0
    buf = ""
    while True:
        finished = done.wait(1.0)
        if metrics_path.exists():
            with open(metrics_path, encoding="utf-8") as fh:
                fh.seek(pos)
                buf += fh.read()
                pos = fh.tell()
        *lines, buf = buf.split("\n")
        for line in lines:
            rec = json.loads(line)
            if "loss" in rec:
                bar.n = min(bar.total, round(rec["train_s"])) if timed else rec["step"]
                bar.set_postfix(step=rec["step"], loss=f"{rec['loss']:.3f}", bits=f"{rec['bits_per_base']:.3f}",
                                tok_s=f"{rec['tokens_per_s']:.0f}", t=f"{rec['train_s']:.0f}s", refresh=False)
                bar.refresh()
            elif rec.get("event") == "validation" and rec.get("val_bits_per_base") is not None:
                bar.write(f"step {rec['step']}: validation {rec['val_bits_per_base']:.4f} bits/base")
            elif rec.get("event") == "resumed":
                bar.write(f"resumed from checkpoint at step {rec['step']}")
        if finished:
            break
    bar.close()


def run_pretrain(job: PretrainJob, *, resume: bool = False, quiet: bool = False, extra_card: dict | None = None) -> dict:
    """Run pretraining on the current Ray cluster and export the model into ``job.out_dir``.

    Workers, CPUs/GPUs per worker and failures to recover from come from ``job.config``.

    Returns a summary dict (steps, tokens, training seconds, validation bits/base, paths). Raises
    UsageError if ``out_dir`` already holds a run and ``resume`` is false.
    """
    out = Path(job.out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    job.out_dir = str(out)
    job.reference = str(Path(job.reference).resolve())  # workers run in their own working directories
    started = time.time()
    c = job.config
    result = fit(train_loop_per_worker, {"job": job}, name=RUN_NAME, label="pretraining",
                 scaling=Scaling(c.workers, c.cpus_per_worker, c.gpus_per_worker), storage_dir=out / STATE_DIR,
                 resume=resume, max_failures=c.max_failures, keep_checkpoints=c.checkpoints_kept,
                 progress=functools.partial(_progress, out / METRICS_FILE, job, quiet))
    summary = dict(result.metrics)
    summary["wall_s"] = round(time.time() - started, 1)
    export_model(result.checkpoint, out, job, summary, extra_card or {})
    return summary


def export_model(ckpt_dir: Path, out: Path, job: PretrainJob, summary: dict, extra_card: dict) -> None:
    """Write the HF model dir: config + safetensors from the checkpoint, tokenizer files, model card.

    Files are written into a temporary folder and renamed into ``out`` one by one (config.json last), so a
    crash never leaves a config that points at missing weights.
    """
    from raygen.models.tokenizer import build_nucleotide_tokenizer
    from raygen.train.card import write_model_card

    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        for name in os.listdir(ckpt_dir):
            if name != TRAIN_STATE_FILE:
                shutil.copy2(ckpt_dir / name, tmp / name)
        from raygen.models.arch import get_recipe

        # The model's position limit, not the training context: scoring feeds longer ALT windows for
        # insertions, and a smaller limit here makes transformers warn of indexing errors that cannot happen.
        tok = build_nucleotide_tokenizer(model_max_length=get_recipe(job.config.arch).max_positions)
        tok.save_pretrained(tmp)
        write_model_card(tmp / "README.md", job, summary, extra_card)
        names = sorted(os.listdir(tmp), key=lambda n: n == "config.json")
        for name in names:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

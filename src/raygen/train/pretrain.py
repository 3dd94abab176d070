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
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ray.train.torch
import torch
from safetensors.torch import load_file
from tqdm import tqdm

from raygen.config import PretrainConfig, RuntimeConfig
from raygen.errors import UsageError
from raygen.io.fasta import Reference, ensure_fasta_index
from raygen.models.arch import build_model, get_recipe
from raygen.models.tokenizer import BASE_OFFSET, build_nucleotide_tokenizer
from raygen.regions import Region
from raygen.runtime import init_ray
from raygen.train.card import write_model_card
from raygen.train.evaluate import clm_bits, make_eval_set, model_bits
from raygen.train.trainer import (Scaling, any_rank, call_hooks, fit, prepare_model, rank_and_world, report,
                                  resume_checkpoint)
from raygen.train.windows import (WindowSampler, check_usable_window, load_sequences, mask_for_mlm, read_bed,
                                  split_blocks, to_token_ids, whole_genome)

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


@dataclass(frozen=True)
class RunState:
    """Where a run stands: optimizer steps done, training-loop seconds and tokens seen (all ranks).

    Saved in every checkpoint (``train_state.pt``, with the optimizer state), so a restart carries on.
    """

    step: int = 0
    train_s: float = 0.0
    tokens: int = 0

    def fraction(self, c: PretrainConfig) -> float:
        """How far the run is (0..1): by steps, or by the time budget when that is further on."""
        f = self.step / c.steps
        return max(f, self.train_s / c.time_limit_s) if c.time_limit_s else f

    def finished(self, c: PretrainConfig) -> bool:
        return self.step >= c.steps or (c.time_limit_s is not None and self.train_s >= c.time_limit_s)


def learning_rate(c: PretrainConfig, state: RunState) -> float:
    """Linear warm-up over ``warmup_fraction`` of the run (from ``warmup_start_factor * lr``), then cosine
    decay to 0 at the end of the steps or of the time budget, whichever comes first."""
    progress, warmup = state.fraction(c), c.warmup_fraction
    if progress < warmup:
        return c.lr * max(progress / warmup, c.warmup_start_factor)
    return c.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / max(1e-9, 1 - warmup))))


def _is_complete(d: Path) -> bool:
    """A checkpoint dir with weights and training state both written."""
    return all((d / f).is_file() and (d / f).stat().st_size > 0 for f in ("config.json", "model.safetensors", TRAIN_STATE_FILE))


def _restore(model: torch.nn.Module, job: PretrainJob) -> tuple[RunState, dict | None]:
    """Load this run's newest checkpoint into ``model``: (where the run stands, optimizer state or None)."""
    with resume_checkpoint(Path(job.out_dir) / STATE_DIR / RUN_NAME, _is_complete) as d:
        if d is None:
            return RunState(), None
        model.load_state_dict(load_file(str(d / "model.safetensors")), strict=False)
        saved = torch.load(d / TRAIN_STATE_FILE, map_location="cpu", weights_only=False)
    return RunState(saved["step"], saved["train_s"], saved["tokens"]), saved["optimizer"]


def _batch(c: PretrainConfig, sampler: WindowSampler, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(input ids, labels; -100 where nothing is predicted) of one step: masked bases (MLM) or every next base (CLM)."""
    ids = to_token_ids(sampler.sample(c.batch_size))
    if c.objective == "mlm":
        return mask_for_mlm(ids, rng, c.mask_prob)
    return ids, np.where(ids >= BASE_OFFSET, ids, -100)  # predict bases only, never [SEP]


def validation_bits(model, c: PretrainConfig, val_seqs: list[np.ndarray], device) -> float | None:
    """Bits per base on the held-out blocks: masked-base (MLM) or next-base (CLM); None without any."""
    ev = make_eval_set(val_seqs, c.context, max_windows=c.val_windows, seed=c.seed)
    if len(ev.rows) == 0:
        return None
    if c.objective == "clm":
        return clm_bits(model, ev.windows, device=device)
    return model_bits(model, ev, device=device)


class _MetricsLog:
    """``metrics.jsonl`` on rank 0, one JSON object per line, flushed at once (the driver's bar follows it);
    other ranks write nothing."""

    def __init__(self, path: Path, active: bool):
        self._fh = open(path, "a", encoding="utf-8") if active else None

    def write(self, rec: dict) -> None:
        if self._fh:
            self._fh.write(json.dumps(rec) + "\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh:
            self._fh.close()


class _Worker:
    """One rank of a pretraining run: its model, optimizer, window stream and where the run stands."""

    def __init__(self, job: PretrainJob):
        c = self.c = job.config
        self.job = job
        self.rank, self.world = rank_and_world()
        self.device = ray.train.torch.get_device()
        torch.manual_seed(c.seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)
        net = build_model(c.arch, c.objective, build_nucleotide_tokenizer())
        self.state, opt_state = _restore(net, job)
        self.model, self.core = prepare_model(net)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay,
                                     betas=c.adam_betas, eps=c.adam_eps)
        if opt_state is not None:
            self.opt.load_state_dict(opt_state)
        train_seqs = load_sequences(job.reference, [Region(*r) for r in job.train_regions])
        # A different stream per rank and per restart, so a resumed run does not replay the same windows.
        step = self.state.step
        self.sampler = WindowSampler(train_seqs, c.context, max_n_fraction=c.max_n_fraction, seed=(c.seed, self.rank, step))
        self.rng = np.random.default_rng((c.seed, self.rank, step, 1))
        self.val_seqs = load_sequences(job.reference, [Region(*r) for r in job.val_regions]) if self.rank == 0 else []
        self.log = _MetricsLog(Path(job.out_dir) / METRICS_FILE, active=self.rank == 0)
        self.amp = c.mixed_precision and self.device.type == "cuda"

    def run(self) -> None:
        """Train until the steps or the time budget run out, checkpointing every ``checkpoint_every`` steps."""
        if self.state.step > 0:
            self.log.write({"event": "resumed", "step": self.state.step, "train_s": round(self.state.train_s, 2)})
        self.model.train()
        # Every rank must agree to stop at the same step, or DDP would hang.
        while not any_rank(self.state.finished(self.c), self.device, self.world):
            call_hooks("step", step=self.state.step)
            self.train_step()
            if self.state.step % self.c.checkpoint_every == 0 and self.state.step < self.c.steps:
                self.checkpoint(final=False)
        self.checkpoint(final=True)
        self.log.close()

    def train_step(self) -> None:
        """One optimizer step on a fresh batch; rank 0 logs loss, bits/base, tokens/s and the learning rate."""
        t0 = time.perf_counter()
        lr = learning_rate(self.c, self.state)
        for g in self.opt.param_groups:
            g["lr"] = lr
        inputs, labels = _batch(self.c, self.sampler, self.rng)
        x = torch.from_numpy(inputs).to(self.device)
        y = torch.from_numpy(labels).to(self.device)
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss = self.model(input_ids=x, attention_mask=torch.ones_like(x), labels=y).loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.c.grad_clip_norm)
        self.opt.step()
        loss_v = float(loss.detach())
        dt = time.perf_counter() - t0
        tokens = inputs.size * self.world
        s = self.state = RunState(self.state.step + 1, self.state.train_s + dt, self.state.tokens + tokens)
        self.log.write({"step": s.step, "loss": round(loss_v, 5), "bits_per_base": round(loss_v / math.log(2), 5),
                        "tokens_per_s": round(tokens / dt, 1), "lr": lr, "train_s": round(s.train_s, 2),
                        "time": round(time.time(), 2)})

    def checkpoint(self, final: bool) -> None:
        """Every rank reports; rank 0 first scores the held-out blocks, then saves weights and training state."""
        s = self.state
        metrics = {"step": s.step, "train_s": s.train_s, "tokens": s.tokens, "final": final}
        if self.rank != 0:
            report(metrics)
            return
        metrics["val_bits_per_base"] = validation_bits(self.core, self.c, self.val_seqs, self.device)
        self.core.train()
        self.log.write({"event": "validation", **metrics})

        def save(d: Path) -> None:
            self.core.save_pretrained(d)
            torch.save({"step": s.step, "train_s": s.train_s, "tokens": s.tokens, "optimizer": self.opt.state_dict()},
                       d / TRAIN_STATE_FILE)

        report(metrics, save, name=f"step_{s.step:08d}{'_final' if final else ''}")


def train_loop_per_worker(config: dict) -> None:
    """Ray Train entry point (``config = {"job": PretrainJob}``): train, checkpointing as it goes."""
    _Worker(config["job"]).run()


# ----------------------------------------------------------------------------------------------- driver


def pretrain(reference: str, out: str, cfg: PretrainConfig, *, regions_bed: str | None = None,
             contigs: list[str] | None = None, resume: bool = False, runtime: RuntimeConfig | None = None,
             quiet: bool = False) -> dict:
    """Pretrain on ``reference`` (whole contigs, or the intervals of ``regions_bed``) into the model dir ``out``.

    The FASTA is indexed and the regions checked before Ray starts (``runtime``: where it runs), so bad input
    fails at once. Returns :func:`run_pretrain`'s summary.
    """
    ensure_fasta_index(reference)
    regions, train, val = plan_regions(reference, regions_bed, contigs, cfg.block_bp, cfg.val_fraction, cfg.seed)
    if not train:
        total = sum(r.length for r in regions)
        raise UsageError(f"no training sequence left after holding out validation blocks ({total:,} bp in "
                         f"{len(regions)} region(s), --block-bp {cfg.block_bp:,}): lower --val-fraction or "
                         "--block-bp, or give more sequence")
    if not any(r.length >= cfg.context for r in train):  # else every worker would fail (and be retried) on it
        raise UsageError(f"no region is at least {cfg.context} bp long: use a smaller --context or larger regions")
    check_usable_window(reference, train, cfg.context, cfg.max_n_fraction)
    info = init_ray(runtime)
    need = cfg.workers * cfg.cpus_per_worker
    if info.mode != "cluster" and need > info.cpus:
        raise UsageError(f"{cfg.workers} workers x {cfg.cpus_per_worker:g} CPU need {need:g} CPUs; Ray has {info.cpus:g}")
    job = PretrainJob(reference=str(reference), out_dir=str(out), train_regions=[(r.chrom, r.start, r.end) for r in train],
                      val_regions=[(r.chrom, r.start, r.end) for r in val], config=cfg)
    log.info("pretraining %s (%s) on %s bp in %d region(s), %s bp held out; %d worker(s)", cfg.arch, cfg.objective,
             f"{sum(r.length for r in train):,}", len(regions), f"{sum(r.length for r in val):,}", cfg.workers)
    return run_pretrain(job, resume=resume, quiet=quiet, extra_card={"workers": cfg.workers})


def plan_regions(reference: str, bed: str | None, contigs: list[str] | None, block_bp: int,
                 val_fraction: float, seed: int):
    """(all regions, train blocks, validation blocks) for a FASTA, optionally limited by a BED or contigs."""
    with Reference(reference) as ref:
        regions = read_bed(bed, ref) if bed else whole_genome(ref, contigs)
        if bed and contigs:
            regions = [r for r in regions if r.chrom in contigs]
    train, val = split_blocks(regions, block_bp, val_fraction, seed)
    return regions, train, val


#: Seconds between progress lines when stderr is not a terminal.
NON_TTY_PROGRESS_S = 30.0


def _progress(metrics_path: Path, job: PretrainJob, quiet: bool, done: threading.Event) -> None:
    """Follow ``metrics.jsonl`` and show a tqdm bar (steps, loss, bits/base, tokens/s) until ``done``."""
    # With a time budget the bar counts training seconds (steps/s is unknown up front), else steps.
    timed = job.config.time_limit_s is not None
    # Not a terminal (a log file, CI): no redrawn bar, one status line at most every NON_TTY_PROGRESS_S.
    tty = sys.stderr.isatty()
    bar = tqdm(total=round(job.config.time_limit_s) if timed else job.config.steps, unit="s" if timed else "step",
               desc="pretrain", disable=quiet or not tty, dynamic_ncols=True)
    bar.raygen_line = None if quiet or tty else [0.0]  # time of the last status line, when lines replace the bar
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
            _show(bar, json.loads(line), timed)
        if finished:
            break
    bar.close()


def _show(bar: tqdm, rec: dict, timed: bool) -> None:
    """One ``metrics.jsonl`` record on the bar: a step moves it, validation and resume events print a line."""
    if "loss" in rec:
        bar.n = min(bar.total, round(rec["train_s"])) if timed else rec["step"]
        bar.set_postfix(step=rec["step"], loss=f"{rec['loss']:.3f}", bits=f"{rec['bits_per_base']:.3f}",
                        tok_s=f"{rec['tokens_per_s']:.0f}", t=f"{rec['train_s']:.0f}s", refresh=False)
        last = getattr(bar, "raygen_line", None)
        if last is None:
            bar.refresh()
        elif time.monotonic() - last[0] >= NON_TTY_PROGRESS_S:
            last[0] = time.monotonic()
            tqdm.write(f"pretrain: step {rec['step']}, {rec['train_s']:.0f} s trained, loss {rec['loss']:.3f}, "
                       f"{rec['bits_per_base']:.3f} bits/base, {rec['tokens_per_s']:.0f} tokens/s", file=sys.stderr)
    elif rec.get("event") == "validation" and rec.get("val_bits_per_base") is not None:
        bar.write(f"step {rec['step']}: validation {rec['val_bits_per_base']:.4f} bits/base")
    elif rec.get("event") == "resumed":
        bar.write(f"resumed from checkpoint at step {rec['step']}")


def run_pretrain(job: PretrainJob, *, resume: bool = False, quiet: bool = False, extra_card: dict | None = None) -> dict:
    """Run pretraining on the current Ray cluster and export the model into ``job.out_dir``.

    Workers, CPUs/GPUs per worker and failures to recover from come from ``job.config``.

    Returns a summary dict (steps, tokens, training seconds, validation bits/base, ``out``). Raises
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
    summary["out"] = str(out)
    export_model(result.checkpoint, out, job, summary, extra_card or {})
    return summary


def export_model(ckpt_dir: Path, out: Path, job: PretrainJob, summary: dict, extra_card: dict) -> None:
    """Write the HF model dir: config + safetensors from the checkpoint, tokenizer files, model card.

    Files are written into a temporary folder and renamed into ``out`` one by one (config.json last), so a
    crash never leaves a config that points at missing weights.
    """
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        for name in os.listdir(ckpt_dir):
            if name != TRAIN_STATE_FILE:
                shutil.copy2(ckpt_dir / name, tmp / name)
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

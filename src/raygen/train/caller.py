"""``raygen train caller``: label pileup candidates against a truth set and train the CNN with Ray Train.

1. The regions are cut into shards (``train_shard_bp``); each shard is a Ray task that builds candidates,
   re-scores them, and returns tensors, site features and labels. A label is the truth zygosity of the
   candidate allele (0 absent, 1 het, 2 hom-alt) after both sides are normalized, so an indel the truth
   writes elsewhere in a repeat still gets its label. With a confident BED only candidates inside count.
2. Whole shards go to validation (every k-th shard, k = 1 / val_fraction): never random candidates, so
   validation measures unseen regions.
3. ``TorchTrainer`` runs the training loop on ``workers`` (DDP); rank 0 scores validation each epoch and
   reports a checkpoint when validation loss improves. The best checkpoint becomes the model dir:
   ``caller.safetensors``, ``caller.json`` and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import ray
import torch
from torch import nn

from raygen.calling.candidates import find_candidates, load_pileup, open_bam
from raygen.calling.cnn import META, WEIGHTS, PileupCNN, featurize, save_caller
from raygen.calling.errormodel import ErrorModel
from raygen.calling.profile import ErrorProfile
from raygen.calling.shard import bam_profile, contig_map, shard_tables
from raygen.calling.tensors import N_FEATURES
from raygen.config import CallConfig
from raygen.errors import InputError
from raygen.eval.concordance import read_alleles
from raygen.io.atomic import atomic_dir
from raygen.io.fasta import Reference
from raygen.regions import Region, RegionSet, make_shards, read_regions
from raygen.train.trainer import Scaling, call_hooks, fit, prepare_model, rank_and_world, report

log = logging.getLogger("raygen.train.caller")


@dataclass
class Examples:
    """Tensors ``x [N, C, H, W]`` (float16), features ``f [N, F]``, labels ``y [N]`` (0/1/2)."""

    x: np.ndarray
    f: np.ndarray
    y: np.ndarray

    @classmethod
    def concat(cls, parts: list["Examples"], shape: tuple[int, ...], nf: int) -> "Examples":
        if not parts:
            return cls(np.zeros((0, *shape), np.float16), np.zeros((0, nf), np.float32), np.zeros(0, np.int64))
        return cls(np.concatenate([p.x for p in parts]), np.concatenate([p.f for p in parts]),
                   np.concatenate([p.y for p in parts]))


def shard_examples(bam: str, reference: str, shard, truth: dict, confident, cfg: CallConfig, alias: str | None = None,
                   profile: ErrorProfile | None = None) -> Examples:
    """Examples of one shard. ``truth``: (chrom, pos, ref, alt) -> zygosity, normalized, BAM contig names.
    ``profile``: the BAM's error profile, so the features are the ones ``raygen call`` computes."""
    af = open_bam(bam, reference)
    ref = Reference(reference)
    em = ErrorModel.build(cfg, profile)
    try:
        p = load_pileup(af, ref, shard, cfg, alias)
        t = shard_tables(p, shard, cfg, em)
        cands = find_candidates(p, t, shard, cfg)
        cands2, _, x, f = featurize(p, t, cands, cfg, em)
    finally:
        af.close()
        ref.close()
    keep = [i for i, c in enumerate(cands2) if confident is None or confident.contains(shard.chrom, c.pos0)]
    y = np.array([truth.get((shard.chrom, cands2[i].pos0 + 1, cands2[i].ref, cands2[i].alt), 0) for i in keep], dtype=np.int64)
    return Examples(x[keep].astype(np.float16), f[keep], y)


def build_examples(bam: str, reference: str, truth_vcf: str, *, confident_bed: str | None = None, regions: str | None = None,
                   cfg: CallConfig | None = None, rename_contigs: str | None = None) -> tuple[Examples, Examples, dict]:
    """(train, validation, info) examples from a BAM and its truth, one Ray task per shard."""
    cfg = cfg or CallConfig()
    with Reference(reference) as ref:
        contigs, alias = contig_map(bam, ref, rename_contigs)
        back = {v: k for k, v in alias.items()}
        wanted = read_regions(regions, contigs)
        # the truth read near the regions only, under the FASTA's contig names or the BAM's (either may be its)
        near = list(dict.fromkeys(Region(c, r.start, r.end) for r in wanted for c in (alias[r.chrom], r.chrom)))
        alleles = read_alleles(truth_vcf, ref, pass_only=False, regions=near)
    truth = {(back.get(a.chrom, a.chrom), a.pos, a.ref, a.alt): a.zyg for a in alleles}
    if truth and all(z == 0 for z in truth.values()):
        raise InputError(f"truth {truth_vcf!r} has no genotypes: labels need a GT per record")
    confident = RegionSet.from_bed(confident_bed) if confident_bed else None
    shards = make_shards(wanted, cfg.train_shard_bp, cfg.margin_bp)
    if len(shards) < 2:
        raise InputError(f"need at least 2 regions of {cfg.train_shard_bp:,} bp for a region-wise validation split; "
                         "give more sequence or lower train_shard_bp")
    prof = bam_profile(bam, reference, wanted, cfg, alias)  # as `raygen call` measures it
    k = max(2, round(1.0 / cfg.val_fraction))
    # Every k-th region, and at least the last one when there are fewer than k.
    is_val = [i % k == k - 1 or (len(shards) < k and i == len(shards) - 1) for i in range(len(shards))]
    task = ray.remote(num_cpus=1)(shard_examples)
    truth_ref = ray.put(truth)
    futs = [task.remote(bam, reference, s, truth_ref, confident, cfg, alias[s.chrom], prof) for s in shards]
    parts = ray.get(futs)
    shape = (cfg.tensor_channels, cfg.max_reads, cfg.window)
    train = Examples.concat([p for p, v in zip(parts, is_val) if not v], shape, N_FEATURES)
    val = Examples.concat([p for p, v in zip(parts, is_val) if v], shape, N_FEATURES)
    info = {
        "train_regions": [str(s) for s, v in zip(shards, is_val) if not v],
        "val_regions": [str(s) for s, v in zip(shards, is_val) if v],
        "train_examples": int(len(train.y)), "val_examples": int(len(val.y)),
        "train_label_counts": np.bincount(train.y, minlength=3).tolist(),
        "val_label_counts": np.bincount(val.y, minlength=3).tolist(),
    }
    return train, val, info


def _train_loop(config: dict) -> None:
    """Ray Train worker: DDP over this rank's slice; rank 0 validates and checkpoints on improvement."""
    cfg: CallConfig = config["cfg"]
    rank, world = rank_and_world()
    torch.manual_seed(cfg.train_seed)
    train = ray.get(config["train_ref"])
    val = ray.get(config["val_ref"]) if rank == 0 else None
    mine = np.arange(rank, len(train.y), world)
    model, core = prepare_model(PileupCNN(**config["shape"]))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train_lr, weight_decay=cfg.train_weight_decay)
    loss_fn = nn.CrossEntropyLoss(weight=_class_weights(train.y, cfg.train_class_weight_cap))
    rng = np.random.default_rng(cfg.train_seed + rank)
    best = float("inf")
    steps_per_epoch = max(1, int(np.ceil(len(train.y) / world / cfg.train_batch_size)))
    for epoch in range(1, cfg.train_epochs + 1):
        call_hooks("epoch", epoch=epoch)
        loss = _train_epoch(model, opt, loss_fn, train, rng.permutation(mine), cfg.train_batch_size, steps_per_epoch)
        metrics = {"epoch": epoch, "train_loss": loss}
        if rank == 0:
            metrics["val_loss"], metrics["val_accuracy"] = _validate(core, val, cfg.train_val_batch_size)
            if metrics["val_loss"] < best:
                best = metrics["val_loss"]
                report(metrics, lambda d: save_caller(core, d, {"epoch": epoch, **metrics}))
                continue
        report(metrics)


def _class_weights(y: np.ndarray, cap: float) -> torch.Tensor:
    """Inverse-frequency weights of classes 0/1/2, capped at ``cap``: most candidates are noise."""
    counts = np.bincount(y, minlength=3).astype(np.float64) + 1.0  # +1: a class absent from training stays finite
    return torch.tensor(np.minimum(counts.sum() / (3 * counts), cap), dtype=torch.float32)


def _train_epoch(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: nn.Module, train: Examples, order: np.ndarray,
                 bs: int, steps: int) -> float:
    """``steps`` optimizer steps over this rank's examples in ``order``; the mean training loss.

    Every rank takes the same number of steps (DDP needs it): a rank whose slice runs out early repeats its
    first batch.
    """
    model.train()
    tot, n = 0.0, 0
    for s in range(steps):
        b = order[s * bs:(s + 1) * bs]
        if len(b) == 0:
            b = order[:bs]
        x = torch.from_numpy(train.x[b].astype(np.float32))
        loss = loss_fn(model(x, torch.from_numpy(train.f[b])), torch.from_numpy(train.y[b]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += float(loss.detach()) * len(b)
        n += len(b)
    return tot / max(n, 1)


def _validate(core: nn.Module, val: Examples, bs: int) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the genotype classes on the validation examples, unweighted."""
    core.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(val.y), bs):
            logits = core(torch.from_numpy(val.x[i:i + bs].astype(np.float32)), torch.from_numpy(val.f[i:i + bs]))
            y = torch.from_numpy(val.y[i:i + bs])
            loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    return loss / max(len(val.y), 1), correct / max(len(val.y), 1)


@dataclass(frozen=True)
class TrainingSet:
    """One BAM with its truth for :func:`train_caller_sets` (``regions``: BED path or ``chr:s-e,...``)."""

    bam: str
    reference: str
    truth: str
    confident: str | None = None
    regions: str | None = None
    rename_contigs: str | None = None


def train_caller(bam: str, reference: str, truth_vcf: str, out_dir: str, *, confident_bed: str | None = None,
                 regions: str | None = None, cfg: CallConfig | None = None, rename_contigs: str | None = None) -> dict:
    """Build examples, train with Ray Train, write the model dir; returns the training summary.

    The recipe is ``cfg``'s ``train_*`` fields (and ``val_fraction``); candidates are found with its calling
    fields, as ``raygen call`` finds them.
    """
    return train_caller_sets([TrainingSet(bam, reference, truth_vcf, confident_bed, regions, rename_contigs)],
                             out_dir, cfg=cfg)


def train_caller_sets(sets: list[TrainingSet], out_dir: str, *, cfg: CallConfig | None = None) -> dict:
    """:func:`train_caller` over several BAMs (e.g. simulated genomes plus a real training sample): each set's
    regions are split into train and validation regions alike, and the examples are pooled."""
    cfg = cfg or CallConfig()
    t0 = time.time()
    parts = [build_examples(s.bam, s.reference, s.truth, confident_bed=s.confident, regions=s.regions, cfg=cfg,
                            rename_contigs=s.rename_contigs) for s in sets]
    shape = (cfg.tensor_channels, cfg.max_reads, cfg.window)
    train = Examples.concat([t for t, _, _ in parts], shape, N_FEATURES)
    val = Examples.concat([v for _, v, _ in parts], shape, N_FEATURES)
    info = {k: [x for _, _, i in parts for x in i[k]] for k in ("train_regions", "val_regions")}
    info.update(train_examples=int(len(train.y)), val_examples=int(len(val.y)),
                train_label_counts=np.bincount(train.y, minlength=3).tolist(),
                val_label_counts=np.bincount(val.y, minlength=3).tolist())
    if len(train.y) == 0 or len(val.y) == 0:
        raise InputError(f"no candidates to learn from (train {len(train.y)}, validation {len(val.y)}): "
                         "is the BAM covering the regions, and the truth on the same contigs?")
    log.info("examples: %d train, %d validation (labels train %s)", len(train.y), len(val.y), info["train_label_counts"])
    net = PileupCNN(cfg.tensor_channels, cfg.window)
    out = Path(out_dir).resolve()
    config = {"train_ref": ray.put(train), "val_ref": ray.put(val), "shape": net.shape, "cfg": cfg}
    storage = Path(tempfile.mkdtemp(prefix=".raygen-train-caller-", dir=out.parent if out.parent.exists() else None))
    try:
        result = fit(_train_loop, config, name="caller", label="caller training",
                     scaling=Scaling(cfg.train_workers, cfg.train_cpus_per_worker), storage_dir=storage)
        with atomic_dir(out) as tmp:
            shutil.copy(result.checkpoint / WEIGHTS, tmp / WEIGHTS)
            meta = json.loads((result.checkpoint / META).read_text())
            meta.update(config={k: v for k, v in asdict(cfg).items()}, data=info,
                        bam=", ".join(str(s.bam) for s in sets), truth=", ".join(str(s.truth) for s in sets),
                        confident=", ".join(str(s.confident) for s in sets),
                        reference=", ".join(str(s.reference) for s in sets), workers=cfg.train_workers,
                        wall_s=round(time.time() - t0, 1))
            (tmp / META).write_text(json.dumps(meta, indent=2))
            (tmp / "MODEL_CARD.md").write_text(model_card(meta))
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return {"out": str(out), "epoch": meta.get("epoch"), "val_loss": meta.get("val_loss"),
            "val_accuracy": meta.get("val_accuracy"), **info, "wall_s": meta["wall_s"]}


def model_card(meta: dict) -> str:
    """Markdown card: what the model is, what it was trained and validated on, and its limits."""
    d = meta["data"]
    return f"""# raygen pileup CNN genotyper

Genotypes candidate alleles found by `raygen call` (SNVs and indels) from DeepVariant-style pileup tensors
({meta['shape']['channels']} channels x up to {meta['config']['max_reads']} reads x {meta['shape']['width']} bp) plus site
features that include the classical Bayesian genotyper's posteriors. Output: P(0/0), P(0/1), P(1/1).

Use: `raygen call BAM -f REF -o OUT.vcf.gz --model THIS_DIR`.

## Training
- BAM: `{meta['bam']}`; truth: `{meta['truth']}`; confident regions: `{meta['confident']}`
- Reference: `{meta['reference']}`
- Examples: {d['train_examples']} train (labels 0/1/2: {d['train_label_counts']}), {d['val_examples']} validation
  ({d['val_label_counts']}); validation is whole regions: {', '.join(d['val_regions'][:6])}{' ...' if len(d['val_regions']) > 6 else ''}
- Ray Train TorchTrainer, {meta['workers']} worker(s); best epoch {meta.get('epoch')}: validation loss
  {meta.get('val_loss', float('nan')):.4f}, accuracy {meta.get('val_accuracy', float('nan')):.4f}; {meta['wall_s']} s wall.

## Limits
Trained on the data above only. A model trained on simulated reads has not seen real-data artifacts
(mis-mapped paralogs, library errors): compare it with `--model classical` on data with a truth set
(`raygen evaluate`) before relying on it. Never evaluate on the regions listed as training regions.
"""

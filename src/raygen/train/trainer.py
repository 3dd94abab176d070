"""One way to run a training loop on Ray Train: scaling, failures, checkpoints, resume, errors, hooks.

Driver side, :func:`fit` runs ``loop_fn(loop_config)`` on every worker of a ``TorchTrainer`` (DDP over
``scaling.workers`` ranks) with the run's checkpoints under ``storage_dir / name``, and returns the final
metrics and the last reported checkpoint as a local directory. A worker that dies is restarted from the
latest checkpoint up to ``max_failures`` times; ``resume=True`` continues a run that an earlier call left in
``storage_dir`` (without it, an earlier run there is refused, never silently continued). An error that one of
our loops raised (:class:`raygen.errors.RaygenError`) reaches the caller as itself, found inside Ray's
wrappers by :func:`raygen.errors.raygen_cause`; any other failure becomes one ``RaygenError`` line.

Worker side, the loops share :func:`rank_and_world`, :func:`prepare_model`, :func:`report` (rank 0
writes the checkpoint, every rank reports), :func:`resume_checkpoint` and :func:`call_hooks`.

Hooks: callables ``hook(point, info)`` that a loop calls at named points, installed with
``with hooks(fn): ...`` around the call that trains. :func:`fit` ships the installed hooks to every worker
process, so a hook runs where the loop runs (the tests kill a real worker process this way). Points:
``"step"`` before each optimizer step of a step-counted loop (``info["step"]``: steps done so far) and
``"epoch"`` before each epoch of an epoch-counted loop (``info["epoch"]``: 1-based); ``info`` always holds
``rank`` and ``world_size``.
"""

from __future__ import annotations

import functools
import logging
import math
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import ray.train
import ray.train.torch
import torch
from ray.train.torch import TorchTrainer

from raygen.errors import RaygenError, UsageError, raygen_cause
from raygen.raylogs import train_log_level

log = logging.getLogger("raygen.train.trainer")

#: ``hook(point, info)``; see the module docstring for the points and what ``info`` holds.
Hook = Callable[[str, dict], None]
_HOOKS: list[Hook] = []


@dataclass(frozen=True)
class Scaling:
    """Ray Train workers (DDP ranks) and what each one reserves.

    Each worker runs ``max(1, floor(cpus_per_worker))`` torch threads; ``gpus_per_worker > 0`` puts the
    workers on GPUs (fractions share one).
    """

    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    @property
    def torch_threads(self) -> int:
        return max(1, math.floor(self.cpus_per_worker))

    def ray_config(self) -> ray.train.ScalingConfig:
        use_gpu = self.gpus_per_worker > 0
        resources = {"CPU": self.cpus_per_worker, **({"GPU": self.gpus_per_worker} if use_gpu else {})}
        return ray.train.ScalingConfig(num_workers=self.workers, use_gpu=use_gpu, resources_per_worker=resources)


@dataclass(frozen=True)
class TrainResult:
    """What a finished run left: rank 0's last reported metrics and its last checkpoint (a local dir)."""

    metrics: dict
    checkpoint: Path


# ----------------------------------------------------------------------------------------------- driver


def fit(loop_fn: Callable[[dict], None], loop_config: dict, *, name: str, scaling: Scaling,
        storage_dir: str | Path, resume: bool = False, max_failures: int = 0, keep_checkpoints: int | None = None,
        progress: Callable[[threading.Event], None] | None = None, label: str | None = None) -> TrainResult:
    """Run ``loop_fn(loop_config)`` on ``scaling.workers`` Ray Train workers and wait for it.

    ``name`` names the run (its checkpoints go to ``storage_dir / name``); ``label`` names it in error
    messages (default ``"<name> training"``). ``keep_checkpoints``: how many of the newest checkpoints stay on
    disk (None: all). ``progress(done)`` runs in a driver thread until the event ``done`` is set (a progress
    bar following the loop's own log). The loop must report at least one checkpoint.

    Raises UsageError if ``storage_dir / name`` holds an earlier run and ``resume`` is false; the loop's own
    ``RaygenError`` if a worker raised one; ``RaygenError`` for any other failure.
    """
    storage = Path(storage_dir).resolve()
    label = label or f"{name} training"
    _check_resume(storage, name, label, resume)
    trainer = TorchTrainer(
        functools.partial(_worker_main, loop_fn, tuple(_HOOKS), scaling.torch_threads),
        train_loop_config=loop_config,
        scaling_config=scaling.ray_config(),
        run_config=ray.train.RunConfig(
            name=name, storage_path=str(storage),
            failure_config=ray.train.FailureConfig(max_failures=max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=keep_checkpoints),
            logging_config=ray.train.LoggingConfig(log_level=train_log_level()),  # raygen.raylogs: why
        ),
    )
    done = threading.Event()
    watcher = threading.Thread(target=progress, args=(done,), daemon=True) if progress else None
    if watcher:
        watcher.start()
    try:
        result = trainer.fit()
    except Exception as exc:  # noqa: BLE001 - Ray wraps what the workers raised; find ours or keep one line
        raise _user_error(exc, label) from exc
    finally:
        done.set()
        if watcher:
            watcher.join()
    if result.checkpoint is None:
        raise RaygenError(f"{label} finished without a checkpoint")
    return TrainResult(dict(result.metrics or {}), Path(result.checkpoint.path))


def _check_resume(storage: Path, name: str, label: str, resume: bool) -> None:
    # Ray Train continues any run it finds under the same storage path and name: refuse that unless asked.
    if (storage / name).exists() and not resume:
        raise UsageError(f"{storage} already holds a {label} run: pass --resume to continue it, or choose a new --out")
    if resume and not (storage / name).exists():
        log.warning("resume: no earlier %s run in %s; starting from the beginning", label, storage)


def _user_error(exc: BaseException, label: str) -> RaygenError:
    """Our error inside a failed ``fit()`` (as raised in a worker), else one line naming the first failure."""
    failures = dict(getattr(exc, "worker_failures", None) or {})  # rank -> what that worker raised
    controller = getattr(exc, "controller_failure", None)
    for candidate in (exc, *failures.values(), controller):
        ours = raygen_cause(candidate) if candidate is not None else None
        if ours is not None:
            return ours
    if failures:
        rank, first = min(failures.items())
        detail = f"worker rank {rank}: {type(first).__name__}: {first}"
    else:
        detail = str(controller or exc)
    lines = detail.strip().splitlines()
    return RaygenError(f"{label} failed: {lines[0] if lines else type(exc).__name__}")


@contextmanager
def hooks(*fns: Hook) -> Iterator[None]:
    """Install ``fns`` for every :func:`fit` started inside the block (in this process and its workers)."""
    _HOOKS.extend(fns)
    try:
        yield
    finally:
        for fn in fns:
            _HOOKS.remove(fn)


# ----------------------------------------------------------------------------------------------- worker


def _worker_main(loop_fn: Callable[[dict], None], worker_hooks: tuple[Hook, ...], threads: int, config: dict) -> None:
    """What each Ray Train worker runs: the driver's hooks installed, torch threads set, then the loop."""
    torch.set_num_threads(threads)
    saved = _HOOKS[:]  # the driver's own list, should Ray Train run this worker in the driver process
    _HOOKS[:] = worker_hooks
    try:
        loop_fn(config)
    finally:
        _HOOKS[:] = saved


def call_hooks(point: str, **info) -> None:
    """Call the installed hooks with ``point`` and ``info`` plus this worker's ``rank`` and ``world_size``."""
    if not _HOOKS:
        return
    rank, world = rank_and_world()
    for hook in list(_HOOKS):
        hook(point, {"rank": rank, "world_size": world, **info})


def rank_and_world() -> tuple[int, int]:
    """(this worker's rank, number of workers)."""
    ctx = ray.train.get_context()
    return ctx.get_world_rank(), ctx.get_world_size()


def prepare_model(net: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(model to train: DDP-wrapped on this worker's device, the plain module inside it for saving and eval)."""
    model = ray.train.torch.prepare_model(net)
    return model, (model.module if hasattr(model, "module") else model)


def report(metrics: dict, save: Callable[[Path], None] | None = None, name: str | None = None) -> None:
    """Report ``metrics``; with ``save``, also a checkpoint that ``save(dir)`` writes (call it on rank 0).

    Every rank must call this the same number of times (it is a barrier). ``name``: the checkpoint's
    directory name in storage (names must sort in report order for :func:`resume_checkpoint`).
    """
    if save is None:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory() as d:
        save(Path(d))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d), checkpoint_dir_name=name)


@contextmanager
def resume_checkpoint(run_dir: str | Path, is_complete: Callable[[Path], bool]) -> Iterator[Path | None]:
    """The checkpoint dir a restarted worker continues from, or None on a fresh start.

    Ray registers a reported checkpoint asynchronously: a worker that dies right after reporting can leave
    the newest complete checkpoint in ``run_dir`` unregistered, so this takes whichever of Ray's checkpoint
    and the newest complete one on disk (``is_complete(dir)``) is later; checkpoint names sort in report
    order (see :func:`report`).
    """
    registered = ray.train.get_checkpoint()
    stored = sorted((d for d in Path(run_dir).glob("*") if d.is_dir() and is_complete(d)), key=lambda d: d.name)
    with (registered.as_directory() if registered is not None else nullcontext(None)) as reg:
        candidates = [Path(d) for d in (reg, stored[-1] if stored else None) if d is not None]
        yield max(candidates, key=lambda d: d.name) if candidates else None


def any_rank(flag: bool, device: torch.device, world: int) -> bool:
    """True on every rank when ``flag`` is true on any (an all-reduce; ranks that must stop together agree)."""
    if world == 1:
        return flag
    t = torch.tensor([float(flag)], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item())


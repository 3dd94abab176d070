"""``raygen demo``: the main job end to end on generated data, then the service.

simulate -> normalize -> (train the demo model once, cached) -> score (cached) -> serve. Each step runs the
same subcommand a user would type, in this process and on one Ray session, so the demo exercises exactly the
code paths of the CLI and prints the commands it runs.

Why the demo model is a causal LM (``--objective clm``): its score of any variant is two forward passes (the
REF and ALT windows), where a masked LM scores an indel by pseudo-log-likelihood, one forward per token of both
windows (about 2 x 128 forwards); the demo genome's 45 indels made a masked LM's scoring step take minutes on
2 cores. Both definitions are exact as docs/score.md states them; ``--objective mlm`` trains the masked one.

Caches (under ``$RAYGEN_CACHE``, default ``~/.cache/raygen``): the trained model, keyed by its training
inputs and settings; and the scoring step's outputs, keyed by the SHA-256 of its inputs' bytes and flags
(:mod:`raygen.stepcache`), so a rerun on the same genome and model copies byte-identical outputs instead of
starting a scorer.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import shlex
import threading
import time
from pathlib import Path

from raygen import stepcache
from raygen.commands import DefaultsHelpFormatter
from raygen.config import DEFAULTS, ServeConfig
from raygen.errors import RaygenError
from raygen.provenance import display_path

log = logging.getLogger("raygen.demo")

DEFAULT_CACHE = Path(os.environ.get("RAYGEN_CACHE", Path.home() / ".cache" / "raygen"))


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        formatter_class=DefaultsHelpFormatter,
        help="run the main job end to end on generated data, then start the service",
        description="Simulate a small genome with non-normalized truth variants, normalize them like "
        "`bcftools norm -m -any`, train the default DNA language model once (cached for later runs), score "
        "every variant with it into VCF + Parquet, print a summary, and start the HTTP API and Gradio UI "
        "(Ctrl-C stops it). Every step is a raygen subcommand, printed before it runs.",
    )
    p.add_argument("--out", default="demo_out", metavar="DIR", help="where the demo writes its files")
    p.add_argument("--length", default="200k", help="simulated genome length (k/M suffixes)")
    p.add_argument("--seed", type=int, default=7, help="simulation seed")
    p.add_argument("--model", metavar="DIR|ID", help="score with this model instead of the cached demo model")
    p.add_argument("--model-cache", default=str(DEFAULT_CACHE / "models"), metavar="DIR",
                   help="where the trained demo model is kept between runs ($RAYGEN_CACHE/models)")
    p.add_argument("--train-fasta", metavar="FA",
                   help="train the demo model on this FASTA (e.g. real GRCh38 sequence) instead of the simulated genome")
    # 30 steps (64 windows of 128 bp each) reach the plateau of the simulated genome: 1.978 bits/base held out
    # after 52 steps, 1.979 after 19 (#20); the minutes cap a run on a busy machine.
    p.add_argument("--train-steps", type=int, default=30, help="optimizer steps of the demo model's training")
    p.add_argument("--train-minutes", type=float, default=1.0,
                   help="upper bound on the demo model's training time (a busy machine reaches fewer steps)")
    p.add_argument("--objective", choices=("clm", "mlm"), default="clm",
                   help="demo model: causal LM (every variant is 2 forward passes) or masked LM (indels cost ~2W)")
    p.add_argument("--score-cache", default=str(DEFAULT_CACHE / "scores"), metavar="DIR",
                   help="where the scoring step's outputs are kept, keyed by its inputs and flags ($RAYGEN_CACHE/scores)")
    p.add_argument("--no-cache", action="store_true",
                   help="score again even when an earlier run scored the same input with the same model and flags")
    p.add_argument("--no-serve", action="store_true", help="stop after scoring; do not start the service")
    p.add_argument("--host", default=DEFAULTS.serve.host, help="service host")
    p.add_argument("--port", type=int, default=DEFAULTS.serve.port, help="service port")
    p.set_defaults(func=run)


def shown_command(argv: list[str]) -> str:
    """``raygen ARGV`` as the demo prints it: paths under the home directory as ``~/...`` (left unquoted, so
    the line still runs in a shell), everything else shell-quoted."""
    words = []
    for a in argv:
        shown = display_path(a) if a.startswith("/") else a
        if shown.startswith("~/") and shlex.quote(shown[2:]) == shown[2:]:
            words.append(shown)
        else:
            words.append(shlex.quote(a if shown.startswith("~/") else shown))
    return "raygen " + " ".join(words)


def _step(title: str, argv: list[str], common: list[str]) -> None:
    from raygen.cli import main

    print(f"\n== {title}\n$ {shown_command(argv)}", flush=True)
    rc = main(argv + common)
    if rc:
        raise RaygenError(f"demo step '{title}' failed (exit {rc}); the command above reproduces it")


def demo_model_dir(cache: Path, fasta: str | None, minutes: float, steps: int, objective: str = "clm") -> Path:
    """Cache folder of the demo model trained on ``fasta`` (None: the simulated genome) for this budget."""
    source = Path(fasta).name if fasta else "simulated"
    return cache / f"raygen-small-{objective}-{source}-{minutes:g}min-{steps}steps"


#: What the scoring step writes into the demo's folder (and keeps in the step cache).
SCORE_OUTPUTS = ["scored.vcf.gz", "scored.vcf.gz.tbi", "scored.parquet", "score.rejects.tsv"]


def _score_step(out: Path, ref: str, model: str, common: list[str], cache: Path | None) -> None:
    """``raygen score`` of the normalized VCF, or a copy of its outputs from an earlier identical run."""
    argv = ["score", str(out / "normalized.vcf.gz"), "-f", ref, "--model", model, "-o", str(out / "scored.vcf.gz"),
            "--parquet", str(out / "scored.parquet"), "--rejects", str(out / "score.rejects.tsv"),
            # one torch thread: the demo model is tiny, and two threads on a busy 2-core machine spin-wait for each
            # other (measured in #20 at load 22: 14.6 CPU s and 80 s for the demo's 275 variants, 3.5 CPU s and
            # 17 s with one; scores do not depend on it)
            "--threads-per-actor", "1",
            # the demo shows the Ray Data job: its few hundred variants would otherwise be scored in process
            "--ray"]
    title = "score every variant zero-shot with the model"
    if cache is None or not Path(model).is_dir():  # a hub id's bytes are not ours to hash: score again
        _step(title, argv, common)
        return
    model_files = [Path(model) / n for n in ("config.json", "model.safetensors", "tokenizer.json")]
    key = stepcache.step_key([out / "normalized.vcf.gz", ref, *[f for f in model_files if f.exists()]],
                             [a for a in argv if not a.startswith(str(out))] + common)
    if stepcache.restore(cache, key, out, SCORE_OUTPUTS):
        print(f"\n== {title}\n$ {shown_command(argv)}\n(reused the outputs of an earlier run with the same input "
              f"bytes, model and flags: {display_path(cache / key[:12])}...; --no-cache scores again)", flush=True)
        return
    _step(title, argv, common)
    stepcache.store(cache, key, out, SCORE_OUTPUTS)


def _link_model(link: Path, target: Path) -> None:
    """``OUT/model`` -> the cached model, so ``serve_configs/local.yaml`` (model: demo_out/model) finds it."""
    if link.is_symlink() or link.exists():
        if link.is_symlink():
            link.unlink()
        else:
            return  # a real directory a user put there: leave it alone
    link.symlink_to(target.resolve(), target_is_directory=True)


def _example_snv(vcf: Path) -> tuple[str, int, str, str] | None:
    """(chrom, 1-based pos, ref, alt) of the first scored SNV in the demo's output, for the printed curl line."""
    with gzip.open(vcf, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.split("\t", 8)
            if len(f[3]) == 1 and len(f[4]) == 1 and "RAYGEN_LLR=" in f[7]:
                return f[0], int(f[1]), f[3], f[4]
    return None


class _ServePrestart:
    """Import the service and start Serve's controller and HTTP proxy in a thread, while the demo simulates,
    trains and scores: two more processes that would otherwise start one after the other at the end, each
    seconds of single-threaded start-up (and on a busy machine, more runnable processes get more CPU).
    :meth:`wait` re-raises a user error the thread raised (a port in use)."""

    def __init__(self, host: str, port: int, check_port: bool):
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(host, port, check_port), name="raygen-serve-prestart",
                                        daemon=True)
        self._thread.start()

    def _run(self, host: str, port: int, check_port: bool) -> None:
        try:
            from raygen.serve.service import start_serve

            start_serve(host, port, check_port=check_port)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread by wait()
            self.error = exc

    def check(self) -> None:
        """Raise now a user error the thread has met already (between steps: no training for a port in use)."""
        if isinstance(self.error, RaygenError):
            raise self.error

    def wait(self) -> None:
        self._thread.join()
        if isinstance(self.error, RaygenError):  # a port in use: the user's to fix
            raise self.error
        if self.error is not None:  # anything else: run_service starts Serve itself and says what is wrong
            log.debug("starting Serve ahead failed: %r", self.error)


def run(args: argparse.Namespace) -> int:
    from raygen.cli import runtime_config
    from raygen.runtime import init_ray

    t0 = time.perf_counter()
    info = init_ray(runtime_config(args))
    # the port is checked where it will be bound: on this machine when the demo runs its own Ray
    prestart = None if args.no_serve else _ServePrestart(args.host, args.port, check_port=info.mode == "local")
    common = ["-q"] if args.quiet else []
    out = Path(args.out)  # as given: a relative --out keeps the printed commands and their provenance relative
    sim = out / "sim"
    ref = str(sim / "reference.fa")

    _step("simulate a genome with truth variants written in non-normalized forms",
          ["simulate", "--out", str(sim), "--length", args.length, "--seed", str(args.seed), "--denormalize"], common)
    _step("normalize them like `bcftools norm -m -any -f reference.fa`",
          ["normalize", str(sim / "truth.denorm.vcf.gz"), "-f", ref, "-m", "-any", "-o", str(out / "normalized.vcf.gz"),
           "--parquet", str(out / "normalized.parquet"), "--rejects", str(out / "normalize.rejects.tsv"),
           # --no-version: no ##raygen_provenance line (it carries the run's date), so the same genome gives
           # the same bytes and the score cache, keyed on those bytes, is reused
           "--no-version"], common)

    if prestart:
        prestart.check()
    model = args.model
    if model is None:
        cached = demo_model_dir(Path(args.model_cache), args.train_fasta, args.train_minutes, args.train_steps,
                                args.objective)
        if (cached / "config.json").exists():
            print(f"\n== using the cached demo model {display_path(cached)}")
        else:
            print(f"\n== training the demo DNA language model once ({args.train_steps} steps, at most "
                  f"{args.train_minutes:g} min); it is cached in {display_path(cached)} for later runs")
            kind = "causal LM" if args.objective == "clm" else "masked LM"
            # Two single-thread DDP ranks on 2+ cores: on a loaded 2-core box they made 3.5x the tokens/s of one
            # worker with 2 torch threads (measured in #20: 3100 vs 890 tokens/s at load 21-28).
            _step(f"pretrain raygen-small ({kind})",
                  ["train", "pretrain", "-f", args.train_fasta or ref, "--out", str(cached), "--objective", args.objective,
                   "--time-limit", str(args.train_minutes), "--steps", str(args.train_steps),
                   "--workers", "1" if info.cpus < 2 else "2"], common)
        _link_model(out / "model", cached)
        model = str(out / "model")  # the link: the score command and its provenance name no home-directory path

    if prestart:
        prestart.check()
    _score_step(out, ref, str(model), common, None if args.no_cache else Path(args.score_cache))

    print(f"\n== demo outputs in {display_path(out)} ({time.perf_counter() - t0:.0f} s):")
    for name in ("sim/reference.fa", "sim/truth.vcf.gz", "sim/truth.denorm.vcf.gz", "normalized.vcf.gz",
                 "normalized.parquet", "scored.vcf.gz", "scored.parquet") + (("model",) if args.model is None else ()):
        print(f"  {display_path(out / name)}")
    example = _example_snv(out / "scored.vcf.gz")
    if args.no_serve:
        return 0
    print("\n== starting the service (Ctrl-C stops it)", flush=True)
    prestart.wait()
    from raygen.serve.service import run_service  # Ray Serve loads only when the demo serves (imported by then)

    if example:
        chrom, pos, r, a = example
        body = json.dumps({"variants": [{"chrom": chrom, "pos": pos, "ref": r, "alt": a}]})
        print(f"   try, once it serves (a variant of this genome):\n   curl -s {args.host}:{args.port}/v1/score "
              f"-H 'content-type: application/json' -d '{body}'\n"
              f"   or open http://{args.host}:{args.port}/ui/?variant={chrom}:{pos}+{r}%3E{a}", flush=True)
    # absolute for the replicas, which run in their own working directories
    local = Path(model)
    served = str(local.resolve()) if local.exists() else str(model)
    run_service(ServeConfig(model=served, reference=str(Path(ref).resolve()), host=args.host, port=args.port),
                block=True, address=args.address)
    return 0

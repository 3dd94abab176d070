"""``raygen demo``: the main job end to end on generated data, then the service.

simulate -> normalize -> (train the default model once, cached) -> score -> serve. Each step runs the same
subcommand a user would type, in this process and on one Ray session, so the demo exercises exactly the
code paths of the CLI and prints the commands it runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import time
from pathlib import Path

from raygen.config import DEFAULTS, ServeConfig
from raygen.errors import RaygenError

log = logging.getLogger("raygen.demo")

DEFAULT_CACHE = Path(os.environ.get("RAYGEN_CACHE", Path.home() / ".cache" / "raygen"))


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
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
    p.add_argument("--train-minutes", type=float, default=3.0, help="training time for the demo model")
    p.add_argument("--train-steps", type=int, default=5000, help="upper bound on training steps")
    p.add_argument("--no-serve", action="store_true", help="stop after scoring; do not start the service")
    p.add_argument("--host", default=DEFAULTS.serve.host, help="service host")
    p.add_argument("--port", type=int, default=DEFAULTS.serve.port, help="service port")
    p.set_defaults(func=run)


def _step(title: str, argv: list[str], common: list[str]) -> None:
    from raygen.cli import main

    print(f"\n== {title}\n$ raygen {shlex.join(argv)}", flush=True)
    rc = main(argv + common)
    if rc:
        raise RaygenError(f"demo step '{title}' failed (exit {rc}); the command above reproduces it")


def demo_model_dir(cache: Path, fasta: str | None, minutes: float, steps: int) -> Path:
    """Cache folder of the demo model trained on ``fasta`` (None: the simulated genome) for this budget."""
    source = Path(fasta).name if fasta else "simulated"
    return cache / f"raygen-small-{source}-{minutes:g}min-{steps}steps"


def _link_model(link: Path, target: Path) -> None:
    """``OUT/model`` -> the cached model, so ``serve_configs/local.yaml`` (model: demo_out/model) finds it."""
    if link.is_symlink() or link.exists():
        if link.is_symlink():
            link.unlink()
        else:
            return  # a real directory a user put there: leave it alone
    link.symlink_to(target.resolve(), target_is_directory=True)


def run(args: argparse.Namespace) -> int:
    from raygen.cli import runtime_config
    from raygen.runtime import init_ray

    t0 = time.perf_counter()
    info = init_ray(runtime_config(args))
    common = ["-q"] if args.quiet else []
    out = Path(args.out).resolve()
    sim = out / "sim"
    ref = str(sim / "reference.fa")

    _step("simulate a genome with truth variants written in non-normalized forms",
          ["simulate", "--out", str(sim), "--length", args.length, "--seed", str(args.seed), "--denormalize"], common)
    _step("normalize them like `bcftools norm -m -any -f reference.fa`",
          ["normalize", str(sim / "truth.denorm.vcf.gz"), "-f", ref, "-m", "-any", "-o", str(out / "normalized.vcf.gz"),
           "--parquet", str(out / "normalized.parquet"), "--rejects", str(out / "normalize.rejects.tsv")], common)

    model = args.model
    if model is None:
        cached = demo_model_dir(Path(args.model_cache), args.train_fasta, args.train_minutes, args.train_steps)
        if (cached / "config.json").exists():
            print(f"\n== using the cached demo model {cached}")
        else:
            print(f"\n== training the default DNA language model once (about {args.train_minutes:g} min); "
                  f"it is cached in {cached} for later runs")
            _step("pretrain raygen-small (masked LM)",
                  ["train", "pretrain", "-f", args.train_fasta or ref, "--out", str(cached),
                   "--time-limit", str(args.train_minutes), "--steps", str(args.train_steps),
                   "--workers", "1" if info.cpus < 2 else "2"], common)
        model = str(cached)
        _link_model(out / "model", cached)

    _step("score every variant zero-shot with the model",
          ["score", str(out / "normalized.vcf.gz"), "-f", ref, "--model", model, "-o", str(out / "scored.vcf.gz"),
           "--parquet", str(out / "scored.parquet"), "--rejects", str(out / "score.rejects.tsv")], common)

    print(f"\n== demo outputs in {out} ({time.perf_counter() - t0:.0f} s):")
    for name in ("sim/reference.fa", "sim/truth.vcf.gz", "sim/truth.denorm.vcf.gz", "normalized.vcf.gz",
                 "normalized.parquet", "scored.vcf.gz", "scored.parquet") + (("model",) if args.model is None else ()):
        print(f"  {out / name}")
    if args.no_serve:
        return 0
    from raygen.serve.service import run_service  # Ray Serve loads only when the demo serves

    print("\n== starting the service (Ctrl-C stops it)")
    run_service(ServeConfig(model=str(model), reference=str(ref), host=args.host, port=args.port), block=True,
                address=args.address)
    return 0

"""The ``raygen`` command line: parse flags, call one pipeline function, print its summary.

Each subcommand lives in ``raygen.commands.<name>`` with ``register(subparsers, common)`` that adds its
parser and sets ``func``; this module only wires them together and turns anticipated errors into one-line
messages with exit codes (2 for bad parameters or unreadable input, 1 for other failures).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from raygen import __version__
from raygen.config import DEFAULTS, RuntimeConfig, apply_quiet_env
from raygen.errors import RaygenError, disk_full
from raygen.provenance import set_command
from raygen.raylogs import set_loud

#: Subcommand modules under ``raygen.commands``, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("demo", "info", "simulate", "normalize", "score", "genes", "train", "serve", "call", "profile",
                             "evaluate", "cohort", "assess", "drift", "report", "annotate")

EPILOG = """\
Every command that uses Ray joins the cluster named by --address or $RAY_ADDRESS (so it runs unchanged
under `ray job submit`), or else starts an embedded local Ray sized to this machine.
Run `raygen COMMAND --help` for the flags of one command."""


def common_parser() -> argparse.ArgumentParser:
    """Flags every subcommand accepts: where Ray runs and how chatty the logs are."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("Ray and logging")
    g.add_argument("--address", default=DEFAULTS.runtime.address,
                   help="Ray cluster to join (e.g. ray://head:10001 or auto); default: $RAY_ADDRESS, else a local Ray")
    g.add_argument("--num-cpus", type=int, default=DEFAULTS.runtime.num_cpus,
                   help="CPUs for the embedded local Ray (default: all cores); ignored with --address")
    g.add_argument("--num-gpus", type=int, default=DEFAULTS.runtime.num_gpus,
                   help="GPUs for the embedded local Ray (default: autodetect); ignored with --address")
    g.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    g.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only; no progress bars")
    return p


def runtime_config(args: argparse.Namespace) -> RuntimeConfig:
    """The :class:`RuntimeConfig` that the common flags describe."""
    return RuntimeConfig(address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; ``only``: register that subcommand alone (its module is the only one imported:
    ``main`` passes the command it was given, since the others' imports cost every run ~0.05 s CPU)."""
    parser = argparse.ArgumentParser(
        prog="raygen",
        description="raygen: Ray-native genomics AI (simulate, normalize, score, train, serve, call).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"raygen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_parser()
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"raygen.commands.{name}").register(sub, common)
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    set_loud(args.verbose > 0)  # -v: Ray's own warnings too (raygen.raylogs)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.verbose < 2:
        for noisy in ("ray", "filelock", "urllib3", "httpx", "transformers"):
            logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``raygen`` script; returns the process exit code."""
    apply_quiet_env()
    set_command(["raygen", *(sys.argv[1:] if argv is None else argv)])
    command = "raygen"
    try:
        given = sys.argv[1:] if argv is None else argv
        # imports the command modules: Ctrl-C may come this early
        parser = build_parser(given[0] if given and given[0] in COMMANDS else None)
        args = parser.parse_args(argv)
        command = f"raygen {args.command}"
        _setup_logging(args)
        rc = args.func(args)
    except RaygenError as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a full disk outside raygen.io.atomic (which names the output itself)
        full = disk_full(exc, exc.filename or "an output")
        if full is None:
            raise
        print(f"{command}: error: {full}", file=sys.stderr)
        return full.exit_code
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())

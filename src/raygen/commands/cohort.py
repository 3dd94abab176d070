"""``raygen cohort``: cohort-level normalization (copy number, batch effects), one subcommand group.

Each part lives in its own module named in :data:`COHORT_PARTS`, whose ``register(subparsers, common)``
adds its subcommands to the group.
"""

from __future__ import annotations

import argparse
import importlib

#: Modules under ``raygen.commands`` that add subcommands to ``raygen cohort``.
COHORT_PARTS: tuple[str, ...] = ("cohort_batch",)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "cohort", parents=[common], help="cohort normalization: batch-effect correction (ComBat, VAE), size factors",
        description="Normalize a cohort of samples together. Run `raygen cohort SUBCOMMAND --help` for one of them.",
    )
    csub = p.add_subparsers(dest="cohort_command", metavar="SUBCOMMAND", required=True)
    for name in COHORT_PARTS:
        importlib.import_module(f"raygen.commands.{name}").register(csub, common)

"""``raygen cohort``: cohort-level normalization (copy number, batch effects), one subcommand group.

Each part lives in its own module named in :data:`COHORT_PARTS`, whose ``register(subparsers, common)``
adds its subcommands to the group.
"""

from __future__ import annotations

import argparse
import importlib

#: Modules under ``raygen.commands`` that add ``raygen cohort`` subcommands, in ``--help`` order.
COHORT_PARTS: tuple[str, ...] = ("cohort_cnv", "cohort_batch")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "cohort",
        parents=[common],
        help="cohort normalization: CNVkit-compatible copy number; batch effects (ComBat, VAE), size factors",
        description="Normalize sequencing data across a cohort. Copy number: CNVkit's steps and file formats "
        "(.cnn, .cnr, .cns), so CNVkit reads raygen's files and vice versa. Batch effects: ComBat exactly as "
        "R sva, a conditional-VAE corrector, count size factors, and mixing/biology metrics. Many samples run "
        "on Ray. Run `raygen cohort COMMAND --help` for one step.",
    )
    parts = p.add_subparsers(dest="cohort_command", metavar="COMMAND", required=True)
    for name in COHORT_PARTS:
        importlib.import_module(f"raygen.commands.{name}").register(parts, common)

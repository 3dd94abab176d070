"""``raygen cohort``: cohort normalization. Each module named in :data:`COHORT_PARTS` adds its own
subcommands through ``register(subparsers, common)``."""

from __future__ import annotations

import argparse
import importlib

#: Modules under ``raygen.commands`` that add ``raygen cohort`` subcommands, in ``--help`` order.
COHORT_PARTS: tuple[str, ...] = ("cohort_cnv",)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "cohort",
        help="cohort normalization: CNVkit-compatible copy number (coverage, reference, fix, segment, call, scatter)",
        description="Normalize sequencing coverage across a cohort. Copy number: CNVkit's steps and file formats "
        "(.cnn, .cnr, .cns), so CNVkit reads raygen's files and vice versa; many samples run on Ray. "
        "Run `raygen cohort COMMAND --help` for one step.",
    )
    parts = p.add_subparsers(dest="cohort_command", metavar="COMMAND", required=True)
    for name in COHORT_PARTS:
        importlib.import_module(f"raygen.commands.{name}").register(parts, common)

"""One module per ``raygen`` subcommand: ``register(subparsers, common)`` adds the parser, ``run(args)`` runs it."""

import argparse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show each flag's default in ``--help``, except the ``None``/``False`` ones that would only say
    "(default: None)" or "(default: False)" (an unset option, a switch); the subcommands that list defaults use it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def add_ray_choice(p: argparse.ArgumentParser, shard_bp: int, what: str = "input") -> None:
    """``--ray`` / ``--no-ray`` (``use_ray``: None lets the command choose by input size and index) and
    ``--shard-bp``, as the VCF-streaming commands (normalize, annotate, score) share them."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ray", dest="use_ray", action="store_const", const=True, default=None,
                   help=f"run as a Ray Data job (sharded by region when the {what} is bgzipped and indexed; "
                   "otherwise streamed in one read task)")
    g.add_argument("--no-ray", dest="use_ray", action="store_const", const=False, help="process in this process")
    p.add_argument("--shard-bp", type=int, default=shard_bp, help=f"region size of a Ray shard (default {shard_bp})")

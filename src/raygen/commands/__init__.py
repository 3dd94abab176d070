"""One module per ``raygen`` subcommand: ``register(subparsers, common)`` adds the parser, ``run(args)`` runs it."""

import argparse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show each flag's default in ``--help``, except the ``None``/``False`` ones that would only say
    "(default: None)" or "(default: False)" (an unset option, a switch); the subcommands that list defaults use it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)

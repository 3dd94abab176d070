"""One module per ``raygen`` subcommand: ``register(subparsers, common)`` adds the parser, ``run(args)`` runs it."""

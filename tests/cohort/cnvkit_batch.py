"""Run several ``cnvkit.py`` commands in one interpreter of the CNVkit side venv (start-up costs ~10 s each).

Usage (with the oracle's python): ``python cnvkit_batch.py JOBS.json``; JOBS is a list of argument lists,
run in order with the working directory of the JSON file. Exits 1 on the first failing command.
"""

import json
import logging
import os
import sys

from cnvlib import commands

logging.basicConfig(level=logging.WARNING, format="%(message)s")
jobs_path = sys.argv[1]
os.chdir(os.path.dirname(os.path.abspath(jobs_path)))
for argv in json.load(open(jobs_path)):
    try:
        args = commands.parse_args(argv)
        args.func(args)
    except Exception as exc:  # report which command failed
        print(f"cnvkit {' '.join(argv)}: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)

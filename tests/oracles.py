"""Where the peer tools that differential tests compare raygen against live.

Python peers run in their own virtual environments under ``.oracles/NAME`` (built by ``make oracles``,
which ``make test`` runs first), so their pinned dependencies (TensorFlow for SpliceAI, CNVkit's numpy and
pandas ranges) never enter raygen's environment. R packages come from Debian (``apt-get install r-bioc-sva``).
``$RAYGEN_ORACLES`` moves the folder. A test that needs a missing peer skips and says how to get it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ORACLES = Path(os.environ.get("RAYGEN_ORACLES", REPO / ".oracles"))


def oracle_python(name: str) -> Path | None:
    """The Python interpreter of the side environment ``.oracles/NAME``, or None where it is not built."""
    py = ORACLES / name / "bin" / "python"
    return py if py.exists() and (ORACLES / name / ".installed").exists() else None


def require_oracle_python(name: str) -> Path:
    """:func:`oracle_python`, or skip the test with the command that builds it."""
    py = oracle_python(name)
    if py is None:
        pytest.skip(f"differential test: peer environment {ORACLES / name} is not built (run `make oracles`)")
    return py


@cache
def r_has(*packages: str) -> bool:
    """Whether ``Rscript`` exists and every R package named is installed.

    Found with ``find.package``, without loading them: loading sva costs ~5.5 CPU s and edgeR + DESeq2 ~7.8
    (measured here), and the test's own R session loads them anyway; an installed package that fails to load
    fails that test with R's message rather than skipping it.
    """
    rscript = shutil.which("Rscript")
    if rscript is None:
        return False
    names = ", ".join(f'"{p}"' for p in packages)
    code = f"quit(status = as.integer(length(find.package(c({names}), quiet = TRUE)) != {len(packages)}L))"
    return subprocess.run([rscript, "-e", code], capture_output=True, timeout=120).returncode == 0


def require_r(*packages: str) -> str:
    """The ``Rscript`` path where it loads ``packages``, or skip the test naming the Debian packages."""
    if not r_has(*packages):
        debs = " ".join(f"r-bioc-{p.lower()}" for p in packages)
        pytest.skip(f"differential test: R with {', '.join(packages)} is not installed (apt-get install {debs})")
    return shutil.which("Rscript")

"""Start pyarrow without importing pandas, for commands that never hand pandas objects to Arrow.

The first time pyarrow converts a Python object (``pa.array``, ``pa.scalar``, a Python value given to a
compute function) it checks whether pandas is installed by importing it: ~0.45 s of CPU at start-up
(measured here, 2-core box), which ``raygen normalize`` in process pays on its main thread and never uses.
:func:`without_pandas_probe` lets that check run once with pandas hidden, so pyarrow notes "no pandas"; a
pyarrow call that needs pandas (``to_pandas``, ``from_pandas``) imports it anyway, and on leaving, a pandas
imported meanwhile is shown to pyarrow again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa


class _HidePandas:
    """A meta-path finder that makes ``import pandas`` fail (while pyarrow probes for it)."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas hidden while pyarrow starts (raygen.io.arrowstart)")
        return None


@contextmanager
def without_pandas_probe() -> Iterator[None]:
    """Run the block with pyarrow's pandas probe already done, without importing pandas (see the module
    docstring). Only for code that gives Arrow no pandas objects: inside, ``pa.array(a_pandas_series)`` is
    converted as a plain sequence. Does nothing where pandas is already imported."""
    shim = getattr(pa.lib, "_pandas_api", None)
    if "pandas" in sys.modules or shim is None:
        yield
        return
    finder = _HidePandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's first conversion: the probe (pandas not found)
    finally:
        sys.meta_path.remove(finder)
    try:
        yield
    finally:
        if "pandas" in sys.modules:
            shim.pd  # pyarrow imports pandas again (already loaded: cheap) and uses it from now on

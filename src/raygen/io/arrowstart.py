"""Start pyarrow without importing pandas, for code that never hands pandas objects to Arrow.

The first time pyarrow converts a Python object (``pa.array``, ``pa.scalar``, a Python value given to a
compute function) it checks whether pandas is installed by importing it: ~0.45 s of CPU at start-up
(measured here, 2-core box), which ``raygen normalize`` in process pays on its main thread and never uses.
:func:`skip_pandas_probe` lets that check run with pandas hidden, so pyarrow notes "no pandas", and leaves
a finder on ``sys.meta_path`` that, when pandas is imported later (by anything, in this process), shows it
to pyarrow again right after the import: no object of pandas can reach pyarrow before that, so every
conversion is the one pyarrow would have made.
"""

from __future__ import annotations

import importlib.util
import sys

import pyarrow as pa


class _HidePandas:
    """A meta-path finder that makes ``import pandas`` fail (while pyarrow probes for it)."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas hidden while pyarrow starts (raygen.io.arrowstart)")
        return None


class _ShowPandasOnImport:
    """A meta-path finder that, the first time pandas is imported, lets it load as usual and then makes
    pyarrow import it again (``_pandas_api.pd``: already loaded, cheap), so pyarrow uses it from then on."""

    def __init__(self, shim):
        self.shim = shim

    def find_spec(self, name, path=None, target=None):
        if name != "pandas":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # the usual finders
        if spec is None or spec.loader is None:
            return spec
        run, shim = spec.loader.exec_module, self.shim

        def exec_module(module):
            run(module)
            shim.pd

        spec.loader.exec_module = exec_module
        return spec


def skip_pandas_probe() -> None:
    """Let pyarrow's pandas probe run now, without importing pandas (see the module docstring). Does nothing
    where pandas is imported already or pyarrow has no such probe."""
    shim = getattr(pa.lib, "_pandas_api", None)
    if "pandas" in sys.modules or shim is None or any(isinstance(f, _ShowPandasOnImport) for f in sys.meta_path):
        return
    hide = _HidePandas()
    sys.meta_path.insert(0, hide)
    try:
        pa.array([0])  # pyarrow's first conversion: the probe (pandas not found)
    finally:
        sys.meta_path.remove(hide)
    sys.meta_path.insert(0, _ShowPandasOnImport(shim))

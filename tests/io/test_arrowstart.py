"""skip_pandas_probe: pyarrow converts Python values without importing pandas, and sees pandas again as soon
as anything imports it (a fresh interpreter: the test process may hold pandas already)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import pyarrow as pa
import pyarrow.compute as pc
from raygen.io.arrowstart import skip_pandas_probe

skip_pandas_probe()
pc.binary_join_element_wise(pa.array(["a"]), pa.array(["b"]), "\\t")
pa.scalar(1.5)
assert "pandas" not in sys.modules, "pandas imported"
import pandas as pd  # imported later, as a long-lived process (tests, a server) may
assert pa.types.is_dictionary(pa.array(pd.Series(pd.Categorical(["a", "b"]))).type), "pandas unseen"
assert pa.array(pd.Series([1.0, float("nan")]), from_pandas=True).null_count == 1
print("ok")
"""


def test_pyarrow_without_pandas_then_with_it():
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]

"""notebooks/quickstart.ipynb runs top to bottom on small data, in a kernel of this venv (so it never rots)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def test_notebook_is_committed_without_outputs():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cells"
    assert all(not c.outputs and c.execution_count is None for c in code), "clear outputs before committing"


@pytest.mark.timeout(300)
def test_quickstart_runs_top_to_bottom(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    # A kernelspec of our own, in a private Jupyter path: the kernel is this venv's python whatever the
    # user's global kernels are, and nothing is written to ~/.local/share/jupyter.
    kernels = tmp_path / "jupyter" / "kernels" / "raygen-venv"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "raygen (venv)", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    out = tmp_path / "quickstart"
    monkeypatch.setenv("RAYGEN_QUICKSTART_OUT", str(out))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, kernel_name="raygen-venv", timeout=240, allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the failing cell
    elapsed = time.perf_counter() - t0

    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "normalized == truth: yes" in text
    assert "with a score" in text
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the plot cell displayed no figure"
    assert (out / "score_by_class.png").stat().st_size > 5_000
    assert (out / "scored.vcf.gz").exists() and any((out / "scored_parquet").glob("contigName=*/*.parquet"))
    print(f"\n[figure] quickstart notebook top to bottom: {elapsed:.1f} s")

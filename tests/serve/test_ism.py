"""The in-silico mutagenesis grid of the UI's heatmap (pure, no Ray)."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.io.fasta import Reference
from raygen.serve.ism import ism_layout

from .conftest import write_reference


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    path = tmp_path_factory.mktemp("ism") / "ref.fa"
    seqs = write_reference(path)
    with Reference(path) as r:
        yield r, seqs


def test_ism_layout(ref):
    r, seqs = ref
    lay = ism_layout(r, "chr2", 52, 3)  # chr2 starts with 50 N: columns 49..55, two of them N
    assert lay.first_pos == 49 and lay.ref_bases == "NN" + seqs["chr2"][50:55]
    assert len(lay.variants) == 3 * 5 and all(v.ref == lay.ref_bases[v.pos - 49] != v.alt for v in lay.variants)
    grid = lay.matrix(range(len(lay.variants)))
    assert grid.shape == (4, 7) and np.isnan(grid[:, :2]).all()
    for i, (row, col) in enumerate(lay.cells):
        assert grid[row, col] == i and "ACGT"[row] == lay.variants[i].alt
    assert np.isnan(grid).sum() == 4 * 2 + 5  # N columns + one reference base per real column

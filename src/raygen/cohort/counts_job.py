"""``raygen cohort size-factors`` end to end: read a count matrix, compute the factors, write the tables."""

from __future__ import annotations

import numpy as np

from raygen.cohort.matrix import MatrixWriter, read_matrix
from raygen.cohort.sizefactors import check_counts, log_cpm, size_factor_table
from raygen.errors import InputError
from raygen.io.atomic import atomic_path


def run_size_factors(matrix: str, method: str, out: str, log_cpm_out: str | None = None,
                     normalized_out: str | None = None, prior_count: float = 2.0,
                     feature_col: str | None = None) -> dict:
    """Write the per-sample factor table (and optionally log-CPM / normalized counts); returns a summary."""
    m = read_matrix(matrix, feature_col)
    counts = check_counts(m.values, matrix)
    if counts.shape[0] == 0:
        raise InputError(f"{matrix}: no features")
    table = size_factor_table(counts, method)
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("sample\tlib_size\tfactor\teffective_lib_size\n")
        for j, s in enumerate(m.samples):
            fh.write(f"{s}\t{table['lib_size'][j]:.17g}\t{table['factor'][j]:.17g}\t{table['effective_lib_size'][j]:.17g}\n")
    outputs = [out]
    eff = table["effective_lib_size"]
    if log_cpm_out:
        with MatrixWriter(log_cpm_out, m.layout, m.samples) as w:
            w.write(m.features, log_cpm(counts, eff, prior_count))
        outputs.append(log_cpm_out)
    if normalized_out:
        scale = table["factor"] if method == "deseq2" else eff / np.exp(np.mean(np.log(eff)))
        with MatrixWriter(normalized_out, m.layout, m.samples) as w:
            w.write(m.features, counts / scale[None, :])
        outputs.append(normalized_out)
    return {"features": counts.shape[0], "samples": counts.shape[1], "factor_min": float(table["factor"].min()),
            "factor_max": float(table["factor"].max()), "outputs": outputs}

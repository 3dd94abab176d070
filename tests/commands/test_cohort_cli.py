"""`raygen cohort` as a user meets it: every subcommand explains itself; size-factors end to end."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.cohort.matrix import read_matrix
from raygen.cohort.sizefactors import log_cpm, tmm_factors


@pytest.mark.parametrize("sub", ["combat", "combat-apply", "size-factors", "vae-train", "vae-correct", "assess"])
def test_every_subcommand_has_help(run_cli, sub, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("cohort", sub, "--help")
    assert exit_info.value.code == 0
    assert "usage: raygen cohort " + sub in capsys.readouterr().out


def test_size_factors_end_to_end(tmp_path, run_cli):
    rng = np.random.default_rng(0)
    counts = rng.poisson(np.exp(rng.normal(3, 1.5, (200, 1))) * rng.uniform(0.5, 2, (1, 6))).astype(int)
    path = tmp_path / "counts.csv"
    path.write_text("gene," + ",".join(f"s{j}" for j in range(6)) + "\n" + "".join(
        f"g{i}," + ",".join(str(v) for v in row) + "\n" for i, row in enumerate(counts)))
    rc, out, err = run_cli("cohort", "size-factors", path, "--method", "tmm", "-o", tmp_path / "f.tsv",
                           "--log-cpm", tmp_path / "lcpm.csv", "--normalized", tmp_path / "norm.csv")
    assert rc == 0, err
    assert "200 features x 6 samples" in out
    table = [ln.split("\t") for ln in (tmp_path / "f.tsv").read_text().splitlines()]
    assert table[0] == ["sample", "lib_size", "factor", "effective_lib_size"] and len(table) == 7
    f = tmm_factors(counts.astype(float))
    assert np.allclose([float(r[2]) for r in table[1:]], f, rtol=0, atol=1e-15)
    lc = read_matrix(tmp_path / "lcpm.csv")
    assert lc.features[:2] == ["g0", "g1"] and np.allclose(lc.values, log_cpm(counts, counts.sum(0) * f))
    bad = tmp_path / "bad.csv"
    bad.write_text("gene,a,b\ng1,1,-2\n")
    rc, _, err = run_cli("cohort", "size-factors", bad, "-o", tmp_path / "x.tsv")
    assert rc == 2 and "negative count -2" in err and not (tmp_path / "x.tsv").exists()

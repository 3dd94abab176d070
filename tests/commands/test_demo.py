"""``raygen demo`` runs the whole main job (simulate -> normalize -> train -> score) on the real local Ray."""

from __future__ import annotations

import gzip

import pyarrow.dataset as ds
import pytest

from raygen.commands.demo import demo_model_dir


@pytest.mark.timeout(400)
def test_demo_end_to_end_without_service(ray_session, run_cli, tmp_path):
    out, cache = tmp_path / "demo", tmp_path / "cache"
    scores = tmp_path / "scores"
    rc, stdout, _ = run_cli("demo", "--out", out, "--no-serve", "--length", "60k", "--model-cache", cache,
                            "--score-cache", scores, "--train-minutes", "0.2", "--train-steps", "4")
    assert rc == 0
    assert "training the demo DNA language model once" in stdout and "reused the outputs" not in stdout
    model = demo_model_dir(cache, None, 0.2, 4)
    assert '"architectures": [\n    "RoFormerForCausalLM"' in (model / "config.json").read_text()
    assert (model / "config.json").exists() and (model / "README.md").exists()
    assert (out / "model").resolve() == model.resolve()  # serve_configs/local.yaml serves demo_out/model

    # Every normalized record comes back scored (or with a skip reason): nothing is dropped.
    def records(path):
        with gzip.open(path, "rt") as fh:
            return [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]

    normalized, scored = records(out / "normalized.vcf.gz"), records(out / "scored.vcf.gz")
    assert len(normalized) == len(scored) > 50
    assert [r[:5] for r in normalized] == [r[:5] for r in scored]
    assert all("RAYGEN_LLR=" in r[7] or "RAYGEN_SKIP=" in r[7] for r in scored)
    table = ds.dataset(out / "scored.parquet", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(scored)

    first = (out / "scored.vcf.gz").read_bytes()

    # A second run reuses the cached model instead of training again, and the scores of the same input
    # (byte-identical to scoring again); --no-cache scores again, to the same bytes.
    (out / "scored.vcf.gz").unlink()
    rc, stdout, _ = run_cli("demo", "--out", out, "--no-serve", "--length", "60k", "--model-cache", cache,
                            "--score-cache", scores, "--train-minutes", "0.2", "--train-steps", "4")
    assert rc == 0
    assert "using the cached demo model" in stdout and "training the demo" not in stdout
    assert "reused the outputs of an earlier run" in stdout
    assert (out / "scored.vcf.gz").read_bytes() == first
    rc, stdout, _ = run_cli("demo", "--out", out, "--no-serve", "--length", "60k", "--model-cache", cache,
                            "--score-cache", scores, "--train-minutes", "0.2", "--train-steps", "4", "--no-cache")
    assert rc == 0 and "reused the outputs" not in stdout
    assert gzip.decompress((out / "scored.vcf.gz").read_bytes()) == gzip.decompress(first)

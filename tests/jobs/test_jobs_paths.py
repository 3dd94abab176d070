"""raygen.jobs: URI detection, filesystem resolution and the fail-fast input check (no Ray needed)."""

from __future__ import annotations

import pytest

from raygen.errors import InputError
from raygen.jobs import check_inputs_exist, in_ray_job, is_uri, resolve


@pytest.mark.parametrize(
    ("path", "expected"),
    [("s3://bucket/key.vcf.gz", True), ("gs://b/x", True), ("file:///tmp/x", True), ("/data/x.vcf", False),
     ("rel/x.vcf", False), ("./a://b", False), ("C:\\data\\x", False)],
)
def test_is_uri(path, expected):
    assert is_uri(path) is expected


def test_resolve_local_and_file_uri(tmp_path):
    import pyarrow.fs as pafs

    fs, inner = resolve(tmp_path / "a.vcf")
    assert isinstance(fs, pafs.LocalFileSystem) and inner == str(tmp_path / "a.vcf")
    fs, inner = resolve(f"file://{tmp_path}/a.vcf")
    assert isinstance(fs, pafs.LocalFileSystem) and inner == f"{tmp_path}/a.vcf"


def test_existing_inputs_pass(tmp_path):
    (tmp_path / "in.vcf").write_text("##fileformat=VCFv4.2\n")
    (tmp_path / "table").mkdir()  # a Parquet dataset is a directory
    check_inputs_exist(tmp_path / "in.vcf", str(tmp_path / "table"), f"file://{tmp_path}/in.vcf", None)


def test_missing_inputs_are_all_named(tmp_path):
    (tmp_path / "ok.vcf").write_text("x")
    with pytest.raises(InputError) as info:
        check_inputs_exist(tmp_path / "ok.vcf", tmp_path / "nope.vcf", f"file://{tmp_path}/gone.fa")
    msg = str(info.value)
    assert str(tmp_path / "nope.vcf") in msg and f"file://{tmp_path}/gone.fa" in msg
    assert "ok.vcf" not in msg
    assert info.value.exit_code == 2


def test_unknown_scheme_is_an_input_error():
    with pytest.raises(InputError, match="nosuchfs://x"):
        check_inputs_exist("nosuchfs://x/y")


def test_job_hint_only_inside_a_ray_job(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    assert not in_ray_job()
    with pytest.raises(InputError) as plain:
        check_inputs_exist(tmp_path / "x")
    assert "head node" not in str(plain.value)
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")
    with pytest.raises(InputError) as job:
        check_inputs_exist(tmp_path / "x")
    assert "head node" in str(job.value) and str(tmp_path / "x") in str(job.value)


def test_relative_output_warning_only_inside_a_ray_job(monkeypatch, caplog, tmp_path):
    from raygen.jobs import warn_if_output_is_ephemeral

    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    with caplog.at_level("WARNING", logger="raygen.jobs"):
        warn_if_output_is_ephemeral("out/scored.vcf.gz")
    assert not caplog.records
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")
    with caplog.at_level("WARNING", logger="raygen.jobs"):
        warn_if_output_is_ephemeral(tmp_path / "abs.vcf.gz")
        warn_if_output_is_ephemeral("s3://bucket/out.vcf.gz")
        assert not caplog.records
        warn_if_output_is_ephemeral("out/scored.vcf.gz")
    assert len(caplog.records) == 1 and "out/scored.vcf.gz" in caplog.records[0].getMessage()

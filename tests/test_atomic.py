"""Atomic writes: the final name appears only after success; failures leave the old file or nothing."""

from __future__ import annotations

import os

import pytest

from raygen.errors import UsageError
from raygen.io.atomic import atomic_dir, atomic_path, atomic_paths, ensure_writable_dir


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
        assert not target.exists()
    assert target.read_text() == "whole"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_paths_all_or_nothing(tmp_path):
    a, b = tmp_path / "x.vcf.gz", tmp_path / "x.vcf.gz.tbi"
    with pytest.raises(ValueError):
        with atomic_paths(a, b) as (ta, tb):
            ta.write_text("data")
            raise ValueError
    assert os.listdir(tmp_path) == []
    with atomic_paths(a, b) as (ta, tb):
        ta.write_text("data")
        tb.write_text("index")
    assert sorted(os.listdir(tmp_path)) == ["x.vcf.gz", "x.vcf.gz.tbi"]


def test_atomic_dir_replaces_whole_directory(tmp_path):
    target = tmp_path / "parquet"
    with atomic_dir(target) as d:
        (d / "a.parquet").write_text("1")
    with pytest.raises(KeyError):
        with atomic_dir(target) as d:
            (d / "b.parquet").write_text("2")
            raise KeyError
    assert os.listdir(target) == ["a.parquet"]
    assert [p for p in os.listdir(tmp_path)] == ["parquet"]


def test_unwritable_dir_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="not writable"):
        ensure_writable_dir(blocker / "sub")

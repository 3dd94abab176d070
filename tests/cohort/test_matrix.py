"""Reading and writing cohort matrices and sample sheets: layouts, missing values, errors that name the spot."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from raygen.cohort.matrix import MatrixWriter, align_sheet, iter_blocks, read_matrix, read_sheet, sniff_layout, write_matrix
from raygen.errors import InputError, UsageError


def _write(path, text):
    path.write_text(text)
    return path


def test_layouts(tmp_path):
    named = read_matrix(_write(tmp_path / "a.tsv", "gene\ts1\ts2\ng1\t1\tNA\ng2\t\t4.5\n"))
    assert named.features == ["g1", "g2"] and named.samples == ["s1", "s2"]
    assert np.isnan(named.values[0, 1]) and np.isnan(named.values[1, 0]) and named.values[1, 1] == 4.5
    rstyle = read_matrix(_write(tmp_path / "b.tsv", "s1\ts2\ng1\t1\t2\ng2\t3\t4\n"))  # write.table header
    assert rstyle.features == ["g1", "g2"] and rstyle.layout.short_header
    bare = read_matrix(_write(tmp_path / "c.csv", "V1,V2\n1,2\n3,4\n"))
    assert bare.features == ["1", "2"] and bare.layout.feature_header is None
    numeric_ids = read_matrix(_write(tmp_path / "d.csv", "id,s1,s2\n101,1,2\n102,3,4\n"), feature_col="id")
    assert numeric_ids.features == ["101", "102"] and numeric_ids.samples == ["s1", "s2"]
    by_sheet = sniff_layout(tmp_path / "d.csv", known_samples=["s1", "s2"])
    assert by_sheet.feature_header == "id"
    gz = tmp_path / "e.tsv.gz"
    gz.write_bytes(gzip.compress(b"f\tx\ty\na\t1\t2\n"))
    assert read_matrix(gz).values.tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".parquet"])
def test_round_trip_keeps_layout_and_exact_values(tmp_path, suffix):
    rng = np.random.default_rng(0)
    src = read_matrix(_write(tmp_path / "in.tsv", "gene\ts1\ts2\ts3\n" + "".join(
        f"g{i}\t" + "\t".join("NA" if rng.random() < 0.1 else repr(float(v)) for v in rng.normal(size=3)) + "\n"
        for i in range(50))))
    write_matrix(tmp_path / f"out{suffix}", src)
    back = read_matrix(tmp_path / f"out{suffix}")
    assert back.features == src.features and back.samples == src.samples
    assert np.array_equal(back.values, src.values, equal_nan=True)


def test_blocks_stream_in_order(tmp_path):
    text = "f\ta\tb\n" + "".join(f"r{i}\t{i}\t{-i}\n" for i in range(1000))
    layout = sniff_layout(_write(tmp_path / "m.tsv", text))
    blocks = list(iter_blocks(layout, block_rows=300))
    assert [s for s, _, _ in blocks] == [0, 300, 600, 900]
    assert np.vstack([v for _, _, v in blocks])[:, 0].tolist() == list(range(1000))


@pytest.mark.parametrize("text,message", [
    ("f\ta\tb\ng1\t1\t2\ng2\t3\tabc\n", "line 3, column 'b': not a number: 'abc'"),
    ("f\ta\tb\ng1\t1\t2\ng2\t3\n", "line 3: 2 fields, expected 3"),
    ("f\ta\tb\ng1\t1\tinf\n", "line 2, column 'b': infinite value"),
    ("f\ta\ta\ng1\t1\t2\n", "duplicate sample column"),
    ("f\ta\tb\n", "header only"),
])
def test_bad_matrices_name_file_line_and_column(tmp_path, text, message):
    path = _write(tmp_path / "bad.tsv", text)
    with pytest.raises(InputError, match=message) as err:
        read_matrix(path)
    assert str(path) in str(err.value)


def test_a_one_column_matrix_is_refused_before_the_sheet_is_matched(tmp_path):
    """Issue 19 (a new tester's corpus): a space-separated matrix gave ``raygen cohort combat`` an IndexError."""
    path = _write(tmp_path / "spaces.tsv", "f  a  b\ng1  1  2\n")
    with pytest.raises(InputError, match="no sample columns"):
        sniff_layout(path)


def test_sheet_alignment_and_errors(tmp_path):
    sheet = read_sheet(_write(tmp_path / "s.tsv", "id\tsite\tage\nx\tA\t3\ny\tB\t4\nz\tA\t5\nextra\tB\t1\n"))
    aligned = align_sheet(sheet, ["z", "x", "y"])
    assert aligned["site"] == ["A", "A", "B"] and aligned["age"] == ["5", "3", "4"]
    with pytest.raises(InputError, match="1 matrix sample\\(s\\) missing from the sheet.*w"):
        align_sheet(sheet, ["x", "w"])
    dup = read_sheet(_write(tmp_path / "d.tsv", "id\tsite\nx\tA\nx\tB\n"))
    with pytest.raises(InputError, match="appears twice"):
        align_sheet(dup, ["x"])
    with pytest.raises(UsageError, match="no column 'nope'"):
        align_sheet(sheet, ["x"], sample_col="nope")
    with pytest.raises(InputError, match="line 3: 1 fields"):
        read_sheet(_write(tmp_path / "e.tsv", "id\tsite\nx\tA\ny\n"))


def test_writer_is_atomic(tmp_path):
    src = read_matrix(_write(tmp_path / "in.tsv", "f\ta\ng\t1\n"))
    out = tmp_path / "out.tsv"
    with pytest.raises(RuntimeError):
        with MatrixWriter(out, src.layout) as w:
            w.write(src.features, src.values)
            raise RuntimeError("crash mid-write")
    assert not out.exists() and not list(tmp_path.glob(".out.tsv.tmp-*"))

"""CNVkit file formats: byte-identical round trips of CNVkit's own files, Picard import, bad input."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from raygen.cohort import cnvfiles as cf
from raygen.errors import InputError


@pytest.mark.shared
@pytest.mark.parametrize("name", ["picard_expected/reference-picard.cnvkit-0.9.14.cnn.gz", "tr95/reference-tr.cnn.gz",
                                  "tr95/TR_95_T.cnvkit-0.9.14.cnr.gz", "picard_expected/p2-20_1.cnvkit-0.9.14.cnr.gz",
                                  "tr95/TR_95_T.targetcoverage.cnn"])
def test_cnvkit_files_round_trip_byte_for_byte(shared_data, name):
    path = shared_data / "cnvkit" / name
    text = gzip.open(path, "rt").read() if name.endswith(".gz") else path.read_text()
    assert cf.table_text(cf.read_cnvkit(path)) == text


@pytest.mark.shared
def test_read_picard_columns_and_coordinates(shared_data):
    t = cf.read_picard(shared_data / "cnvkit/picard/p2-5_5.targetcoverage.csv")
    assert t.columns == ["chromosome", "start", "end", "depth", "gc", "gene", "ratio", "log2"]
    assert t.sample_id == "p2-5_5" and len(t) == 6646
    assert (t.start[0], t.end[0], t.gene[0]) == (1508981, 1509154, "SSU72")  # Picard 1-based start - 1
    assert "TERT Promoter" in set(t.gene.tolist())  # 'TERT|TERT Promoter' resolved to the longer label


def test_format_and_sample_id():
    assert cf.format_float(0.1234567) == "0.123457" and cf.format_float(float("nan")) == ""
    assert cf.format_float(-20.0) == "-20" and cf.format_float(1e-7) == "1e-07"
    assert cf.sample_id_from_path("/x/S1.antitargetcoverage.cnn") == "S1"
    assert cf.sample_id_from_path("S1.call.cns") == "S1.call"


def test_rows_without_log2_are_dropped_with_a_count(tmp_path, caplog):
    p = tmp_path / "x.cnr"
    p.write_text("chromosome\tstart\tend\tgene\tlog2\nchr2\t5\t9\tB\t0.5\nchr1\t1\t4\tA\t\nchr1\t4\t8\t\t-1\n")
    t = cf.read_cnvkit(p)
    assert len(t) == 2 and t.chrom.tolist() == ["chr1", "chr2"] and t.gene.tolist() == ["-", "B"]
    assert "dropped 1 rows" in caplog.text


@pytest.mark.parametrize("text,match", [
    ("", "empty"),
    ("chrom\tpos\nchr1\t3\n", "not a CNVkit table"),
    ("chromosome\tstart\tend\tlog2\nchr1\tten\t20\t0.1\n", "whole numbers"),
    # issue 19 (a new tester's corpus): these were TypeError/KeyError tracebacks in reference, fix and segment
    ("chromosome\tstart\tend\tgene\tlog2\nchr1\t0\t5\tA\t0.1\nchr1\t5\t9\tA\tx\n", "line 3: column 'log2' is not a number: 'x'"),
    ("chromosome\tstart\tend\tgene\tdepth\nchr1\t0\t5\tA\t3\n", "no log2 column"),
    ("chromosome\tstart\tend\tgene\tlog2\nchr1\t9\t5\tA\t0.1\n", "line 2: bin chr1:9-5 has a negative start or ends"),
    ("chromosome\tstart\tend\tgene\tlog2\nchr1\t-2\t5\tA\t0.1\n", "line 2: bin chr1:-2-5"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, match):
    p = tmp_path / "bad.cnn"
    p.write_text(text)
    with pytest.raises(InputError, match=match):
        cf.read_cnvkit(p)


def test_missing_file_and_bad_picard(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        cf.read_cnvkit(tmp_path / "nope.cnn")
    p = tmp_path / "bad.csv"
    p.write_text("chrom\tstart\tend\tlength\tname\t%gc\tmean_coverage\tnormalized_coverage\nchr1\t2\t9\t8\tA\t0.5\t3\tnan\n")
    with pytest.raises(InputError, match="normalized_coverage"):
        cf.read_picard(p)
    p.write_text("chrom\tstart\tend\tlength\tname\t%gc\tmean_coverage\tnormalized_coverage\nchr1\t2\t9\t8\tA\thigh\t3\t1\n")
    with pytest.raises(InputError, match="line 2: column '%gc' is not a number: 'high'"):  # issue 19: a ValueError
        cf.read_picard(p)


def test_write_is_atomic(tmp_path):
    t = cf.CopyNumTable({"chromosome": np.asarray(["chr1"], dtype=object), "start": np.asarray([0]),
                         "end": np.asarray([10]), "gene": np.asarray(["-"], dtype=object), "log2": np.asarray([0.5])})
    out = tmp_path / "a.cnn"
    cf.write_cnvkit(t, out)
    assert out.read_text() == "chromosome\tstart\tend\tgene\tlog2\nchr1\t0\t10\t-\t0.5\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.cnn"]

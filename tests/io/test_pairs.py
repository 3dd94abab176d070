import pytest

from raygen.errors import InputError
from raygen.io.pairs import read_pairs


def test_pairs_skip_comments_and_blank_lines(tmp_path):
    p = tmp_path / "sheet.tsv"
    p.write_text("# sample\tbam\nA\ta.bam\r\n\nB\tb.bam\n")
    assert read_pairs(str(p), "sample<TAB>bam") == [("A", "a.bam"), ("B", "b.bam")]


def test_wrong_width_names_file_line_and_columns(tmp_path):
    p = tmp_path / "sheet.tsv"
    p.write_text("A\ta.bam\nB b.bam\n")
    with pytest.raises(InputError, match=r"sheet.tsv:2: expected 'sample<TAB>bam'"):
        read_pairs(str(p), "sample<TAB>bam")

"""SpliceAI's gene table: read/write in the release's format and the release's position rules."""

from __future__ import annotations

import pytest

from raygen.errors import InputError
from raygen.io.gene_table import GeneTable, Transcript, match_contig_names, read_gene_table, write_gene_table
from raygen.models.spliceai_weights import annotation_path


@pytest.fixture(scope="module")
def release_rows() -> list[Transcript]:
    return [r for r in read_gene_table(annotation_path("grch38")) if r.chrom == "20"][:25]


def test_table_written_reads_back_and_answers_the_releases_questions(tmp_path, release_rows):
    path = write_gene_table(release_rows, tmp_path / "genes.txt")
    assert read_gene_table(path) == release_rows
    table = GeneTable(release_rows)
    r = release_rows[0]
    assert table.at(r.chrom, r.tx_start) == [] and 0 in table.at(r.chrom, r.tx_start + 1)  # 1-based, TX_START 0-based
    assert 0 in table.at(r.chrom, r.tx_end) and 0 not in table.at(r.chrom, r.tx_end + 1)
    # ties between an upstream and a downstream boundary go upstream (min over the sorted union, key=abs)
    one = Transcript("T", "1", "+", 99, 200, (99, 150), (120, 200))
    t = GeneTable([one])
    assert t.boundary_distance(0, 110) == -10 and t.boundary_distance(0, 135) == -15 and t.boundary_distance(0, 150) == 1


def test_bad_gene_table_names_file_and_line(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nA\t1\t*\t1\t5\t1,\t5,\n")
    with pytest.raises(InputError, match=r"t.txt:2: STRAND"):
        read_gene_table(p)
    p.write_text("NAME\tCHROM\n")
    with pytest.raises(InputError, match="not a SpliceAI gene table"):
        read_gene_table(p)


def test_contig_names_matched_to_the_fasta_by_chr_prefix():
    assert match_contig_names(["1", "X", "MT", "chrUn_x"], ["chr1", "chrX", "chrM"]) == {"1": "chr1", "X": "chrX",
                                                                                         "MT": "chrM"}
    assert match_contig_names(["chr1", "chrM"], ["1", "MT"]) == {"chr1": "1", "chrM": "MT"}
    assert match_contig_names(["1"], ["1", "chr1"]) == {}

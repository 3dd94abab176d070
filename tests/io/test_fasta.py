"""raygen.io.fasta.Reference: the one reference class, by interval and a whole contig at a time."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.errors import InputError
from raygen.io.fasta import Reference, clean_keep_case, ensure_fasta_index, iupac_to_n


@pytest.fixture()
def fasta(tmp_path):
    path = tmp_path / "r.fa"
    path.write_text(">c1\nACGTacgtRyNNxA\n>c2\nGGGG\n")
    return path


def test_both_access_patterns_agree(fasta):
    with Reference(fasta) as ref:
        assert ref.lengths == {"c1": 14, "c2": 4} and ref.contigs == ["c1", "c2"] and "c2" in ref
        # by interval: upper case, N-padded outside the contig, characters otherwise as in the FASTA
        assert ref.fetch("c1", -2, 3) == "NNACG" and ref.fetch("c1", 8, 16) == "RYNNXANN"
        # whole contig: htslib's reading (IUPAC -> first base, other letters -> N), case kept in raw
        assert ref.load("c1") == "ACGTACGTACNNNA" and ref.raw == "ACGTacgtAcNNNA" and ref.has_lower
        assert ref.array("c1").tobytes() == b"ACGTACGTACNNNA"
        fetch = ref.fetcher("c1")
        assert fetch(2, 6) == "GTac" and fetch(-1, 2) == "NAC" and fetch(12, 16) == "NANN"
        assert ref.lower_count(np.array([0, 4, 9]), np.array([4, 8, 14])).tolist() == [0, 4, 1]
        for a, b in [(0, 14), (3, 9), (-3, 2), (10, 20)]:
            assert iupac_to_n(ref.fetch("c1", a, b)) == fetch(a, b).upper()
        assert ref.load("c2") == "GGGG" and not ref.has_lower and ref.chrom == "c2"
        with pytest.raises(KeyError):
            ref.load("c3")
        with pytest.raises(InputError, match="not in reference"):
            ref.fetch("c3", 0, 1)


def test_base_cleaning():
    assert clean_keep_case("ACgtRyX*n") == "ACgtAcNNn"
    assert iupac_to_n("acgtrynx") == "ACGTACNN"


@pytest.mark.parametrize("text,message", [
    # issue 19 (a new tester's corpus): each was "cannot index ... samtools returned with error 1" plus htslib's
    # own "[E::fai_build_core]" line on the terminal, none saying where or what
    (b"", "x.fa: the file is empty"),
    (b"ACGT\n", "x.fa:1: expected a '>name' header line"),
    (b">a\nACGT\nAC\nACGT\n", "x.fa:3: sequence lines of unequal length"),
    (b">a\nACGT\n\nACGT\n", "x.fa:3: sequence lines of unequal length \\(or a blank line\\)"),
    (b">a\n>b\n", "x.fa: no sequence lines"),
    (bytes(range(256)), "x.fa:1: expected a '>name' header line"),
])
def test_fasta_faidx_refuses_names_file_line_and_reason(tmp_path, capfd, text, message):
    fa = tmp_path / "x.fa"
    fa.write_bytes(text)
    with pytest.raises(InputError, match=message):
        ensure_fasta_index(fa)
    assert "[E::" not in capfd.readouterr().err

"""``-g`` transcript index (raygen.normalize.transcripts): bcftools' reading-frame check of CDS phases, on
both strands, against pysam's bcftools norm 1.24 (which stops on a phase that does not continue the frame,
``--force`` or not, and accepts an unknown phase ``.``)."""

from __future__ import annotations

import pytest

from raygen.errors import InputError
from raygen.normalize.differential import BcftoolsOracle
from raygen.normalize.transcripts import read_transcripts

EXONS = [(100, 160), (200, 250), (300, 400)]  # CDS lengths 61, 51, 101 (1-based closed)


def _gff(path, strand: str, phases: list[str]) -> None:
    lines = ["##gff-version 3", f"1\tt\tgene\t100\t400\t.\t{strand}\t.\tID=gene:G1;biotype=protein_coding",
             f"1\tt\tmRNA\t100\t400\t.\t{strand}\t.\tID=transcript:T1;Parent=gene:G1;biotype=protein_coding"]
    for (a, e), ph in zip(EXONS, phases):
        lines += [f"1\tt\texon\t{a}\t{e}\t.\t{strand}\t.\tParent=transcript:T1",
                  f"1\tt\tCDS\t{a}\t{e}\t.\t{strand}\t{ph}\tParent=transcript:T1"]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def oracle():
    o = BcftoolsOracle()
    yield o
    o.close()


@pytest.mark.parametrize("strand, phases, ok", [
    ("+", ["0", "2", "2"], True),   # 61 -> phase 2, 112 -> phase 2
    ("+", ["0", ".", "2"], True),   # unknown phase: not checked
    ("+", ["0", "1", "2"], False),
    ("+", ["1", "0", "2"], False),  # the first CDS's own phase is trimmed off: 60, then 111 wants 0
    ("-", ["1", "1", "0"], True),   # counted from the 3' end of the genome: 101 -> 1, 152 -> 1
    ("-", ["0", "1", "0"], False),
])
def test_cds_phases_checked_as_bcftools_does(tmp_path, oracle, strand, phases, ok):
    gff = tmp_path / "t.gff3"
    _gff(gff, strand, phases)
    (tmp_path / "ref.fa").write_text(">1\n" + "ACGT" * 250 + "\n")
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t150\t.\tCG\tC\t.\t.\t.\n")
    b_ok, err = oracle.norm(["--no-version", "-o", str(tmp_path / "o.vcf"), "-f", str(tmp_path / "ref.fa"),
                             "-g", str(gff), str(vcf)])
    assert b_ok == ok, err
    if ok:
        assert read_transcripts(gff).right_align("1", 149, 2) == (strand == "+")
    else:
        with pytest.raises(InputError) as exc:
            read_transcripts(gff)
        bcf_msg = err.split("Error: ", 1)[1].split(". Use the --force")[0]
        assert bcf_msg in str(exc.value)

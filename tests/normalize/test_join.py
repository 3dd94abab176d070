"""``-m +`` (raygen.normalize.join) against pysam's bcftools norm 1.24 on hand-written records where
htslib's string widths decide what is written."""

from __future__ import annotations

import pytest

from raygen.normalize.differential import BcftoolsOracle, OptionSet, RaygenRunner

TEXT = ("##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description=".">\n'
        '##FORMAT=<ID=SA,Number=A,Type=String,Description=".">\n'
        '##FORMAT=<ID=SR,Number=R,Type=String,Description=".">\n'
        '##FORMAT=<ID=SV,Number=.,Type=String,Description=".">\n'
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description=".">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        "1\t10\t.\tA\tT\t.\t.\t.\tGT:SV:SA:SR:DP\t.\n"
        "1\t10\t.\tA\tT\t.\t.\t.\tGT:DP\t1|1:3\n"
        "1\t20\t.\tA\tT\t.\t.\t.\tGT:SV:SA:SR:DP\t.\n"
        "1\t20\t.\tA\tC\t.\t.\t.\tGT:DP\t1|1:3\n"
        "1\t30\t.\tA\tT\t.\t.\t.\tGT:SA:SR\t0/1:x:.,y\n"
        "1\t30\t.\tA\tC\t.\t.\t.\tGT:SA\t1|1:.\n")


@pytest.fixture(scope="module")
def oracle():
    o = BcftoolsOracle()
    yield o
    o.close()


def test_a_string_field_left_empty_in_every_sample_is_dropped(tmp_path, oracle):
    """The first record's sample is ``.`` (String width 0): its empty field replaces the joined vector's
    only ``.`` (Number=A, one ALT), so every sample is empty and bcftools writes width 0, which drops the
    tag; with two ALTs (or Number=R) a ``.`` is left and the tag stays."""
    vcf = tmp_path / "in.vcf"
    vcf.write_text(TEXT)
    opts = OptionSet("-m +", fasta=False)
    mine, theirs = RaygenRunner()(vcf, None, opts, tmp_path), oracle(vcf, None, opts, tmp_path)
    assert mine.records == theirs.records
    assert mine.records[0].split("\t")[8] == "GT:SR:DP"  # SV (width 0) and SA (empty) gone
    assert mine.records[1].split("\t")[8:] == ["GT:SA:SR:DP", "2/2:,.:,.,.:."]

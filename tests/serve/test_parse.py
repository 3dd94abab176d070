"""Request parsing (no Ray): JSON/VCF-text bodies, located errors, reference checks, typed variants."""

from __future__ import annotations

import pytest

from raygen.io.fasta import Reference
from raygen.serve.parse import (
    RequestInvalid,
    parse_variant_text,
    parse_vcf_text,
    reference_errors,
    validate_items,
)
from raygen.serve.schemas import VariantIn
from raygen.variant import Variant

from .conftest import write_reference


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    path = tmp_path_factory.mktemp("core") / "ref.fa"
    seqs = write_reference(path)
    with Reference(path) as r:
        yield r, seqs


def test_vcf_text_records_and_line_errors():
    text = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t10\t.\tA\tG,T\n\nchr2 5 . C A\n"
    recs = parse_vcf_text(text, split_alts=True)
    assert [(n, r["pos"], r["alt"]) for n, r in recs] == [(3, 10, "G"), (3, 10, "T"), (5, 5, "A")]
    assert parse_vcf_text(text, split_alts=False)[0][1]["alt"] == "G,T"
    with pytest.raises(RequestInvalid) as exc:
        parse_vcf_text("chr1\t10\t.\tA\tG\nchr1\tten\t.\tA\tG\nchr1\t7\n", split_alts=True)
    locs = [e.loc for e in exc.value.errors]
    assert locs == [("body", "line", 2, "pos"), ("body", "line", 3)]
    assert "line 2.pos" in str(exc.value) and "'ten'" in str(exc.value)
    with pytest.raises(RequestInvalid, match="no VCF records"):
        parse_vcf_text("#CHROM\tPOS\n", split_alts=True)


def test_validate_items_names_each_bad_field():
    items = [(("body", "line", 1), {"chrom": "chr1", "pos": 0, "ref": "A", "alt": "G"}),
             (("body", "line", 2), {"chrom": "chr1", "pos": 5, "ref": "A", "alt": "<DEL>"})]
    with pytest.raises(RequestInvalid) as exc:
        validate_items(VariantIn, items)
    assert [e.loc for e in exc.value.errors] == [("body", "line", 1, "pos"), ("body", "line", 2, "alt")]
    assert "symbolic" in exc.value.errors[1].msg


def test_reference_errors(ref):
    r, seqs = ref
    good = Variant("chr1", 100, seqs["chr1"][99], "A")
    bad_ref = Variant("chr1", 100, "ACGT".replace(seqs["chr1"][99], "")[0], "A")
    errs = reference_errors([good, bad_ref, Variant("chrZ", 1, "A", "C"), Variant("chr1", 3000, "AA", "A"),
                             Variant("chr2", 3, "G", "C")],
                            [("body", "variants", i) for i in range(5)], r)
    assert [(e.loc[-2], e.loc[-1], e.type) for e in errs] == [
        (1, "ref", "ref_mismatch"), (2, "chrom", "unknown_contig"), (3, "pos", "out_of_range"),
        (4, "ref", "ref_mismatch")]  # chr2:3 faces an N: a mismatch, as scoring and bcftools norm say
    assert "chr1, chr2" in errs[1].msg  # tells the caller which contigs exist


def test_parse_variant_text():
    assert parse_variant_text("chr1:1,000 a>g") == ("chr1", 1000, "A", "G")
    assert parse_variant_text(" chrX-5-CA-C ") == ("chrX", 5, "CA", "C")
    assert parse_variant_text("2 17 T G") == ("2", 17, "T", "G")
    with pytest.raises(ValueError, match="CHROM:POS REF>ALT"):
        parse_variant_text("chr1 A>G")

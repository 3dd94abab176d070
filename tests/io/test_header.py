"""raygen.io.header.VcfHeader: the one header class (parsing, Number/Type views, the add policy)."""

from __future__ import annotations

from raygen.io.header import VcfHeader

TEXT = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="count">\n'
    '##INFO=<ID=XX,Type=Float,Number=R,Description="keys in another order">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="PL">\n'
    "##contig=<ID=chr1,length=100>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
)


def test_number_and_type_views_follow_the_lines():
    h = VcfHeader.from_text(TEXT)
    assert h.info_number == {"AC": "A", "XX": "R"} and h.info_type == {"AC": "Integer", "XX": "Float"}
    assert h.format_number == {"GT": "1", "PL": "G"} and h.format_type["PL"] == "Integer"
    assert h.samples == ["S1", "S2"] and len(h.columns) == 11
    h.add_info("AC", "1", "String", "redeclared")
    assert h.info_number["AC"] == "1" and h.info_type["AC"] == "String"
    h.add_format("DP", "1", "Integer", "depth")
    assert h.format_number["DP"] == "1"
    assert h.copy().info_number == h.info_number


def test_add_policy_last_declaration_wins_in_place():
    h = VcfHeader.from_text(TEXT)
    h.add_info("AC", "A", "Integer", "new text")
    ac = [i for i, m in enumerate(h.meta) if m.startswith("##INFO=<ID=AC,")]
    assert ac == [2] and 'Description="new text"' in h.meta[2]  # after ##fileformat and htslib's PASS line
    # a new INFO line joins the INFO block, not the end
    h.add_info("NEW", "0", "Flag", "flag")
    assert h.meta[4].startswith("##INFO=<ID=NEW,")
    # two lines for one ID in a parsed header: the later one is the declaration
    twice = TEXT.replace("##contig", '##INFO=<ID=AC,Number=1,Type=Float,Description="again">\n##contig')
    assert VcfHeader.from_text(twice).info_number["AC"] == "1"

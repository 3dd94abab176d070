"""raygen.io.header.VcfHeader: the one header class (parsing, Number/Type views, the add policy)."""

from __future__ import annotations

import random

import pysam
import pysam.bcftools
import pytest

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
    # two lines for one ID in a parsed header: htslib keeps the first and drops the second, so does raygen
    twice = TEXT.replace("##contig", '##INFO=<ID=AC,Number=1,Type=Float,Description="again">\n##contig')
    h = VcfHeader.from_text(twice)
    assert h.info_number["AC"] == "A" and not any("again" in m for m in h.meta)


# -- htslib's header rules, differentially against bcftools (pysam's bcftools 1.24) --------------------------

_IDS = ("A1", "B2", "C3")


def _structured(rng: random.Random) -> str:
    """One structured line with the quirks htslib has rules for: repeated IDs, spaces around keys and values,
    quoted / unquoted / [list] values, escaped quotes, IDX keys, junk after '>', a missing '>', and pairs htslib
    cannot parse (a tab or an empty pair before a key, a key starting with a digit, text after a quote)."""
    kind = rng.choice(["INFO", "FORMAT", "FILTER", "contig", "ALT", "META", "foo", "info"])
    pairs = [("ID", rng.choice(_IDS), False)] if rng.random() < 0.9 else []
    if kind in ("INFO", "FORMAT"):
        pairs += [("Number", rng.choice(["1", "A", "."]), False), ("Type", rng.choice(["Integer", "String"]), False)]
    if kind == "contig":
        pairs.append(("length", rng.choice(["100", "5", "abc"]), False))
    if kind != "contig":
        pairs.append(("Description", rng.choice(['d', 'a, b=c', 'q \\"x\\" y', 'two words', '']), rng.random() < 0.8))
    if rng.random() < 0.2:
        pairs.append(("Values", "[a, b]", False))
    if rng.random() < 0.15:
        pairs.append(("IDX", "7", False))
    rng.shuffle(pairs)
    odd = lambda p: rng.random() < p  # noqa: E731  (each quirk is rare: most lines should survive)
    seps = [rng.choice([", ", " ,", ",\t", ",,"]) if odd(0.08) else "," for _ in pairs]
    body = ""
    for i, (k, v, quoted) in enumerate(pairs):
        eq = rng.choice([" =", "= "]) if odd(0.1) else "="
        key = "9" + k if odd(0.03) else k
        val = (f'"{v}"' + (rng.choice([" ", "x"]) if odd(0.05) else "")) if quoted else v + (" " if odd(0.1) else "")
        body += (seps[i] if i else (" " if odd(0.1) else "")) + key + eq + val
    end = rng.choice(["> ", ">junk", "", ">\t"]) if odd(0.3) else ">"
    return f"##{kind}=<{body}{end}"


def _generic(rng: random.Random) -> str:
    return rng.choice(["##source=gen", "##source=gen", "##source=other", "##source=gen ", "##fileDate=2026",
                       "## a comment", "##justtext", "##=x", "##key==v", "##empty=", "##fileformat=VCFv4.2"])


def _generated_meta(rng: random.Random) -> list[str]:
    lines = ['##contig=<ID=c1,length=100>', '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">']
    lines += [_structured(rng) if rng.random() < 0.7 else _generic(rng) for _ in range(rng.randint(4, 14))]
    return ["##fileformat=VCFv4.2", *lines]


@pytest.mark.parametrize("seed", range(40))
def test_generated_headers_read_as_htslib_reads_them(tmp_path, seed):
    """Seeded headers full of malformed and repeated lines: the header raygen writes equals the one bcftools
    writes (which lines survive, in what order, re-serialized how)."""
    meta = _generated_meta(random.Random(seed))
    text = "\n".join(meta) + "\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nc1\t10\t.\tA\tG\t.\tPASS\tDP=3\n"
    (tmp_path / "in.vcf").write_text(text, newline="")
    want = pysam.bcftools.view("--no-version", "-h", str(tmp_path / "in.vcf"))
    assert VcfHeader.from_text(text.rsplit("c1\t", 1)[0]).to_text() == want, "\n".join(meta)


def test_a_repeated_declaration_keeps_the_first_as_htslib_does():
    """The first of two INFO lines for one ID declares it: htslib splits a Number=A tag on `-m-` by the first
    (Number=A) and drops the second (Number=.)."""
    h = VcfHeader.from_text("##fileformat=VCFv4.2\n##INFO=<ID=AC,Number=A,Type=Integer,Description=\"a\">\n"
                            "##INFO=<ID=AC,Number=.,Type=String,Description=\"b\">\n##INFO=<ID=AC>\n"
                            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    assert h.info_number == {"AC": "A"} and h.info_type == {"AC": "Integer"} and len(h.meta) == 3

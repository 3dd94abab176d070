"""raygen.expr against ``bcftools view -i/-e`` (pysam's 1.24) on a hand-written VCF: every operator and
function raygen evaluates, bcftools' quirks (right-grouped arithmetic, per-sample ``&``/``|``, ``.`` as
missing, POSIX regexes, GT classes), the vectorised path equal to the per-record one, and the errors that
name the token raygen cannot evaluate."""

from __future__ import annotations

import pyarrow as pa
import pytest

from raygen.expr import Expression, ExprError
from raygen.expr.differential import _bcftools_kept, _raygen_kept
from raygen.expr.expression import _rows
from raygen.expr.vector import vector_mask
from raygen.io.header import VcfHeader
from raygen.io.vcf import iter_text_batches
from raygen.normalize.differential import BcftoolsOracle

HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=q10,Description="q">
##FILTER=<ID=s50,Description="s">
##contig=<ID=1,length=5000>
##contig=<ID=2,length=5000>
##INFO=<ID=DP,Number=1,Type=Integer,Description=".">
##INFO=<ID=AF,Number=A,Type=Float,Description=".">
##INFO=<ID=XC,Number=A,Type=Integer,Description=".">
##INFO=<ID=XR,Number=R,Type=Integer,Description=".">
##INFO=<ID=DB,Number=0,Type=Flag,Description=".">
##INFO=<ID=STR,Number=1,Type=String,Description=".">
##INFO=<ID=FV,Number=.,Type=Float,Description=".">
##FORMAT=<ID=GT,Number=1,Type=String,Description=".">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description=".">
##FORMAT=<ID=FD,Number=1,Type=Integer,Description=".">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description=".">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description=".">
##FORMAT=<ID=NM,Number=1,Type=String,Description=".">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	A	B	C
"""
RECORDS = """1	100	rs1	A	C	50	PASS	DP=30;AF=0.5;XC=1;XR=10,5;DB;STR=foo;FV=1.5,2	GT:GQ:FD:AD:PL:NM	0/1:40:12:7,5:10,0,30:ab	1/1:20:3:0,3:30,5,0:.	0/0:.:25:20,0:0,20,40:xyz
1	100	.	A	AT,G	.	q10	DP=8;AF=0.1,0.25;XC=0,2;XR=1,2,3	GT:GQ:FD:AD	1|2:15:5:1,2,3	./.:.:.:.	0|1:60:40:10,10,0
1	150	rs2;rs3	ACG	A	12.5	q10;s50	DP=55;AF=.;STR=bar	GT:GQ:FD	0/1:99:18	1:5:2	.:.:.
1	200	.	CT	GA	3	.	AF=0.9;FV=.	GT:AD	1/1:0,9	0/1:4,4	0/0:8,0
2	1	.	G	<DEL>	60	PASS	DP=2;STR=a,b	GT:GQ	0/1:30	0/0:10	0/1:50
2	10	rs9	T	.	.	s50	DB;DP=12	GT:FD	0/0:13	0/0:14	0|0:15
2	30	.	TTT	T,TT,TTTT	90	PASS	AF=0.2,0.3,0.1;XC=1,1,1;DP=70	GT:AD	0/3:5,0,0,5	1/2:0,3,3,0	2/2:0,0,9,0
2	40	.	c	t	8.25	PASS	DP=20;STR=Foo	GT:GQ:NM	0/1:12:Abc	1/1:30:x	0/0:7:.
"""

EXPRESSIONS = [
    # site values, comparisons, '.' as missing
    "QUAL>20", "QUAL<=12.5", "QUAL=\".\"", "QUAL!=\".\"", "POS>=150", "POS==100", "QUAL>=8.25",
    "INFO/DP>10 && INFO/DP<60", "DP>10", "DP=\".\"", "DB", "!DB", "INFO/DB=1", "STR=\"foo\"", "STR!=\"foo\"",
    "STR~\"o+\"", "STR~\"^f\"", "STR~\"O\"/i", "STR!~\"a\"", "STR=\"a,b\"",
    # vectors and subscripts
    "AF>0.3", "AF[0]>0.3", "AF[1]>0.2", "AF[*]>0.2", "AF[0]=\".\"", "XC[1]=2", "XR[0]>=5", "XR[2]=3", "FV>1.8",
    "FV[1]=2", "AF=0.1", "AF!=0.1",
    # arithmetic (bcftools groups - and / from the right)
    "INFO/DP*2>50", "INFO/DP/2<10", "INFO/DP+1=31", "INFO/DP-5-2=27", "INFO/DP-5-2=23", "INFO/DP/2/3=45",
    "QUAL-INFO/DP>10", "INFO/DP%7=2", "-QUAL<-20", "QUAL*AF[0]>10",
    # types, alleles, lengths, counts
    "TYPE=\"snp\"", "TYPE=\"indel\"", "TYPE=\"mnp\"", "TYPE=\"ref\"", "TYPE=\"other\"", "TYPE~\"snp\"",
    "TYPE!=\"snp\"", "TYPE=\"snp,indel\"", "N_ALT>1", "N_ALT=0", "N_SAMPLES=3", "ILEN>0", "ILEN<0", "ILEN=-2",
    "ILEN=0", "REF=\"A\"", "REF~\"^A\"", "REF=\"c\"", "REF~\"C\"/i", "ALT=\"C\"", "ALT~\"T\"", "ALT=\"<DEL>\"",
    "ALT=\".\"", "STRLEN(REF)>1", "STRLEN(ALT)>1", "ID=\".\"", "ID!=\".\"", "ID~\"^rs\"", "ID=\"rs2\"",
    "FILTER=\"PASS\"", "FILTER=\".\"", "FILTER!=\"PASS\"", "FILTER=\"q10;s50\"", "FILTER~\"q10\"",
    "FILTER!~\"s50\"", "FILTER=\"s50;q10\"",
    # genotypes and FORMAT
    "GT=\"het\"", "GT=\"hom\"", "GT=\"mis\"", "GT=\"ref\"", "GT=\"alt\"", "GT=\"hap\"", "GT=\"RA\"", "GT=\"AA\"",
    "GT=\"Aa\"", "GT=\"rr\"", "GT=\"0/1\"", "GT=\"0|1\"", "GT~\"1\"", "GT!=\"het\"", "GT=\".\"", "GT=\"1\"",
    "FMT/GQ>30", "GQ>30", "FMT/GQ[0]>30", "FMT/GQ[1]<10", "FMT/GQ[0,2]>45", "FMT/GQ[1-2]>25", "FMT/GQ[*]>10",
    "FMT/AD[0:1]>4", "FMT/AD[*:0]>9", "FMT/AD[1:*]=3", "FMT/AD>8", "FMT/FD=\".\"", "FMT/NM=\"x\"",
    "FMT/NM~\"^a\"/i", "FMT/PL[0:2]=30", "N_MISSING>0", "F_MISSING>0.3",
    "GT=\"het\" & FMT/GQ>30", "GT=\"het\" && FMT/GQ>30", "GT=\"het\" | FMT/GQ>50", "GT=\"het\" || FMT/GQ>50",
    # functions
    "MAX(FMT/GQ)>50", "MIN(FMT/FD)<5", "SUM(FMT/AD)>20", "AVG(FMT/GQ)>30", "MEAN(FMT/GQ)>30",
    "MEDIAN(FMT/FD)>10", "STDEV(FMT/FD)>8", "ABS(ILEN)>1", "MAX(AF)>0.25", "MIN(AF)<0.2", "SUM(XR)>10",
    "COUNT(GT=\"het\")>1", "COUNT(FMT/GQ>20)=2", "SMPL_MAX(FMT/AD)>8", "SMPL_SUM(FMT/AD)>15",
    "SMPL_MIN(FMT/AD)=0", "SMPL_AVG(FMT/AD)>4", "SMPL_MEDIAN(FMT/AD)>3", "SMPL_COUNT(FMT/AD)>2",
    "SMPL_STDEV(FMT/AD)>3", "sMAX(FMT/PL)>30", "N_PASS(GT=\"het\")>0", "N_PASS(FMT/GQ>25)>=2",
    "F_PASS(GT=\"alt\")>0.5", "F_PASS(FMT/FD>10)=1",
    # logic and grouping
    "(QUAL>20 || DB) && N_ALT=1", "QUAL>20 || DB && N_ALT=1", "!(QUAL>20)", "TYPE=\"snp\" && (AF>0.4 || DP<10)",
    "QUAL>5 & QUAL<60", "QUAL<5 | QUAL>60",
]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("expr")
    vcf = d / "x.vcf"
    vcf.write_text(HEADER + RECORDS)
    hdr = VcfHeader.from_text(HEADER)
    lines = [r.split("\t") for r in RECORDS.splitlines()]
    oracle = BcftoolsOracle()
    yield d, vcf, hdr, lines, oracle
    oracle.close()


@pytest.mark.parametrize("expr", EXPRESSIONS)
@pytest.mark.parametrize("exclude", [False, True], ids=["-i", "-e"])
def test_same_records_as_bcftools_view(case, expr, exclude):
    d, vcf, hdr, lines, oracle = case
    mine = _raygen_kept(expr, exclude, hdr, lines, d)
    theirs = _bcftools_kept(expr, exclude, vcf, lines, oracle, d / "out.vcf")
    if isinstance(theirs, str):  # bcftools refuses: so must raygen
        assert isinstance(mine, str), (expr, theirs, mine)
    else:
        assert mine == theirs, expr


def test_some_expressions_keep_some_records_and_not_others(case):
    """The list above is not vacuous: most expressions keep some records and leave some out."""
    d, vcf, hdr, lines, oracle = case
    split = 0
    for expr in EXPRESSIONS:
        kept = _raygen_kept(expr, False, hdr, lines, d)
        split += isinstance(kept, list) and 0 < len(kept) < len(lines)
    assert split > 0.7 * len(EXPRESSIONS)


def test_vectorised_path_equals_per_record(case):
    d, vcf, hdr, lines, oracle = case
    table = pa.concat_tables([t for t, _ in iter_text_batches(str(vcf), header=hdr)])
    vectorised = 0
    for expr in EXPRESSIONS:
        try:
            e = Expression(expr, hdr)
        except ExprError:
            continue
        got = vector_mask(e, table)
        if got is None:
            continue
        vectorised += 1
        per = [Expression(expr, hdr).passes_columns(r) for r in _rows(table)]
        assert got.tolist() == per, expr
    assert vectorised >= 25


@pytest.mark.parametrize("expr, token", [
    ("BINOM(FMT/AD[:0],FMT/AD[:1])>0.5", "binom() with two"), ("FISHER(INFO/XR)>0", "FISHER"), ("PHRED(AF)>3", "PHRED"),
    ("perl.myfunc(DP)", "perl.myfunc"), ("INFO/NOSUCH>3", "NOSUCH"), ("FMT/NOPE>1", "NOPE"), ("QUAL>", "QUAL>"),
    ("(QUAL>3", "QUAL>3"), ("QUAL>3)", "QUAL>3)"), ("TYPE=\"weird\"", "weird"), ("FILTER=\"nofilter\"", "nofilter"),
    ("FMT/GQ[@s.txt]>3", "@s.txt"), ("ID=@missing_file.txt", "missing_file.txt"),
])
def test_what_raygen_cannot_evaluate_is_a_usage_error_naming_the_token(case, expr, token):
    """At compile time, or (as bcftools, for an operand missing) at the first record."""
    d, vcf, hdr, lines, oracle = case
    with pytest.raises(ExprError) as err:
        e = Expression(expr, hdr, base_dir=d)
        for cols in lines:
            e.passes_columns(cols)
    assert token in str(err.value), (expr, str(err.value))


def test_computed_allele_frequencies_read_info_ac_an_as_bcf_calc_ac(tmp_path):
    """MAF/AF/AC from INFO/AN and INFO/AC as bcftools' ``bcf_calc_ac`` reads them: a missing AC value counts
    as htslib's stored sentinel (int8 -128: MAF < 0), a negative AN falls back to counting GT, and AN below
    the sum of AC stops the run (both tools refuse)."""
    head = ("##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
            '##INFO=<ID=AC,Number=A,Type=Integer,Description=".">\n'
            '##INFO=<ID=AN,Number=1,Type=Integer,Description=".">\n'
            '##FORMAT=<ID=GT,Number=1,Type=String,Description=".">\n'
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n")
    body = ("1\t10\t.\tA\tC\t.\t.\tAC=.;AN=4\tGT\t0/1\t0/0\n"
            "1\t20\t.\tA\tC\t.\t.\tAC=47;AN=-3\tGT\t1|1\t1|1\n"
            "1\t30\t.\tA\tC\t.\t.\tAC=1;AN=4\tGT\t0/1\t0/0\n"
            "1\t40\t.\tA\tC,G\t.\t.\tAC=.,300;AN=400\tGT\t0/1\t0/2\n")
    vcf = tmp_path / "ac.vcf"
    vcf.write_text(head + body)
    hdr = VcfHeader.from_text(head)
    lines = [x.split("\t") for x in body.splitlines()]
    oracle = BcftoolsOracle()
    try:
        for expr in ("MAF<0", "AF>0.9", "AC<0", "MAC>0"):
            want = _bcftools_kept(expr, False, vcf, lines, oracle, tmp_path / "o.vcf")
            assert _raygen_kept(expr, False, hdr, lines, tmp_path) == want, expr
        assert _raygen_kept("MAF<0", False, hdr, lines, tmp_path) == [0, 3]
        bad = tmp_path / "bad.vcf"
        bad.write_text(head + "1\t10\t.\tA\tC\t.\t.\tAC=5;AN=2\tGT\t0/1\t0/0\n")
        refused = _bcftools_kept("MAF<0", False, bad, [["1", "10", ".", "A", "C"]], oracle, tmp_path / "o2.vcf")
        assert isinstance(refused, str)
        assert "Incorrect AN/AC" in _raygen_kept("MAF<0", False, hdr, [["1", "10", ".", "A", "C", ".", ".",
                                                                          "AC=5;AN=2", "GT", "0/1", "0/0"]], tmp_path)
    finally:
        oracle.close()

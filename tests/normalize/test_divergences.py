"""Where ``raygen normalize`` knowingly differs from pysam's bcftools norm 1.24: one pinning test per item of
the README's "known differences" list (normalize section). Each test shows what bcftools does on a small
input and pins what raygen does instead; when bcftools changes, the test says which note is stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygen.expr.differential import _bcftools_kept, _raygen_kept
from raygen.io.header import VcfHeader
from raygen.io.vcf import read_header
from raygen.normalize.differential import BcftoolsOracle, CaseResult, OptionSet, RaygenRunner
from raygen.normalize.options import NormalizeOptions
from raygen.normalize.pipeline import carries_state, should_use_ray

HEAD = "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
COLS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"


@pytest.fixture(scope="module")
def oracle():
    o = BcftoolsOracle()
    yield o
    o.close()


def _both(tmp_path: Path, text: str, options: str, oracle) -> CaseResult:
    vcf = tmp_path / "in.vcf"
    vcf.write_text(text)
    opts = OptionSet(options, fasta=False)
    return CaseResult(0, opts, RaygenRunner()(vcf, None, opts, tmp_path), oracle(vcf, None, opts, tmp_path))


def test_a_bad_record_is_rejected_where_bcftools_stops(tmp_path, oracle):
    """bcftools stops at the first malformed record (here INFO/AF with one value for two ALTs under -m -);
    raygen writes it to --rejects (file:line, reason) and normalizes the rest."""
    text = (HEAD + '##INFO=<ID=AF,Number=A,Type=Float,Description=".">\n'
            '##FORMAT=<ID=GT,Number=1,Type=String,Description=".">\n'
            '##FORMAT=<ID=AD,Number=R,Type=Integer,Description=".">\n' + COLS + "\tFORMAT\tS1\n"
            "1\t10\t.\tA\tC,G\t.\t.\tAF=0.1,0.2\tGT:AD\t1/2:1,2,3\n"
            "1\t20\t.\tA\tC,G\t.\t.\tAF=0.1\tGT:AD\t1/2:1,2,3\n"
            "1\t30\t.\tA\tC,T\t.\t.\tAF=0.3,0.4\tGT:AD\t0/1:5,6,7\n")
    res = _both(tmp_path, text, "-m -", oracle)
    assert "wrong number of fields in INFO/AF at 1:20" in res.bcftools.error
    assert res.raygen.error is None and res.raygen.rejected == 1
    assert res.raygen.records == [
        "1\t10\t.\tA\tC\t.\t.\tAF=0.1\tGT:AD\t1/0:1,2", "1\t10\t.\tA\tG\t.\t.\tAF=0.2\tGT:AD\t0/1:1,3",
        "1\t30\t.\tA\tC\t.\t.\tAF=0.3\tGT:AD\t0/1:5,6", "1\t30\t.\tA\tT\t.\t.\tAF=0.4\tGT:AD\t0/0:5,7"]
    assert res.match  # the differential harness counts this as agreement (bcf-stops column)


def test_join_of_a_record_without_gt_completes_where_bcftools_aborts(tmp_path, oracle):
    """-m + of a record with GT and one at the same position without it: bcftools 1.24 aborts (heap
    corruption); raygen joins, the genotypes being the first record's."""
    text = (HEAD + '##INFO=<ID=DP,Number=1,Type=Integer,Description=".">\n'
            '##FORMAT=<ID=GT,Number=1,Type=String,Description=".">\n'
            '##FORMAT=<ID=DP,Number=1,Type=Integer,Description=".">\n' + COLS + "\tFORMAT\tS1\tS2\n"
            "1\t10\t.\tA\tC\t.\t.\tDP=3\tGT:DP\t0/1:4\t1/1:5\n"
            "1\t10\t.\tA\tG\t.\t.\tDP=4\tDP\t6\t7\n"
            "1\t20\t.\tA\tC\t.\t.\tDP=3\tGT:DP\t0/1:4\t1/1:5\n")
    res = _both(tmp_path, text, "-m +", oracle)
    assert res.oracle_crashed, res.bcftools.error
    assert res.raygen.records == ["1\t10\t.\tA\tC,G\t.\t.\tDP=3\tGT:DP\t0/1:4\t1/1:5",
                                  "1\t20\t.\tA\tC\t.\t.\tDP=3\tGT:DP\t0/1:4\t1/1:5"]


def test_join_writes_missing_where_bcftools_copies_stale_scratch_memory(tmp_path, oracle):
    """-m + of a Number=G FORMAT value that is ``.`` (or haploid) in a joined record: bcftools reads one value
    per allele from its scratch buffer, past the sample's one value, and copies what an earlier tag left
    there (here the record's AD 12) into PL; raygen writes missing. Values that lie in the next sample's
    part of the buffer are emulated (they are other samples' values, as bcftools reads them)."""
    text = (HEAD + '##FORMAT=<ID=GT,Number=1,Type=String,Description=".">\n'
            '##FORMAT=<ID=AD,Number=R,Type=Integer,Description=".">\n'
            '##FORMAT=<ID=PL,Number=G,Type=Integer,Description=".">\n' + COLS + "\tFORMAT\tS1\n"
            "1\t10\t.\tA\tC,G\t.\t.\t.\tGT:AD:PL\t0/1:7,8,9:1,2,3,4,5,6\n"
            "1\t10\t.\tA\tT\t.\t.\t.\tGT:AD:PL\t0/1:11,12:.\n")
    res = _both(tmp_path, text, "-m +", oracle)
    assert res.raygen.records == ["1\t10\t.\tA\tC,G,T\t.\t.\t.\tGT:AD:PL\t3/1:11,8,9,12:.,2,3,.,5,6,.,.,.,."]
    assert res.bcftools.records == ["1\t10\t.\tA\tC,G,T\t.\t.\t.\tGT:AD:PL\t3/1:11,8,9,12:.,2,3,12,5,6,.,.,.,."]
    res.g_format = frozenset({"PL"})
    assert res.stale_g_values and res.match  # counted apart (stale-G column), not as a mismatch


def test_expression_subscript_past_the_last_sample_reads_missing(tmp_path, oracle):
    """``FMT/AD[*:2]`` where AD has two values: bcftools reads on into the next sample's values (raygen does
    the same) and, past the last sample, into stale memory (record 1 is kept or not depending on what the
    process left there); raygen reads missing there."""
    vcf = tmp_path / "x.vcf"
    vcf.write_text(HEAD + '##FORMAT=<ID=GT,Number=1,Type=String,Description=".">\n'
                   '##FORMAT=<ID=AD,Number=R,Type=Integer,Description=".">\n' + COLS + "\tFORMAT\tS1\tS2\n"
                   "1\t10\t.\tA\tC\t.\t.\t.\tGT:AD\t0/1:1,2\t0/1:30,40\n"
                   "1\t20\t.\tA\tC\t.\t.\t.\tGT:AD\t0/1:1,2\t0/1:3,4\n"
                   "1\t30\t.\tA\tC\t.\t.\t.\tGT:AD\t0/1:50,60\t0/1:3,4\n")
    hdr = read_header(str(vcf))
    lines = [x.split("\t") for x in vcf.read_text().splitlines() if not x.startswith("#")]
    within = "FMT/AD[0:2,3]>20"  # sample 1's index 2 and 3 are sample 2's values: emulated
    assert _raygen_kept(within, False, hdr, lines, tmp_path) == [0]
    assert _bcftools_kept(within, False, vcf, lines, oracle, tmp_path / "o.vcf") == [0]
    past = "FMT/AD[*:0,2]>20"
    assert _raygen_kept(past, False, hdr, lines, tmp_path) == [0, 2]
    # bcftools' answer for record 1 depends on what its process left in that memory (seen both ways)
    assert {0, 2} <= set(_bcftools_kept(past, False, vcf, lines, oracle, tmp_path / "o.vcf"))


def test_bcftools_state_across_records_keeps_the_run_in_process():
    """-a (the atomizer's buffer) and -i/-e with a TAG[GT] subscript (the genotype cache) depend on earlier
    records in bcftools; shards would start that state afresh, so such runs stay in one process unless --ray
    forces them onto Ray (then each shard starts afresh: the one remaining difference)."""
    hdr = read_header_text("##FORMAT=<ID=GT,Number=1,Type=String,Description=\".\">\n"
                           "##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\".\">\n")
    assert carries_state(NormalizeOptions(atomize=True), hdr)
    assert carries_state(NormalizeOptions(include="FMT/AD[GT]>3"), hdr)
    assert not carries_state(NormalizeOptions(include="FMT/AD[0:1]>3"), hdr)
    assert not carries_state(NormalizeOptions(multiallelics=("-", "both")), hdr)
    assert not should_use_ray("big.vcf.gz", None, 0, stateful=True)
    assert should_use_ray("big.vcf.gz", True, 0, stateful=True)


def read_header_text(meta: str) -> VcfHeader:
    return VcfHeader.from_text(HEAD + meta + COLS + "\tFORMAT\tS1\n")


def test_no_normalizing_option_checks_and_sorts_where_bcftools_refuses(tmp_path, oracle):
    """With none of -a/-f/-m/-D/-d bcftools refuses to start; raygen checks, sorts and writes the records
    (a cheap validate-and-index run), changing nothing else."""
    text = HEAD + COLS + "\n1\t20\t.\tA\tC\t.\t.\t.\n1\t10\t.\tAT\tA\t.\t.\t.\n"
    res = _both(tmp_path, text, "-S pos", oracle)
    assert "Expected -a, -f, -m, -D or -d option" in res.bcftools.error
    assert res.raygen.error is None
    assert res.raygen.records == ["1\t10\t.\tAT\tA\t.\t.\t.", "1\t20\t.\tA\tC\t.\t.\t."]


def test_abs_of_the_missing_genotype_count_is_the_site_value(tmp_path, oracle):
    """``abs(N_MISSING)``/``abs(F_MISSING)``: bcftools 1.24 reads 0 for every record (``abs(N_MISSING)<=0``
    keeps all, ``>0`` none, whatever the genotypes; campaign seed 398); raygen takes the absolute value of the
    site's count, as ``N_MISSING``/``F_MISSING`` themselves are (those two agree with bcftools)."""
    vcf = tmp_path / "m.vcf"
    vcf.write_text(HEAD + '##FORMAT=<ID=GT,Number=1,Type=String,Description=".">\n' + COLS + "\tFORMAT\ta\tb\tc\n"
                   "1\t10\t.\tA\tC\t.\t.\t.\tGT\t0/1\t./.\t0/0\n1\t20\t.\tA\tC\t.\t.\t.\tGT\t0/1\t0/1\t0/0\n"
                   "1\t30\t.\tA\tC\t.\t.\t.\tGT\t./.\t./.\t0/0\n")
    hdr = read_header(str(vcf))
    lines = [x.split("\t") for x in vcf.read_text().splitlines() if not x.startswith("#")]
    for expr in ("F_MISSING>0.1", "abs(F_MISSING)>0.1", "abs(N_MISSING)>0"):
        assert _raygen_kept(expr, False, hdr, lines, tmp_path) == [0, 2], expr
    assert _bcftools_kept("F_MISSING>0.1", False, vcf, lines, oracle, tmp_path / "o.vcf") == [0, 2]
    assert _bcftools_kept("abs(F_MISSING)>0.1", False, vcf, lines, oracle, tmp_path / "o.vcf") == []
    assert _bcftools_kept("abs(N_MISSING)<=0", False, vcf, lines, oracle, tmp_path / "o.vcf") == [0, 1, 2]


@pytest.mark.parametrize("line, options", [
    ("1\t10\t.\tA\tC\t.\tq10\t.", "-d exact"),  # FILTER the header does not define
    ("1\t10\t.\tA\tC\t.\t.\tXX=1", "-m +any"),  # INFO tag the header does not define
])
def test_tags_missing_from_the_header_are_written_where_bcftools_stops(tmp_path, oracle, line, options):
    """A FILTER/INFO id that the header does not define: htslib adds it to the input header after bcftools
    norm has copied that header for its output, so writing the record fails ('cannot write'); raygen writes
    the record as it came (other modes, e.g. -m -, write it in both)."""
    res = _both(tmp_path, HEAD + COLS + "\n" + line + "\n", options, oracle)
    assert "cannot write" in res.bcftools.error
    assert res.raygen.error is None and res.raygen.records == [line]


@pytest.mark.parametrize("qual, fmt", [("12abc", "0/1:-"), ("10", "0/1:1,2,3\tEXTRA")])
def test_text_htslib_reads_leniently_is_rejected(tmp_path, oracle, qual, fmt):
    """Values htslib reads leniently outside INFO: a QUAL that is not a number (the number at its start,
    else 0), an Integer FORMAT value '-' (0), a sample column past the header's; bcftools writes the record,
    raygen puts it in --rejects as malformed (INFO numbers are read as htslib does: test_newuser_cases)."""
    text = (HEAD + '##FORMAT=<ID=GT,Number=1,Type=String,Description=".">\n'
            '##FORMAT=<ID=DP,Number=.,Type=Integer,Description=".">\n' + COLS + "\tFORMAT\tS1\n"
            f"1\t10\t.\tA\tC\t{qual}\t.\t.\tGT:DP\t{fmt}\n1\t20\t.\tA\tG\t5\t.\t.\tGT:DP\t0/1:7\n")
    res = _both(tmp_path, text, "-m -", oracle)
    assert res.bcftools.error is None and len(res.bcftools.records) == 2
    assert res.raygen.rejected == 1 and res.raygen.records == ["1\t20\t.\tA\tG\t5\t.\t.\tGT:DP\t0/1:7"]

"""Small inputs of the kinds bcftools' own test suite and real pipelines feed ``bcftools norm``, each run
through pysam's bcftools 1.24 and ``raygen normalize`` (in process, no Ray): the records must be identical.

Each case is a few records written here (no generator), chosen because it once differed or stands for a
family that the generated campaign (``raygen.normalize.differential``) does not produce: INFO numbers that
htslib reads leniently (an Integer tag holding ``1.5`` or dataset names, as GIAB's truth VCF has), ...
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pysam
import pysam.bcftools
import pytest

from raygen.cli import build_parser as _build_parser
from raygen.errors import RaygenError

HEADER = """##fileformat=VCFv4.2
##contig=<ID=1,length=60>
##INFO=<ID=XI,Number=.,Type=Integer,Description="integer">
##INFO=<ID=XF,Number=.,Type=Float,Description="float">
##INFO=<ID=XA,Number=A,Type=Integer,Description="integer per ALT">
##FORMAT=<ID=GT,Number=1,Type=String,Description="genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="depths">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
"""
REF = "GTCTTCATGCAATTCAAAAAAAAAAAACCATGTCCGTCACACACACAAATGTAGGCGGAT"  # 60 bp, contig 1


_PARSER = []


def build_parser():
    """The CLI's parser, built once for the module (it imports every command)."""
    if not _PARSER:
        _PARSER.append(_build_parser())
    return _PARSER[0]


def _records(path: Path) -> list[str]:
    return [x.rstrip("\n") for x in open(path) if not x.startswith("#")]


def _run_both(tmp_path: Path, rows: list[str], args: str, header: str = HEADER, fasta: bool | str = False):
    vcf = tmp_path / "in.vcf"
    vcf.write_text(header + "".join(r + "\n" for r in rows))
    extra = []
    if fasta:
        fa = tmp_path / "ref.fa"
        fa.write_text(">1\n" + (fasta if isinstance(fasta, str) else REF) + "\n")
        pysam.faidx(str(fa))
        extra = ["-f", str(fa)]
    pysam.bcftools.norm("--no-version", "-o", str(tmp_path / "b.vcf"), *shlex.split(args), *extra, str(vcf),
                        catch_stdout=False)
    ns = build_parser().parse_args(["normalize", str(vcf), "-o", str(tmp_path / "r.vcf"), "--no-ray", "-q",
                                    *shlex.split(args), *extra])
    ns.func(ns)
    return _records(tmp_path / "r.vcf"), _records(tmp_path / "b.vcf")


# INFO values htslib reads leniently (vcf_parse_info: the number at the start, '.' where none; FORMAT is strict)
_LENIENT = ["XI=1.5;XF=1.5abc", "XI=12abc,abc,-,+;XF=abc,0x10, 5,Infinity", "XI=.5,5.,1e3,007;XF=-,1e,nanx,1_000",
            "XA=2.7,x;XI=99999999999,-0;XF=1e-50,3.4e39"]


@pytest.mark.parametrize("args", ["-m -any", "-m -any -i 'XI>1 || MAX(XF)>5'"])
def test_info_numbers_read_as_htslib_does(tmp_path, args):
    rows = [f"1\t{20 + i}\t.\tA\tC,G\t.\t.\t{info}\tGT:AD\t0/1:1,2,3" for i, info in enumerate(_LENIENT)]
    got, want = _run_both(tmp_path, rows, args)
    assert got == want and len(want) >= 4


_GFF = ("##gff-version 3\n1\te\tgene\t5\t50\t.\t+\t.\tID=gene:G1;biotype=protein_coding\n"
        "1\te\tmRNA\t5\t50\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;biotype=protein_coding\n"
        "1\te\texon\t5\t50\t.\t+\t.\tParent=transcript:T1\n")


@pytest.mark.parametrize("tail, ok", [("###\n##FASTA\n", True), ("##FASTA\n>1\nACGT\n", False)])
def test_gff_fasta_section_as_bcftools(tmp_path, tail, ok):
    """-g: indels in a forward transcript are right-aligned; a GFF3 with sequences after ##FASTA (Prokka's,
    for one) stops bcftools (its reader parses them as features), and raygen too, naming the line."""
    (tmp_path / "a.gff3").write_text(_GFF + tail)
    rows = ["1\t15\t.\tCA\tC\t.\t.\t.\tGT:AD\t0/1:1,2", "1\t38\t.\tCA\tC\t.\t.\t.\tGT:AD\t0/1:1,2"]
    if ok:
        got, want = _run_both(tmp_path, rows, f"-g {tmp_path}/a.gff3", fasta=True)
        assert got == want and want[0].split("\t")[1] == "26"  # right-aligned to the end of the A run
        return
    with pytest.raises(pysam.utils.SamtoolsError):
        _run_both(tmp_path, rows, f"-g {tmp_path}/a.gff3", fasta=True)
    with pytest.raises(RaygenError, match=r"a.gff3:6: could not parse"):
        ns = build_parser().parse_args(["normalize", str(tmp_path / "in.vcf"), "-f", str(tmp_path / "ref.fa"),
                                        "-g", str(tmp_path / "a.gff3"), "--no-ray", "-q"])
        ns.func(ns)


# binom(FMT/AD): per sample, the AD values at its first two GT alleles (a homozygous call against itself; no
# reads, haploid or missing GT: missing). Multi-allelic records: those -i keeps are split, the others not.
_BINOM_ROWS = ["1\t20\t.\tA\tC,G\t.\t.\t.\tGT:AD\t0/1:10,12,0\t2/2:5,2,5",
               "1\t21\t.\tA\tC,G\t.\t.\t.\tGT:AD\t0/1:3,17,1\t0|1:0,0,0",
               "1\t22\t.\tA\tC,G\t.\t.\t.\tGT:AD\t1:3,40,1\t./1:4,37,1",
               "1\t23\t.\tA\tC,G\t.\t.\t.\tGT:AD\t1/2:1,30,9\t0/1/2:67,3,59",
               "1\t24\t.\tA\tC,G\t.\t.\t.\tGT:AD\t0/2:10,0,.\t0/1:91,5,60",
               "1\t25\t.\tA\tC,G\t.\t.\t.\tAD\t3,4,5\t5,6,7"]


@pytest.mark.parametrize("expr", ["binom(FMT/AD)<0.05", "binom(AD)>0.5"])
def test_binom_as_bcftools(tmp_path, expr):
    got, want = _run_both(tmp_path, _BINOM_ROWS, f"-m -any -i '{expr}'", header=HEADER.replace("\tS1\n", "\tS1\tS2\n"))
    assert got == want and 6 < len(want) < 12


_TWO = HEADER.replace("\tS1\n", "\tS1\tS2\n").replace("##FORMAT=<ID=GT", '##INFO=<ID=END,Number=1,Type=Integer,'
                                                      'Description="end">\n##FORMAT=<ID=PL,Number=G,Type=Integer,'
                                                      'Description="pl">\n##FORMAT=<ID=GT')


@pytest.mark.parametrize("rows, args, fasta", [
    # GATK gVCF: a reference block, an indel written right-shifted in the A run beside <NON_REF>, a block after
    (["1\t10\t.\tC\t<NON_REF>\t.\t.\tEND=14\tGT:AD:PL\t0/0:9,0:0,9,90\t0/0:3,0:0,3,30",
      "1\t26\t.\tAA\tA,<NON_REF>\t41\t.\tXA=1,0\tGT:AD:PL\t0/1:5,6,0:41,0,50,60,70,80\t1/2:.,2,3:0,1,2,3,4,5",
      "1\t27\t.\tA\t<NON_REF>\t.\t.\tEND=40\tGT:AD:PL\t0/0:8,0:0,8,80\t./.:.:."],
     "-m -any --keep-sum AD --old-rec-tag OLD", True),
    # SV caller: symbolic <DEL> (END, SVLEN) in a homopolymer realigns like its sequence; breakends stay
    (["1\t20\tdel1\tA\t<DEL>\t.\tPASS\tEND=22\tGT:AD\t0/1:1,2\t1/1:0,3",
      "1\t24\tbnd1\tA\tA]1:50]\t.\tPASS\t.\tGT:AD\t0/1:1,2\t1/1:0,3",
      "1\t25\tins1\tA\tAAA,<DEL>\t.\tPASS\tEND=27\tGT:AD\t1/2:1,2,3\t0/1:1,1,0"], "-m -any", True),
    # -c s on a reference with IUPAC codes, N and soft-masking, REF written wrong, lower case or as N
    (["1\t3\t.\tA\tC\t.\t.\t.\tGT:AD\t0/1:1,2\t1/1:0,3", "1\t5\t.\tN\tG,T\t.\t.\t.\tGT:AD\t1/2:1,2,3\t0/1:1,1,0",
      "1\t7\t.\tta\tt\t.\t.\t.\tGT:AD\t0/1:1,2\t1/1:0,3", "1\t9\t.\tC\tR\t.\t.\t.\tGT:AD\t0/1:1,2\t0/0:3,0"],
     "-c s -m -any", "GTRYNctaGAAAAATTTGCCA"),
])
def test_pipeline_shapes_as_bcftools(tmp_path, rows, args, fasta):
    got, want = _run_both(tmp_path, rows, args, header=_TWO, fasta=fasta)
    assert got == want and len(want) >= len(rows)

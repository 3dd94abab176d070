"""Differential test against pysam's bcftools 1.24 on messy input: what real VCFs and references carry.

The reference has soft-masked stretches and IUPAC codes; the records have lower-case alleles, REF/ALT
swapped (with GT and INFO/AC), N placeholders in REF, missing REF (``.``), IUPAC codes in ALT and REF,
and indels written right-shifted. Every option set is run through both tools (``raygen normalize`` as a
user runs it) on the same files, and the records (CHROM to the last sample) must be identical.
Not covered: ``-a`` on multi-allelic records that are not split first (``-a`` without ``-m -``): bcftools
1.24's atomizer carries genotypes over from earlier records there (``T A,C`` with GT ``0/2`` gives
``T A,*`` with ``0/1`` after certain neighbours, ``0/2`` when alone).
"""

from __future__ import annotations

import random
from pathlib import Path

import pysam
import pysam.bcftools
import pytest

from .test_pipeline import _reference, records

IUPAC = "RYSWKMBDHV"


def _messy(d: Path, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    seqs = _reference(d / "clean.fa", rng, {"c1": 6_000, "c2": 3_000})
    # Soft-mask every other 500 bp and sprinkle IUPAC codes into the reference.
    ref = {}
    for name, s in seqs.items():
        b = [c.lower() if (i // 500) % 2 else c for i, c in enumerate(s)]
        for i in rng.sample(range(10, len(b) - 10), 12):
            b[i] = rng.choice(IUPAC)
        ref[name] = "".join(b)
    fa = d / "ref.fa"
    with open(fa, "w") as fh:
        for name, s in ref.items():
            fh.write(f">{name}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
    pysam.faidx(str(fa))
    lines = []
    for chrom, s in seqs.items():
        for p in sorted(rng.sample(range(30, len(s) - 40), 400)):
            r, kind = rng.random(), rng.random()
            gts = [rng.choice(["0/0", "0/1", "1/1", "0|1", "./.", "1"]) for _ in range(2)]
            if kind < 0.35:  # SNV
                ref_a, alts = s[p], [rng.choice([c for c in "ACGT" if c != s[p]])]
            elif kind < 0.55:  # deletion written right-shifted in its repeat
                L = rng.randint(1, 3)
                q = p
                while q + L + 1 < len(s) - 5 and s[q + 1] == s[q + 1 + L]:
                    q += 1
                p, ref_a, alts = q, s[q:q + L + 1], [s[q]]
            elif kind < 0.75:  # insertion
                p, ref_a, alts = p, s[p], [s[p] + "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 3)))]
            elif kind < 0.9:  # MNP, maybe with a shared flank
                ref_a = s[p:p + 3]
                alts = [rng.choice("ACGT") + s[p + 1] + rng.choice("ACGT")]
            else:  # multi-allelic
                ref_a = s[p]
                alts = rng.sample([c for c in "ACGT" if c != s[p]], 2)
                gts = [rng.choice(["1/2", "0/2", "2/2", "0/0"]) for _ in range(2)]
            # The messy part.
            if r < 0.15 and all(len(a) == len(ref_a) for a in alts):  # REF/ALT swapped
                ref_a, alts = alts[0], [ref_a, *alts[1:]]
            elif r < 0.22:  # N placeholder in REF
                i = rng.randrange(len(ref_a))
                ref_a = ref_a[:i] + "N" + ref_a[i + 1:]
            elif r < 0.27 and len(ref_a) == 1:
                ref_a = "."
            elif r < 0.32:
                alts = [rng.choice(IUPAC)] + alts[1:] if len(alts[0]) == 1 else alts
            elif r < 0.35:
                ref_a = rng.choice(IUPAC) + ref_a[1:]
            if rng.random() < 0.2:
                ref_a, alts = ref_a.lower(), [a.lower() for a in alts]
            if any(a.upper() == ref_a.upper() for a in alts):
                continue
            ac = ",".join(str(rng.randint(0, 4)) for _ in alts)
            lines.append((chrom, p + 1, f"{chrom}\t{p + 1}\t.\t{ref_a}\t{','.join(alts)}\t50\tPASS\t"
                                        f"AN=4;AC={ac}\tGT:DP\t{gts[0]}:7\t{gts[1]}:9"))
    header = ["##fileformat=VCFv4.2",
              *(f"##contig=<ID={c},length={len(s)}>" for c, s in seqs.items()),
              '##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">',
              '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">',
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB"]
    vcf = d / "messy.vcf"
    seen = set()
    body = []
    for chrom, pos, line in sorted(lines, key=lambda x: (x[0], x[1])):
        if (chrom, pos) not in seen:
            seen.add((chrom, pos))
            body.append(line)
    vcf.write_text("\n".join(header + body) + "\n")
    return vcf, fa


@pytest.fixture(scope="module", params=[5, 6], ids=lambda s: f"seed{s}")
def messy(request, tmp_path_factory):
    return _messy(tmp_path_factory.mktemp("messy"), seed=request.param)


@pytest.mark.parametrize("opts", [
    ["-c", "s"],
    ["-c", "s", "-m", "-any"],
    ["-c", "s", "-m", "+any"],
    ["-c", "s", "-d", "exact"],
    ["-c", "s", "-a", "-m", "-any"],
    ["-c", "w"],
    ["-c", "w", "-m", "-snps"],
    ["-c", "x"],
    ["-c", "x", "-m", "-any"],
    ["-c", "x", "-m", "-indels"],
    ["-c", "w", "-d", "snps"],
    ["-c", "w", "-d", "indels"],
    ["-c", "w", "-d", "all"],
    ["-c", "x", "-m", "+snps"],
    ["-c", "x", "-m", "+indels"],
    ["-c", "x", "-m", "-snps", "--multi-overlaps", "."],
    ["-c", "x", "-m", "-any", "--old-rec-tag", "OLD"],
    ["-c", "x", "-m", "-any", "-S", "lex"],
    ["-c", "x", "-N"],
    ["-c", "x", "-a", "--atom-overlaps", "."],
    ["-c", "x", "-m", "-any", "-a"],
    ["-c", "s", "--old-rec-tag", "OLD"],
], ids=lambda o: " ".join(o))
def test_messy_input_matches_bcftools(messy, tmp_path, run_cli, opts):
    vcf, fa = messy
    pysam.bcftools.norm("--no-version", "-o", str(tmp_path / "b.vcf"), *opts, "-f", str(fa), str(vcf),
                        catch_stdout=False)
    want = records(tmp_path / "b.vcf")
    rc, _, err = run_cli("normalize", str(vcf), *opts, "-f", str(fa), "-o", str(tmp_path / "r.vcf"), "-q")
    assert rc == 0, err
    got = records(tmp_path / "r.vcf")
    assert len(want) > 500
    mismatched = [(g, w) for g, w in zip(got, want) if g != w]
    assert not mismatched and len(got) == len(want), mismatched[:5]


_HEAD = "##fileformat=VCFv4.2\n"
_TAIL = ('##FILTER=<ID=q10,Description="low">\n##contig=<ID=c1,length=100>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n'
         "c1\t10\t.\tA\tG\t.\tPASS\t.\nc1\t20\t.\tA\tC\t5\tq10\t.\n")


@pytest.mark.parametrize("middle", [
    "",  # no PASS line: htslib writes its own second
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">\n##FILTER=<ID=PASS,Description="Mine">\n',  # replaced
    '##FILTER=<ID=PASS>\n',
    '\n##INFO=<ID=DP,Number=1,Type=Integer,Description="d">\n\r\n\n',  # empty header lines: htslib skips them
], ids=["no-pass", "own-pass", "bare-pass", "empty-lines"])
def test_header_is_written_as_bcftools_writes_it(tmp_path, run_cli, middle):
    """The whole output text, header included, against bcftools; records after empty header lines keep their
    physical line numbers in errors."""
    vcf = tmp_path / "in.vcf"
    vcf.write_text(_HEAD + middle + _TAIL)
    pysam.bcftools.norm("--no-version", "-d", "exact", "-o", str(tmp_path / "b.vcf"), str(vcf), catch_stdout=False)
    rc, _, err = run_cli("normalize", str(vcf), "-d", "exact", "--no-version", "-o", str(tmp_path / "r.vcf"), "-q")
    assert rc == 0, err
    assert (tmp_path / "r.vcf").read_text() == (tmp_path / "b.vcf").read_text()
    bad = tmp_path / "bad.vcf"
    bad.write_text(_HEAD + middle + _TAIL + "c1\tx\t.\tA\tG\t.\t.\t.\n")
    n = (_HEAD + middle + _TAIL).count("\n") + 1
    rc, _, err = run_cli("normalize", str(bad), "-d", "exact", "-o", str(tmp_path / "r2.vcf"),
                         "--rejects", str(tmp_path / "rej.tsv"), "-q")
    rej = (tmp_path / "rej.tsv").read_text().splitlines()
    assert rc == 0 and len(rej) == 2 and rej[1].split("\t")[1] == str(n), (err, rej)


def _random_header(rng: random.Random) -> str:
    """A header as real files write it: structured lines in any order, PASS declared zero to two times (htslib's
    text, another description, none) anywhere after line 1, and empty lines (LF or CRLF) between them."""
    body = ['##FILTER=<ID=q10,Description="low">', "##contig=<ID=c1,length=100>",
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">', "##source=gen"]
    body += rng.sample(['##FILTER=<ID=PASS,Description="All filters passed">', "##FILTER=<ID=PASS>",
                        '##FILTER=<ID=PASS,Description="Mine">'], rng.randint(0, 2))
    rng.shuffle(body)
    lines = ["##fileformat=VCFv4.2"]
    for line in body:
        lines += [""] * rng.choice([0, 0, 1, 2]) + [line]
    ends = [rng.choice(["\n", "\r\n"]) for _ in lines]
    return "".join(a + b for a, b in zip(lines, ends)) + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.mark.parametrize("seed", range(20))
def test_generated_headers_match_bcftools(tmp_path, run_cli, seed):
    """Seeded headers through both tools: the whole output text (header and records) must be identical."""
    vcf = tmp_path / "in.vcf"
    vcf.write_text(_random_header(random.Random(seed)) + "c1\t10\t.\tA\tG\t.\tPASS\tDP=3\nc1\t20\t.\tA\tC\t5\tq10\t.\n",
                   newline="")
    pysam.bcftools.norm("--no-version", "-d", "exact", "-o", str(tmp_path / "b.vcf"), str(vcf), catch_stdout=False)
    rc, _, err = run_cli("normalize", str(vcf), "-d", "exact", "--no-version", "-o", str(tmp_path / "r.vcf"), "-q")
    assert rc == 0, err
    assert (tmp_path / "r.vcf").read_text() == (tmp_path / "b.vcf").read_text(), vcf.read_text()


def test_repeated_declarations_and_junk_header_lines_as_bcftools(tmp_path, run_cli):
    """htslib keeps the first of two INFO lines for one ID (so `-m-` splits AC by Number=A, not by the second
    line's Number=.), drops a line without '=' and a repeated generic line: the whole output text against
    bcftools. Before, raygen kept every line and the later declaration, and wrote AC=1,2 on both records."""
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=c1,length=100>\n"
                   '##INFO=<ID=AC,Number=A,Type=Integer,Description="a">\n'
                   '##INFO=<ID=AC,Number=.,Type=Integer,Description="b">\n## a comment\n##source=x\n##source=x\n'
                   '##FILTER=<ID=q10, Description="spaced" >\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nc1\t10\t.\tA\tG,T\t.\tPASS\tAC=1,2\n")
    pysam.bcftools.norm("--no-version", "-m-", "-o", str(tmp_path / "b.vcf"), str(vcf), catch_stdout=False)
    rc, _, err = run_cli("normalize", str(vcf), "-m-", "--no-version", "-o", str(tmp_path / "r.vcf"), "-q")
    assert rc == 0, err
    assert (tmp_path / "r.vcf").read_text() == (tmp_path / "b.vcf").read_text()
    assert "AC=2" in (tmp_path / "r.vcf").read_text()

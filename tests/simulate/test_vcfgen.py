"""The differential generator (raygen.simulate.vcfgen): deterministic, read by bcftools 1.24 as written, and
covering what issue #13 lists (every Number and Type, symbolic alleles, breakends, ``*``, ploidies, ...)."""

from __future__ import annotations

import collections
import re

import pysam
import pysam.bcftools
import pytest

from raygen.io.gff import read_features
from raygen.simulate.vcfgen import PROFILES, generate_gff, generate_vcf

SEEDS = range(12)


def test_same_seed_same_text_other_seed_other_text():
    a, b, c = generate_vcf(3, "clean"), generate_vcf(3, "clean"), generate_vcf(4, "clean")
    assert a.vcf_text() == b.vcf_text() and a.fasta_text() == b.fasta_text()
    assert generate_gff(a, 3) == generate_gff(b, 3)
    assert a.vcf_text() != c.vcf_text()
    assert generate_vcf(3, "clean").vcf_text() != generate_vcf(3, "dense").vcf_text()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_bcftools_reads_every_profile(profile, tmp_path):
    """bcftools view reads each file to its end (no parse error) and keeps every record."""
    for seed in range(4):
        g = generate_vcf(seed, profile)
        vcf, fa = g.write(tmp_path, stem=f"{profile}{seed}")
        out = tmp_path / f"{profile}{seed}.out.vcf"
        pysam.bcftools.view("--no-version", "-o", str(out), str(vcf), catch_stdout=False)
        kept = [x for x in out.read_text().splitlines() if not x.startswith("#")]
        assert len(kept) == len(g.records), (seed, profile)
        assert [x.split("\t")[:2] for x in kept] == [r.split("\t")[:2] for r in g.records]
        pysam.faidx(str(fa))


def _cover() -> dict[str, collections.Counter]:
    seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for seed in SEEDS:
        for profile in PROFILES:
            g = generate_vcf(seed, profile)
            for h in g.header:
                m = re.match(r"##(INFO|FORMAT)=<ID=\w+,Number=([^,]+),Type=(\w+)", h)
                if m:
                    seen["decl"][(m[1], m[2], m[3])] += 1
            seen["samples"][len(g.samples)] += 1
            ref_case = "".join(g.reference.values())
            seen["reference"]["soft-masked"] += any(c.islower() for c in ref_case)
            seen["reference"]["iupac"] += any(c in "RYSWKMBDHV" for c in ref_case)
            for r in g.records:
                f = r.split("\t")
                alts = f[4].split(",")
                seen["alt"]["multi"] += len(alts) > 1
                for a in alts:
                    kind = ("symbolic " + a if a.startswith("<") else "breakend" if "[" in a or "]" in a
                            else "star" if a == "*" else "ref-only" if a == "." else
                            "snv" if len(a) == len(f[3]) == 1 else "mnv" if len(a) == len(f[3]) else "indel")
                    seen["alt"][kind] += 1
                seen["alt"]["lower"] += f[3] != f[3].upper()
                seen["pos"]["contig start"] += f[1] == "1"
                seen["pos"]["contig end"] += int(f[1]) + len(f[3]) - 1 == len(g.reference[f[0]])
                for s in f[9:]:
                    gt = s.split(":")[0] if f[8].startswith("GT") else None
                    if gt is not None:
                        seen["gt"]["phased" if "|" in gt else "unphased" if "/" in gt else
                                   "missing" if gt == "." else "haploid"] += 1
                        seen["gt"]["ploidy %d" % len(re.split(r"[/|]", gt))] += 1
                for v in re.split(r"[;:\t]", f[7] + "\t" + "\t".join(f[9:])):
                    val = v.split("=", 1)[-1]
                    if val == ".":
                        seen["values"]["missing"] += 1
                    elif "," in val and "." in val.split(","):
                        seen["values"]["partly missing"] += 1
                    if re.fullmatch(r"-?\d+\.\d*0|\d+e[-+]\d+|\d+E\+\d+", val or ""):
                        seen["values"]["reprinted float forms"] += 1
    return seen


def test_generated_files_cover_what_the_issue_lists():
    seen = _cover()
    decl = {(k, n) for k, n, _ in seen["decl"]} | {(k, t) for k, _, t in seen["decl"]}
    for kind in ("INFO", "FORMAT"):
        for number in ("A", "R", "G", ".", "1", "2"):
            assert (kind, number) in decl, (kind, number)
        for typ in ("Integer", "Float", "String", "Character"):
            assert (kind, typ) in decl, (kind, typ)
    assert ("INFO", "Flag") in decl and ("INFO", "0") in decl
    assert {0, 1, 2, 3}.issubset(seen["samples"]) and max(seen["samples"]) >= 5
    for key in ("symbolic <DEL>", "symbolic <DUP>", "symbolic <INS>", "symbolic <*>", "symbolic <NON_REF>",
                "breakend", "star", "ref-only", "snv", "mnv", "indel", "multi", "lower"):
        assert seen["alt"][key] > 0, key
    assert seen["pos"]["contig start"] > 0 and seen["pos"]["contig end"] > 0
    for key in ("phased", "unphased", "missing", "ploidy 1", "ploidy 2", "ploidy 3"):
        assert seen["gt"][key] > 0, key
    for key in ("missing", "partly missing", "reprinted float forms"):
        assert seen["values"][key] > 0, key
    assert seen["reference"]["soft-masked"] > 0 and seen["reference"]["iupac"] > 0


def test_gff_has_genes_on_both_strands_within_the_contigs(tmp_path):
    strands = collections.Counter()
    for seed in range(6):
        g = generate_vcf(seed, "clean")
        path = tmp_path / f"g{seed}.gff3"
        path.write_text(generate_gff(g, seed))
        feats = list(read_features(path))
        assert feats and all(f.seqid in g.reference and 0 <= f.start < f.end <= len(g.reference[f.seqid])
                             for f in feats)
        strands.update(f.strand for f in feats if f.type == "gene")
    assert strands["+"] and strands["-"] and strands["."]

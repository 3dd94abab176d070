"""``raygen normalize`` end to end: Ray sharded path, bad input, stdout, and a cross-check with bcftools.

Inputs are simulated here: a random reference with homopolymer and dinucleotide repeats, and variants
written the way callers often do (indels right-shifted inside repeats, redundant trailing bases,
multi-allelic sites, two samples with GT:AD), many of them just after shard boundaries so left-alignment
moves them into the previous shard.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
import random
from pathlib import Path

import pysam
import pysam.bcftools
import pytest

from raygen.config import DEFAULTS
from raygen.errors import InputError
from raygen.normalize import NormalizeOptions, normalize_variant
from raygen.normalize.pipeline import run_normalize

SHARD_BP = 3000


def _shards(shard_bp: int):
    return dataclasses.replace(DEFAULTS.normalize, shard_bp=shard_bp)


def _reference(path: Path, rng: random.Random, lengths: dict[str, int]) -> dict[str, str]:
    seqs = {}
    for name, n in lengths.items():
        s = []
        while len(s) < n:
            r = rng.random()
            if r < 0.15:
                s.extend(rng.choice("ACGT") * rng.randint(3, 12))
            elif r < 0.25:
                s.extend((rng.choice("ACGT") + rng.choice("ACGT")) * rng.randint(2, 6))
            else:
                s.append(rng.choice("ACGT"))
        seqs[name] = "".join(s[:n])
    with open(path, "w") as fh:
        for name, s in seqs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(s), 60):
                fh.write(s[i: i + 60] + "\n")
    return seqs


def _denormalized_vcf(path: Path, seqs: dict[str, str], rng: random.Random, n_per_contig: int) -> None:
    lines = []
    for chrom, s in seqs.items():
        recs = {}
        # repeat sites just after shard boundaries first, then random sites
        sites = [b + d for b in range(SHARD_BP, len(s) - 50, SHARD_BP) for d in (1, 2, 3)]
        sites += rng.sample(range(20, len(s) - 40), n_per_contig)
        for p in sites:
            kind = rng.random()
            b = s[p]
            gt = rng.choice(["0/1", "1/1", "0|1", "./."])
            if kind < 0.5:
                L = rng.randint(1, 3)
                if kind < 0.25:  # deletion, right-shifted within its repeat, maybe padded
                    q = p
                    while q + L + 1 < len(s) - 5 and s[q + 1] == s[q + 1 + L]:
                        q += 1
                    e = rng.randint(0, 2)
                    ref, alt = s[q: q + L + 1 + e], s[q] + s[q + L + 1: q + L + 1 + e]
                else:  # insertion duplicating following bases, written right-shifted
                    q = p + L
                    ins = s[p + 1: p + 1 + L]
                    ref, alt = s[q], s[q] + ins
                pos = q
                sample = f"{gt}:{rng.randint(0, 20)},{rng.randint(0, 20)}"
            elif kind < 0.8:
                pos, ref = p, b
                alt = rng.choice([c for c in "ACGT" if c != b])
                sample = f"{gt}:{rng.randint(0, 20)},{rng.randint(0, 20)}"
            else:
                pos, ref = p, s[p: p + 2]
                others = [c for c in "ACGT" if c != b]
                alt = f"{others[0]}{s[p + 1]},{b}"
                sample = f"1/2:{rng.randint(0, 9)},{rng.randint(0, 9)},{rng.randint(0, 9)}"
            recs.setdefault(pos, (ref, alt, sample))
        for pos in sorted(recs):
            ref, alt, sample = recs[pos]
            lines.append(f"{chrom}\t{pos + 1}\t.\t{ref}\t{alt}\t50\tPASS\tDP=10\tGT:AD\t{sample}\t{sample}")
    header = ["##fileformat=VCFv4.2",
              *(f"##contig=<ID={c},length={len(s)}>" for c, s in seqs.items()),
              '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB"]
    path.write_text("\n".join(header + lines) + "\n")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    d = tmp_path_factory.mktemp("normsim")
    rng = random.Random(11)
    seqs = _reference(d / "ref.fa", rng, {"c1": 12_000, "c2": 5_000})
    _denormalized_vcf(d / "in.vcf", seqs, rng, 1500)
    gz = pysam.tabix_index(str(d / "in.vcf"), preset="vcf", force=True, keep_original=True)
    pysam.faidx(str(d / "ref.fa"))
    return Path(gz), d / "ref.fa", seqs


def records(path: Path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [x.rstrip("\n") for x in fh if not x.startswith("#")]


def bcftools(*args: str, out: Path) -> list[str]:
    pysam.bcftools.norm("--no-version", "-o", str(out), *args, catch_stdout=False)
    return records(out)


def test_simulated_matches_bcftools_in_process(simulated, tmp_path):
    gz, fa, _ = simulated
    want = bcftools("-m", "-any", "-f", str(fa), str(gz), out=tmp_path / "b.vcf")
    counts = run_normalize(str(gz), str(tmp_path / "r.vcf.gz"), NormalizeOptions(fasta=str(fa), multiallelics=("-", "any")),
                           use_ray=False)
    got = records(tmp_path / "r.vcf.gz")
    assert got == want
    assert counts.realigned > 100 and counts.split > 50
    assert (tmp_path / "r.vcf.gz.tbi").exists()
    # NormalizeConfig.batch_rows is read: tiny blocks (many KEY ranges) give the same records and counts
    small = dataclasses.replace(DEFAULTS.normalize, batch_rows=40)
    counts7 = run_normalize(str(gz), str(tmp_path / "r7.vcf"), NormalizeOptions(fasta=str(fa), multiallelics=("-", "any")),
                            use_ray=False, cfg=small)
    assert records(tmp_path / "r7.vcf") == want and counts7.as_dict() == counts.as_dict()


@pytest.mark.timeout(180)
def test_ray_sharded_path_matches_bcftools_across_shard_boundaries(simulated, tmp_path, ray_session):
    gz, fa, _ = simulated
    want = bcftools("-f", str(fa), str(gz), out=tmp_path / "b.vcf")
    opts = NormalizeOptions(fasta=str(fa))
    counts = run_normalize(str(gz), str(tmp_path / "r.vcf.gz"), opts, use_ray=True, cfg=_shards(SHARD_BP))
    got = records(tmp_path / "r.vcf.gz")
    # records left-aligned out of their shard (POS before the shard start) are back in order
    moved = [r for r in got if (int(r.split("\t")[1]) - 1) % SHARD_BP >= SHARD_BP - 12]
    assert moved
    assert got == want
    assert counts.total == len(records(gz)) and counts.rejected == 0


@pytest.mark.timeout(180)
def test_ray_path_rejects_and_counts(simulated, tmp_path, ray_session):
    gz, fa, seqs = simulated
    bad = tmp_path / "bad.vcf"
    lines = [x for x in gzip.open(gz, "rt")]
    body = [x for x in lines if not x.startswith("#")]
    # a REF that differs from the reference, at a position in the second shard of c1
    f = body[40].split("\t")
    f[3] = "T" if seqs[f[0]][int(f[1]) - 1] != "T" else "G"
    f[4] = "A" if f[3] != "A" else "C"
    body[40] = "\t".join(f)
    bad.write_text("".join([x for x in lines if x.startswith("#")] + body))
    badgz = pysam.tabix_index(str(bad), preset="vcf", force=True)
    rej = tmp_path / "rejects.tsv"
    opts = NormalizeOptions(fasta=str(fa), check_ref="x")
    counts = run_normalize(badgz, str(tmp_path / "o.vcf"), opts, rejects_path=str(rej), use_ray=True,
                           cfg=_shards(2 * SHARD_BP), parquet_dir=str(tmp_path / "pq"))
    rows = rej.read_text().splitlines()
    assert rows[0] == "SOURCE\tLINE\tREASON\tTEXT" and len(rows) == 2
    assert "Reference allele mismatch" in rows[1] and f"{f[0]}:{f[1]}" in rows[1]
    assert counts.rejected == 1
    assert counts.total == counts.written + counts.rejected
    import pyarrow.dataset as pads

    pq = pads.dataset(str(tmp_path / "pq"), partitioning="hive").to_table()
    assert pq.num_rows == counts.written


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=c1,length=12000>\n"
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")


def test_bad_input_goes_to_rejects_with_file_line_reason(simulated, tmp_path, run_cli):
    _, fa, seqs = simulated
    s = seqs["c1"]
    good = f"c1\t100\t.\t{s[99]}\t{'A' if s[99] != 'A' else 'C'}\t.\t.\t.\n"
    vcf = _write(tmp_path / "bad.vcf", HEADER + good
                 + "c1\tabc\t.\tA\tC\t.\t.\t.\n"           # line 5: POS not a number
                 + "c1\t200\t.\tA\n"                        # line 6: too few columns
                 + "c1\t300\t.\tA\tC!\t.\t.\t.\n"           # line 7: illegal ALT
                 + "chrZ\t10\t.\tA\tC\t.\t.\t.\n"           # line 8: contig not in the FASTA
                 + f"c1\t400\t.\t{'T' if s[399] != 'T' else 'G'}\tA\t.\t.\t.\n")  # line 9: REF mismatch
    rej = tmp_path / "rej.tsv"
    rc, out, err = run_cli("normalize", vcf, "-f", fa, "-c", "x", "--rejects", rej, "-o", tmp_path / "o.vcf")
    assert rc == 0, err
    rows = [r.split("\t") for r in rej.read_text().splitlines()[1:]]
    by_line = {int(r[1]): r[2] for r in rows}
    assert set(by_line) == {5, 6, 7, 8, 9}
    assert all(r[0] == str(vcf) for r in rows)
    assert "POS" in by_line[5] and "columns" in by_line[6] and "ALT" in by_line[7]
    assert "chrZ" in by_line[8] and "not in the reference" in by_line[8]
    assert "Reference allele mismatch" in by_line[9]
    assert len(records(tmp_path / "o.vcf")) == 1
    assert "total/split/joined/realigned/mismatch_removed/dup_removed/skipped/rejected:\t6/0/0/0/1/0/0/5" in err


def test_check_ref_e_stops_naming_the_record(simulated, tmp_path, run_cli):
    _, fa, seqs = simulated
    s = seqs["c1"]
    vcf = _write(tmp_path / "m.vcf", HEADER + f"c1\t400\t.\t{'T' if s[399] != 'T' else 'G'}\tA\t.\t.\t.\n")
    rc, _, err = run_cli("normalize", vcf, "-f", fa, "-o", tmp_path / "o.vcf")
    assert rc == 2  # bad input (issue 19): exit 2, naming file and line
    assert "Reference allele mismatch at c1:400" in err
    assert f"{vcf}: line {len(HEADER.splitlines()) + 1}:" in err
    assert not (tmp_path / "o.vcf").exists()


def test_truncated_bgzf_is_reported_and_job_finishes(simulated, tmp_path, run_cli):
    gz, fa, _ = simulated
    data = gz.read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    rej = tmp_path / "rej.tsv"
    rc, _, err = run_cli("normalize", cut, "-f", fa, "--rejects", rej, "-o", tmp_path / "o.vcf", "--no-ray")
    assert rc == 0, err
    text = rej.read_text()
    assert str(cut) in text and "truncated" in text
    assert len(records(tmp_path / "o.vcf")) > 100


def test_stdout_is_uncompressed_vcf(simulated, run_cli):
    gz, fa, _ = simulated
    rc, out, err = run_cli("normalize", gz, "-f", fa, "-m", "-any")
    assert rc == 0, err
    assert out.startswith("##fileformat=VCFv4.2")
    assert sum(1 for x in out.splitlines() if not x.startswith("#")) > len(records(gz))


@pytest.mark.parametrize("flag,named", [(["-i", "QUAL>1 && NOSUCH>2"], "NOSUCH"),
                                        (["-e", "FISHER(FMT/AD)>1"], "FISHER"), (["-i", "QUAL>"], "QUAL>"),
                                        (["-g", "x.gff"], "x.gff"), (["-r", "c1:1-100"], "-r")])
def test_bad_or_unsupported_flags_exit_2_naming_them(simulated, tmp_path, run_cli, flag, named):
    gz, fa, _ = simulated
    rc, _, err = run_cli("normalize", gz, "-f", fa, *flag, "-o", tmp_path / "o.vcf")
    assert rc == 2
    assert named in err and "Traceback" not in err
    assert not (tmp_path / "o.vcf").exists()


def test_normalize_variant_public_api(simulated):
    _, fa, seqs = simulated
    s = seqs["c1"]
    # find a homopolymer run of length >= 4 and delete one base at its right end
    i = next(i for i in range(10, len(s) - 10) if s[i] == s[i + 1] == s[i + 2] == s[i + 3] and s[i - 1] != s[i])
    j = i
    while s[j + 1] == s[i]:
        j += 1
    # deletion of one run base written at the end of the run: REF = s[j-1:j+1], ALT = s[j-1]
    pos, ref, alts = normalize_variant("c1", j, s[j - 1: j + 1], [s[j - 1]], str(fa))
    assert (pos, ref, alts) == (i, s[i - 1: i + 1], [s[i - 1]])
    # SNVs and symbolic alleles are returned as they are
    assert normalize_variant("c1", 50, s[49], ["<DUP>"], str(fa))[2] == ["<DUP>"]
    with pytest.raises(ValueError, match="Reference allele mismatch at c1:50"):
        normalize_variant("c1", 50, "N" if s[49] != "N" else "A", ["T"], str(fa))


def test_soft_masked_reference_matches_bcftools(simulated, tmp_path):
    """Bases copied from lower-case (soft-masked) reference stretches keep their case, as in bcftools."""
    gz, _, seqs = simulated
    fa = tmp_path / "soft.fa"
    with open(fa, "w") as fh:
        for name, s in seqs.items():
            masked = "".join(c.lower() if (i // 700) % 2 else c for i, c in enumerate(s))
            fh.write(f">{name}\n" + "\n".join(masked[i: i + 60] for i in range(0, len(masked), 60)) + "\n")
    pysam.faidx(str(fa))
    want = bcftools("-m", "-any", "-f", str(fa), str(gz), out=tmp_path / "b.vcf")
    run_normalize(str(gz), str(tmp_path / "r.vcf"), NormalizeOptions(fasta=str(fa), multiallelics=("-", "any")),
                  use_ray=False)
    got = records(tmp_path / "r.vcf")
    assert any(any(c.islower() for c in r.split("\t")[3]) for r in want)  # the case matters here
    assert got == want


def test_streamed_contigs_equal_whole_file_path(simulated, tmp_path, capsys):
    """An indexed input written to .vcf.gz is finished contig by contig (stream_finished), its blocks normalized
    on threads (normalized_blocks; small blocks: many in flight); the records, rejects (in input order), counts
    and -c w warnings (in input order) equal the whole-file path's (.vcf output, one block at a time), with
    -m + / -d and rejects in both contigs; -c e stops at the same record."""
    gz, fa, seqs = simulated
    lines = [x for x in gzip.open(gz, "rt")]
    head, body = [x for x in lines if x.startswith("#")], [x for x in lines if not x.startswith("#")]
    for i in (30, len(body) - 40):  # a REF mismatch in each contig (-c x rejects it), one malformed line
        f = body[i].split("\t")
        f[3] = "T" if seqs[f[0]][int(f[1]) - 1] != "T" else "G"
        f[4] = "A" if f[3] != "A" else "C"
        body[i] = "\t".join(f)
    f = body[len(body) // 2].split("\t")
    f[5] = "q!"  # QUAL not a number: the reader rejects the line
    body[len(body) // 2] = "\t".join(f)
    bad = tmp_path / "bad.vcf"
    bad.write_text("".join(head + body))
    badgz = pysam.tabix_index(str(bad), preset="vcf", force=True)
    split = NormalizeOptions(fasta=str(fa), check_ref="wx", multiallelics=("-", "any"))
    opts = NormalizeOptions(fasta=str(fa), check_ref="wx", multiallelics=("+", "any"), rm_dup="exact")
    threaded = dataclasses.replace(DEFAULTS.normalize, stream_batch_rows=250, block_threads=3)
    outs = {}
    # -m + / -d: contig by contig; -m -: block by block within a contig too (positional_only)
    for name, cfg, o in (("s.vcf.gz", threaded, opts), ("w.vcf", DEFAULTS.normalize, opts),
                         ("s-.vcf.gz", threaded, split), ("w-.vcf", DEFAULTS.normalize, split)):
        rej = tmp_path / f"{name}.rejects.tsv"
        counts = run_normalize(badgz, str(tmp_path / name), o, rejects_path=str(rej), use_ray=False, cfg=cfg)
        outs[name] = (records(tmp_path / name), rej.read_text(), counts.as_dict(), capsys.readouterr().err)
    assert outs["s.vcf.gz"] == outs["w.vcf"] and outs["s-.vcf.gz"] == outs["w-.vcf"]
    assert outs["w.vcf"][2]["rejected"] == 3 and outs["w.vcf"][2]["joined"] > 0
    assert outs["w.vcf"][3].count("REF_MISMATCH") == 2 and outs["w-.vcf"][2]["split"] > 0
    for name, cfg in (("e.vcf.gz", threaded), ("e.vcf", DEFAULTS.normalize)):
        with pytest.raises(InputError) as stop:
            run_normalize(badgz, str(tmp_path / name), dataclasses.replace(opts, check_ref="e"), use_ray=False, cfg=cfg)
        outs[name] = str(stop.value)
    assert outs["e.vcf.gz"] == outs["e.vcf"] and "Reference allele mismatch" in outs["e.vcf"]


def test_record_moved_past_a_block_starts_the_stream_over(tmp_path, capsys, caplog):
    """Written block by block within a contig (-m -), a deletion that left-alignment moves before the records
    of whole earlier blocks (the end of a 60-base A run, 6 SNVs inside it, blocks of 2 records) is caught:
    the run starts over contig by contig, so the records equal the whole-file path's and the -c w warning
    of the first block is printed once."""
    seq = "CGTACGGTCA" + "A" * 60 + "GCTTAGCATG"
    fa = tmp_path / "r.fa"
    fa.write_text(">c\n" + seq + "\n")
    pysam.faidx(str(fa))
    rows = ["c\t2\t.\tA\tT"]  # REF mismatch (the base is G): -c w warns
    rows += [f"c\t{p}\t.\tA\tC" for p in range(20, 66, 8)]
    rows += ["c\t68\t.\tAAA\tA", "c\t75\t.\tA\tG"]  # the deletion shifts to POS 9
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=c,length=80>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "".join(f"{r}\t.\t.\t.\n" for r in rows))
    gz = pysam.tabix_index(str(vcf), preset="vcf", force=True, keep_original=True)
    opts = NormalizeOptions(fasta=str(fa), check_ref="w", multiallelics=("-", "any"))
    caplog.set_level(logging.DEBUG, logger="raygen.normalize")
    got = {}
    for name, cfg in (("s.vcf.gz", dataclasses.replace(DEFAULTS.normalize, stream_batch_rows=2)),
                      ("w.vcf", DEFAULTS.normalize)):
        run_normalize(gz, str(tmp_path / name), opts, use_ray=False, cfg=cfg)
        got[name] = (records(tmp_path / name), capsys.readouterr().err)
    assert got["s.vcf.gz"] == got["w.vcf"]
    assert "writing contig by contig" in caplog.text
    assert got["w.vcf"][0][1].startswith("c\t9\t.\tCAA\tC") and got["w.vcf"][1].count("REF_MISMATCH") == 1


_EDGE_HEADER = """##fileformat=VCFv4.2
##contig=<ID=c,length=1000>
##INFO=<ID=AD,Number=R,Type=Integer,Description="a">
##FORMAT=<ID=GT,Number=1,Type=String,Description="g">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="a">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2
"""


@pytest.mark.parametrize("rows, args, opts", [
    # --keep-sum adds the other ALTs' AD to a missing REF entry in int32 storage arithmetic: missing (INT32_MIN)
    # + 1 is htslib's vector-end sentinel, so bcftools prints the vector as nothing (campaign seed 100)
    (["c\t10\t.\tT\tTTAA,TGGC,TA\t.\t.\tAD=.,.,1,16\tGT:AD\t0/1:.,.,1,16\t0/1:5,3,2,1",
      "c\t20\t.\tT\tTTAA,TGGC,TA\t.\t.\tAD=.,1,.,16\tGT:AD\t0/1:.,1,.,16\t0/1:.,3,.,1"],
     ["-m", "-", "--keep-sum", "AD"], dict(multiallelics=("-", "both"), keep_sum=("AD",))),
    # -S lex: a record with ALT "." has no ALT, so it sorts before '*', '<DEL>' and bases (campaign seed 109)
    (["c\t10\ta\tA\t*\t.\t.\t.\tGT:AD\t0/0:.\t0/0:.", "c\t10\tb\tA\t.\t.\t.\t.\tGT:AD\t0/0:.\t0/0:.",
      "c\t10\tc\tA\tC,G\t.\t.\t.\tGT:AD\t0/0:.\t0/0:.", "c\t10\te\tA\t<DEL>\t.\t.\t.\tGT:AD\t0/0:.\t0/0:."],
     ["-m", "-any", "-S", "lex"], dict(multiallelics=("-", "any"), sort="lex")),
])
def test_edge_values_match_bcftools(tmp_path, rows, args, opts):
    vcf = tmp_path / "in.vcf"
    vcf.write_text(_EDGE_HEADER + "\n".join(rows) + "\n")
    want = bcftools(*args, str(vcf), out=tmp_path / "b.vcf")
    run_normalize(str(vcf), str(tmp_path / "r.vcf"), NormalizeOptions(**opts), use_ray=False)
    assert records(tmp_path / "r.vcf") == want

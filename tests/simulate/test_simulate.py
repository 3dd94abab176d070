"""raygen simulate: reference features, truth VCF correctness, normalization, BAM validity, determinism.

Every output is checked with pysam (and the bundled bcftools), never with the simulator's own code.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pysam
import pysam.bcftools
import pytest

from raygen.config import SimulateConfig
from raygen.simulate import simulate_genome

BAM_CFG = SimulateConfig(length=200_000, seed=7, coverage=5, samples=2, chunk_bp=50_000)
TRUTH_CFG = SimulateConfig(length=400_000, seed=11, contigs=4, samples=3, denormalize=True, indel_rate=5e-4)


@pytest.fixture(scope="module")
def sim_reads(ray_session, tmp_path_factory):
    """200 kbp, 5x, several read chunks per contig (so chunk concatenation is exercised)."""
    return simulate_genome(BAM_CFG, tmp_path_factory.mktemp("simreads"))


@pytest.fixture(scope="module")
def sim_truth(tmp_path_factory):
    """No reads (no Ray needed), more indels, 3 samples, plus the denormalized truth."""
    return simulate_genome(TRUTH_CFG, tmp_path_factory.mktemp("simtruth"))


def records(path) -> list[tuple]:
    with pysam.VariantFile(str(path)) as vf:
        return [
            (r.chrom, r.pos, r.ref, r.alts, tuple(sorted(r.info.items())),
             tuple((s["GT"], s.phased) for s in r.samples.values()))
            for r in vf
        ]


def trim(pos0: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Minimal representation of one allele: suffix, then prefix (left-aligned input stays left)."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    k = 0
    while k < min(len(ref), len(alt)) and ref[k] == alt[k]:
        k += 1
    return pos0 + k, ref[k:], alt[k:]


# ---------------------------------------------------------------- reference

def test_reference_has_realistic_features(sim_truth):
    fa_path = sim_truth.reference
    lines = fa_path.read_text().splitlines()
    assert [ln[1:] for ln in lines if ln.startswith(">")] == ["chr1", "chr2", "chr3", "chr4"]
    body = [ln for ln in lines if not ln.startswith(">")]
    assert max(len(ln) for ln in body) == 60
    with pysam.FastaFile(str(fa_path)) as fa:
        assert sum(fa.lengths) == TRUTH_CFG.length == sim_truth.bp
        assert dict(zip(fa.references, fa.lengths)) == sim_truth.contigs
        seq = "".join(fa.fetch(c) for c in fa.references)
    assert set(seq) == set("ACGTN")  # upper case, N gaps present
    assert seq.count("N") == sim_truth.n_bp > 0
    arr = np.frombuffer(seq.encode(), np.uint8)
    windows = arr[: len(arr) // 5000 * 5000].reshape(-1, 5000)
    gc = np.isin(windows, np.frombuffer(b"GC", np.uint8)).sum(1) / np.maximum(1, (windows != ord("N")).sum(1))
    assert gc.max() - gc.min() > 0.12  # isochore-like GC variation
    assert len(re.findall(r"A{8,}|C{8,}|G{8,}|T{8,}", seq)) > 100  # homopolymers
    strs = re.findall(r"((?:[ACGT]{2,6}?))\1{3,}", seq)
    assert len({len(u) for u in strs if len(set(u)) > 1} & {2, 3, 4, 5}) == 4  # STRs of several unit sizes


# ---------------------------------------------------------------- truth VCF

def test_truth_vcf_header_and_classes(sim_truth):
    with pysam.VariantFile(str(sim_truth.truth_vcf)) as vf:
        hdr = vf.header
        assert {c: hdr.contigs[c].length for c in hdr.contigs} == sim_truth.contigs
        assert list(hdr.samples) == ["SAMPLE1", "SAMPLE2", "SAMPLE3"]
        assert {"VT", "REPEAT"} <= set(hdr.info) and "GT" in hdr.formats
        assert "raygen-simulate" in str(hdr)
        recs = list(vf)
    kinds = Counter()
    for r in recs:
        if len(r.alts) > 1:
            kinds["multi"] += 1
        for a in r.alts:
            kinds["SNV" if len(a) == len(r.ref) == 1 else "MNP" if len(a) == len(r.ref) else
                  "INS" if len(a) > len(r.ref) else "DEL"] += 1
    assert all(kinds[k] > 0 for k in ("SNV", "MNP", "INS", "DEL", "multi")), kinds
    assert sum(1 for r in recs if "REPEAT" in r.info) > 50  # indels where left-alignment matters
    assert any(r.samples["SAMPLE1"]["GT"] in ((1, 2), (2, 1)) for r in recs)  # het with both ALTs
    assert all(r.samples[s].phased for r in recs for s in r.samples)
    assert all(any(a for s in r.samples.values() for a in s["GT"]) for r in recs)  # every record carried
    assert sim_truth.variants["total"] == len(recs) and sim_truth.variants["MULTIALLELIC"] == kinds["multi"]


@pytest.mark.parametrize("which", ["truth_vcf", "truth_denorm_vcf"])
def test_every_truth_ref_matches_reference(sim_truth, which):
    with pysam.FastaFile(str(sim_truth.reference)) as fa, pysam.VariantFile(str(getattr(sim_truth, which))) as vf:
        recs = list(vf)
        assert recs
        for r in recs:
            assert fa.fetch(r.chrom, r.pos - 1, r.pos - 1 + len(r.ref)) == r.ref, (r.chrom, r.pos, r.ref)


def test_variants_never_overlap_or_touch_gaps(sim_truth):
    with pysam.FastaFile(str(sim_truth.reference)) as fa, pysam.VariantFile(str(sim_truth.truth_vcf)) as vf:
        last = {}
        for r in vf:
            assert r.start > last.get(r.chrom, -1), f"{r.chrom}:{r.pos} overlaps the previous record"
            last[r.chrom] = r.stop
            assert "N" not in fa.fetch(r.chrom, max(0, r.start - 3), r.stop + 3)


def test_denormalized_truth_normalizes_back_with_bcftools(sim_truth, tmp_path):
    truth, denorm = records(sim_truth.truth_vcf), records(sim_truth.truth_denorm_vcf)
    assert len(truth) == len(denorm)
    changed = [(a, b) for a, b in zip(truth, denorm) if a != b]
    assert len(changed) > 50
    assert all(len(a[2]) != len(a[3][0]) for a, _ in changed)  # only indels are denormalized
    assert any(b[1] > a[1] for a, b in changed) and any(len(b[2]) > len(a[2]) + 1 for a, b in changed
                                                        if len(a[2]) < len(a[3][0]))  # shifted and padded forms
    for src, name in ((sim_truth.truth_denorm_vcf, "renorm"), (sim_truth.truth_vcf, "norm_of_truth")):
        out = tmp_path / f"{name}.vcf.gz"
        pysam.bcftools.norm("-f", str(sim_truth.reference), "-Oz", "-o", str(out), str(src), catch_stdout=False)
        assert records(out) == truth  # bcftools norm gives exactly the normalized truth; truth is a fixpoint


def test_same_seed_same_bytes_other_seed_differs(sim_truth, tmp_path):
    again = simulate_genome(TRUTH_CFG, tmp_path / "again")
    for name in ("reference", "truth_vcf", "truth_denorm_vcf"):
        assert getattr(again, name).read_bytes() == getattr(sim_truth, name).read_bytes(), name
    other = simulate_genome(dataclasses.replace(TRUTH_CFG, seed=12), tmp_path / "other")
    assert other.reference.read_bytes() != sim_truth.reference.read_bytes()
    assert gzip.decompress(other.truth_vcf.read_bytes()) != gzip.decompress(sim_truth.truth_vcf.read_bytes())
    assert not [p.name for p in (tmp_path / "again").iterdir() if p.name.startswith(".")]  # no temp files left


def test_unphased_genotypes_and_stale_outputs_removed(sim_truth, tmp_path):
    first = simulate_genome(dataclasses.replace(TRUTH_CFG, length=40_000), tmp_path)
    assert first.truth_denorm_vcf.exists()
    again = simulate_genome(SimulateConfig(length=40_000, seed=2, samples=2, phased=False), tmp_path)
    assert again.truth_denorm_vcf is None and not first.truth_denorm_vcf.exists()  # no stale, mismatched file
    gts = [(s["GT"], s.phased) for r in pysam.VariantFile(str(again.truth_vcf)) for s in r.samples.values()]
    assert gts and not any(phased for _, phased in gts)
    assert all(gt[0] <= gt[1] for gt, _ in gts)  # unphased alleles are written in ascending order


# ---------------------------------------------------------------- reads

def test_bam_sorted_indexed_paired(sim_reads):
    bam = sim_reads.reads_bam
    assert Path(str(bam) + ".bai").exists()
    with pysam.AlignmentFile(str(bam)) as af:
        assert af.header.to_dict()["HD"]["SO"] == "coordinate"
        assert af.header.to_dict()["RG"][0]["SM"] == "SAMPLE1"
        assert af.mapped == sim_reads.reads > 5000  # thousands of mapped reads at 5x on 200 kbp
        assert af.count("chr2", 10_000, 20_000) > 100  # the index answers region queries
        last = (-1, -1)
        mates: dict[str, list] = {}
        for r in af:
            key = (r.reference_id, r.reference_start)
            assert key >= last
            last = key
            assert r.mapping_quality == 60 and r.is_paired and r.is_proper_pair and not r.is_unmapped
            assert r.infer_query_length() == BAM_CFG.read_length == r.query_length
            assert len(r.query_qualities) == BAM_CFG.read_length
            mates.setdefault(r.query_name, []).append(r)
    assert all(len(v) == 2 for v in mates.values())
    tlens = []
    for a, b in mates.values():
        assert a.is_read1 != b.is_read1 and a.is_reverse != b.is_reverse
        assert a.next_reference_start == b.reference_start and b.next_reference_start == a.reference_start
        assert a.mate_is_reverse == b.is_reverse and a.get_tag("HP") == b.get_tag("HP")
        left, right = (a, b) if not a.is_reverse else (b, a)
        assert left.template_length == -right.template_length > 0
        assert left.template_length == max(left.reference_end, right.reference_end) - left.reference_start
        tlens.append(left.template_length)
    assert abs(np.mean(tlens) - BAM_CFG.fragment_mean) < 10 and 35 < np.std(tlens) < 65


def _haplotype_truth(sim):
    """From the truth VCF: per (chrom, hap) substitutions {ref pos: alt base} and indels
    {(ref pos of the event, op): length or inserted bases} carried by SAMPLE1."""
    subs, indels = {}, {}
    with pysam.VariantFile(str(sim.truth_vcf)) as vf:
        for r in vf:
            gt = r.samples["SAMPLE1"]["GT"]
            for h in (0, 1):
                if not gt[h]:
                    continue
                p, ref, alt = trim(r.start, r.ref, r.alts[gt[h] - 1])
                key = (r.chrom, h + 1)
                if len(ref) == len(alt):
                    for i, base in enumerate(alt):
                        subs.setdefault(key, {})[p + i] = base
                elif not ref:
                    indels.setdefault(key, {})[p] = ("I", alt)
                else:
                    indels.setdefault(key, {})[p] = ("D", len(ref))
    return subs, indels


def test_reads_match_haplotypes_cigars_carry_truth_indels(sim_reads):
    subs, indels = _haplotype_truth(sim_reads)
    with pysam.FastaFile(str(sim_reads.reference)) as fa:
        refs = {c: fa.fetch(c) for c in fa.references}
    checked_indels = mismatches = compared = 0
    expected_err = []
    with pysam.AlignmentFile(str(sim_reads.reads_bam)) as af:
        for r in af:
            hap = (r.reference_name, r.get_tag("HP"))
            hs, hi = subs.get(hap, {}), indels.get(hap, {})
            q = r.query_sequence
            qi, rp = 0, r.reference_start
            events = {}
            for op, n in r.cigartuples:
                if op == 0:
                    for k in range(n):
                        compared += 1
                        mismatches += q[qi + k] != hs.get(rp + k, refs[r.reference_name][rp + k])
                    qi, rp = qi + n, rp + n
                elif op == 1:
                    events[rp] = ("I", q[qi: qi + n])
                    qi += n
                elif op == 2:
                    events[rp] = ("D", n)
                    rp += n
                elif op == 4:
                    qi += n
                else:
                    raise AssertionError(f"unexpected CIGAR op {op} in {r.cigarstring}")
            expected_err.append(np.mean(10.0 ** (-np.asarray(r.query_qualities, np.float64) / 10.0)))
            # Every truth indel this read spans with 5 bp either side shows up at the right place.
            for p, (op, what) in hi.items():
                span_end = p + (what if op == "D" else 0)
                if r.reference_start + 5 <= p and span_end + 5 <= r.reference_end:
                    assert p in events and events[p][0] == op, (r.query_name, r.cigarstring, p, op)
                    if op == "D":
                        assert events[p][1] == what
                    else:
                        assert len(events[p][1]) == len(what)
                        assert sum(x != y for x, y in zip(events[p][1], what)) <= 2  # up to sequencing errors
                    checked_indels += 1
            assert set(events) <= set(hi), (r.query_name, r.cigarstring)  # no indel the truth lacks
    assert checked_indels > 60  # ~90 indel-bearing reads at 5x on 200 kbp
    rate = mismatches / compared
    assert 0.75 * BAM_CFG.error_rate < rate < 1.25 * BAM_CFG.error_rate, rate
    assert abs(rate - np.mean(expected_err)) < 0.2 * rate  # qualities are calibrated
    assert abs(sim_reads.sequencing_errors / sim_reads.read_bases - rate) < 0.2 * rate


def test_qualities_decline_along_the_read(sim_reads):
    with pysam.AlignmentFile(str(sim_reads.reads_bam)) as af:
        quals = []
        for i, r in enumerate(af):
            q = np.asarray(r.query_qualities, np.float64)
            quals.append(q[::-1] if r.is_reverse else q)  # sequencing-cycle order
            if i > 2000:
                break
    mean = np.mean(quals, axis=0)
    assert mean[:10].mean() > mean[-10:].mean() + 3


def test_bam_identical_whatever_the_parallelism(ray_session, tmp_path):
    cfg = SimulateConfig(length=60_000, seed=3, contigs=2, coverage=2, chunk_bp=12_000)
    a = simulate_genome(cfg, tmp_path / "a")  # chunks run 2 at a time on the session's 2 CPUs
    b = simulate_genome(cfg, tmp_path / "b", max_in_flight=1)  # one chunk at a time
    assert a.reads > 500
    assert a.reads_bam.read_bytes() == b.reads_bam.read_bytes()
    assert a.reference.read_bytes() == b.reference.read_bytes()


# ---------------------------------------------------------------- CLI

def test_cli_simulate_writes_outputs_and_summary(ray_session, run_cli, tmp_path):
    out = tmp_path / "cli"
    rc, stdout, _ = run_cli("simulate", "--out", out, "--length", "50k", "--coverage", "2", "--seed", "5",
                            "--contigs", "2", "--denormalize", "--chunk-bp", "20k", "-q")
    assert rc == 0
    for name in ("reference.fa", "reference.fa.fai", "truth.vcf.gz", "truth.vcf.gz.tbi", "truth.denorm.vcf.gz",
                 "truth.denorm.vcf.gz.tbi", "reads.bam", "reads.bam.bai"):
        assert (out / name).stat().st_size > 0, name
    assert "50,000 bp" in stdout and "reads.bam" in stdout and "Mbp/min" in stdout


@pytest.mark.parametrize("args, words", [
    (["--length", "-5"], "--length"),
    (["--length", "0"], "--length"),
    (["--snv-rate", "1.5"], "--snv-rate"),
    (["--indel-rate", "-0.1"], "--indel-rate"),
    (["--coverage", "-1"], "--coverage"),
    (["--read-length", "10"], "--read-length"),
    (["--contigs", "0"], "--contigs"),
    (["--length", "1500", "--contigs", "3"], "too short"),
])
def test_bad_parameters_exit_2_with_one_line(run_cli, tmp_path, args, words):
    out = tmp_path / "never"
    rc, stdout, stderr = run_cli("simulate", "--out", out, *args)
    assert rc == 2
    assert len(stderr.strip().splitlines()) == 1 and words in stderr and stderr.startswith("raygen simulate: error:")
    assert not out.exists()


def test_unwritable_output_dir_exits_2(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, stderr = run_cli("simulate", "--out", blocker / "sub", "--length", "10000")
    assert rc == 2 and len(stderr.strip().splitlines()) == 1 and "not writable" in stderr


@pytest.mark.parametrize("text, words", [
    (None, "No such file"),
    ("not json", "Expecting value"),
    ('{"format": "other"}', "not a raygen error profile"),
    ('{"format": "raygen-error-profile/1", "q_obs": [1, 2]}', "field 'q_obs' has shape [2]"),
])
def test_bad_error_profile_exits_2_naming_the_file(run_cli, tmp_path, text, words):
    prof = tmp_path / "prof.json"
    if text is not None:
        prof.write_text(text)
    out = tmp_path / "never"
    rc, _, stderr = run_cli("simulate", "--out", out, "--length", "20k", "--error-profile", prof)
    assert rc == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and words in stderr and "prof.json" in stderr, stderr
    assert not out.exists()

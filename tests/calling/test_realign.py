"""Haplotype re-scoring: reads are assigned to the REF or an indel haplotype, whichever flank anchors them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam

from raygen.calling.candidates import load_pileup, open_bam
from raygen.calling.realign import assign_site
from raygen.config import CallConfig
from raygen.io.fasta import Reference
from raygen.regions import Shard


def _bam(tmp: Path, ref: str, reads: list[tuple[int, str, list[tuple[int, int]]]]) -> str:
    """A sorted, indexed BAM of (0-based start, sequence, CIGAR) reads on contig ``c`` of ``ref``."""
    (tmp / "ref.fa").write_text(">c\n" + ref + "\n")
    pysam.faidx(str(tmp / "ref.fa"))
    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": "c", "LN": len(ref)}]})
    path = str(tmp / "reads.bam")
    with pysam.AlignmentFile(path, "wb", header=header) as out:
        for k, (start, seq, cigar) in enumerate(sorted(reads)):
            a = pysam.AlignedSegment(header)
            a.query_name, a.reference_id, a.reference_start = f"r{k}", 0, start
            a.query_sequence, a.cigartuples, a.mapping_quality = seq, cigar, 60
            a.flag = 16 if k % 2 else 0
            a.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
            out.write(a)
    pysam.index(path)
    return path


def test_a_read_with_another_indel_in_one_flank_is_anchored_on_the_other(tmp_path: Path):
    rng = np.random.default_rng(5)
    ref = "".join(rng.choice(list("CGT"), 400))  # no A: the only homopolymer of A is the one below
    ref = ref[:200] + "A" * 12 + ref[212:]
    # ALT haplotype: 2 bp deleted at 185-186 (15 bp left of the site) and one A inserted in the run.
    alt = ref[:185] + ref[187:200] + "A" + ref[200:]
    reads = []
    for s in range(100, 120, 2):  # ALT reads as an aligner writes them: 2D, 13 M, 1I before the run
        m1 = 185 - s
        reads.append((s, alt[s:s + 150], [(0, m1), (2, 2), (0, 13), (1, 1), (0, 150 - m1 - 14)]))
    for s in range(101, 121, 2):  # REF reads
        reads.append((s, ref[s:s + 150], [(0, 150)]))
    bam = _bam(tmp_path, ref, reads)
    with Reference(str(tmp_path / "ref.fa")) as fa:
        af = open_bam(bam)
        p = load_pileup(af, fa, Shard("c", 0, 400, 0), CallConfig())
        af.close()
    a = assign_site(p, 199, [(ref[199], ref[199] + "A")])  # window [179, 232): reads span it whole
    assert len(a.reads) == 20 and (p.read_start[a.reads] <= 179).all() and (p.read_end[a.reads] >= 232).all()
    alt_reads = p.read_start[a.reads] % 2 == 0
    # Anchored at 179 (the left flank), an ALT read's 2 bp deletion shifts its bases: it fits neither
    # haplotype. From the right flank it fits the insertion haplotype exactly.
    assert (a.hap[alt_reads] == 1).all()
    assert (a.hap[~alt_reads] == 0).all()


def test_a_neighbouring_indel_in_the_flank_does_not_turn_alt_reads_into_ref(tmp_path: Path):
    """A hom-alt C14 -> C13 deletion with a hom-alt (CA)n deletion 22 bp to its right (simulated seed 71): from
    the left flank the second deletion shifts each read by one CA unit, so it fits REF (shifted by 2) better
    than the C13 haplotype (shifted by 1). Told about the neighbour, the window stops before it."""
    rng = np.random.default_rng(7)
    left = "".join(rng.choice(list("GT"), 200)) + "GATGTATGTA"
    right = "TCACCTTC" + "AC" * 13 + "AAGG" + "".join(rng.choice(list("GT"), 200))
    ref = left + "C" * 14 + right
    site = len(left) - 1  # the anchor A; deleted: one C of the run
    ca = len(left) + 14 + 8  # 0-based start of the (AC)n tract; one A deleted at its second base
    alt = ref[:site + 1] + ref[site + 2:ca + 1] + ref[ca + 2:]
    reads = [(s, alt[s:s + 100], [(0, site + 1 - s), (2, 1), (0, ca - site - 1), (2, 1), (0, 100 - (ca - s))])
             for s in range(site - 70, site - 20, 3)]
    bam = _bam(tmp_path, ref, reads)
    with Reference(str(tmp_path / "ref.fa")) as fa:
        af = open_bam(bam)
        p = load_pileup(af, fa, Shard("c", 0, len(ref), 0), CallConfig())
        af.close()
    alleles = [(ref[site:site + 2], ref[site])]
    blind = assign_site(p, site, alleles)
    told = assign_site(p, site, alleles, [(ca, ref[ca:ca + 2], ref[ca])])
    assert (blind.hap == 1).sum() < len(reads) // 2  # the failure this guards against
    assert (told.hap == 1).sum() == len(reads)


def _refined(tmp: Path, ref: str, reads) -> dict:
    """Candidates of a tiny BAM after :func:`raygen.calling.classical.refine` (config defaults, no profile), by
    (pos0, ref, alt): (REF reads, ALT reads)."""
    from raygen.calling.candidates import find_candidates, site_tables
    from raygen.calling.classical import refine
    from raygen.calling.errormodel import ErrorModel

    cfg = CallConfig()
    bam = _bam(tmp, ref, reads)
    with Reference(str(tmp / "ref.fa")) as fa:
        af = open_bam(bam)
        shard = Shard("c", 0, len(ref), 0)
        p = load_pileup(af, fa, shard, cfg)
        af.close()
    t = site_tables(p, 0, len(ref), cfg)
    cands, _, _ = refine(p, t, find_candidates(p, t, shard, cfg), cfg, ErrorModel.build(cfg))
    return {(c.pos0, c.ref, c.alt): (c.ref_count, c.alt_count) for c in cands}


def test_an_snv_beside_an_indel_error_keeps_every_read(tmp_path: Path):
    """An SNV 2 bp past an A12 run where 2 of 28 reads carry a slipped A (as in simulated seed 91): the slip is
    not called, so it must not re-count the SNV; through its haplotypes the reads that start inside the run fit
    REF and ALT alike and dropped out (seed 91: AD 10/2; the pileup 20/8)."""
    rng = np.random.default_rng(11)
    ref = "".join(rng.choice(list("CGT"), 400))
    ref = ref[:200] + "A" * 12 + ref[212:]
    snv = 213
    hap = ref[:snv] + ("G" if ref[snv] != "G" else "C") + ref[snv + 1:]
    reads = []
    starts = list(range(150, 178, 2)) + [200 + k % 11 for k in range(14)]  # 14 spanning the run, 14 inside it
    for k, s in enumerate(starts):
        src = hap if k % 7 < 2 else ref  # 8 carry the SNV
        if k in (3, 5):  # the slip: one A inserted in the run
            seq = src[s:206] + "A" + src[206:s + 99]
            reads.append((s, seq, [(0, 206 - s), (1, 1), (0, 99 - (206 - s))]))
        else:
            reads.append((s, src[s:s + 100], [(0, 100)]))
    got = _refined(tmp_path, ref, reads)
    assert got[(snv, ref[snv], hap[snv])] == (20, 8)


def test_reads_the_indel_cannot_place_keep_their_base_in_the_flank(tmp_path: Path):
    """A hom-alt insertion in an A12 run and an SNV 10 bp right of it: reads that start inside the run fit both
    haplotypes (uninformative for the insertion) yet hold the SNV in their aligned flank, and count there."""
    rng = np.random.default_rng(12)
    ref = "".join(rng.choice(list("CGT"), 400))
    ref = ref[:200] + "A" * 12 + ref[212:]
    snv = 222
    alt = ref[:snv] + ("G" if ref[snv] != "G" else "C") + ref[snv + 1:]
    alt = alt[:212] + "A" + alt[212:]  # ALT haplotype: A13 and the SNV (at alt index snv + 1)
    reads = []
    for s in range(130, 190, 4):  # spanning the run: aligned with the insertion
        reads.append((s, alt[s:s + 100], [(0, 212 - s), (1, 1), (0, 99 - (212 - s))]))
    for s in range(203, 211):  # starting inside the run: gap-free, shifted by the insertion
        reads.append((s, alt[s + 1:s + 101], [(0, 100)]))
    got = _refined(tmp_path, ref, reads)
    assert got[(snv, ref[snv], alt[snv + 1])] == (0, len(reads))

"""The flat pileup arrays against pysam's own alignment walk, and the vectorised helpers against plain loops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam
import pytest

from raygen.calling.candidates import concat_ranges, entry_cycle_bins, load_pileup, open_bam
from raygen.config import CallConfig
from raygen.io.fasta import Reference
from raygen.regions import Shard


def test_concat_ranges_matches_a_loop():
    rng = np.random.default_rng(3)
    starts = rng.integers(-50, 10_000, 300)
    lengths = rng.integers(0, 6, 300)  # zero-length ranges included
    want = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)])
    got = concat_ranges(starts, lengths)
    assert got.dtype == np.int64 and np.array_equal(got, want)
    assert len(concat_ranges(np.zeros(0), np.zeros(0))) == 0
    # The pileup's int32 columns: built in int32 throughout (values past 2^16 check no narrower type sneaks in).
    got32 = concat_ranges(starts + 100_000, lengths, np.int32)
    assert got32.dtype == np.int32 and np.array_equal(got32, want + 100_000)


@pytest.mark.shared
def test_pileup_entries_and_cycle_bins_match_pysam(shared_data: Path):
    """Every aligned base of every used read (pysam's aligned pairs), and its read-cycle bin computed per read."""
    giab = shared_data / "giab_chr20"
    cfg = CallConfig()
    shard = Shard("chr20", 10_010_000, 10_012_000, 0)
    with Reference(str(giab / "ucsc.hg19.chr20.unittest.fasta.gz")) as ref:
        af = open_bam(str(giab / "NA12878_S1.chr20.10_10p1mb.bam"))
        p = load_pileup(af, ref, shard, cfg)
        fetched = list(af.fetch("chr20", shard.fetch_start0, shard.fetch_end0))
        reads = [r for r in fetched if not r.flag & 0xF04 and r.mapping_quality >= cfg.min_mapping_quality]
        af.close()
    assert len(reads) == len(p.read_start) > 50
    # The read-level columns and the counts of left-out reads, against pysam's own properties.
    assert p.stats.total == len(fetched) and p.stats.used == len(reads)
    assert p.stats.low_mapq == sum(not r.flag & 0xF04 and r.mapping_quality < cfg.min_mapping_quality for r in fetched)
    assert p.stats.duplicate == sum(bool(r.flag & 0x400) and not r.flag & 0x904 for r in fetched)
    assert p.read_reverse.tolist() == [r.is_reverse for r in reads]
    assert p.read_mapq.tolist() == [r.mapping_quality for r in reads]
    assert p.read_end.tolist() == [r.reference_end for r in reads]
    assert p.read_tlen.tolist() == [r.template_length if r.is_proper_pair and r.template_length > 0 else 0
                                    for r in reads]
    assert p.query_qual.tobytes() == b"".join(bytes(r.query_qualities) for r in reads)
    bins = 10
    cb = entry_cycle_bins(p, np.ones(len(p.pos), bool), bins)
    for i, r in enumerate(reads):
        a, b = p.read_offset[i], p.read_offset[i + 1]
        pairs = [(q, rp) for q, rp in r.get_aligned_pairs(matches_only=True)]
        assert p.pos[a:b].tolist() == [rp for _, rp in pairs]
        assert (p.qpos[a:b] - p.read_qoff[i]).tolist() == [q for q, _ in pairs]
        n = r.query_length
        cyc = [n - 1 - q if r.is_reverse else q for q, _ in pairs]
        assert cb[a:b].tolist() == [min(c * bins // n, bins - 1) for c in cyc]
    idx = np.arange(0, len(p.pos), 7)
    assert np.array_equal(entry_cycle_bins(p, idx, bins), cb[idx])


def test_overlapping_mates_count_once_as_bcftools_mpileup_counts_them(tmp_path):
    """A 150 bp x 2, 200 bp fragment library (mates overlap by ~100 bp): per position, raygen's base counts
    equal bcftools mpileup's AD (its default overlap detection, no BAQ, the same minimum base quality) at every
    covered position, where counting both mates (``mate_overlap`` off) counts about 1.5x as many bases."""
    import pysam.bcftools

    from raygen.calling.candidates import site_tables
    from raygen.config import SimulateConfig
    from raygen.simulate.reads import bam_header, simulate_chunk
    from raygen.simulate.reference import simulate_reference, write_fasta

    cfg = SimulateConfig(length=12_000, contigs=1, seed=5, coverage=20, read_length=150, fragment_mean=200,
                         fragment_sd=20, chunk_bp=20_000, n_gap_fraction=0.0, error_rate=0.01)
    c = simulate_reference(cfg)[0]
    write_fasta(tmp_path / "ref.fa", [c])
    seq = c.seq.tobytes().decode()
    dels = [(q, seq[q:q + 4], seq[q]) for q in range(1_500, 11_000, 1_000)]  # het 3 bp deletions and insertions
    ins = [(q, seq[q], seq[q] + "AC") for q in range(2_000, 11_000, 1_000)]
    data, _ = simulate_chunk(c.seq, c.name, 0, 0, (dels, ins), cfg, bam_header([(c.name, c.length)], "S"))
    bam = tmp_path / "r.bam"
    bam.write_bytes(data)
    pysam.index(str(bam))
    call = CallConfig()
    pysam.bcftools.mpileup("-B", "-Q", str(call.min_base_quality), "-a", "AD", "-f", str(tmp_path / "ref.fa"),
                           "-Ou", "-o", str(tmp_path / "p.bcf"), str(bam), catch_stdout=False)
    ad = {}
    with pysam.VariantFile(str(tmp_path / "p.bcf")) as v:
        for r in v:
            if all(len(a) == 1 or a == "<*>" for a in r.alleles):  # the base counts (indels are records of their own)
                ad[r.pos - 1] = {a: n for a, n in zip(r.alleles, r.samples[0]["AD"]) if a != "<*>"}
    lo, hi = 1_000, c.length - 1_000
    counts = {}
    with Reference(str(tmp_path / "ref.fa")) as ref:
        for on in (True, False):
            cf = CallConfig(mate_overlap=on)
            af = open_bam(str(bam))
            p = load_pileup(af, ref, Shard(c.name, lo, hi, 0), cf)
            af.close()
            counts[on] = site_tables(p, lo, hi, cf).counts[:, :4]
            if on:
                p_on = p
    assert (p.read_tlen > 0).mean() > 0.4  # proper pairs
    got = [{b: int(n) for b, n in zip("ACGT", counts[True][i - lo]) if n} for i in range(lo, hi)]
    want = [{b: n for b, n in ad.get(i, {}).items() if n} for i in range(lo, hi)]
    assert sum(g == w for g, w in zip(got, want)) == hi - lo  # every position, every allele
    assert 1.3 < counts[False].sum() / counts[True].sum() < 1.7
    # an indel both mates carry counts once: its reads are the fragments
    for key, reads in p_on.indel_reads.items():
        assert not set(reads) & {int(m) for m in p_on.read_mate[reads] if m >= 0}
    n_on = sum(len(v) for k, v in p_on.indel_reads.items() if k[0] in {q for q, _, _ in dels + ins})
    n_off = sum(len(v) for k, v in p.indel_reads.items() if k[0] in {q for q, _, _ in dels + ins})
    assert 1.3 < n_off / n_on < 1.7
    # the realigner scores both mates but counts the fragment once: no assigned read's keeper is assigned too
    from raygen.calling.realign import assign_site

    q, r, a = ins[3]
    on, off = assign_site(p_on, q, [(r, a)]), assign_site(p, q, [(r, a)])
    got = set(on.reads[on.hap >= 0].tolist())
    assert got and not got & {int(m) for m in p_on.read_mate[list(got)] if m >= 0}
    assert 1.3 < (off.hap >= 0).sum() / (on.hap >= 0).sum() < 1.8

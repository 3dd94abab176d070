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

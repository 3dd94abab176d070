"""`raygen profile` on the real GIAB slice: JSON written and readable, summary printed, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raygen.calling.profile import ErrorProfile

G = "giab_chr20"


@pytest.mark.shared
def test_profile_command_writes_a_loadable_profile(shared_data: Path, tmp_path: Path, run_cli):
    g = shared_data / G
    out = tmp_path / "p.json"
    rc, stdout, err = run_cli("profile", g / "NA12878_S1.chr20.10_10p1mb.bam", "-f", g / "ucsc.hg19.chr20.unittest.fasta.gz",
                              "-o", out, "--regions", "chr20:10000001-10010000", "--json")
    assert rc == 0, err
    s = json.loads(stdout)
    assert s["bp_profiled"] == 10_000 and s["read_length"] == 101 and 30 < s["depth_median"] < 80
    assert 0 < s["mismatch_rate_clean_sites"] < 0.01
    assert ErrorProfile.load(out).reads == s["reads"]
    rc, _, err = run_cli("profile", tmp_path / "missing.bam", "-f", g / "ucsc.hg19.chr20.unittest.fasta.gz", "-o", out)
    assert rc == 2 and "missing.bam" in err

"""The pileup tensors, and the CNN genotyper: trains a little with Ray Train, loads back, calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from raygen.calling.candidates import find_candidates, load_pileup, open_bam, site_tables
from raygen.calling.cnn import featurize, load_caller
from raygen.calling.shard import call_region
from raygen.config import DEFAULTS
from raygen.errors import InputError
from raygen.io.fasta import Reference
from raygen.regions import Shard

BAM = "NA12878_S1.chr20.10_10p1mb.bam"
FA = "ucsc.hg19.chr20.unittest.fasta.gz"


@pytest.mark.shared
def test_tensors_show_the_alt_reads(shared_data: Path):
    d = shared_data / "giab_chr20"
    cfg = DEFAULTS.call
    shard = Shard("chr20", 10000400, 10000800, cfg.margin_bp)
    with Reference(d / FA) as ref:
        af = open_bam(str(d / BAM))
        p = load_pileup(af, ref, shard, cfg)
        af.close()
    t = site_tables(p, shard.start0, shard.end0, cfg)
    cands = find_candidates(p, t, shard, cfg)
    cands2, _, x, f = featurize(p, t, cands, cfg)
    assert x.shape == (len(cands2), cfg.tensor_channels, cfg.max_reads, cfg.window)
    # chr20:10000439 T>G is hom-alt in the truth: every covered centre cell supports the ALT and differs from REF.
    i = next(k for k, c in enumerate(cands2) if c.pos0 + 1 == 10000439 and c.alt == "G")
    centre = x[i, :, :, cfg.window // 2]
    covered = centre[1] > 0
    assert covered.sum() >= 30
    assert np.all(centre[4][covered] == 1.0) and np.all(centre[5][covered] == 1.0)
    assert np.allclose(centre[0][covered], 0.75)  # G
    assert f[i, 8] > 0.99  # classical posterior of hom-alt


@pytest.mark.shared
@pytest.mark.timeout(240)
def test_train_caller_few_steps_and_load_back(shared_data: Path, tmp_path: Path, ray_session, run_cli):
    d = shared_data / "giab_chr20"
    out = tmp_path / "model"
    rc, stdout, err = run_cli(
        "train", "caller", "--bam", d / BAM, "-f", d / FA, "--truth", d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz",
        "--regions", "chr20:10000001-10007500", "--region-bp", "2500", "--epochs", "1", "--workers", "1", "--out", out, "-q",
    )
    assert rc == 0, err
    summary = json.loads(stdout[stdout.index("{"):])
    assert summary["val_regions"] == ["chr20:10005001-10007500"]  # whole regions held out, never random sites
    assert summary["train_examples"] > 0 and summary["val_examples"] > 0
    assert {p.name for p in out.iterdir()} == {"caller.safetensors", "caller.json", "MODEL_CARD.md"}
    net = load_caller(out)
    assert sum(p.numel() for p in net.parameters()) > 1000
    recs = call_region(str(d / BAM), str(d / FA), "chr20:10000400-10000800", model=str(out))
    assert recs and all(r.filter in {"PASS", "RefCall", "LowQual"} for r in recs)
    assert all(len(r.pl) == 3 and min(r.pl) == 0 for r in recs)
    # A long-lived caller (POST /v1/call's replica) hands in the network it loaded once: same calls.
    cached = call_region(str(d / BAM), str(d / FA), "chr20:10000400-10000800", model=str(out),
                         models={str(out): net})
    assert cached == recs


def test_load_caller_missing_dir(tmp_path: Path):
    with pytest.raises(InputError, match="not a caller model dir"):
        load_caller(tmp_path)


def test_load_caller_from_before_the_evidence_features_says_retrain(tmp_path: Path):
    (tmp_path / "caller.json").write_text('{"shape": {"channels": 8, "width": 33, "n_features": 9, "hidden": 16}}')
    (tmp_path / "caller.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="retrain it"):
        load_caller(tmp_path)

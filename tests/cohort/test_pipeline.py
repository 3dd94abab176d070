"""The Ray layer gives the in-process results bit for bit: coverage of several BAMs as one Ray Data job,
the reference as a map over normals and a reduce over bin chunks, and per-sample maps (real local Ray)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from raygen.cohort import bins as binmod
from raygen.cohort import coverage, pipeline, pooling
from raygen.cohort.cnvfiles import read_cnvkit, read_picard, table_text, write_cnvkit
from raygen.config import DEFAULTS

pytestmark = pytest.mark.timeout(300)


def test_coverage_many_equals_one_by_one(ray_session, shared_data, tmp_path):
    giab = shared_data / "giab_chr20"
    bams = [giab / f"NA12878_S1.chr20.10_10p1mb{s}.bam" for s in ("", ".first_half", ".second_half")]
    bed = tmp_path / "bins.bed"
    bed.write_text("".join(f"chr20\t{s}\t{s + 700}\tB{s // 10000}\n" for s in range(9_995_000, 10_105_000, 1000))
                   + "chr20\t20000000\t20001000\tFAR\nchr1\t1000\t2000\tOTHER\n")
    table = binmod.table_from_bed(bed)
    samples = [(p.name.split(".bam")[0], str(p)) for p in bams]
    outs = [str(tmp_path / f"{s}.targetcoverage.cnn") for s, _ in samples]
    cfg = dataclasses.replace(DEFAULTS.cohort, shard_bp=20_000)  # several shards per sample
    written = pipeline.coverage_many(samples, table, outs, cfg=cfg, actors=2, progress=False)
    assert sorted(written) == sorted(outs)
    for (sid, path), out in zip(samples, outs):
        one = coverage.sample_coverage(path, table, sample_id=sid)
        assert (tmp_path / out).read_text() == table_text(one)
    assert len(pipeline.shard_bins(table, cfg.shard_bp)) > 5


def test_reference_many_equals_in_memory(ray_session, shared_data, tmp_path):
    d = shared_data / "cnvkit/picard"
    paths = []
    for p in sorted(d.glob("p2-*_5.*.csv")):
        t = read_picard(p)
        out = tmp_path / f"{t.sample_id}.{'anti' if 'antitarget' in p.name else ''}targetcoverage.cnn"
        write_cnvkit(t, out)
        paths.append(str(out))
    targets = [p for p in paths if "antitarget" not in p]
    antis = [p for p in paths if "antitarget" in p]
    opts = pooling.ReferenceOptions(haploid_x_reference=True)
    cfg = dataclasses.replace(DEFAULTS.cohort, reference_chunk_bins=2500)
    ray_ref = pipeline.reference_many(targets, antis, None, opts, cfg, progress=False)
    mem_ref = pooling.build_reference([read_cnvkit(t) for t in targets], [read_cnvkit(a) for a in antis], None, opts)
    assert table_text(ray_ref) == table_text(mem_ref)  # (equality with CNVkit: test_shared_cases)


def test_map_samples_keeps_order_and_surfaces_our_errors(ray_session):
    from raygen.cohort.cnvfiles import sample_id_from_path  # workers import raygen, not test modules

    names = [f"/d/S{k}.targetcoverage.cnn" for k in range(7)]
    assert pipeline.map_samples(sample_id_from_path, [(n,) for n in names], progress=False) == [f"S{k}" for k in range(7)]
    from raygen.errors import InputError

    with pytest.raises(InputError, match="no such file"):
        pipeline.map_samples(read_cnvkit, [("/nonexistent/x.cnn",)], progress=False)


def test_cli_segment_many_on_ray(ray_session, run_cli, tmp_path):
    from tests.cohort.helpers import synthetic_cnr

    paths = []
    for s in range(3):
        p = tmp_path / f"S{s}.cnr"
        write_cnvkit(synthetic_cnr(np.random.default_rng(s))[0], p)
        paths.append(p)
    rc, out, err = run_cli("cohort", "segment", *paths, "-m", "haar", "-d", tmp_path / "seg", "--ray", "-q")
    assert rc == 0, err
    for p in paths:
        assert (tmp_path / "seg" / (p.stem + ".cns")).exists()

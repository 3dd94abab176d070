"""`raygen assess` and `raygen drift` on the shared data, as a user runs them.

CAGI5 (regulatory saturation mutagenesis, element coordinates) is scored by `raygen score` with a tiny
random-weight model: the scores are real model outputs but carry no signal, so the tests assert on what the
commands report and refuse, not on how good the model is. The call-set test stratifies DeepVariant's
golden GIAB calls against the GIAB truth by the read depth of the shared BAM.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from raygen.cli import main
from raygen.models.tiny import build_tiny_model
from raygen.train.cagi5 import read_elements, read_variants, write_element_fasta, write_labels_tsv, write_variants_vcf

BASELINE = ("F9", "HBB")  # GC 0.44 and 0.54
SHIFTED = ("GP1BB",)  # GC 0.69


@pytest.fixture(scope="module")
def cagi5(shared_data, ray_session, tmp_path_factory):
    """Scored CAGI5 VCFs (baseline elements, shifted element), the element FASTA and label tables."""
    root = tmp_path_factory.mktemp("cagi5")
    data = shared_data / "cagi5_regsat"
    elements = read_elements(data)
    variants = read_variants(data, elements)
    fasta = write_element_fasta(elements, root)
    model = build_tiny_model(root / "tiny", seed=1)
    out = {"fasta": fasta, "root": root}
    for name, els in (("baseline", BASELINE), ("shifted", SHIFTED)):
        v = variants.subset(np.isin(variants.element, els))
        vcf = write_variants_vcf(v, {k: elements[k] for k in elements if k in els}, root / f"{name}.vcf.gz")
        assert main(["score", str(vcf), "-f", str(fasta), "--model", str(model), "--window", "32", "-q",
                     "-o", str(root / f"{name}.scored.vcf.gz")]) == 0
        out[name] = root / f"{name}.scored.vcf.gz"
        if name == "baseline":
            out["challenge"] = write_labels_tsv(v.subset(v.split == "challenge"), root / "challenge.tsv")
            out["training"] = write_labels_tsv(v.subset(v.split == "training"), root / "training.tsv")
    return out


def test_help(run_cli, capsys):
    for cmd in ("assess", "drift"):
        with pytest.raises(SystemExit) as e:
            run_cli(cmd, "--help")
        assert e.value.code == 0
        assert f"usage: raygen {cmd}" in capsys.readouterr().out


def test_assess_cagi5_json_html_and_missing_labels(cagi5, run_cli, tmp_path):
    labels = tmp_path / "labels.tsv"
    text = Path(cagi5["challenge"]).read_text()
    labels.write_text(text + "F9\t5000\tA\tG\t1\t0\n")  # a labelled variant the scores do not have
    rc, out, err = run_cli("assess", cagi5["baseline"], "--labels", labels, "--calibration-labels",
                           cagi5["training"], "-f", cagi5["fasta"], "--bootstrap", "200", "-o", tmp_path / "a")
    assert rc == 0, err
    assert "1 missing from the scores (first: F9:5000:A>G), 0 duplicate rows ignored (0 with another label" in out
    res = json.loads((tmp_path / "a.json").read_text())
    n_challenge = len(text.splitlines()) - 1
    assert res["counts"]["labels"] == n_challenge + 1 and res["missing_labels"]["listed"] == ["F9:5000:A>G"]
    s = res["scores"][0]
    assert s["key"] == "RAYGEN_LLR" and s["orientation"] == "neg"
    o = s["overall"]
    assert o["n"] == res["counts"]["matched"] == n_challenge
    assert o["auroc"]["ci_low"] <= o["auroc"]["value"] <= o["auroc"]["ci_high"]
    assert np.isclose(o["auprc"]["random"], o["positives"] / o["n"])
    assert s["mapping"]["kind"] == "platt" and "training.tsv" in s["mapping"]["source"]  # fitted on calibration only
    assert "ece" in o and len(o["reliability"]) >= 1
    assert set(s["slices"]) == {"variant class", "GC of the window", "repeats"}
    assert set(res["absent_slices"]) == {"distance to splice site", "allele frequency", "consequence"}
    assert set(s["thresholds"]["pp3"]) == {"supporting", "moderate", "strong"}
    html = (tmp_path / "a.html").read_text()
    assert html.count("<img") >= 3 and "never a classification" in html and "F9:5000:A&gt;G" in html


def test_assess_small_slice_says_too_few(cagi5, run_cli, tmp_path):
    rc, out, err = run_cli("assess", cagi5["baseline"], "--labels", cagi5["challenge"], "-f", cagi5["fasta"],
                           "--bootstrap", "50", "--min-slice", "100000", "-o", tmp_path / "b")
    assert rc == 0, err
    res = json.loads((tmp_path / "b.json").read_text())
    assert "too few variants" in res["scores"][0]["overall"]["too_few"]
    assert "too few variants" in out


def test_assess_bad_labels(cagi5, run_cli, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("chrom\tpos\tref\talt\tlabel\nF9\t1\tC\tA\t2\n")
    rc, _, err = run_cli("assess", cagi5["baseline"], "--labels", bad)
    assert rc == 2 and f"{bad}:2: label '2' is not 0/1" in err
    rc, _, err = run_cli("assess", cagi5["baseline"], "--labels", cagi5["training"], "--calibration-labels",
                         cagi5["training"])
    assert rc == 2 and "in both" in err and "never fitted on the variants assessed" in err


def test_drift_quiet_on_resample_fires_on_shift(cagi5, run_cli, tmp_path):
    prof = tmp_path / "p.json"
    rc, _, err = run_cli("assess", cagi5["baseline"], "-f", cagi5["fasta"], "--write-profile", prof)
    assert rc == 0, err
    with gzip.open(cagi5["baseline"], "rt") as fh:
        lines = fh.read().splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    recs = [ln for ln in lines if not ln.startswith("#")]
    random.seed(0)
    half = tmp_path / "resample.vcf"
    half.write_text("\n".join(head + [recs[i] for i in sorted(random.sample(range(len(recs)), len(recs) // 2))]) + "\n")
    rc, out, _ = run_cli("drift", prof, half, "-f", cagi5["fasta"], "--json", tmp_path / "d.json")
    assert rc == 0 and "no drift" in out, out
    rc, out, _ = run_cli("drift", prof, cagi5["shifted"], "-f", cagi5["fasta"], "--plot", tmp_path / "d.png")
    assert rc == 3 and "GC of the window" in out.split("DRIFT in")[1], out
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    p = json.loads(prof.read_text())
    p["models"] = ["another-model"]
    prof.write_text(json.dumps(p))
    rc, _, err = run_cli("drift", prof, half)
    assert rc == 2 and "another-model" in err and "tiny" in err


def test_callset_by_coverage_on_giab(shared_data, run_cli, tmp_path):
    d = shared_data / "giab_chr20"
    rc, out, err = run_cli("assess", "--truth", d / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz",
                           "--calls", d / "golden.postprocess_single_site_output.vcf.gz",
                           "-f", d / "ucsc.hg19.chr20.unittest.fasta.gz", "--bam", d / "NA12878_S1.chr20.10_10p1mb.bam",
                           "--confident", d / "test_nist.b37_chr20_100kbp_at_10mb.bed", "--min-stratum", "5",
                           "-o", tmp_path / "c")
    assert rc == 0, err
    res = json.loads((tmp_path / "c.json").read_text())
    # the data's MANIFEST: inside the BED, DeepVariant's PASS calls give TP 47, FN 2, FP 0
    assert (res["tp"], res["fn"], res["fp"]) == (47, 2, 0)
    cov = res["strata"]["coverage"]
    assert sum(m["tp"] + m["fn"] for m in cov.values()) == 49
    assert list(cov) == sorted(cov, key=lambda k: ["< 10", "10-20", "20-30", "30-50", ">= 50"].index(k.split("depth ")[1]))
    assert "<img" in (tmp_path / "c.html").read_text()

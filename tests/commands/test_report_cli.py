"""`raygen report` on the shared data: SpliceAI's release output (PP3/BP4 by the published thresholds) and
DeepVariant's GIAB calls (a sample's genotypes), checked in headless Chromium and printed to PDF."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from raygen.eval.scored import read_alleles
from raygen.models.tiny import build_tiny_model


def test_report_spliceai_codes_ism_and_pdf(shared_data, run_cli, tmp_path):
    vcf = shared_data / "spliceai" / "expected.D50.vcf"
    model = build_tiny_model(tmp_path / "tiny", seed=0)
    pdf = tmp_path / "r.pdf" if shutil.which("chromium") else None
    rc, out, err = run_cli("report", vcf, "-o", tmp_path / "r.html", "--include", "SpliceAI>=0", "--max-variants",
                           "500", "--model", model, "-f", shared_data / "spliceai" / "reference.fa.gz",
                           "--window", "32", "--ism-top", "2", *(["--pdf", pdf] if pdf else []))
    assert rc == 0, err
    _, t = read_alleles(vcf, ["SpliceAI"])
    ds = t["SpliceAI"].to_numpy(zero_copy_only=False)
    n_pp3, n_bp4 = int((ds >= 0.2).sum()), int((ds <= 0.1).sum())
    n_scored = int(np.isfinite(ds).sum())
    assert f"{n_scored} variants shown" in out
    html = (tmp_path / "r.html").read_text()
    assert html.count("PP3_supporting</span>") == n_pp3 and html.count("BP4_supporting</span>") == n_bp4
    assert html.count("nocode'>none</span>") == n_scored - n_pp3 - n_bp4 > 0  # between 0.1 and 0.2: no code
    assert html.count("alt='ISM of") == 2 and "Walker et al. 2023" in html
    if pdf:
        assert pdf.read_bytes()[:5] == b"%PDF-"
    if not shutil.which("chromium"):
        pytest.skip("chromium missing: the browser half of this test needs it")
    from serve.browser import Chromium

    browser = Chromium(shutil.which("chromium"), tmp_path / "profile", height=2000)
    try:
        assert browser.open_and_wait((tmp_path / "r.html").as_uri(), "[...document.images].length == 2 && "
                                     "[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        seen = browser.evaluate("document.body.innerText")
        rows = browser.evaluate("document.querySelectorAll('table.variants tbody tr').length")
    finally:
        browser.close()
    assert "never a classification of a variant" in seen and "PP3_supporting" in seen and "BP4_supporting" in seen
    assert rows == int(np.isfinite(ds).sum())  # SpliceAI>=0 drops the 8 unscored intergenic SNVs
    assert "Provenance" in seen and "raygen report" in seen


def test_report_sample_genotypes_on_giab(shared_data, run_cli, tmp_path):
    vcf = shared_data / "giab_chr20" / "golden.postprocess_single_site_output.vcf.gz"
    rc, out, err = run_cli("report", vcf, "--sample", "NA12878", "-o", tmp_path / "g.html")
    assert rc == 0, err
    import pysam

    with pysam.VariantFile(str(vcf)) as vf:
        carried = sum(1 for rec in vf for i in range(1, len(rec.alts or ()) + 1)
                      if i in (rec.samples["NA12878"].get("GT") or ()))
    assert f"{carried} carried" in out and carried < 80  # RefCall 0/0 records are not the sample's variants
    rc, _, err = run_cli("report", vcf, "--sample", "NOPE", "-o", tmp_path / "x.html")
    assert rc == 2 and "sample 'NOPE' is not in" in err and not (tmp_path / "x.html").exists()

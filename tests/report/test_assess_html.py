"""The assessment pages as a person sees them: rendered in headless Chromium, read back from the DOM."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from raygen.config import DEFAULTS
from raygen.eval.assess import ScoreSpec, assess_score
from raygen.eval.strata import stratum_metrics
from raygen.report.assess_html import assess_page, callset_page


def _result():
    rng = np.random.default_rng(0)
    n = 600
    y = (rng.uniform(size=n) < 0.3).astype(int)
    prob = np.clip(0.3 + 0.25 * (y - 0.3) + rng.normal(0, 0.15, n), 0, 1)
    cls = np.where(rng.uniform(size=n) < 0.97, "SNV", "deletion").tolist()  # ~18 deletions: too few
    cy = (rng.uniform(size=n) < 0.3).astype(int)
    cprob = np.clip(0.3 + 0.25 * (cy - 0.3) + rng.normal(0, 0.15, n), 0, 1)
    s = assess_score(ScoreSpec("RAYGEN_PROB", "prob"), prob, y, {"variant class": cls}, (cprob, cy, "calib.tsv"),
                     DEFAULTS.assess)
    return {"scored": "s.vcf.gz", "labels": "l.tsv", "calibration_labels": "calib.tsv", "models": ["tiny"],
            "counts": {"labels": n + 2, "labels_skipped": 0, "matched": n, "positives": int(y.sum()),
                       "duplicates": 0, "calibration_matched": n},
            "missing_labels": {"count": 2, "listed": ["c:1:A>G", "c:9:T>C"]}, "absent_slices": {}, "scores": [s],
            "history": [], "provenance": {"date": "2026-12-01", "version": "0.1.0", "commit": "abc", "command":
                                          "raygen assess s.vcf.gz --labels l.tsv", "models": [], "reference": {}}}


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("headless browser test: Debian `chromium` is not installed (`apt-get install -y chromium`)")
    return exe


def test_assess_page_in_a_browser(tmp_path):
    from serve.browser import Chromium  # tests/serve/browser.py: DevTools-driven headless Chromium

    page = tmp_path / "a.html"
    page.write_text(assess_page(_result()))
    browser = Chromium(_chromium(), tmp_path / "profile", height=3000)
    try:
        assert browser.open_and_wait(page.as_uri(), "document.images.length > 0 && "
                                     "[...document.images].every(i => i.complete)")
        seen = browser.evaluate("document.body.innerText")
        sizes = browser.evaluate("[...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight])")
        browser.screenshot(tmp_path / "a.png")
    finally:
        browser.close()
    assert "never a classification of a variant" in seen
    assert "2 missing from the scores" in seen
    assert "too few variants" in seen  # the deletion slice
    assert "PP3" in seen and "BP4" in seen and "calib.tsv" in seen
    alts = [a for a, w, h in sizes]
    assert alts == ["ROC and precision-recall curves", "reliability diagram of RAYGEN_PROB",
                    "AUROC by slice of RAYGEN_PROB"]
    assert all(w > 300 and h > 200 for _, w, h in sizes)  # pictures decoded, not broken


def test_callset_page_in_a_browser(tmp_path):
    from serve.browser import Chromium

    strata = {"coverage": {"depth 30-50": stratum_metrics(40, 2, 1, 10), "depth < 10": stratum_metrics(1, 0, 2, 10)}}
    page = tmp_path / "c.html"
    page.write_text(callset_page({"truth": "t.vcf.gz", "calls": "q.vcf.gz", "confident": None, "tp": 41, "fp": 2,
                                  "fn": 3, "strata": strata, "provenance": {}}))
    browser = Chromium(_chromium(), tmp_path / "profile")
    try:
        assert browser.open_and_wait(page.as_uri(), "document.images.length == 1 && document.images[0].complete")
        seen = browser.evaluate("document.body.innerText")
        width = browser.evaluate("document.images[0].naturalWidth")
    finally:
        browser.close()
    assert "TP 41, FP 2, FN 3" in seen and "depth 30-50" in seen and "too few variants: 3 in the truth" in seen
    assert "0.952 [" in seen  # precision 40/42 with its interval
    assert width > 300
